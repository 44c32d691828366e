"""A busy Mistral in a second: copies of a real execution in Mistral's own database.

Thousands of executions started through the engine would cost minutes; these copies are
rows like any other to Mistral's API (new ids, a description of their own, the times,
state, workflow and stack the caller asks for) and are deleted by the same description.
Used by the functional test of the guards at volume and by tools/benchmark (case busy).
"""

import configparser
import os
import subprocess
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATE = os.environ.get("DEVCLOUD_HOME") or os.path.join(REPO, ".devcloud")
COLUMNS = ("created_at, updated_at, scope, project_id, id, name, description, workflow_name, "
           "workflow_id, spec, state, state_info, tags, runtime_context, accepted, input, "
           "output, params, context, task_execution_id, workflow_namespace, root_execution_id")


def mistral_sql(statement):
    """Run ``statement`` on the devcloud's Mistral database (its own configuration's
    credentials, never printed); what the mysql client prints."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(os.path.join(STATE, "etc", "mistral", "mistral.conf"))
    url = conf["database"]["connection"].split("://", 1)[1]
    user_password, host_db = url.split("@", 1)
    user, password = user_password.split(":", 1)
    host, db = host_db.split("?", 1)[0].split("/", 1)
    proc = subprocess.run(["mysql", "-h", host, "-u", user, db, "-e", statement],
                          env=dict(os.environ, MYSQL_PWD=password), capture_output=True,
                          text=True, timeout=120)
    if proc.returncode:
        raise RuntimeError("mysql failed: %s" % proc.stderr.strip())
    return proc.stdout


def copies(template_id, count, tag, updated_at, state=None, workflow=None, stack=None):
    """INSERT ``count`` copies of execution ``template_id`` (new ids, description ``tag``),
    created and ended at ``updated_at`` (SQL, per copy number ``seq``); ``state`` /
    ``workflow``: changed; ``stack``: an SQL expression for the stack the copy's input
    names in place of the model's."""
    values = COLUMNS.replace("updated_at,", "%s," % updated_at, 1)
    values = values.replace("created_at,", "%s," % updated_at, 1)
    values = values.replace(" id,", " UUID(),", 1).replace("description", "'%s'" % tag, 1)
    if state:
        values = values.replace(" state,", " '%s'," % state, 1)
    if workflow:
        values = values.replace("workflow_name", "'%s'" % workflow, 1)
    if stack:
        values = values.replace(" input,", " REPLACE(input, model_stack, %s)," % stack, 1)
    return ("INSERT INTO workflow_executions_v2 (%s) SELECT %s FROM workflow_executions_v2 "
            "JOIN seq_1_to_%d JOIN (SELECT JSON_VALUE(input, '$.stack') AS model_stack "
            "FROM workflow_executions_v2 WHERE id = '%s') AS model WHERE id = '%s'"
            % (COLUMNS, values, count, template_id, template_id))


class Seeds:
    """Copies of executions, all with one description: ``seeds(model_id, count,
    updated_at=..., state=..., workflow=..., stack=...)`` adds some (see ``copies``)."""

    def __init__(self):
        self.tag = "ha-seed-%s" % uuid.uuid4().hex[:8]

    def __call__(self, *args, **kwargs):
        mistral_sql(copies(*args, tag=self.tag, **kwargs))

    def count(self, state):
        return int(mistral_sql(
            "SELECT COUNT(*) FROM workflow_executions_v2 WHERE description = '%s' AND "
            "state = '%s'" % (self.tag, state)).split()[-1])

    def delete(self):
        mistral_sql("DELETE FROM workflow_executions_v2 WHERE description = '%s'" % self.tag)


def busy_project(seeds, model_id):
    """The load of the guards' volume test: 2,000 ended copies of ``model_id`` naming other
    stacks, ended over the last 2,000 s, and 100 RUNNING executions of another workflow
    naming the model's stack, started 3 hours ago."""
    seeds(model_id, 2000, updated_at="UTC_TIMESTAMP() - INTERVAL seq SECOND",
          stack="CONCAT('ft-other-', seq)")
    seeds(model_id, 100, updated_at="UTC_TIMESTAMP() - INTERVAL 3 HOUR", state="RUNNING",
          workflow="ft.other_workflow")
