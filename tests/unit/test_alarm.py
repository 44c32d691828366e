"""ha_actions.alarm: Aodh notification -> ignore / heal which member. Plain dicts.

The payloads are built the way Aodh 23 builds them: the notifier body from
aodh/notifier/__init__.py (_handle_action), reason_data from
aodh/evaluator/event.py (_fire_alarm), loadbalancer.py (_transition_alarm) and
threshold.py (_reason_data, used by the gnocchi evaluators too). JSON round trip
as the http notifier and heat-engine do (tuples become lists).
"""

import json

import pytest
from mistral_lib import actions

from ha_actions import alarm, decisions
from ha_actions import report as rp
from ha_actions import workflow as mistral_calls

SERVER = "6f1c3a0e-2b7d-4c55-9a51-0d3f5c2e8b11"
PROJECT = "4a7d3c1b9e2f4b6a8c0d1e2f3a4b5c6d"
STACK_ID = "0c9e6d1e-7f6b-4a4f-9f3e-1b2c3d4e5f60"
ASG_ID = "1d0f7e2f-8a7c-4b5a-8a4f-2c3d4e5f6071"
LB_MEMBER_1 = "8e2a4c6e-1111-4d2b-9c3a-5e6f7a8b9c01"
LB_MEMBER_2 = "8e2a4c6e-2222-4d2b-9c3a-5e6f7a8b9c02"
ALARM_ID = "b3f1d2c4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


def roundtrip(body):
    return json.loads(json.dumps(body))


def body(reason_data, previous="ok", current="alarm", name="web-failed", reason="r"):
    return roundtrip(
        {
            "alarm_id": ALARM_ID,
            "alarm_name": name,
            "severity": "critical",
            "previous": previous,
            "current": current,
            "reason": reason,
            "reason_data": reason_data,
        }
    )


def event_reason_data(traits=None):
    """reason_data of an event alarm on Nova's compute.instance.update (Ceilometer event)."""
    if traits is None:
        traits = [
            ("state", 1, "error"),
            ("old_state", 1, "active"),
            ("instance_id", 1, SERVER),
            ("project_id", 1, PROJECT),
            ("host", 1, "devcloud"),
            ("service", 1, "compute"),
        ]
    return {
        "type": "event",
        "event": {
            "message_id": "5d6e7f80-9a0b-4c1d-8e2f-3a4b5c6d7e8f",
            "event_type": "compute.instance.update",
            "generated": "2026-01-05T10:00:00.123456",
            "traits": traits,
            "raw": {},
        },
    }


def octavia_member(member_id, address):
    return {
        "id": member_id,
        "name": "",
        "operating_status": "ERROR",
        "provisioning_status": "ACTIVE",
        "admin_state_up": True,
        "address": address,
        "protocol_port": 80,
        "weight": 1,
        "subnet_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "project_id": PROJECT,
        "created_at": "2026-01-05T09:00:00",
        "updated_at": "2026-01-05T10:00:00",
    }


def lb_reason_data(members, stack_id=STACK_ID, asg_id=ASG_ID):
    return {
        "type": "loadbalancer_member_health",
        "count": len(members),
        "most_recent": members[-1] if members else None,
        "unhealthy_members": members,
        "pool_id": "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
        "stack_id": stack_id,
        "asg_id": asg_id,
    }


THRESHOLD = {"type": "threshold", "disposition": "outside", "count": 3, "most_recent": 97.5}


class TestTransitions:
    @pytest.mark.parametrize(
        "previous,current",
        [("alarm", "ok"), ("ok", "insufficient data"), ("alarm", "insufficient data")],
    )
    def test_not_into_alarm_is_ignored(self, previous, current):
        decision = alarm.parse_alarm(body(event_reason_data(), previous, current))
        assert decision["action"] == "ignore"
        assert decision["member"] is None
        assert "%s -> %s" % (previous, current) in decision["why"]
        assert "only a transition into 'alarm' heals" in decision["why"]
        assert decision["alarm"]["current"] == current

    def test_insufficient_data_to_alarm_heals(self):
        decision = alarm.parse_alarm(body(THRESHOLD, previous="insufficient data"))
        assert decision["action"] == "heal"

    def test_repeated_alarm_heals_again(self):
        # repeat_actions: alarm -> alarm; the workflow de-duplicates (already_healed).
        decision = alarm.parse_alarm(body(event_reason_data(), previous="alarm"))
        assert decision["action"] == "heal"
        assert decision["member"] == SERVER


