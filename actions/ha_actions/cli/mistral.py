"""The few Mistral v2 REST calls the CLI makes, on a keystoneauth session."""

import json
import time

from keystoneauth1 import exceptions as ks_exceptions
from osc_lib import exceptions

# A GET Mistral cannot answer (restarting: refused, 5xx) is tried again this long.
GET_PATIENCE_S = 60


class MistralError(exceptions.CommandError):
    """Mistral refused a request; the message says which and why."""


def _loaded(value):
    """Mistral returns input/output/params as JSON text."""
    if isinstance(value, str):
        return json.loads(value) if value.strip() else {}
    return value or {}


class Client:
    """Mistral's API at ``endpoint`` (.../v2) through ``session``."""

    def __init__(self, session, endpoint):
        self.session, self.endpoint = session, endpoint.rstrip("/")

    def _request(self, method, path, what, ok=(200,), **kwargs):
        deadline = time.time() + (GET_PATIENCE_S if method == "GET" else 0)
        while True:
            try:
                resp = self.session.request(self.endpoint + path, method, raise_exc=False,
                                            **kwargs)
                if resp.status_code < 500 or time.time() > deadline:
                    break
            except ks_exceptions.ConnectFailure:
                if time.time() > deadline:
                    raise
            time.sleep(2)
        if resp.status_code not in ok:
            try:
                detail = resp.json().get("faultstring") or resp.text
            except ValueError:
                detail = resp.text
            raise MistralError("Mistral refused to %s (HTTP %d): %s"
                               % (what, resp.status_code, detail.strip()[:1000]))
        return resp

    def _get(self, path, what, **params):
        return self._request("GET", path, what, params=params or None).json()

    # -- workflows, actions ---------------------------------------------------------

    def workflows(self, names):
        """{name: workflow} of the given names that Mistral has (definitions left out)."""
        found = self._get("/workflows", "list workflows", limit=1000,
                          fields="id,name,tags,scope,project_id,updated_at,created_at")
        return {w["name"]: w for w in found["workflows"] if w["name"] in names}

    def upload_workflows(self, definition, update):
        """Create (POST) or, with ``update``, replace (PUT) the workflows of one file."""
        verb = "PUT" if update else "POST"
        self._request(verb, "/workflows", "%s workflows" % ("update" if update else "create"),
                      ok=(200, 201), data=definition.encode("utf-8"),
                      headers={"Content-Type": "text/plain"})

    def action_names(self, prefix):
        """Names of the actions Mistral's API lists that start with ``prefix``."""
        found = self._get("/actions", "list actions", limit=1000)["actions"]
        return {a["name"] for a in found if a["name"].startswith(prefix)}

    def run_action(self, name, inputs):
        """Run an action on an executor now (run_sync, result not saved): (state, output)."""
        body = {"name": name, "input": json.dumps(inputs),
                "params": json.dumps({"run_sync": True, "save_result": False})}
        ex = self._request("POST", "/action_executions", "run action %s" % name,
                           ok=(200, 201), json=body).json()
        return ex.get("state"), _loaded(ex.get("output"))

    # -- cron triggers ------------------------------------------------------------

    def cron_triggers(self, workflow):
        """The project's cron triggers that start ``workflow`` (inputs loaded)."""
        found = self._get("/cron_triggers", "list cron triggers", limit=1000)["cron_triggers"]
        return [dict(t, workflow_input=_loaded(t.get("workflow_input")))
                for t in found if t.get("workflow_name") == workflow]

    def create_cron_trigger(self, name, workflow, inputs, pattern):
        body = {"name": name, "workflow_name": workflow, "workflow_input": json.dumps(inputs),
                "pattern": pattern}
        trigger = self._request("POST", "/cron_triggers", "create cron trigger %s" % name,
                                ok=(200, 201), json=body).json()
        return dict(trigger, workflow_input=_loaded(trigger.get("workflow_input")))

    def delete_cron_trigger(self, name):
        self._request("DELETE", "/cron_triggers/%s" % name, "delete cron trigger %s" % name,
                      ok=(200, 204))

    # -- environments (a stack's pause) -------------------------------------------

    def environment(self, name):
        """The environment ``name`` (variables loaded), or None when there is none."""
        resp = self._request("GET", "/environments/%s" % name, "show environment %s" % name,
                             ok=(200, 404))
        if resp.status_code == 404:
            return None
        env = resp.json()
        return dict(env, variables=_loaded(env.get("variables")))

    def create_environment(self, name, variables, description):
        self._request("POST", "/environments", "create environment %s" % name, ok=(200, 201),
                      json={"name": name, "variables": json.dumps(variables),
                            "description": description, "scope": "private"})

    def delete_environment(self, name):
        self._request("DELETE", "/environments/%s" % name, "delete environment %s" % name,
                      ok=(200, 204))

    # -- executions ---------------------------------------------------------------

    def start(self, workflow, inputs, description=""):
        body = {"workflow_name": workflow, "input": json.dumps(inputs),
                "description": description}
        ex = self._request("POST", "/executions", "start %s" % workflow, ok=(201,),
                           json=body).json()
        return self._execution(ex)

    @staticmethod
    def _execution(ex):
        for key in ("input", "output", "params"):
            ex[key] = _loaded(ex.get(key))
        return ex

    def execution(self, execution_id):
        return self._execution(self._get("/executions/%s" % execution_id,
                                         "show execution %s" % execution_id))

    def executions(self, workflows, limit=50):
        """The newest executions of ``workflows``, newest first (inputs and outputs in)."""
        found = self._get("/executions", "list executions", limit=limit, include_output=True,
                          sort_keys="created_at", sort_dirs="desc",
                          workflow_name="in:" + ",".join(workflows))["executions"]
        return [self._execution(ex) for ex in found]

    def tasks(self, execution_id):
        """Task executions of an execution and of every sub-workflow under it."""
        subs = self._get("/executions", "list sub-workflow executions",
                         root_execution_id=execution_id, limit=1000, fields="id")["executions"]
        found = []
        for ex_id in [execution_id] + [e["id"] for e in subs]:
            found += self._get("/executions/%s/tasks" % ex_id,
                               "list tasks of %s" % ex_id)["tasks"]
        return found
