"""Mistral (workflow) calls: the concurrency guard's reads of other executions, the end of
an execution Mistral lost, the heal history the cooldown and flapping limit read, and a
run's own task records, from which its report tells its steps (``ha.report``).

Raw REST through the openstacksdk proxy (``conn.workflow``), like the other service
modules, with the caller's token: the executions are the caller's project's.
"""

import datetime
import functools
import json
import time

from mistral_lib import actions
from openstack import exceptions as sdk_exceptions

from ha_actions import guard, names, report
from ha_actions.connection import OpenStackAction, readable

TERMINAL = ("SUCCESS", "ERROR", "CANCELLED")


def _get(conn, url, **params):
    resp = conn.workflow.get(url, params=params or None)
    sdk_exceptions.raise_from_response(resp)
    return resp.json()


PAGE = 500
MAX_PAGES = 20
MARKER_TRIES = 3


def _newest_first(conn, url, key, **params):
    """Every item of a Mistral listing, newest change first, a page at a time (at most
    MAX_PAGES pages): the newest are never the ones cut off. Ask for the ``fields`` needed:
    Mistral then reads only those columns (a page of 500 executions with their outputs in
    0.09 s, against 0.95 s whole, measured on the devcloud). The item a next page starts
    after may be deleted meanwhile (Mistral answers 404 for that marker): the listing then
    starts again, up to MARKER_TRIES times."""
    params = dict(params, limit=PAGE, sort_keys="updated_at,id", sort_dirs="desc,desc")
    for attempt in range(1, MARKER_TRIES + 1):
        items = []
        try:
            for _ in range(MAX_PAGES):
                page = _get(conn, url, **params)[key]
                items += page
                if len(page) < PAGE:
                    break
                params["marker"] = page[-1]["id"]
            return items
        except sdk_exceptions.NotFoundException:
            if "marker" not in params or attempt == MARKER_TRIES:
                raise
            params.pop("marker")


def workflow_exists(conn, name):
    """Mistral knows a workflow of this name (the caller's project's or public)."""
    resp = conn.workflow.get("/workflows/%s" % name)
    if resp.status_code == 404:
        return False
    sdk_exceptions.raise_from_response(resp)
    return True


def _subtree(conn, execution_id):
    """The execution and every sub-workflow under it, at any depth, each with its tasks:
    [(execution, tasks)], parents before their children. Found through the tree's root
    (the execution may itself be a sub-workflow, e.g. on_alarm under an example's
    workflow) and each child's parent task."""
    ex = _get(conn, "/executions/%s" % execution_id)
    tree = _get(conn, "/executions", root_execution_id=ex.get("root_execution_id") or ex["id"],
                limit=1000)["executions"]
    found, frontier = [], [ex]
    while frontier:
        wf_ex = frontier.pop(0)
        tasks = _get(conn, "/executions/%s/tasks" % wf_ex["id"])["tasks"]
        found.append((wf_ex, tasks))
        task_ids = {task["id"] for task in tasks}
        frontier += [child for child in tree if child.get("task_execution_id") in task_ids]
    return found


def last_progress(conn, execution_id):
    """When the execution or a sub-workflow under it last created or changed a task
    (Mistral's 'YYYY-MM-DD HH:MM:SS'), or its creation time when it has no task."""
    tree = _subtree(conn, execution_id)
    times = [tree[0][0]["created_at"]]
    for _, tasks in tree:
        for task in tasks:
            times += [t for t in (task.get("created_at"), task.get("updated_at")) if t]
    return max(times, key=guard.parse_created_at)


def _set_error(conn, execution_id, info):
    resp = conn.workflow.put("/executions/%s" % execution_id,
                             json={"state": "ERROR", "state_info": info})
    sdk_exceptions.raise_from_response(resp)


