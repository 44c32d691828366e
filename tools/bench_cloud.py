"""The devcloud side of tools/benchmark.py: the caller, stacks, raw REST paths, the
detector, and counting the caller's API requests in the services' own request logs."""

import os
import re
import secrets
import threading
import time

import openstack
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from mistralclient.api import client as mistral_client

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGS = os.path.join(os.environ.get("DEVCLOUD_HOME", os.path.join(REPO, ".devcloud")), "logs")
POLL = 0.25
CALLER = "bench-caller"


def make_caller(admin, project="demo"):
    """A user of its own (member of ``project``, as the demo user is), so that its
    requests, and those of executions it starts, are told apart in the services' logs
    from the functional tests' (which run as demo). A fresh password each run."""
    project_id = admin.identity.find_project(project).id
    password = secrets.token_urlsafe(24)
    user = admin.identity.find_user(CALLER)
    if user is None:
        user = admin.identity.create_user(name=CALLER, password=password,
                                          default_project_id=project_id, domain_id="default")
    else:
        admin.identity.update_user(user, password=password)
    demo_user = admin.identity.find_user(project)
    for ra in admin.identity.role_assignments(user_id=demo_user.id, scope_project_id=project_id):
        admin.identity.assign_project_role_to_user(project_id, user.id, ra.role["id"])
    auth = v3.Password(auth_url=admin.config.auth["auth_url"], username=CALLER,
                       password=password, project_name=project, user_domain_name="Default",
                       project_domain_name="Default")
    conn = openstack.connection.Connection(session=ks_session.Session(auth=auth),
                                           region_name=admin.config.region_name)
    assert conn.session.get_user_id() == user.id
    return conn, user.id


def mistral_api(conn):
    """python-mistralclient's API on the connection's keystone session."""
    return mistral_client.client(session=conn.session, mistral_url=conn.workflow.get_endpoint())


# ----------------------------------------------------------------- stacks


def read_example(name):
    with open(os.path.join(REPO, "examples", name)) as f:
        return f.read()


def stack_body(conn, ref):
    """A stack by name, id or stack_url()."""
    url = ref if ref.startswith("/stacks/") else "/stacks/%s" % ref
    return conn.orchestration.get(url).json()["stack"]


def stack_url(body):
    return "/stacks/%s/%s" % (body["stack_name"], body["id"])


def wait_settled(conn, ref, timeout=1200):
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = stack_body(conn, ref)
        if not body["stack_status"].endswith("IN_PROGRESS"):
            return body
        time.sleep(1)
    raise SystemExit("benchmark: stack %s did not settle" % ref)


def create_stacks(conn, names, template, files=None, parameters=None, tries=3):
    """Create the stacks at once and wait; a stack that fails (the second compute host is
    down for a while during the functional tests) is deleted and created again."""
    pending, bodies = list(names), {}
    for attempt in range(tries):
        for name in pending:
            resp = conn.orchestration.post("/stacks", json={
                "stack_name": name, "template": template, "files": files or {},
                "parameters": parameters or {}})
            if resp.status_code != 201:
                raise SystemExit("benchmark: create %s: %s" % (name, resp.text))
        failed = []
        for name in pending:
            body = wait_settled(conn, name)
            if body["stack_status"] == "CREATE_COMPLETE":
                bodies[name] = body
            else:
                print("benchmark: %s %s (%s), again" % (name, body["stack_status"],
                                                         body["stack_status_reason"][:120]))
                delete_stacks(conn, [body])
                failed.append(name)
        if not failed:
            return [bodies[n] for n in names]
        pending = failed
        time.sleep(20 * (attempt + 1))
    raise SystemExit("benchmark: could not create %s" % pending)


def create_groups(conn, names, size, template="asg_of_servers.yaml", parameters=None):
    files = {"member_server.yaml": read_example("member_server.yaml")}
    parameters = dict(parameters or {}, size=size)
    if size > 10:  # the examples' max_size
        parameters["max_size"] = size
    return create_stacks(conn, names, read_example(template), files, parameters)


def create_pair(conn, name):
    """examples/failover_pair.yaml without its alarms and loop: the volume on server_a."""
    return create_stacks(conn, [name], read_example("failover_pair.yaml"),
                         parameters={"heal_on_alarm": False, "reconcile_minutes": 0})[0]


def delete_stacks(conn, bodies):
    for body in bodies:
        conn.orchestration.delete(stack_url(body))
    for body in bodies:
        deadline = time.time() + 600
        while time.time() < deadline:
            resp = conn.orchestration.get(stack_url(body))
            if resp.status_code == 404 or resp.json()["stack"]["stack_status"] in (
                    "DELETE_COMPLETE", "DELETE_FAILED"):
                break
            time.sleep(1)