class TestEvent:
    def test_instance_id(self):
        decision = alarm.parse_alarm(body(event_reason_data()), member="fallback")
        assert decision == {
            "action": "heal",
            "why": "Alarm web-failed (%s) names %s (event:instance_id)." % (ALARM_ID, SERVER),
            "alarm": {
                "id": ALARM_ID,
                "name": "web-failed",
                "type": "event",
                "severity": "critical",
                "previous": "ok",
                "current": "alarm",
                "reason": "r",
                "event_type": "compute.instance.update",
            },
            "member": SERVER,
            "members": [SERVER],
            "source": "event:instance_id",
            "stack_id": None,
            "asg_id": None,
        }

    def test_resource_id_when_no_instance_id(self):
        traits = [["resource_id", 1, "vol-1"], ["state", 1, "error"]]
        decision = alarm.parse_alarm(body(event_reason_data(traits)))
        assert decision["member"] == "vol-1"
        assert decision["source"] == "event:resource_id"

    def test_instance_id_preferred_over_resource_id(self):
        traits = [["resource_id", 1, "other"], ["instance_id", 1, SERVER]]
        assert alarm.parse_alarm(body(event_reason_data(traits)))["member"] == SERVER

    def test_no_id_trait_uses_fallback(self):
        decision = alarm.parse_alarm(body(event_reason_data([["state", 1, "error"]])), "web-0")
        assert decision["member"] == "web-0"
        assert decision["source"] == "configured"

    def test_no_id_trait_no_fallback_heals_failed(self):
        decision = alarm.parse_alarm(body(event_reason_data([])))
        assert decision["action"] == "heal"
        assert decision["member"] is None
        assert "replacing the members that show failed" in decision["why"]

    def test_event_not_an_object(self):
        with pytest.raises(alarm.AlarmPayloadError, match="has no 'event' object \\(got str\\)"):
            alarm.parse_alarm(body({"type": "event", "event": "x"}))

    def test_bad_trait(self):
        data = event_reason_data([["instance_id", SERVER]])
        with pytest.raises(alarm.AlarmPayloadError) as err:
            alarm.parse_alarm(body(data))
        assert "is not [name, type, value]" in str(err.value)
        assert "ha.v1.on_alarm expects Aodh's alarm notification" in str(err.value)

    def test_traits_not_a_list(self):
        data = event_reason_data()
        data["event"]["traits"] = {"instance_id": SERVER}
        with pytest.raises(alarm.AlarmPayloadError, match="'traits' is a dict, not a list"):
            alarm.parse_alarm(body(data))


class TestLoadbalancer:
    def test_one_unhealthy_member(self):
        data = lb_reason_data([octavia_member(LB_MEMBER_1, "10.0.0.5")])
        decision = alarm.parse_alarm(body(data))
        assert decision["action"] == "heal"
        assert decision["member"] == LB_MEMBER_1
        assert decision["members"] == [LB_MEMBER_1]
        assert decision["source"] == "loadbalancer:unhealthy_members"
        assert decision["stack_id"] == STACK_ID
        assert decision["asg_id"] == ASG_ID
        assert decision["alarm"]["type"] == "loadbalancer_member_health"

    def test_several_unhealthy_members(self):
        data = lb_reason_data(
            [octavia_member(LB_MEMBER_1, "10.0.0.5"), octavia_member(LB_MEMBER_2, "10.0.0.6")]
        )
        decision = alarm.parse_alarm(body(data))
        assert decision["member"] == LB_MEMBER_1
        assert decision["members"] == [LB_MEMBER_1, LB_MEMBER_2]
        assert "2 unhealthy members" in decision["why"]
        assert "re-fired alarm the next" in decision["why"]

    def test_no_stack_in_rule(self):
        data = lb_reason_data([octavia_member(LB_MEMBER_1, "10.0.0.5")], None, None)
        decision = alarm.parse_alarm(body(data))
        assert decision["stack_id"] is None
        assert decision["asg_id"] is None

    def test_empty_members_falls_back(self):
        decision = alarm.parse_alarm(body(lb_reason_data([])), member="web-1")
        assert decision["member"] == "web-1"
        assert decision["members"] == ["web-1"]
        assert decision["stack_id"] == STACK_ID

    def test_member_without_id(self):
        with pytest.raises(
            alarm.AlarmPayloadError, match="has no 'id' \\(an Octavia pool member id\\)"
        ):
            alarm.parse_alarm(body(lb_reason_data([{"address": "10.0.0.5"}])))

    def test_members_not_a_list(self):
        data = lb_reason_data([])
        data["unhealthy_members"] = "m1"
        with pytest.raises(alarm.AlarmPayloadError, match="'unhealthy_members' is a str"):
            alarm.parse_alarm(body(data))

    def test_stack_id_not_a_string(self):
        data = lb_reason_data([], stack_id=["x"])
        with pytest.raises(alarm.AlarmPayloadError, match="'stack_id' is a list, not an id"):
            alarm.parse_alarm(body(data))


