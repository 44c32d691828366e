"""The Mistral actions that only decide (no cloud call): each hands its input to the
pure code of ``alarm``, ``inputs`` or ``selection`` and returns what it decided, or the
operator's error as the action's error (``connection.readable``). ``ha.report`` reads
the run's task records first: ``workflow.ReportAction``."""

from mistral_lib import actions

from ha_actions.alarm import BODY_KEYS, alarm_plan, parse_alarm
from ha_actions.connection import readable
from ha_actions.inputs import check_failover_request
from ha_actions.selection import check_request, choose, verify_replacement


class ParseAlarmAction(actions.Action):
    """Decide from an Aodh alarm notification whether to heal, and which member."""

    def __init__(
        self,
        alarm_id=None,
        alarm_name=None,
        severity=None,
        previous=None,
        current=None,
        reason=None,
        reason_data=None,
        member=None,
    ):
        self.alarm_id = alarm_id
        self.alarm_name = alarm_name
        self.severity = severity
        self.previous = previous
        self.current = current
        self.reason = reason
        self.reason_data = reason_data
        self.member = member

    def run(self, context):
        body = {key: getattr(self, key) for key in BODY_KEYS}
        return readable(lambda: parse_alarm(body, self.member))


class CheckFailoverRequestAction(actions.Action):
    """Validate a failover_volume request; return its polling plan."""

    def __init__(self, dead_host_policy="fail", timeout=900, poll_delay=2, fence_timeout=120,
                 stall_timeout=300, stale_after=600, cooldown=60, max_heals=3,
                 heal_window=3600, force=False, fencing_hook="none", long_poll=0):
        self.args = dict(dead_host_policy=dead_host_policy, fencing_hook=fencing_hook,
                         timeout=timeout, poll_delay=poll_delay, long_poll=long_poll,
                         fence_timeout=fence_timeout, stall_timeout=stall_timeout,
                         stale_after=stale_after, cooldown=cooldown, max_heals=max_heals,
                         heal_window=heal_window, force=force)

    def run(self, context):
        return readable(lambda: check_failover_request(**self.args))


class CheckRequestAction(actions.Action):
    """Validate a replace_member request; return the polling plan {polls, poll_delay} and
    the recovery plan {rungs, replaces, hold}."""

    def __init__(
        self, strategy, member=None, count=1, max_unavailable=1, timeout=900, poll_delay=5,
        stall_timeout=300, stale_after=600, not_a_member="fail", cooldown=60, max_heals=3,
        heal_window=3600, force=False, recovery="replace", rung_timeout=120,
        max_failed_fraction=0.5
    ):
        self.args = dict(strategy=strategy, member=member, count=count,
                         max_unavailable=max_unavailable, timeout=timeout,
                         poll_delay=poll_delay, stall_timeout=stall_timeout,
                         stale_after=stale_after, not_a_member=not_a_member,
                         cooldown=cooldown, max_heals=max_heals, heal_window=heal_window,
                         force=force, recovery=recovery, rung_timeout=rung_timeout,
                         max_failed_fraction=max_failed_fraction)

    def run(self, context):
        return readable(lambda: check_request(**self.args))


class SelectMembersAction(actions.Action):
    """Pick the group members to replace by strategy and split them into batches; hold
    when too much of the group looks failed at once (selection.choose)."""

    def __init__(self, members, strategy, member=None, count=1, max_unavailable=1,
                 failed_server_ids=None, server_details=None, hold=False,
                 max_failed_fraction=1, force=False, rungs=()):
        self.args = dict(members=members, strategy=strategy, member=member, count=count,
                         max_unavailable=max_unavailable, failed_server_ids=failed_server_ids,
                         server_details=server_details, hold=hold,
                         max_failed_fraction=max_failed_fraction, force=force, rungs=rungs)

    def run(self, context):
        return readable(lambda: choose(**self.args))


class VerifyReplacementAction(actions.Action):
    """Check that each named member got a new physical id and the group kept its size."""

    def __init__(self, before, after, names):
        self.before = before
        self.after = after
        self.names = names

    def run(self, context):
        return readable(lambda: verify_replacement(self.before, self.after, self.names))


class AlarmPlanAction(actions.Action):
    """Decide what ha.v1.on_alarm does with an Aodh notification: ignore it, or which
    workflow to run with which inputs (alarm.alarm_plan)."""

    def __init__(self, alarm_id=None, alarm_name=None, severity=None, previous=None,
                 current=None, reason=None, reason_data=None, stack=None, group=None,
                 member=None, operation="replace_member", options=None, execution_id=None):
        self.body = dict(alarm_id=alarm_id, alarm_name=alarm_name, severity=severity,
                         previous=previous, current=current, reason=reason,
                         reason_data=reason_data)
        self.args = dict(stack=stack, group=group, member=member, operation=operation,
                         options=options, execution_id=execution_id)

    def run(self, context):
        return readable(lambda: alarm_plan(self.body, **self.args))
