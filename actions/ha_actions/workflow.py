"""Mistral (workflow) calls: the concurrency guard's reads of other executions, the end of
an execution Mistral lost, and the heal history the cooldown and flapping limit read.

Raw REST through the openstacksdk proxy (``conn.workflow``), like the other service
modules, with the caller's token: the executions are the caller's project's.
"""

import datetime
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


def workflow_exists(conn, name):
    """Mistral knows a workflow of this name (the caller's project's or public)."""
    resp = conn.workflow.get("/workflows/%s" % name)
    if resp.status_code == 404:
        return False
    sdk_exceptions.raise_from_response(resp)
    return True


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


def _loaded(value):
    """An execution's input or output: Mistral's API gives it as a JSON string."""
    if isinstance(value, str):
        return json.loads(value or "{}")
    return value or {}


def running_now(conn, workflow_name):
    """The executions of ``workflow_name`` Mistral shows RUNNING or IDLE now, in the
    guard's shape (see guard.py)."""
    found = []
    for state in ("RUNNING", "IDLE"):
        body = _get(conn, "/executions", workflow_name=workflow_name, state=state, limit=1000)
        for ex in body["executions"]:
            given = _loaded(ex.get("input"))
            found.append({"id": ex["id"], "name": ex["workflow_name"],
                          "created_at": ex["created_at"], "stack": given.get("stack"),
                          "dry_run": given.get("dry_run", False)})
    return found


def ended_runs(conn, workflow_name, within_s, now=None):
    """The executions of ``workflow_name`` that ended (SUCCESS or ERROR) in the last
    ``within_s`` seconds, with their reports, in guard.heal_history's shape."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    since = (now - datetime.timedelta(seconds=within_s)).strftime("%Y-%m-%d %H:%M:%S")
    body = _get(conn, "/executions", workflow_name=workflow_name, include_output="true",
                updated_at="gte:" + since, state="in:SUCCESS,ERROR", limit=1000)
    return [{"id": ex["id"], "state": ex["state"], "updated_at": ex["updated_at"],
             "stack": _loaded(ex.get("input")).get("stack"),
             "report": _loaded(ex.get("output")).get("report")}
            for ex in body["executions"]]


def heal_history(conn, me, stack_refs, slots=None, cooldown=guard.DEFAULT_COOLDOWN,
                 max_heals=guard.DEFAULT_MAX_HEALS, heal_window=guard.DEFAULT_HEAL_WINDOW,
                 force=False):
    """guard.heal_history on Mistral's record of ``me``'s workflow (``me``: {id, name});
    nothing is read when ``force`` is set."""
    runs = [] if force else ended_runs(conn, me["name"], max(cooldown, heal_window))
    return guard.heal_history(me["id"], runs, stack_refs, slots, cooldown, max_heals,
                              heal_window, force)


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


class HealHistoryAction(OpenStackAction):
    """Say whether this run may heal now: the flapping limit and the cooldown, read from
    Mistral's ended executions of the same workflow for the same stack."""

    def __init__(self, me, stack_refs, slots=None, cooldown=guard.DEFAULT_COOLDOWN,
                 max_heals=guard.DEFAULT_MAX_HEALS, heal_window=guard.DEFAULT_HEAL_WINDOW,
                 force=False):
        self.args = dict(me=me, stack_refs=stack_refs, slots=slots, cooldown=cooldown,
                         max_heals=max_heals, heal_window=heal_window, force=force)

    def run(self, context):
        return readable(lambda: heal_history(self.connect(context), **self.args))