def end_lost_execution(conn, execution_id, by, quiet_s):
    """Set a lost execution to ERROR, saying why and which execution took over; then the
    sub-workflows under it that still run (Mistral does not end them with it), deepest
    first. The run first: an ended workflow ignores its tasks' completions, so a
    sub-workflow ended after it cannot fail it again with its own message in place of this
    one. Returns the ids it ended."""
    below = [wf_ex for wf_ex, _ in _subtree(conn, execution_id)[1:]]
    _set_error(conn, execution_id, (
        "Ended by %s after no progress for %d s: Mistral lost this execution (an engine "
        "died under it); %s goes on in its place. Check what this one changed in its "
        "task list." % (by, quiet_s, by)))
    ended = [execution_id]
    for sub in reversed(below):
        if sub.get("state") not in TERMINAL:
            _set_error(conn, sub["id"], "Ended with %s, which Mistral lost (see its state "
                       "info)." % execution_id)
            ended.append(sub["id"])
    return ended


# How long a run waits for a younger rival's guard: to be handed its input (its earlier
# tasks take about a second) and, when it missed this run, to decide (it may wait on its
# own younger rivals). One that has not been handed its input by then is taken as one
# that will see this run (it may have listed the runs before this one was visible: only
# a Mistral that late scheduling its guard makes that wrong).
CONFIRM_S = 30.0
CONFIRM_INTERVAL = 0.25


def _loaded(value):
    """An execution's input or output: Mistral's API gives it as a JSON string."""
    if isinstance(value, str):
        return json.loads(value or "{}")
    return value or {}


# The tasks whose action is handed the guard's input (me, running, stack_refs):
# replace_member's decide (check_concurrency in older releases), failover_volume's inspect.
GUARD_TASKS = ("decide", "check_concurrency", "inspect")


def guard_record(conn, execution_id):
    """``{"input", "result"}`` of ``execution_id``'s guard task (GUARD_TASKS): what its
    action was handed and what it answered (None until it has); None while Mistral has
    not scheduled that action (its input is fixed when it is). A task tried again (its
    executor died) is handed a new input: the newest try decides. replace_member's
    inspect (no ``running`` in its input) is not the guard."""
    tasks = _get(conn, "/tasks", workflow_execution_id=execution_id,
                 name="in:" + ",".join(GUARD_TASKS))["tasks"]
    for task in tasks:
        tries = _get(conn, "/tasks/%s/action_executions" % task["id"], include_output=True,
                     sort_keys="created_at", sort_dirs="asc")["action_executions"]
        recorded = _loaded(tries[-1].get("input")) if tries else {}
        if "running" in recorded:
            output = _loaded(tries[-1].get("output")) if tries[-1].get("output") else {}
            return {"input": recorded, "result": output.get("result")}
    return None


def recorded_guard_input(conn, execution_id):
    """What ``execution_id``'s guard task was handed (guard_record), or None."""
    record = guard_record(conn, execution_id)
    return record and record["input"]


def _still_running(conn, execution_id):
    return _get(conn, "/executions/%s" % execution_id)["state"] not in TERMINAL


def seen_by_younger(conn, me_id, younger_ids, timeout=CONFIRM_S, interval=CONFIRM_INTERVAL,
                    sleep=time.sleep, clock=time.monotonic):
    """{younger rival: guard.younger_verdict} for the rivals whose guard has been handed
    its input within ``timeout`` s: True, it counted ``me_id`` as older; False, it missed
    it and went on (or had not decided by then); None, it missed it but yielded itself.
    One that ended first is left out (it changes nothing now), as is one still before
    its guard at the end (taken as one that will see ``me_id``: see CONFIRM_S)."""
    seen, pending = {}, list(younger_ids)
    deadline = clock() + timeout
    while pending:
        for ex_id in list(pending):
            record = guard_record(conn, ex_id)
            if record is not None:
                seen[ex_id] = guard.younger_verdict(me_id, record["input"], record["result"])
                if seen[ex_id] is not False or guard.went_on(record["result"]):
                    pending.remove(ex_id)
                    continue
            if not _still_running(conn, ex_id):
                seen.pop(ex_id, None)
                pending.remove(ex_id)
        if not pending or clock() >= deadline:
            break
        sleep(interval)
    return seen


