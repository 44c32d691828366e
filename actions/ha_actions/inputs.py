"""Checks of the inputs both workflows share (the timing ones), done before anything
changes in the cloud. Pure: no I/O."""

from ha_actions.errors import OperatorError

FAILOVER_DEAD_HOST_POLICIES = ("fail", "delete_server", "force_down")


class InputError(OperatorError, ValueError):
    """A workflow input that cannot be used; the message says which and what to give."""


def check_seconds(**named):
    """Each value must be a number of seconds > 0."""
    for name, value in named.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise InputError("%s must be a number of seconds > 0, not %r." % (name, value))


def check_heal_limits(cooldown=60, max_heals=3, heal_window=3600, force=False):
    """The cooldown and flapping inputs (see guard.heal_history)."""
    if not isinstance(cooldown, (int, float)) or isinstance(cooldown, bool) or cooldown < 0:
        raise InputError("cooldown must be a number of seconds >= 0 (0: none), not %r."
                         % (cooldown,))
    if not isinstance(max_heals, int) or isinstance(max_heals, bool) or max_heals < 1:
        raise InputError("max_heals must be a whole number >= 1 (heals of one member or "
                         "pair per heal_window), not %r." % (max_heals,))
    check_seconds(heal_window=heal_window)
    if not isinstance(force, bool):
        raise InputError("force must be true or false, not %r." % (force,))


def polling_plan(timeout, poll_delay, long_poll=0):
    """How a wait polls up to ``timeout``: each try looks for up to ``wait_s`` s (the
    action's bounded long poll, at most the timeout), then waits ``poll_delay`` s (whole
    seconds, >= 1) before the next; ``polls`` tries cover the timeout."""
    delay = max(1, int(poll_delay))
    wait_s = max(0, min(long_poll, timeout))
    return {"poll_delay": delay, "wait_s": wait_s,
            "polls": max(1, -(-int(timeout) // int(wait_s + delay)))}


def check_long_poll(long_poll):
    """A number of seconds >= 0."""
    if not isinstance(long_poll, (int, float)) or isinstance(long_poll, bool) or long_poll < 0:
        raise InputError("long_poll must be a number of seconds >= 0 (how long one look "
                         "waits for a change; 0: one look per poll_delay), not %r."
                         % (long_poll,))


def check_fencing_hook(dead_host_policy, fencing_hook):
    """force_down needs a fencing hook workflow; no other policy takes one."""
    given = fencing_hook not in (None, "", "none")
    if dead_host_policy == "force_down" and not given:
        raise InputError(
            "dead_host_policy force_down needs fencing_hook: the name of a workflow that "
            "powers the old active's host off out of band (e.g. IPMI), gets {stack, "
            "server_id, host} and returns fenced: true. The compute service is forced "
            "down only after it confirmed that.")
    if given and dead_host_policy != "force_down":
        raise InputError("fencing_hook is used only with dead_host_policy force_down, not "
                         "with %s: give both, or neither." % dead_host_policy)
    if given and not isinstance(fencing_hook, str):
        raise InputError("fencing_hook must be a workflow name, not %r." % (fencing_hook,))


def check_failover_request(dead_host_policy="fail", timeout=900, poll_delay=2,
                           fence_timeout=120, stall_timeout=300, stale_after=600,
                           fencing_hook="none", long_poll=0, **limits):
    """Validate failover_volume's input; return {poll_delay, wait_s, polls, fence_wait_s,
    fence_polls}. ``limits``: cooldown, max_heals, heal_window, force (check_heal_limits)."""
    if dead_host_policy not in FAILOVER_DEAD_HOST_POLICIES:
        raise InputError("dead_host_policy must be %s or %s, not %s." % (
            ", ".join(FAILOVER_DEAD_HOST_POLICIES[:-1]), FAILOVER_DEAD_HOST_POLICIES[-1],
            dead_host_policy))
    check_fencing_hook(dead_host_policy, fencing_hook)
    check_seconds(timeout=timeout, poll_delay=poll_delay, fence_timeout=fence_timeout,
                  stall_timeout=stall_timeout, stale_after=stale_after)
    check_long_poll(long_poll)
    check_heal_limits(**limits)
    plan = polling_plan(timeout, poll_delay, long_poll)
    fence = polling_plan(fence_timeout, poll_delay, long_poll)
    plan.update(fence_polls=fence["polls"], fence_wait_s=fence["wait_s"])
    return plan