class TestThreshold:
    """gnocchi_*_threshold (and prometheus) alarms: reason_data type 'threshold', no id."""

    def test_configured_member(self):
        decision = alarm.parse_alarm(body(THRESHOLD), member=SERVER)
        assert decision["action"] == "heal"
        assert decision["member"] == SERVER
        assert decision["source"] == "configured"
        assert "names no resource: using the configured member" in decision["why"]

    def test_no_member_means_failed(self):
        decision = alarm.parse_alarm(body(THRESHOLD))
        assert decision["member"] is None
        assert decision["members"] == []
        assert decision["source"] is None
        assert "(type threshold) names no resource and no member is configured" in decision["why"]

    def test_composite_no_member(self):
        data = {"type": "composite", "composition_form": "a or b", "causative_rules": {}}
        assert alarm.parse_alarm(body(data))["member"] is None

    def test_unknown_type_with_fallback(self):
        decision = alarm.parse_alarm(body({"type": "new_kind"}), member="web-2")
        assert decision["member"] == "web-2"


class TestMalformed:
    @pytest.mark.parametrize(
        "payload,message",
        [
            (None, "The alarm notification is a NoneType, not an object"),
            ("alarm", "The alarm notification is a str, not an object"),
            ([1, 2], "The alarm notification is a list, not an object"),
        ],
    )
    def test_not_a_dict(self, payload, message):
        with pytest.raises(alarm.AlarmPayloadError) as err:
            alarm.parse_alarm(payload)
        assert str(err.value).startswith(message + ". ha.v1.on_alarm expects")
        assert "current (ok | alarm | insufficient data)" in str(err.value)

    def test_is_a_value_error(self):
        assert issubclass(alarm.AlarmPayloadError, ValueError)

    def test_missing_current(self):
        payload = body(THRESHOLD)
        del payload["current"]
        with pytest.raises(alarm.AlarmPayloadError, match="has no 'current' state"):
            alarm.parse_alarm(payload)

    def test_missing_alarm_id(self):
        payload = body(THRESHOLD)
        payload["alarm_id"] = None
        with pytest.raises(alarm.AlarmPayloadError, match="has no 'alarm_id' \\(got None\\)"):
            alarm.parse_alarm(payload)

    def test_unknown_state(self):
        with pytest.raises(alarm.AlarmPayloadError) as err:
            alarm.parse_alarm(body(THRESHOLD, current="firing"))
        assert (
            "'current' is 'firing', not an Aodh alarm state (ok, alarm, insufficient data)"
            in str(err.value)
        )

    def test_unknown_previous(self):
        with pytest.raises(alarm.AlarmPayloadError, match="'previous' is 'OK'"):
            alarm.parse_alarm(body(THRESHOLD, previous="OK"))

    @pytest.mark.parametrize(
        "reason_data,what",
        [(None, "missing"), ("outside", "a str"), ([1], "a list")],
    )
    def test_reason_data_not_a_dict(self, reason_data, what):
        with pytest.raises(alarm.AlarmPayloadError) as err:
            alarm.parse_alarm(body(reason_data, current="ok"))
        assert "'reason_data' is %s, not an object" % what in str(err.value)

    def test_foreign_shape_without_fallback(self):
        # e.g. a Prometheus Alertmanager webhook forwarded by mistake.
        with pytest.raises(alarm.AlarmPayloadError) as err:
            alarm.parse_alarm(body({"alerts": [{"labels": {}}]}))
        message = str(err.value)
        assert "reason_data type None is not one this pack reads" in message
        assert "event, loadbalancer_member_health, threshold, composite" in message
        assert "no fallback 'member' is configured" in message

    def test_type_not_a_string(self):
        with pytest.raises(alarm.AlarmPayloadError, match="reason_data 'type' is a int"):
            alarm.parse_alarm(body({"type": 3}))

    def test_bad_fallback(self):
        with pytest.raises(alarm.AlarmPayloadError, match="fallback 'member' must be a non-empty"):
            alarm.parse_alarm(body(THRESHOLD), member="  ")