def ended_runs(conn, workflow_name, within_s, now=None):
    """The executions of ``workflow_name`` that ended (SUCCESS or ERROR) in the last
    ``within_s`` seconds, with their reports, in guard.heal_history's shape: all of them,
    paged, newest first (other stacks' runs never crowd this stack's newest out)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    since = (now - datetime.timedelta(seconds=within_s)).strftime("%Y-%m-%d %H:%M:%S")
    found = _newest_first(conn, "/executions", "executions", workflow_name=workflow_name,
                          fields="id,state,updated_at,input,output",
                          updated_at="gte:" + since, state="in:SUCCESS,ERROR")
    return [{"id": ex["id"], "state": ex["state"], "updated_at": ex["updated_at"],
             "stack": _loaded(ex.get("input")).get("stack"),
             "report": _loaded(ex.get("output")).get("report")}
            for ex in found]


def pause_of(conn, stack_id):
    """``{"paused_at", "reason"}`` when the stack is paused, else None (one GET)."""
    resp = conn.workflow.get("/environments/%s" % names.pause_name(stack_id))
    if resp.status_code == 404:
        return None
    sdk_exceptions.raise_from_response(resp)
    return _loaded(resp.json().get("variables"))


def heal_history(conn, me, stack_refs, slots=None, cooldown=guard.DEFAULT_COOLDOWN,
                 max_heals=guard.DEFAULT_MAX_HEALS, heal_window=guard.DEFAULT_HEAL_WINDOW,
                 force=False):
    """guard.heal_history on Mistral's record of ``me``'s workflow (``me``: {id, name}) and
    the stack's pause (``stack_refs[0]`` is its id); nothing is read when ``force`` is set."""
    runs = [] if force else ended_runs(conn, me["name"], max(cooldown, heal_window))
    paused = None if force else pause_of(conn, stack_refs[0])
    return guard.heal_history(me["id"], runs, stack_refs, slots, cooldown, max_heals,
                              heal_window, force, paused=paused)


def concurrent_runs(connect, me, running, stack_refs, stale_after=guard.DEFAULT_STALE_AFTER,
                    confirm=seen_by_younger, members=None):
    """guard.concurrent_runs with what it needs read from Mistral, only when needed
    (``connect()`` gives the connection): the progress of the runs old enough to be
    stale, which are then ended, and, when no older run blocks, what the younger rivals'
    guards were handed (``confirm``), so that of runs started at once exactly one goes
    on."""
    needed = guard.needs_progress(me, running, stack_refs, stale_after, members=members)
    progress = {ex_id: last_progress(connect(), ex_id) for ex_id in needed}
    result = guard.concurrent_runs(me, running, stack_refs, stale_after, progress=progress,
                                   members=members)
    younger = guard.younger_rivals(me, running, stack_refs, members)
    if younger and not result["older"]:
        seen = confirm(connect(), me["id"], younger)
        result = guard.concurrent_runs(me, running, stack_refs, stale_after,
                                       progress=progress, seen_me=seen, members=members)
    for lost in result["stale"]:
        end_lost_execution(connect(), lost["id"], me["id"], lost["quiet_s"])
    return result


class ConcurrentRunsAction(OpenStackAction):
    """Say which other runs of this workflow on the same stack block this one (the
    concurrency guard); end the ones Mistral lost (no progress for stale_after seconds)."""

    def __init__(self, me, running, stack_refs, stale_after=guard.DEFAULT_STALE_AFTER,
                 members=None):
        self.me = me
        self.running = running
        self.stack_refs = stack_refs
        self.stale_after = stale_after
        self.members = members

    def run(self, context):
        connect = functools.lru_cache(maxsize=1)(lambda: self.connect(context))
        return readable(lambda: concurrent_runs(
            connect, self.me, self.running, self.stack_refs, self.stale_after,
            members=self.members))


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


def _running(conn, workflows):
    """The project's RUNNING executions of ``workflows``, each with its input loaded:
    [(execution, input)]. Mistral filters them (state, workflow name) and reads only the
    columns asked for, however many executions of other workflows run."""
    return [(ex, _loaded(ex.get("input")))
            for ex in _newest_first(conn, "/executions", "executions", state="RUNNING",
                                    workflow_name="in:" + ",".join(workflows),
                                    fields="id,workflow_name,created_at,input")]


