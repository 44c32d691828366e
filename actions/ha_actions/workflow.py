"""Mistral (workflow) calls: the concurrency guard's reads of other executions, and the
end of an execution Mistral lost.

Raw REST through the openstacksdk proxy (``conn.workflow``), like the other service
modules, with the caller's token: the executions are the caller's project's.
"""

import functools
import json
import time

from openstack import exceptions as sdk_exceptions

from ha_actions import guard
from ha_actions.connection import OpenStackAction, readable

TERMINAL = ("SUCCESS", "ERROR", "CANCELLED")


def _get(conn, url, **params):
    resp = conn.workflow.get(url, params=params or None)
    sdk_exceptions.raise_from_response(resp)
    return resp.json()


def last_progress(conn, execution_id):
    """When the execution or one of its sub-workflows last created or changed a task
    (Mistral's 'YYYY-MM-DD HH:MM:SS'), or its creation time when it has no task."""
    ex = _get(conn, "/executions/%s" % execution_id)
    subs = _get(conn, "/executions", root_execution_id=execution_id, limit=1000)["executions"]
    times = [ex["created_at"]]
    for wf_ex in [ex] + subs:
        for task in _get(conn, "/executions/%s/tasks" % wf_ex["id"])["tasks"]:
            times += [t for t in (task.get("created_at"), task.get("updated_at")) if t]
    return max(times, key=guard.parse_created_at)


def _set_error(conn, execution_id, info):
    resp = conn.workflow.put("/executions/%s" % execution_id,
                             json={"state": "ERROR", "state_info": info})
    sdk_exceptions.raise_from_response(resp)


def end_lost_execution(conn, execution_id, by, quiet_s):
    """Set a lost execution to ERROR, saying why and which execution took over; its
    sub-workflows that still run (Mistral does not end them with it) first."""
    subs = _get(conn, "/executions", root_execution_id=execution_id, limit=1000)["executions"]
    for sub in sorted(subs, key=lambda e: e["created_at"], reverse=True):
        if sub.get("state") not in TERMINAL:
            _set_error(conn, sub["id"], "Ended with %s, which Mistral lost (see its state "
                       "info)." % execution_id)
    _set_error(conn, execution_id, (
        "Ended by %s after no progress for %d s: Mistral lost this execution (an engine "
        "died under it); %s goes on in its place. Check what this one changed in its "
        "task list." % (by, quiet_s, by)))


# Two runs started in the same second on two engines may not see each other at first:
# each execution's row becomes visible when its engine commits, not at its created_at.
SETTLE_S = 2.0


def running_now(conn, workflow_name):
    """The executions of ``workflow_name`` Mistral shows RUNNING or IDLE now, in the
    guard's shape (see guard.py)."""
    found = []
    for state in ("RUNNING", "IDLE"):
        body = _get(conn, "/executions", workflow_name=workflow_name, state=state, limit=1000)
        for ex in body["executions"]:
            given = ex.get("input") or {}
            if isinstance(given, str):
                given = json.loads(given or "{}")
            found.append({"id": ex["id"], "name": ex["workflow_name"],
                          "created_at": ex["created_at"], "stack": given.get("stack"),
                          "dry_run": given.get("dry_run", False)})
    return found


def _decide(connect, me, running, stack_refs, stale_after):
    needed = guard.needs_progress(me, running, stack_refs, stale_after)
    conn = connect() if needed else None
    progress = {ex_id: last_progress(conn, ex_id) for ex_id in needed}
    result = guard.concurrent_runs(me, running, stack_refs, stale_after, progress=progress)
    for lost in result["stale"]:
        end_lost_execution(conn, lost["id"], me["id"], lost["quiet_s"])
    return result


def concurrent_runs(connect, me, running, stack_refs, stale_after=guard.DEFAULT_STALE_AFTER,
                    settle=SETTLE_S, sleep=time.sleep):
    """guard.concurrent_runs, with the progress of the runs old enough to be stale read
    from Mistral (``connect()`` gives the connection, asked for only when needed); the
    stale ones are ended. A run that is not blocked looks again after ``settle`` seconds
    (Mistral's API, RUNNING and IDLE), so that of two runs started at once exactly one
    goes on."""
    result = _decide(connect, me, running, stack_refs, stale_after)
    if result["older"] or me.get("dry_run") or not settle:
        return result
    sleep(settle)
    again = _decide(connect, me, running_now(connect(), me["name"]), stack_refs, stale_after)
    if not again["older"]:
        return result
    again["stale"] = result["stale"] + again["stale"]
    return again


class ConcurrentRunsAction(OpenStackAction):
    """Say which older runs of this workflow work on the same stack (the concurrency
    guard); end the ones Mistral lost (no progress for stale_after seconds)."""

    def __init__(self, me, running, stack_refs, stale_after=guard.DEFAULT_STALE_AFTER):
        self.me = me
        self.running = running
        self.stack_refs = stack_refs
        self.stale_after = stale_after

    def run(self, context):
        connect = functools.lru_cache(maxsize=1)(lambda: self.connect(context))
        return readable(lambda: concurrent_runs(
            connect, self.me, self.running, self.stack_refs, self.stale_after))
