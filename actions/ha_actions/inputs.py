"""Checks of the inputs both workflows share (the timing ones), done before anything
changes in the cloud. Pure: no I/O."""

from mistral_lib import actions

from ha_actions.connection import OperatorError, readable

FAILOVER_DEAD_HOST_POLICIES = ("fail", "delete_server")


class InputError(OperatorError, ValueError):
    """A workflow input that cannot be used; the message says which and what to give."""


def check_seconds(**named):
    """Each value must be a number of seconds > 0."""
    for name, value in named.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise InputError("%s must be a number of seconds > 0, not %r." % (name, value))


def polling_plan(timeout, poll_delay):
    """How a wait polls: every ``poll_delay`` s (whole seconds, >= 1) up to ``timeout``."""
    delay = max(1, int(poll_delay))
    return {"poll_delay": delay, "polls": max(1, -(-int(timeout) // delay))}


def check_failover_request(dead_host_policy="fail", timeout=900, poll_delay=2,
                           fence_timeout=120, stall_timeout=300, stale_after=600):
    """Validate failover_volume's input; return {poll_delay, polls, fence_polls}."""
    if dead_host_policy not in FAILOVER_DEAD_HOST_POLICIES:
        raise InputError("dead_host_policy must be %s, not %s." % (
            " or ".join(FAILOVER_DEAD_HOST_POLICIES), dead_host_policy))
    check_seconds(timeout=timeout, poll_delay=poll_delay, fence_timeout=fence_timeout,
                  stall_timeout=stall_timeout, stale_after=stale_after)
    plan = polling_plan(timeout, poll_delay)
    plan["fence_polls"] = polling_plan(fence_timeout, poll_delay)["polls"]
    return plan


class CheckFailoverRequestAction(actions.Action):
    """Validate a failover_volume request; return its polling plan."""

    def __init__(self, dead_host_policy="fail", timeout=900, poll_delay=2, fence_timeout=120,
                 stall_timeout=300, stale_after=600):
        self.args = dict(dead_host_policy=dead_host_policy, timeout=timeout,
                         poll_delay=poll_delay, fence_timeout=fence_timeout,
                         stall_timeout=stall_timeout, stale_after=stale_after)

    def run(self, context):
        return readable(lambda: check_failover_request(**self.args))
