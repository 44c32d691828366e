"""The recovery ladder and the blast-radius hold of ha.v1.replace_member. Pure: no I/O.

A *rung* is one gentle step on a member's servers through Nova, tried before (or
instead of) Heat's replacement: ``reboot`` (hard reboot) or ``rebuild`` (the server's
own image). Each has a deadline (``rung_timeout``); a member whose servers are all
ACTIVE with no task left recovered on that rung and keeps its server and physical ids.
The hold: when more than ``max_failed_fraction`` of a group's members look failed at
once (two or more), the cause is most likely shared (a host, the network, monitoring),
and replacing them all would make the outage worse: nothing changes unless ``force``.
"""

import collections

from ha_actions.inputs import InputError

RECOVERIES = ("replace", "reboot", "rebuild", "ladder")
RUNGS = {"replace": [], "reboot": ["reboot"], "rebuild": ["rebuild"],
         "ladder": ["reboot", "rebuild"]}
DEFAULT_RUNG_TIMEOUT = 120
MIN_RUNG_TIMEOUT = 10
DEFAULT_MAX_FAILED_FRACTION = 0.5
RECOVERED, FAILED, PENDING = "recovered", "failed", "pending"


def check_recovery(recovery="replace", rung_timeout=DEFAULT_RUNG_TIMEOUT,
                   max_failed_fraction=DEFAULT_MAX_FAILED_FRACTION):
    """Raise InputError unless the ladder's and the hold's inputs can be used."""
    if recovery not in RECOVERIES:
        raise InputError("recovery must be one of %s, not %r: replace (Heat builds a new "
                         "member), reboot or rebuild (Nova, same server), ladder (reboot, "
                         "then rebuild, then replace)." % (", ".join(RECOVERIES), recovery))
    if (not isinstance(rung_timeout, (int, float)) or isinstance(rung_timeout, bool)
            or rung_timeout < MIN_RUNG_TIMEOUT):
        raise InputError("rung_timeout must be a number of seconds >= %d (how long a reboot "
                         "or rebuild may take before the next rung), not %r."
                         % (MIN_RUNG_TIMEOUT, rung_timeout))
    if (not isinstance(max_failed_fraction, (int, float))
            or isinstance(max_failed_fraction, bool)
            or not 0 < max_failed_fraction <= 1):
        raise InputError("max_failed_fraction must be a number in (0, 1] (the share of a "
                         "group's members that may look failed at once before nothing is "
                         "replaced), not %r." % (max_failed_fraction,))


def plan(recovery, strategy, not_a_member):
    """What a run of this request does beyond selecting: ``{"rungs": [...], "replaces":
    bool, "hold": bool}``. The hold applies to the runs nobody named a member for: the
    'failed' strategy (the loop's) and alarm runs (not_a_member 'ignore'), not to an
    operator's named member nor to oldest/newest."""
    return {"rungs": list(RUNGS[recovery]), "replaces": recovery in ("replace", "ladder"),
            "hold": strategy == "failed" or not_a_member == "ignore"}


def _shared(counts, total, what):
    return ["%d of %d %s %s" % (n, total, "is" if n == 1 else "are", what % value)
            for value, n in counts.most_common() if value and n > 1]


def shared_causes(failed, details):
    """What the failed members have in common that the caller can see: a compute host,
    Nova's fault message, Heat's status reason. ``details``: {server id: {host, fault}}."""
    hosts, faults, reasons = (collections.Counter() for _ in range(3))
    for member in failed:
        for key, counter in (("host", hosts), ("fault", faults)):
            counter.update({(details.get(sid) or {}).get(key)
                            for sid in member.get("server_ids", ())} - {None})
        if member.get("status", "").endswith("_FAILED"):
            reasons[member.get("status_reason")] += 1
    total = len(failed)
    causes = (_shared(hosts, total, "on compute host %s") + _shared(faults, total,
              "with Nova fault %r") + _shared(reasons, total, "with Heat reason %r"))
    if not any(d.get("host") for d in details.values()):
        causes.append("compute hosts not shown to this user (admin only)")
    return causes