class TestAction:
    def test_heal(self):
        payload = body(event_reason_data())
        action = decisions.ParseAlarmAction(member=None, **payload)
        json.dumps(vars(action))
        result = action.run(None)
        assert result["action"] == "heal"
        assert result["member"] == SERVER
        json.dumps(result)

    def test_ignore(self):
        result = decisions.ParseAlarmAction(**body(THRESHOLD, "alarm", "ok")).run(None)
        assert result["action"] == "ignore"

    def test_fallback_member(self):
        result = decisions.ParseAlarmAction(member="web-0", **body(THRESHOLD)).run(None)
        assert result["member"] == "web-0"

    def test_error(self):
        result = decisions.ParseAlarmAction(alarm_id=ALARM_ID, reason_data={}).run(None)
        assert isinstance(result, actions.Result)
        assert result.is_error()
        assert result.error.startswith("The alarm notification has no 'current' state.")

    def test_all_inputs_optional(self):
        # A foreign body reaches the action and gets its message, not Mistral's.
        result = decisions.ParseAlarmAction().run(None)
        assert result.is_error()
        assert "has no 'alarm_id'" in result.error


# --- alarm_plan: what ha.v1.on_alarm does with a notification ---------------------------

class TestAlarmPlan:
    def test_a_server_in_error_replaces_its_member_with_the_options_as_given(self):
        plan = alarm.alarm_plan(body(event_reason_data()), stack="web", group="asg",
                                options={"count": 2}, execution_id="ex-1")
        assert plan["next"] == "heal" and plan["workflow"] == "ha.v1.replace_member"
        assert plan["inputs"] == {
            "stack": "web", "group": "asg", "member": SERVER, "strategy": "specific",
            "not_a_member": "ignore", "count": 2,
            "reason": "Aodh alarm web-failed (%s), ha.v1.on_alarm execution ex-1" % ALARM_ID}
        assert plan["report"]["member"] == SERVER and plan["report"]["stack"] == "web"

    def test_an_alarm_naming_no_member_replaces_the_failed_ones_and_reason_can_be_given(self):
        plan = alarm.alarm_plan(body(THRESHOLD), stack="web", options={"reason": "mine"})
        assert plan["inputs"]["strategy"] == "failed" and plan["inputs"]["member"] is None
        assert plan["inputs"]["reason"] == "mine"

    def test_a_failover_checks_the_named_server_is_the_active_one_first(self):
        named = alarm.alarm_plan(body(event_reason_data()), stack="pair",
                                 operation="failover_volume", options={"standby": "b"})
        assert named["next"] == "check_active" and named["workflow"] == "ha.v1.failover_volume"
        assert named["inputs"] == {"stack": "pair", "standby": "b"}
        unnamed = alarm.alarm_plan(body(THRESHOLD), stack="pair", operation="failover_volume")
        assert unnamed["next"] == "heal" and unnamed["inputs"] == {"stack": "pair"}

    def test_an_alarm_back_to_ok_is_ignored_and_its_report_says_why(self):
        plan = alarm.alarm_plan(body(event_reason_data(), previous="alarm", current="ok"),
                                stack="web")
        assert plan["next"] == "ignore" and plan["inputs"] is None
        report = plan["report"]
        assert report["status"] == "ignored" and report["member"] is None
        assert report["why"] == plan["decision"]["why"] and report["result"] is None

    @pytest.mark.parametrize("kw, says", [
        ({"operation": "reboot"}, "operation must be replace_member or failover_volume, not "
                                  "reboot."),
        ({"options": "fast"}, "options must be an object of extra inputs for "
                              "ha.v1.replace_member, not fast."),
        ({"options": {"forced": 1, "count": 1}}, "options forced are not inputs of "
                                                 "ha.v1.replace_member that ha.v1.on_alarm "
                                                 "passes on; use: count, "),
        ({"stack": None}, "No stack to heal: input stack is null and alarm %s (type event) "
                          "carries no stack_id" % ALARM_ID),
    ])
    def test_a_bad_configuration_fails_before_anything_is_decided(self, kw, says):
        args = dict({"stack": "web"}, **kw)
        with pytest.raises(alarm.AlarmConfigError) as err:
            alarm.alarm_plan(body(event_reason_data()), **args)
        assert str(err.value).startswith(says)

    def test_the_configuration_is_checked_even_on_an_ok_alarm(self):
        with pytest.raises(alarm.AlarmConfigError, match="operation must be"):
            alarm.alarm_plan(body(THRESHOLD, previous="alarm", current="ok"),
                             operation="reboot")

    def test_the_action_gives_the_error_as_its_result(self):
        result = decisions.AlarmPlanAction(operation="reboot").run(None)
        assert result.is_error() and "operation must be" in result.error


