"""ha_actions.stack_update.next_step: what ha.v1.update_stack does after each look at the
update (wait, resume, done, fail with the operator's message), with no cloud."""

import pytest

from ha_actions import stack_update


def summary(status="UPDATE_IN_PROGRESS", pending=True, stalled=False, superseded=False,
            transient=False, reason=None, quiet_s=None):
    return {"name": "web", "status": status, "status_reason": reason, "pending": pending,
            "stalled": stalled, "superseded": superseded, "transient": transient,
            "quiet_s": quiet_s}


DONE = summary("UPDATE_COMPLETE", pending=False)
FAILED = summary("UPDATE_FAILED", pending=False, reason="Resource CREATE failed")
CANCELLED = summary("UPDATE_FAILED", pending=False, superseded=True,
                    reason="Stack UPDATE cancelled")
LOST_MESSAGE = summary("UPDATE_FAILED", pending=False, transient=True,
                       reason="MessagingTimeout: Timed out waiting for a reply")


@pytest.mark.parametrize("look, resumed, step", [
    (summary(), 0, "wait"),
    (DONE, 0, "done"),
    (DONE, 2, "done"),
    (summary(stalled=True, quiet_s=61), 0, "resume"),
    (summary(stalled=True, quiet_s=61), 1, "resume"),
    (summary(stalled=True, quiet_s=301), 2, "fail"),
    (CANCELLED, 1, "resume"),        # our resume cancelled a traversal that was only slow
    (CANCELLED, 0, "fail"),          # someone else's update cancelled ours
    (CANCELLED, 2, "fail"),
    (LOST_MESSAGE, 0, "resume"),
    (LOST_MESSAGE, 2, "fail"),
    (FAILED, 0, "fail"),
])
def test_the_next_step_after_a_look(look, resumed, step):
    got = stack_update.next_step(look, resumed, 2, 900)
    assert got["next_step"] == step
    assert (got["failure"] is None) == (step in ("resume", "done"))


def test_each_failure_says_what_happened_and_what_to_do():
    stalled = stack_update.next_step(summary(stalled=True, quiet_s=301), 2, 2, 900)["failure"]
    assert stalled == ("Heat made no progress on stack web (UPDATE_IN_PROGRESS, no event for "
                       "301 s) even after 2 resume(s): a heat-engine may be down (openstack "
                       "orchestration service list, as admin).")
    timeout = stack_update.next_step(summary(), 0, 2, 900)["failure"]
    assert timeout == ("Timeout: stack web is still UPDATE_IN_PROGRESS after 900 s; Heat goes "
                       "on with the update. See openstack stack event list --nested-depth 3 "
                       "web.")
    failed = stack_update.next_step(FAILED, 0, 2, 900)["failure"]
    assert failed == "Stack web ended UPDATE_FAILED: Resource CREATE failed"