def blast_radius(members, failed, details=None, max_failed_fraction=DEFAULT_MAX_FAILED_FRACTION,
                 force=False):
    """None, or the hold: ``{"failed": [names], "causes": [...], "message"}`` when two or
    more members, and more than ``max_failed_fraction`` of the group, look failed."""
    size, count = len(members), len(failed)
    if force or count < 2 or count <= max_failed_fraction * size:
        return None
    names = [m["name"] for m in failed]
    causes = shared_causes(failed, details or {})
    return {"failed": names, "causes": causes, "message": (
        "Held, nothing changed: %d of %d members look failed at once (%s), more than "
        "max_failed_fraction %s of the group. That is rarely %d independent failures: look "
        "for a shared cause (%s). To replace them anyway run again with force: true (in "
        "batches of max_unavailable), or replace a member by name (strategy specific)."
        % (count, size, ", ".join(names), max_failed_fraction, count,
           "; ".join(causes) or "none visible"))}


def _server_outcome(rung, detail, elapsed_s, rung_timeout):
    """(outcome, reason) of one server some time after its rung started."""
    status, task = detail.get("status"), detail.get("task_state")
    if status == "ACTIVE" and not task:
        return RECOVERED, "ACTIVE"
    if status == "NOT_FOUND":
        return FAILED, "the server is gone"
    if status == "ERROR" and not task:
        fault = detail.get("fault")
        return FAILED, "ERROR after the %s%s" % (rung, ": " + fault if fault else "")
    if elapsed_s >= rung_timeout:
        return FAILED, "still %s%s after %d s (rung_timeout; compute host %s)" % (
            status, ", task " + task if task else "", elapsed_s, detail.get("host") or "?")
    return PENDING, "%s%s" % (status, ", task " + task if task else "")


def member_outcome(rung, member, started, details, elapsed_s, rung_timeout):
    """(outcome, reason) of a member: recovered when every server recovered, failed as
    soon as one did (refused by Nova, ERROR, gone, or past the deadline)."""
    servers = member.get("server_ids") or []
    if not servers:
        return FAILED, "the member has no server to %s" % rung
    reasons, pending = [], False
    for sid in servers:
        start = started.get(sid) or {}
        if not start.get("started"):
            return FAILED, "Nova refused the %s of server %s: %s" % (
                rung, sid, start.get("reason") or "not started")
        outcome, reason = _server_outcome(rung, details.get(sid) or {}, elapsed_s,
                                          rung_timeout)
        if outcome == FAILED:
            return FAILED, "server %s: %s" % (sid, reason)
        pending = pending or outcome == PENDING
        reasons.append("server %s %s" % (sid, reason))
    return (PENDING if pending else RECOVERED), "; ".join(reasons)


def rung_progress(rung, members, names, started, details, elapsed_s, rung_timeout):
    """Where one rung stands for the members ``names``: ``{"pending": bool, "recovered":
    [names], "left": [names], "mark_healthy": [names Heat shows failed that recovered],
    "rungs": [{member, rung, outcome, reason, duration_s}] (once nothing is pending)}``."""
    by_name = {m["name"]: m for m in members}
    outcomes = {name: member_outcome(rung, by_name.get(name) or {}, started, details,
                                     elapsed_s, rung_timeout) for name in names}
    pending = any(outcome == PENDING for outcome, _ in outcomes.values())
    recovered = [n for n in names if outcomes[n][0] == RECOVERED]
    return {"pending": pending,
            "recovered": [] if pending else recovered,
            "left": list(names) if pending else [n for n in names if n not in recovered],
            "mark_healthy": [] if pending else [
                n for n in recovered
                if (by_name[n].get("status") or "").endswith("_FAILED")],
            "rungs": [] if pending else [
                {"member": n, "rung": rung, "outcome": outcomes[n][0],
                 "reason": outcomes[n][1], "duration_s": int(elapsed_s)} for n in names]}
