"""What the reconcile loop does for one stack: the decision, pure (no I/O).

The alarm is the fast path and fires once; the loop is the guarantee. Run on a schedule
(a Mistral cron trigger), it looks at a stack as it is now and starts what is still
missing: the heal an alarm's run would have made, had Mistral not lost it or the alarm
not arrived. It never works beside a live run and never repeats the guards' work: the
workflow it starts keeps its own concurrency guard, cooldown and flapping limit. A run
of the pack without progress for ``stale_after`` s Mistral lost: the loop ends it first
(saying so), whether or not anything is left to heal, so no lost run stays RUNNING.

The caller reads the cloud and hands over plain dicts::

    stack:  {"id", "name", "status"}
    groups: [{"name", "members": [{"name", "status", "server_ids", "creation_time"}],
              "failed_server_ids": [server ids Nova shows ERROR or no longer has]}]
    pair:   {"active": name, "servers": {name: {"id", "status"}},
             "volumes": {volume id: [ids of the servers it is attached to]}} or None
    runs:   the pack's RUNNING executions for this stack:
            [{"id", "workflow", "created_at", "last_progress"}]

and gets ``{"stack", "status", "found": [what is wrong, in words], "start": {"workflow",
"input"} or None, "lost": [{"id", "quiet_s"}: the runs to end first], "message"}``;
status: ``paused``, ``healthy``, ``left_to_heat`` (the stack is in progress),
``left_to_run`` (a live run works on it) or ``start``. At most one
operation per stack and look (the guard is per stack, so a second would only be
skipped). A stack Heat is working on is left to Heat for this look.
"""

import datetime

from ha_actions import alarm, guard, selection

REPLACE = "ha.v1.replace_member"
FAILOVER = "ha.v1.failover_volume"
DEFAULT_STALE_AFTER = 120
# A server the pair cannot keep its volumes on.
DEAD_SERVER_STATES = ("ERROR", "SHUTOFF", "NOT_FOUND", "DELETED")


def quiet_s(run, now):
    """Seconds since the run last made progress (or started, without a task)."""
    return (now - guard.parse_created_at(run.get("last_progress") or run["created_at"])
            ).total_seconds()


def live_runs(runs, stale_after=DEFAULT_STALE_AFTER, now=None):
    """The runs that made progress within ``stale_after`` seconds: the loop leaves the
    stack to them. The others Mistral lost: the loop ends them."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return [run for run in runs if quiet_s(run, now) <= stale_after]


def group_findings(groups):
    """(group name, failed member names) of each group with a failed member."""
    found = []
    for group in groups:
        failed = selection.failed_members(group["members"], group.get("failed_server_ids"))
        if failed:
            found.append((group["name"], [m["name"] for m in failed]))
    return found


def pair_finding(pair):
    """Why the pair needs a failover (or to finish one), or None when it is whole."""
    if not pair:
        return None
    active = pair["servers"].get(pair["active"]) or {"status": "NOT_FOUND"}
    if active["status"] in DEAD_SERVER_STATES:
        return "the active server %s is %s" % (pair["active"], active["status"])
    elsewhere = sorted(vid for vid, on in pair["volumes"].items() if on != [active["id"]])
    if elsewhere:
        return "volume(s) %s not attached to the active server %s only" % (
            ", ".join(elsewhere), pair["active"])
    return None


class NothingToWatch(guard.GuardError):
    """The stack has nothing the loop looks after."""


def check_watchable(stack_name, groups, pair, then=""):
    """NothingToWatch unless the stack has a group or a failover pair; ``then``: what the
    message tells the operator to do."""
    if not groups and not pair:
        raise NothingToWatch(
            "Stack %s has no group (OS::Heat::AutoScalingGroup, ResourceGroup) and no "
            "failover pair (an 'active' parameter naming one of two servers with volumes): "
            "nothing for the reconcile loop to look after.%s" % (stack_name, then))


def heal_options(workflow, options):
    """The loop's ``options`` the heal it starts takes: a stack's loop may start either
    workflow, so each gets its own (recovery only to replace_member; dead_host_policy only
    to failover_volume). An option neither takes is an error (a typo)."""
    options = options or {}
    unknown = sorted(k for k in options if not any(k in keys for keys in alarm.OPTIONS.values()))
    if unknown:
        raise guard.GuardError("options %s are inputs of neither ha.v1.replace_member nor "
                               "ha.v1.failover_volume; use: %s." % (", ".join(unknown), ", ".join(
                                   sorted(set(sum(alarm.OPTIONS.values(), ()))))))
    takes = alarm.OPTIONS[workflow.rsplit(".", 1)[-1]]
    return {k: v for k, v in options.items() if k in takes}


def decide(stack, groups=(), pair=None, runs=(), stale_after=DEFAULT_STALE_AFTER,
           options=None, now=None, paused=None):
    """What to start for ``stack`` now, if anything (see the module docstring).
    ``options``: extra inputs handed to the workflow started (cooldown, max_heals...).
    ``paused``: the stack's pause ({"paused_at", "reason"}; openstack ha pause) or None:
    a paused stack is looked at and left alone."""
    guard.check_stale_after(stale_after)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    live = live_runs(runs, stale_after, now)
    lost = [{"id": run["id"], "quiet_s": int(quiet_s(run, now))} for run in runs
            if run not in live]
    found = ["%s: %s failed" % (name, ", ".join(members))
             for name, members in group_findings(groups)]
    pair_problem = pair_finding(pair)
    if pair_problem:
        found.append(pair_problem)
    result = {"stack": {"id": stack["id"], "name": stack["name"]}, "found": found,
              "start": None, "lost": [] if paused else lost}
    ending = " The lost run(s) %s are ended first (no progress for %s s)." % (
        ", ".join(r["id"] for r in lost), ", ".join(str(r["quiet_s"]) for r in lost)) \
        if lost else ""
    if paused:
        result.update(status="paused", message=guard.paused_message(stack["name"], paused) + (
            " Found: %s." % "; ".join(found) if found else ""))
    elif not found:
        result.update(status="healthy", message="Nothing to heal: every member and the "
                                                "pair are healthy." + ending)
    elif stack["status"].endswith("_IN_PROGRESS"):
        result["status"] = "left_to_heat"
        result["message"] = ("Found %s; the stack is %s: left to Heat this time (a heal "
                             "started now would only wait)." % ("; ".join(found),
                                                                stack["status"]))
    elif live:
        result["status"] = "left_to_run"
        result["message"] = ("Found %s; left to the running execution(s) %s." % (
            "; ".join(found), ", ".join(run["id"] for run in live)))
    else:
        groups_failed = group_findings(groups)
        workflow = REPLACE if groups_failed else FAILOVER
        inputs = dict(heal_options(workflow, options), stack=stack["id"],
                      stale_after=stale_after)
        if groups_failed:
            inputs.update(group=groups_failed[0][0], strategy="failed")
        result.update(status="start", start={"workflow": workflow, "input": inputs})
        result["message"] = "Found %s; starting %s.%s" % ("; ".join(found), workflow, ending)
    return result
