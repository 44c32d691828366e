"""ha.v1.replace_member's looks and checks around its PATCH, in as few tasks as their
retries allow. Each may run again whole (an executor lost): they read, or mark members
unhealthy, which Heat takes again as it is.

- ``check_request`` (``ha.replace_request``): the inputs, then ``inspect``'s first look;
- ``inspect`` (``ha.replace_inspect``), only while Heat works on the stack: the group as
  Heat shows it, looked at again; once it does not, the RUNNING runs of the workflow too;
- ``decide`` (``ha.replace_decide``): the concurrency guard (its input is what rivals read
  back, ``workflow.recorded_guard_input``), the members' servers when the blast-radius
  hold applies, the selection and, for a selection that would change the cloud, the heal
  limits (cooldown, flapping, pause), with the step that follows;
- a batch's ``inspect`` (``ha.replace_batch_inspect``): the group again (the first batch
  takes the run's look) and, when no rung is tried first, the members marked unhealthy;
- a batch's ``verify`` (``ha.replace_verify``): the group after the update, and whether
  Heat replaced each member asked for (selection.verify_replacement).
"""

from ha_actions import compute, guard, orchestration, selection, workflow
from ha_actions.connection import CallAction, head_start


def request(connect, stack, group, workflow_name, **given):
    """The plans of a valid request (selection.check_request: a bad input is refused
    before any call), then ``inspect``'s first look (``look``)."""
    plan = selection.check_request(**given)
    return {"plan": plan, "look": inspect(connect, stack, group, workflow_name)}


def inspect(connect, stack, group, workflow_name):
    """orchestration.group_members, with ``stack_refs`` (every reference a run may name
    the stack by); while the stack is not busy, with ``running``: the RUNNING runs of
    ``workflow_name`` (guard's ``running``)."""
    look = orchestration.group_members(connect(), stack, group)
    look["stack_refs"] = [look["stack"]["id"], look["stack"]["name"], look["stack"]["ref"],
                          stack]
    if not look["busy"]:
        look["running"] = workflow.running_runs(connect(), workflow_name)
    return look


def decide(connect, me, running, stack_refs, members, plan, strategy, member=None, count=1,
           max_unavailable=1, max_failed_fraction=0.5, stale_after=guard.DEFAULT_STALE_AFTER,
           **limits):
    """The concurrency guard first (workflow.concurrent_runs: an older run on the stack
    blocks this one); then, when ``plan["hold"]``, Nova's view of the members' servers;
    the selection (selection.choose); for a selection that would change the cloud, the
    heal limits (workflow.heal_history with ``limits``: cooldown, max_heals, heal_window,
    force). ``next`` is the step that follows: report, history (a member no longer in the
    group), preview (a dry run) or run_batch. ``connect()`` gives the connection."""
    decided = {"guard": workflow.concurrent_runs(connect, me, running, stack_refs, stale_after,
                                                 members=members),
               "failed_server_ids": [], "selection": None, "limits": None, "next": "report"}
    if decided["guard"]["blocking"]:
        return decided
    details = {}
    if plan["hold"]:
        health = compute.server_statuses(connect(), [sid for m in members
                                                     for sid in m.get("server_ids") or ()])
        decided["failed_server_ids"], details = health["failed"], health["details"]
    chosen = decided["selection"] = selection.choose(
        members, strategy, member, count, max_unavailable, decided["failed_server_ids"],
        details, plan["hold"], max_failed_fraction, limits.get("force", False), plan["rungs"])
    if chosen["status"] == "not_found":
        return dict(decided, next="history")
    if chosen["status"] != "selected":
        return decided
    if me.get("dry_run"):
        return dict(decided, next="preview")
    slots = [name for batch in chosen["batches"] for name in batch]
    held = decided["limits"] = workflow.heal_history(connect(), me, stack_refs, slots, **limits)
    return dict(decided, next="run_batch" if held["status"] == "ok" else "report")


def inspect_batch(connect, stack, group, members, reason=None, mark=True, look=None):
    """orchestration.group_members (or ``look``, the run's own look just before the first
    batch); unless the stack is busy, and when ``mark``, the batch's ``members`` marked
    unhealthy in the group (``marked``) and the root stack's PATCH sent at once
    (``patched``: orchestration.update_existing's answer, which ha.v1.update_stack then
    only waits on; None when it did not go out whole: update_stack sends it)."""
    look = dict(look) if look else orchestration.group_members(connect(), stack, group)
    look["patched"] = None
    if mark and not look["busy"]:
        look["marked"] = orchestration.mark_members(connect(), look["group"]["ref"], members,
                                                    reason)
        look["patched"] = head_start(lambda: orchestration.update_existing(
            connect(), look["stack"]["ref"],
            unless_busy_since=look["stack"].get("updated_time") or ""))
    return look


def verify(connect, stack, group, before, names):
    """The group after the update (``after``) and selection.verify_replacement of
    ``names`` against ``before`` (``verified``)."""
    after = orchestration.group_members(connect(), stack, group)
    return {"after": after,
            "verified": selection.verify_replacement(before, after["members"], names)}


class RequestAction(CallAction):
    """Check a replace_member request before anything changes (its plans), then the
    group; once Heat is not working on the stack, the RUNNING runs of ``workflow``."""

    call = request

    def __init__(self, stack, workflow, strategy, group=None, member=None, count=1,
                 max_unavailable=1, timeout=900, poll_delay=5, stall_timeout=300,
                 stale_after=600, not_a_member="fail", cooldown=60, max_heals=3,
                 heal_window=3600, force=False, recovery="replace", rung_timeout=120,
                 max_failed_fraction=0.5):
        given = {name: value for name, value in locals().items()
                 if name not in ("self", "stack", "workflow", "group")}
        self.args = dict(given, stack=stack, group=group, workflow_name=workflow)


class InspectAction(CallAction):
    """The group and its members; once Heat is not working on the stack, the RUNNING
    runs of ``workflow`` for the concurrency guard."""

    call = inspect

    def __init__(self, stack, workflow, group=None):
        self.args = dict(stack=stack, group=group, workflow_name=workflow)


class DecideAction(CallAction):
    """The concurrency guard (``me``, ``running``, ``stack_refs``, ``members``: what rivals
    read back from this task's input), the selection, the heal limits; the next step."""

    call = decide

    def __init__(self, me, running, stack_refs, members, plan, strategy, member=None,
                 count=1, max_unavailable=1, max_failed_fraction=0.5,
                 stale_after=guard.DEFAULT_STALE_AFTER, cooldown=guard.DEFAULT_COOLDOWN,
                 max_heals=guard.DEFAULT_MAX_HEALS, heal_window=guard.DEFAULT_HEAL_WINDOW,
                 force=False):
        self.args = {name: value for name, value in locals().items() if name != "self"}


class BatchInspectAction(CallAction):
    """A batch's first look at the group; its members marked unhealthy when ``mark``."""

    call = inspect_batch

    def __init__(self, stack, group, members, reason=None, mark=True, look=None):
        self.args = dict(stack=stack, group=group, members=members, reason=reason, mark=mark,
                         look=look)


class VerifyAction(CallAction):
    """The group after a batch's update; each named member replaced, the size kept."""

    call = verify

    def __init__(self, stack, group, before, names):
        self.args = dict(stack=stack, group=group, before=before, names=names)