def nested_resources(conn, body, **filters):
    return conn.orchestration.get(stack_url(body) + "/resources", params=dict(
        nested_depth=3, **filters)).json()["resources"]


def oldest_server(conn, body):
    """The server of the group's oldest member (the one a heal replaces next)."""
    servers = nested_resources(conn, body, type="OS::Nova::Server")
    return min(servers, key=lambda r: r["creation_time"])["physical_resource_id"]


def group_stack(conn, body):
    """The group's nested stack: what Aodh's notifier gets from the alarm (asg_id)."""
    ref = conn.orchestration.get(stack_url(body) + "/resources/group").json()[
        "resource"]["physical_resource_id"]
    return stack_body(conn, ref)


def pair_state(conn, body):
    """(active resource name, {name: server id}, volume ids) of a failover pair."""
    body = stack_body(conn, stack_url(body))
    outputs = {o["output_key"]: o["output_value"] for o in body.get("outputs", [])}
    return body["parameters"]["active"], outputs["servers"], sorted(outputs["volume_ids"])


# ----------------------------------------------------------------- polling


def poll(check, what, timeout=900):
    """Call ``check()`` every POLL s until it returns something true; return that."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(POLL)
    raise SystemExit("benchmark: timed out waiting for %s" % what)


def update_complete(conn, body):
    def check():
        status = stack_body(conn, stack_url(body))["stack_status"]
        if status.endswith("FAILED"):
            raise SystemExit("benchmark: %s %s" % (body["stack_name"], status))
        return status == "UPDATE_COMPLETE"
    time.sleep(POLL)  # the PATCH returned; the update shows IN_PROGRESS from now on
    poll(check, "%s UPDATE_COMPLETE" % body["stack_name"])


def healed_detector(conn, body, healed):
    """The one detector for both approaches: polls Heat every POLL s until the root stack
    shows an UPDATE_COMPLETE newer than now and ``healed(stack body)`` holds; returns
    the time.time() it saw that."""
    before = stack_body(conn, stack_url(body)).get("updated_time") or ""

    def check():
        now = stack_body(conn, stack_url(body))
        return (now["stack_status"] == "UPDATE_COMPLETE"
                and (now.get("updated_time") or "") > before and healed(now)) and time.time()
    return check


def member_gone(conn, body, server_id):
    return lambda _: not nested_resources(conn, body, physical_resource_id=server_id)


def serving_again(conn, body, server_id):
    """Detector of a member put in ERROR: its server ACTIVE again with no task left (a
    reboot or rebuild), or the member replaced (healed_detector's member_gone)."""
    replaced = healed_detector(conn, body, member_gone(conn, body, server_id))

    def check():
        server = conn.compute.get("/servers/%s" % server_id)
        if server.status_code == 200:
            got = server.json()["server"]
            if got["status"] == "ACTIVE" and not got.get("OS-EXT-STS:task_state"):
                return time.time()
        return replaced()
    return check


def parameter_is(name, value):
    return lambda now: now["parameters"].get(name) == value


def timed(trigger, detect):
    """Run ``trigger()`` in a thread while polling ``detect`` (a healed_detector).
    What trigger returned, its ``*_at`` moments as ``*_s`` seconds from the start, plus
    healed_s and window (start, last moment) for the request logs."""
    started, result = time.time(), {}
    thread = threading.Thread(target=lambda: result.update(trigger()), daemon=True)
    thread.start()
    healed_at = poll(detect, "healed")
    thread.join(timeout=900)
    if "error" in result or thread.is_alive():
        raise SystemExit("benchmark: %s" % result.get("error", "the trigger did not end"))
    moments = {k[:-3]: v for k, v in result.items() if k.endswith("_at")}
    row = {k: v for k, v in result.items() if not k.endswith("_at")}
    row.update({k + "_s": v - started for k, v in moments.items()})
    row.update(healed_s=healed_at - started,
               window=(started, max([healed_at, *moments.values()])))
    return row


# ----------------------------------------------------------------- raw REST paths


class Counter:
    """Counts the requests a connection's session sends (the raw paths' own calls)."""

    def __init__(self, conn):
        self.calls = 0
        conn.session.session.hooks["response"].append(self._count)

    def _count(self, response, *args, **kwargs):
        self.calls += 1


def raw_replace(conn, counter, body, group, server_id):
    """Aodh's autohealer's calls (aodh/notifier/heat.py), then Heat polled to the end."""
    before = counter.calls
    found = nested_resources(conn, body, physical_resource_id=server_id)[0]
    conn.orchestration.patch("%s/resources/%s" % (stack_url(group), found["parent_resource"]),
                             json={"mark_unhealthy": True,
                                   "resource_status_reason": "benchmark: unhealthy"})
    conn.orchestration.patch(stack_url(body), json={})
    update_complete(conn, body)
    return {"done_at": time.time(), "calls": counter.calls - before}


def server_status_is(conn, server_id, status):
    return lambda: conn.compute.get("/servers/%s" % server_id).json()["server"][
        "status"] == status


def volume_status_is(conn, volume_id, status):
    return lambda: conn.block_storage.get("/volumes/%s" % volume_id).json()["volume"][
        "status"] == status


def raw_failover(conn, counter, body, old, new, volume_ids):
    """The failover's critical path by hand: stop, detach, attach, record, each waited."""
    before = counter.calls
    conn.compute.post("/servers/%s/action" % old, json={"os-stop": None})
    poll(server_status_is(conn, old, "SHUTOFF"), "SHUTOFF")
    for volume_id in volume_ids:
        conn.compute.delete("/servers/%s/os-volume_attachments/%s" % (old, volume_id))
    for volume_id in volume_ids:
        poll(volume_status_is(conn, volume_id, "available"), "available")
    for volume_id in volume_ids:
        conn.compute.post("/servers/%s/os-volume_attachments" % new[1],
                          json={"volumeAttachment": {"volumeId": volume_id}})
    for volume_id in volume_ids:
        poll(volume_status_is(conn, volume_id, "in-use"), "in-use")
    conn.orchestration.patch(stack_url(body), json={"parameters": {"active": new[0]}})
    update_complete(conn, body)
    return {"done_at": time.time(), "calls": counter.calls - before}


def start_server(conn, server_id):
    """Start a stopped server and wait until ACTIVE (between failover rounds, untimed)."""
    if conn.compute.get("/servers/%s" % server_id).json()["server"]["status"] == "SHUTOFF":
        conn.compute.post("/servers/%s/action" % server_id, json={"os-start": None})
    poll(server_status_is(conn, server_id, "ACTIVE"), "ACTIVE", timeout=300)


# ----------------------------------------------------------------- the pack


def run_execution(mistral, workflow, inputs):
    """Start one execution through Mistral's API and poll it every POLL s to its end."""
    try:
        ex = mistral.executions.create(workflow, workflow_input=inputs)
        started_at = time.time()
        ex = poll(lambda: (lambda e: e.state not in ("RUNNING", "IDLE", "PAUSED") and e)(
            mistral.executions.get(ex.id)), "execution %s" % ex.id)
    except Exception as exc:  # noqa: BLE001 - reported by timed()
        return {"error": "%s: %s" % (workflow, exc)}
    return {"reported_at": time.time(), "started_at": started_at, "state": ex.state,
            "execution": ex.id, "output": ex.output}


# ----------------------------------------------------------------- request logs

# oslo.log's context: "[global_request_id request_id user project ...]"; one line per
# request in heat-api ("Processing request"), nova-api (requestlog), cinder-api.
REQUEST_LINE = {
    "heat-api": "heat.common.wsgi .*Processing request: ",
    "nova-api": "nova.api.openstack.requestlog ",
    "cinder-api": "cinder.api.openstack.wsgi .* returned with HTTP ",
}
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) \d+ INFO \S+ \[\S+ \S+ (\S+) ")


class RequestLogs:
    """Counts, per service, the requests a user made in a time window, from the devcloud
    services' own request logs (read from where they ended at ``mark()``). Heat-api's
    lines are the caller's own; nova-api and cinder-api also show the calls heat-engine
    and Nova make with the caller's token."""

    def __init__(self, user_id):
        self.user_id, self.offsets = user_id, {}

    def mark(self):
        self.offsets = {svc: os.path.getsize(self._path(svc)) for svc in REQUEST_LINE}

    @staticmethod
    def _path(svc):
        return os.path.join(LOGS, svc + ".log")

    def count(self, since, until):
        time.sleep(0.5)  # the services write their line after the response
        first, last = (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) for t in (since,
                                                                                     until + 1))
        counts = {}
        for svc, marker in REQUEST_LINE.items():
            with open(self._path(svc), errors="replace") as f:
                f.seek(self.offsets.get(svc, 0))
                lines = f.read().splitlines()
            pattern = re.compile(marker)
            counts[svc] = sum(1 for line in lines if (m := STAMP.match(line))
                              and m.group(2) == self.user_id and first <= m.group(1) < last
                              and pattern.search(line))
        return counts
