"""Which group members to replace, in which batches, and whether it worked.

Pure decisions, no I/O: every function takes and returns plain dicts and lists,
so the rules are tested without a cloud. A *member* is the dict that
``orchestration.group_members`` returns for each member of a group::

    {"name", "physical_id", "status", "status_reason", "creation_time", "type",
     "server_ids": [...], "resource_ids": [...]}

``resource_ids`` are the physical ids of everything inside a template member
(servers, ports, volumes...), so a member is also found by its server's id.
"""

import re

from ha_actions import recovery as ladder
from ha_actions.errors import OperatorError
from ha_actions.inputs import check_heal_limits, check_seconds, polling_plan

STRATEGIES = ("failed", "oldest", "newest", "specific")
NOT_A_MEMBER = ("fail", "ignore")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


class SelectionError(OperatorError, ValueError):
    """The request cannot be served as asked; nothing was changed."""


def is_failed_status(status):
    """Heat shows the member failed: CREATE_FAILED, UPDATE_FAILED, CHECK_FAILED..."""
    return bool(status) and status.endswith("_FAILED")


def check_request(strategy, member=None, count=1, max_unavailable=1, timeout=900, poll_delay=5,
                  stall_timeout=300, stale_after=600, not_a_member="fail", recovery="replace",
                  rung_timeout=ladder.DEFAULT_RUNG_TIMEOUT,
                  max_failed_fraction=ladder.DEFAULT_MAX_FAILED_FRACTION, **limits):
    """Validate the workflow input; return the polling plan and the recovery plan
    (recovery.plan: rungs, replaces, hold). SelectionError or InputError if invalid.
    ``limits``: cooldown, max_heals, heal_window, force (inputs.check_heal_limits)."""
    if not_a_member not in NOT_A_MEMBER:
        raise SelectionError("not_a_member must be %s, not %r." % (
            " or ".join(NOT_A_MEMBER), not_a_member))
    if strategy not in STRATEGIES:
        raise SelectionError(
            "Unknown strategy %r: use one of %s." % (strategy, ", ".join(STRATEGIES))
        )
    if strategy == "specific" and not member:
        raise SelectionError(
            "Strategy 'specific' needs 'member': a member's resource name or a "
            "physical id (for example the server's uuid)."
        )
    if strategy != "specific" and member:
        raise SelectionError(
            "'member' is only used with strategy 'specific' (strategy is %r)." % strategy
        )
    for name, value in (("count", count), ("max_unavailable", max_unavailable)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SelectionError("%s must be a whole number >= 1, not %r." % (name, value))
    if strategy == "specific" and count != 1:
        raise SelectionError("Strategy 'specific' replaces one member: count must be 1.")
    check_seconds(timeout=timeout, poll_delay=poll_delay, stall_timeout=stall_timeout,
                  stale_after=stale_after)
    check_heal_limits(**limits)
    ladder.check_recovery(recovery, rung_timeout, max_failed_fraction)
    return dict(polling_plan(timeout, poll_delay), **ladder.plan(recovery, strategy, not_a_member))


def find_member(members, member):
    """The member whose name, physical id or inner resource id is ``member``, or None."""
    for candidate in members:
        if candidate["name"] == member:
            return candidate
    for candidate in members:
        if candidate.get("physical_id") == member or member in candidate.get("resource_ids", ()):
            return candidate
    return None


def _by_age(members):
    # Heat's own order for removal and rolling replacement: creation_time, then name.
    return sorted(members, key=lambda m: (m.get("creation_time") or "", m["name"]))


def failed_members(members, failed_server_ids=None):
    """Members Heat shows *_FAILED, or with a server Nova shows in ERROR or no longer has
    (deleted outside Heat); oldest first."""
    errors = set(failed_server_ids or ())
    return _by_age(
        m
        for m in members
        if is_failed_status(m.get("status")) or errors.intersection(m.get("server_ids", ()))
    )


def select_members(members, strategy, member=None, count=1, failed_server_ids=None):
    """Pick the members to replace.

    Returns ``{"status": "selected" | "already_healed" | "not_found", "selected":
    [member...], "message": str, "remaining_failed": int}``; ``not_found``: a physical id
    no member has now (member_history tells a former member from a stranger). Raises
    SelectionError for a request that cannot be served (before anything is changed).
    """
    check_request(strategy, member, count)
    size = len(members)
    if strategy == "specific":
        found = find_member(members, member)
        if found is None:
            names = ", ".join(sorted(m["name"] for m in members)) or "none"
            if UUID_RE.match(member):  # a former member, or never one: Heat's events tell
                return {
                    "status": "not_found",
                    "selected": [],
                    "remaining_failed": 0,
                    "message": "No member of the group has physical id %s now. Members "
                    "now: %s." % (member, names),
                }
            raise SelectionError("Member %r is not in the group. Members: %s." % (member, names))
        return {
            "status": "selected",
            "selected": [found],
            "remaining_failed": 0,
            "message": "Member %s selected by %s." % (found["name"], member),
        }
    if count > size:
        raise SelectionError(
            "count=%d is larger than the group, which has %d member(s)." % (count, size)
        )
    if strategy == "failed":
        failed = failed_members(members, failed_server_ids)
        if not failed:
            return {
                "status": "already_healed",
                "selected": [],
                "remaining_failed": 0,
                "message": "No failed member: Heat shows none *_FAILED and Nova shows no "
                "member server in ERROR or gone.",
            }
        chosen = failed[:count]
        return {
            "status": "selected",
            "selected": chosen,
            "remaining_failed": len(failed) - len(chosen),
            "message": "%d failed member(s), %d selected (count=%d)."
            % (len(failed), len(chosen), count),
        }
    ordered = _by_age(members)
    chosen = ordered[:count] if strategy == "oldest" else list(reversed(ordered))[:count]
    return {
        "status": "selected",
        "selected": chosen,
        "remaining_failed": len(failed_members(members, failed_server_ids)),
        "message": "The %d %s member(s) selected." % (len(chosen), strategy),
    }


def choose(members, strategy, member=None, count=1, max_unavailable=1, failed_server_ids=None,
           server_details=None, hold=False, max_failed_fraction=1, force=False, rungs=()):
    """select_members, its batches, and the blast-radius hold (recovery.blast_radius)
    when ``hold`` applies to this run (the loop's, an alarm's): then status ``held``,
    ``hold`` says why. Such a run with ``rungs`` to try leaves a member that looks healthy
    now alone (``already_healed``): an alarm that came again must not reboot it."""
    result = select_members(members, strategy, member, count, failed_server_ids)
    result["batches"] = batches([m["name"] for m in result["selected"]], max_unavailable)
    failed = failed_members(members, failed_server_ids)
    healthy = [m["name"] for m in result["selected"] if m not in failed]
    if hold and rungs and healthy and result["status"] == "selected":
        return dict(result, status="already_healed", selected=[], batches=[], message=(
            "Member %s looks healthy now (Heat: %s; its servers not in ERROR): not "
            "rebooted nor rebuilt. An alarm that came again, or late, changes nothing."
            % (", ".join(healthy), ", ".join(m["status"] for m in result["selected"]))))
    if hold and result["status"] == "selected":
        held = ladder.blast_radius(members, failed, server_details, max_failed_fraction,
                                   force)
        if held:
            result.update(status="held", hold=held, message=held["message"])
    return result


def batches(names, max_unavailable):
    """Split member names into consecutive batches of at most ``max_unavailable``."""
    if not isinstance(max_unavailable, int) or max_unavailable < 1:
        raise SelectionError("max_unavailable must be >= 1, not %r." % (max_unavailable,))
    return [list(names[i : i + max_unavailable]) for i in range(0, len(names), max_unavailable)]


def _replacement(was, now):
    return {
        "name": was["name"],
        "old_physical_id": was.get("physical_id"),
        "new_physical_id": now.get("physical_id"),
        "old_server_ids": list(was.get("server_ids", ())),
        "new_server_ids": list(now.get("server_ids", ())),
    }


def _changed(was, now):
    return (was.get("physical_id") != now.get("physical_id")
            or set(was.get("server_ids") or ()) != set(now.get("server_ids") or ()))


def verify_replacement(before, after, names):
    """Check that Heat replaced each named member and kept the group's size.

    ``before``/``after``: member lists around one update. Returns ``{"replaced": [...],
    "also_replaced": [...]}``, each ``{name, old_physical_id, new_physical_id,
    old_server_ids, new_server_ids}``: ``also_replaced`` are members not asked for
    whose physical id or servers changed too (Heat replaces what is already *_FAILED in
    the same update, inside a nested member too), so the report says everything that
    changed. Raises SelectionError saying
    every problem found.
    """
    old = {m["name"]: m for m in before}
    new = {m["name"]: m for m in after}
    problems = []
    replaced = []
    for name in names:
        was, now = old.get(name), new.get(name)
        if was is None:
            problems.append("%s was not a member before the update" % name)
            continue
        if now is None:
            problems.append("%s was removed from the group instead of being replaced" % name)
            continue
        if not now.get("physical_id") or now.get("physical_id") == was.get("physical_id"):
            problems.append(
                "%s still has physical id %s (not replaced)" % (name, was.get("physical_id"))
            )
        kept = set(was.get("server_ids", ())) & set(now.get("server_ids", ()))
        if kept:
            problems.append("%s still has server(s) %s" % (name, ", ".join(sorted(kept))))
        if is_failed_status(now.get("status")):
            problems.append(
                "%s is %s: %s" % (name, now.get("status"), now.get("status_reason") or "")
            )
        replaced.append(_replacement(was, now))
    if len(after) != len(before):
        problems.append(
            "the group had %d member(s) and now has %d (an AutoScalingGroup without "
            "desired_capacity sizes itself from its healthy members)" % (len(before), len(after))
        )
    if problems:
        raise SelectionError("Replacement not verified: " + "; ".join(problems) + ".")
    also = [_replacement(old[n], new[n]) for n in sorted(old)
            if n in new and n not in names and _changed(old[n], new[n])]
    return {"replaced": replaced, "also_replaced": also}


def member_history(physical_id, group_name, group_events, member_events, complete=True):
    """Was ``physical_id`` ever a member of the group, or inside one? From Heat's events.

    ``group_events``: the events of the group's own stack (each member resource's, with the
    physical id it had then: a server's uuid, or the member's nested stack id);
    ``member_events``: {member nested stack id: its events}; ``complete``: every member
    stack the group ever had was read. Returns ``{"status": "already_healed" |
    "not_a_member", "message", "former_member", "last_seen"}``: ``already_healed`` names
    the member and its last event (when Heat replaced or removed it); ``not_a_member``
    only when the whole record was read, else ``already_healed`` saying it is unsure.
    """
    owner = {}  # physical id a member had -> (member name, its newest event time)
    for event in group_events:
        pid, name = event.get("physical_resource_id"), event.get("resource_name")
        if pid and name and name != group_name:
            seen = max(owner.get(pid, (name, ""))[1], event.get("event_time") or "")
            owner[pid] = (name, seen)
    found = owner.get(physical_id)
    if found is None:
        for stack_id, events in member_events.items():
            if stack_id in owner and any(
                    e.get("physical_resource_id") == physical_id for e in events):
                found = owner[stack_id]
                break
    if found is not None:
        return {"status": "already_healed", "former_member": found[0], "last_seen": found[1],
                "message": "%s was in member %s of group '%s' until %s (Heat's events): it was "
                "replaced or removed already." % (physical_id, found[0], group_name,
                                                   found[1] or "an unknown time")}
    if not complete:
        return {"status": "already_healed", "former_member": None, "last_seen": None,
                "message": "No member of group '%s' has %s now; Heat's events were not all "
                "read (too many former members, or one Heat does not show now), so it may have "
                "been replaced already."
                % (group_name, physical_id)}
    return {"status": "not_a_member", "former_member": None, "last_seen": None,
            "message": "%s is not a member of group '%s' and never was (Heat's events of the "
            "group and of every member it had list no such physical id): check the server "
            "uuid and the stack." % (physical_id, group_name)}