# --- on_alarm_report: ha.v1.on_alarm's report for every end -----------------------------

def on_alarm_request(**kw):
    """ha.v1.on_alarm's execution().input: the body, the configuration, the defaults."""
    request = dict(body(event_reason_data()), stack="web", group=None, member=None,
                   operation="replace_member", options={})
    request.update(kw)
    return request


def on_alarm_plan(operation="replace_member", **kw):
    request = on_alarm_request(operation=operation, **kw)
    return alarm.alarm_plan({key: request[key] for key in alarm.BODY_KEYS},
                            stack=request["stack"], operation=operation, execution_id="ex-1")


class TestOnAlarmReport:
    def report(self, request=None, **facts):
        return rp.on_alarm_report(request or on_alarm_request(), facts)

    def test_an_ignored_alarm_reports_the_plan_as_it_is(self):
        plan = alarm.alarm_plan(body(THRESHOLD, previous="alarm", current="ok"), stack="web")
        assert self.report(plan=plan) == plan["report"]

    def test_a_heal_reports_the_called_workflow_status_and_report(self):
        plan, result = on_alarm_plan(), {"status": "replaced", "message": "Replaced web-0."}
        got = self.report(plan=plan, result=result)
        assert got == dict(plan["report"], status="replaced", result=result)
        assert plan["report"]["status"] == "ignored", "the plan's report is not changed"

    def test_a_server_that_is_not_the_active_one_is_ignored_with_the_pair_word(self):
        plan = on_alarm_plan("failover_volume")
        pair_ = {"status": "not_active", "message": "Server x is not the active server."}
        got = self.report(plan=plan, pair=pair_)
        assert got["status"] == "ignored" and got["result"] is None
        assert got["why"] == plan["report"]["why"] + " Server x is not the active server."

    def test_a_pair_that_may_fail_over_reports_the_failover(self):
        plan, result = on_alarm_plan("failover_volume"), {"status": "failed_over"}
        got = self.report(plan=plan, pair={"status": "ready", "message": "m"}, result=result)
        assert got["status"] == "failed_over" and got["why"] == plan["report"]["why"]

    def test_a_failed_plan_reports_the_alarm_as_given_and_the_error(self):
        request = on_alarm_request(operation="reboot", member="web-0")
        got = self.report(request, error="operation must be replace_member or ...")
        assert got == {
            "alarm": {"id": ALARM_ID, "name": "web-failed", "previous": "ok",
                      "current": "alarm"},
            "operation": "reboot", "why": None, "member": "web-0", "stack": None,
            "status": "failed", "result": None,
            "error": "operation must be replace_member or ...",
            "message": "operation must be replace_member or ..."}

    @pytest.mark.parametrize("error, says, result", [
        ({"report": {"status": "failed", "error": "x"}, "result": "Batch 1 of 1: x"},
         "ha.v1.replace_member failed: Batch 1 of 1: x", {"status": "failed", "error": "x"}),
        ({"report": None}, "ha.v1.replace_member failed: {'report': None}", None),
        ("Failed to run: no such workflow", "ha.v1.replace_member failed: Failed to run: "
                                            "no such workflow", None),
    ])
    def test_a_failed_heal_reports_the_called_workflow_error_unwrapped(self, error, says,
                                                                       result):
        plan = on_alarm_plan()
        got = self.report(plan=plan, error=error)
        assert got == dict(plan["report"], status="failed", result=result, error=says,
                           message=says)

    def test_an_end_it_cannot_tell_is_a_report_error(self):
        with pytest.raises(rp.ReportError, match="neither an error nor a plan"):
            self.report()
        with pytest.raises(rp.ReportError, match="has neither its report nor its error"):
            self.report(plan=on_alarm_plan())

    def test_ha_report_builds_it(self):
        plan = on_alarm_plan()
        got = mistral_calls.ReportAction("on_alarm", on_alarm_request(),
                                     {"plan": plan, "error": "boom"}, "ex-2").run(None)
        assert got["status"] == "failed" and got["error"] == "ha.v1.replace_member failed: boom"
        refused = mistral_calls.ReportAction("on_alarm", on_alarm_request(), {}).run(None)
        assert refused.is_error() and "neither an error nor a plan" in refused.error