def running_runs(conn, workflow):
    """The RUNNING executions of ``workflow``, in guard's ``running`` shape."""
    return [{"id": ex["id"], "name": ex["workflow_name"], "created_at": ex["created_at"],
             "stack": given.get("stack"), "dry_run": given.get("dry_run") is True,
             "member": given.get("member"), "not_a_member": given.get("not_a_member")}
            for ex, given in _running(conn, [workflow])]


class RunningRunsAction(OpenStackAction):
    """List the RUNNING executions of ``workflow`` for the concurrency guard (its
    ``running`` input, which rivals read back): a Mistral API read, where YAQL's
    ``executions()`` loaded every RUNNING execution of the project whole."""

    def __init__(self, workflow):
        self.workflow = workflow

    def run(self, context):
        return readable(lambda: running_runs(self.connect(context), self.workflow))


def stack_runs(conn, workflows, stack_refs, stale_after, now=None):
    """The RUNNING executions of ``workflows`` whose input names the stack (any of
    ``stack_refs``), in reconcile.decide's shape; each one older than ``stale_after`` s
    with its ``last_progress`` read (the younger ones need no more reads)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    runs = []
    for ex, given in _running(conn, workflows):
        if given.get("stack") not in stack_refs:
            continue
        run = {"id": ex["id"], "workflow": ex["workflow_name"], "created_at": ex["created_at"]}
        if (now - guard.parse_created_at(ex["created_at"])).total_seconds() > stale_after:
            run["last_progress"] = last_progress(conn, ex["id"])
        runs.append(run)
    return runs


def start_execution(conn, workflow, inputs, description):
    """Start ``workflow`` with ``inputs`` as the caller; the new execution's id."""
    resp = conn.workflow.post("/executions", json={
        "workflow_name": workflow, "input": json.dumps(inputs), "description": description})
    sdk_exceptions.raise_from_response(resp)
    return resp.json()["id"]


# What report.py reads of a task record; Mistral then reads only these columns (the
# published values, not the results, which it would compute from every action run).
TASK_FIELDS = "name,state,published,created_at,updated_at,finished_at"


def task_records(conn, execution_id):
    """The tasks of ``execution_id`` (its own, not its sub-workflows'), oldest first:
    ``[{name, state, published, created_at, finished_at}]``. A task tried again (retry,
    or its executor lost) is one record; a task run twice is two. ``finished_at`` is
    ``updated_at`` (else ``created_at``) while Mistral has not set it. One page: a run
    has tens of tasks, and Mistral's page (its [api] max_limit, 1000 by default) holds
    them."""
    tasks = _get(conn, "/executions/%s/tasks" % execution_id, fields=TASK_FIELDS,
                 sort_keys="created_at", sort_dirs="asc")["tasks"]
    return [{"name": task["name"], "state": task["state"],
             "published": _loaded(task.get("published")), "created_at": task["created_at"],
             "finished_at": (task.get("finished_at") or task.get("updated_at")
                             or task["created_at"])}
            for task in tasks]


def read_tasks(connect, workflow_name, execution_id):
    """``(tasks, None)`` for a workflow whose report reads its task records
    (report.FROM_TASKS), or ``(None, why)`` when they could not be read (the report is
    then built without them: a run that did its work does not fail for its report);
    ``(None, None)`` for the others."""
    if workflow_name not in report.FROM_TASKS:
        return None, None
    read = readable(lambda: task_records(connect(), execution_id))
    if isinstance(read, actions.Result):
        return None, read.error
    return read, None


class ReportAction(OpenStackAction):
    """Build a workflow's report from its input and what it found and did (report.report):
    every status, every message, the error of a failed step; for failover_volume its
    steps and fencing from the run's task records, read here with the caller's token."""

    def __init__(self, workflow, request, facts=None, execution=None, started_at=None):
        self.args = dict(workflow=workflow, request=request, facts=facts,
                         execution_id=execution, started_at=started_at)

    def run(self, context):
        tasks, unread = read_tasks(lambda: self.connect(context), self.args["workflow"],
                                   self.args["execution_id"])
        return readable(lambda: report.report(tasks=tasks, unread=unread, **self.args))
