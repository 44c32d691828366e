"""The input checks both workflows share, and failover_volume's request check."""

import pytest

from ha_actions import decisions, inputs


def test_a_failover_request_gives_its_polling_plan():
    assert inputs.check_failover_request(timeout=300, poll_delay=2, fence_timeout=30) == {
        "poll_delay": 2, "wait_s": 0, "polls": 150, "fence_wait_s": 0, "fence_polls": 15}


def test_a_long_poll_makes_fewer_tries_that_still_cover_the_timeout():
    plan = inputs.check_failover_request(timeout=300, poll_delay=2, fence_timeout=30,
                                         long_poll=20)
    assert plan == {"poll_delay": 2, "wait_s": 20, "polls": 14, "fence_wait_s": 20,
                    "fence_polls": 2}
    # A long poll longer than the wait looks for the wait's whole timeout, once.
    assert inputs.polling_plan(timeout=5, poll_delay=2, long_poll=20) == {
        "poll_delay": 2, "wait_s": 5, "polls": 1}


@pytest.mark.parametrize("bad", [-1, "20", None, True])
def test_a_bad_long_poll_is_a_clear_error(bad):
    with pytest.raises(inputs.InputError) as err:
        inputs.check_failover_request(long_poll=bad)
    assert str(err.value) == (
        "long_poll must be a number of seconds >= 0 (how long one look waits for a change; "
        "0: one look per poll_delay), not %r." % (bad,))


def test_a_fraction_of_a_second_polls_every_second_and_covers_the_timeout():
    assert inputs.polling_plan(timeout=7, poll_delay=0.5) == {"poll_delay": 1, "wait_s": 0,
                                                              "polls": 7}
    assert inputs.polling_plan(timeout=7, poll_delay=5)["polls"] == 2


@pytest.mark.parametrize("field", ["timeout", "poll_delay", "fence_timeout", "stall_timeout",
                                   "stale_after"])
@pytest.mark.parametrize("value", [0, -1, "60", None, False])
def test_every_timing_input_must_be_positive_seconds(field, value):
    with pytest.raises(inputs.InputError) as err:
        inputs.check_failover_request(**{field: value})
    assert str(err.value) == "%s must be a number of seconds > 0, not %r." % (field, value)


def test_an_unknown_dead_host_policy_names_the_ones_there_are():
    with pytest.raises(inputs.InputError, match="dead_host_policy must be fail, "
                       "delete_server or force_down, not reboot."):
        inputs.check_failover_request(dead_host_policy="reboot")


def test_the_action_returns_the_plan_or_an_error_result():
    assert decisions.CheckFailoverRequestAction().run(None)["fence_polls"] == 60
    result = decisions.CheckFailoverRequestAction(stall_timeout="x").run(None)
    assert result.is_error() and "stall_timeout must be" in result.error


@pytest.mark.parametrize("limits, message", [
    ({"cooldown": -1}, "cooldown must be a number of seconds >= 0 (0: none), not -1."),
    ({"cooldown": "1m"}, "cooldown must be a number of seconds >= 0 (0: none), not '1m'."),
    ({"max_heals": 0}, "max_heals must be a whole number >= 1 (heals of one member or pair "
                       "per heal_window), not 0."),
    ({"max_heals": 2.5}, "max_heals must be a whole number >= 1"),
    ({"heal_window": 0}, "heal_window must be a number of seconds > 0, not 0."),
    ({"force": "yes"}, "force must be true or false, not 'yes'."),
])
def test_bad_heal_limits_say_what_to_give(limits, message):
    with pytest.raises(inputs.InputError) as err:
        inputs.check_heal_limits(**limits)
    assert str(err.value).startswith(message)
    with pytest.raises(inputs.InputError):
        inputs.check_failover_request(**limits)


def test_heal_limits_defaults_and_zero_cooldown_are_fine():
    inputs.check_heal_limits()
    inputs.check_heal_limits(cooldown=0, max_heals=1, heal_window=1, force=True)
