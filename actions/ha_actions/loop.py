"""The reconcile loop's one look at a stack: what Heat, Nova, Cinder and Mistral show of
it now, reconcile.decide on that, and the start of the heal it decides.

Run by ``ha.v1.reconcile`` on Mistral's own scheduler (a cron trigger), with the cron
trigger's trust when no caller is there: every read and the start go out as that caller.
A healthy stack costs a stack read, a resource listing per group (and one for a pair), a
server read per member and one execution listing; the heal it starts is an execution of
its own, so the loop's run ends within seconds whatever the heal takes.
"""

from ha_actions import block_storage, compute, reconcile, workflow
from ha_actions import orchestration as orch
from ha_actions.connection import OpenStackAction, readable

# The pack's executions that work on a stack: the loop leaves a stack to a live one.
HEALS = (reconcile.REPLACE, reconcile.FAILOVER, "ha.v1.on_alarm")


def look(conn, stack, stale_after, now=None):
    """The stack as reconcile.decide reads it: ``{"stack", "groups", "pair", "runs",
    "paused"}``."""
    root = orch.get_stack(conn, stack)
    summary = orch.stack_summary(root)
    groups = []
    for res in orch.list_resources(conn, summary["ref"]):
        if res.get("resource_type") in orch.GROUP_TYPES:
            members = orch.group_members(conn, summary["ref"], res["resource_name"])["members"]
            server_ids = [sid for member in members for sid in member["server_ids"]]
            groups.append({"name": res["resource_name"], "members": members,
                           "failed_server_ids": compute.server_statuses(conn,
                                                                        server_ids)["failed"]})
    pair = block_storage.pair_view(conn, root)
    reconcile.check_watchable(summary["name"], groups, pair, then=(
        " Remove its watch: openstack ha unwatch %s." % summary["name"]))
    refs = [summary["id"], summary["name"], summary["ref"], stack]
    return {"stack": {"id": summary["id"], "name": summary["name"], "status": summary["status"]},
            "groups": groups,
            "pair": pair,
            "runs": workflow.stack_runs(conn, HEALS, refs, stale_after, now),
            "paused": workflow.pause_of(conn, summary["id"])}


def looked_at(seen):
    """What the report says the loop looked at (names and counts, no ids of healthy
    servers)."""
    return {"groups": {g["name"]: len(g["members"]) for g in seen["groups"]},
            "pair": None if seen["pair"] is None else {
                "active": seen["pair"]["active"], "volumes": len(seen["pair"]["volumes"])},
            "running": [{"id": r["id"], "workflow": r["workflow"]} for r in seen["runs"]]}


def counted(conn):
    """Count the HTTP requests made through ``conn`` from now on (the report's
    ``api_calls``: what a look costs the cloud); returns the list that grows by one each."""
    calls, request = [], conn.session.request

    def counting(*args, **kwargs):
        calls.append(1)
        return request(*args, **kwargs)
    conn.session.request = counting
    return calls


def reconcile_stack(conn, stack, me, stale_after=reconcile.DEFAULT_STALE_AFTER, options=None,
                    now=None):
    """Look at ``stack``, decide, start what the decision names; the run's report."""
    calls = counted(conn) if conn is not None else []
    seen = look(conn, stack, stale_after, now)
    decision = reconcile.decide(seen["stack"], seen["groups"], seen["pair"], seen["runs"],
                                stale_after, options, now, paused=seen["paused"])
    report = dict(decision, looked_at=looked_at(seen), started=None)
    created = {run["id"]: run["created_at"] for run in seen["runs"]}
    ended = set()
    # Oldest first: a lost run's sub-workflows that name the stack too (on_alarm's
    # replace_member) are ended with it, not a second time.
    for run in sorted(decision["lost"], key=lambda run: created[run["id"]]):
        if run["id"] not in ended:
            ended.update(workflow.end_lost_execution(
                conn, run["id"], "the reconcile loop's run %s" % me, run["quiet_s"]))
    start = decision["start"]
    if start:
        execution_id = workflow.start_execution(
            conn, start["workflow"], start["input"],
            "Started by ha.v1.reconcile %s: %s" % (me, "; ".join(decision["found"]))[:255])
        report.update(status="started", started={"workflow": start["workflow"],
                                                 "execution_id": execution_id})
        report["message"] += " Execution %s." % execution_id
    report["api_calls"] = len(calls)
    return report


class ReconcileAction(OpenStackAction):
    """Look at one stack; start the heal of what is still broken (see ha.v1.reconcile)."""

    def __init__(self, stack, me, stale_after=reconcile.DEFAULT_STALE_AFTER, options=None):
        self.args = dict(stack=stack, me=me, stale_after=stale_after, options=options or {})

    def run(self, context):
        return readable(lambda: reconcile_stack(self.connect(context), **self.args))
