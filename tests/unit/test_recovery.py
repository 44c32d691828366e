"""ha_actions.recovery (the ladder's rungs, the blast-radius hold, their inputs) and the
Nova calls of the rungs (compute.start_rung, ha.start_rung, ha.rung_progress)."""

import datetime

import pytest
import requests_mock

import fake_cloud
from ha_actions import compute, guard, selection
from ha_actions import recovery as rc

NOVA = "https://nova.example.com:8774/v2.1"


def member(name, servers, status="UPDATE_COMPLETE", reason=""):
    return {"name": name, "physical_id": "p-" + name, "status": status, "status_reason": reason,
            "creation_time": "2026-12-06T10:00:0%d" % len(name), "server_ids": servers}


GROUP = [member("a", ["s1"]), member("b", ["s2"]), member("c", ["s3"]), member("d", ["s4"])]


class TestInputs:
    def test_defaults_are_accepted(self):
        rc.check_recovery()

    @pytest.mark.parametrize("recovery, rungs, replaces", [
        ("replace", [], True), ("reboot", ["reboot"], False),
        ("rebuild", ["rebuild"], False), ("ladder", ["reboot", "rebuild"], True)])
    def test_plan_of_each_recovery(self, recovery, rungs, replaces):
        got = rc.plan(recovery, "failed", "fail")
        assert got == {"rungs": rungs, "replaces": replaces, "hold": True}

    @pytest.mark.parametrize("strategy, not_a_member, hold", [
        ("failed", "fail", True), ("specific", "ignore", True), ("specific", "fail", False),
        ("oldest", "fail", False), ("newest", "fail", False)])
    def test_the_hold_applies_to_the_loop_and_alarms_not_to_a_named_member(
            self, strategy, not_a_member, hold):
        assert rc.plan("replace", strategy, not_a_member)["hold"] is hold

    @pytest.mark.parametrize("args, message", [
        ({"recovery": "restart"}, "recovery must be one of replace, reboot, rebuild, ladder, "
                                  "not 'restart'"),
        ({"rung_timeout": 9}, "rung_timeout must be a number of seconds >= 10"),
        ({"rung_timeout": "1m"}, "not '1m'"),
        ({"rung_timeout": True}, "not True"),
        ({"max_failed_fraction": 0}, r"max_failed_fraction must be a number in \(0, 1\]"),
        ({"max_failed_fraction": 1.01}, "not 1.01"),
        ({"max_failed_fraction": "half"}, "not 'half'"),
    ])
    def test_bad_input_says_what_to_give(self, args, message):
        with pytest.raises(rc.InputError, match=message):
            rc.check_recovery(**args)

    def test_check_request_checks_them_before_anything(self):
        with pytest.raises(rc.InputError, match="recovery must be"):
            selection.check_request("failed", recovery="reset")
        assert selection.check_request("specific", member="a", recovery="ladder")["rungs"] == [
            "reboot", "rebuild"]


class TestBlastRadius:
    def test_three_of_four_failed_are_held_with_their_shared_host(self):
        details = {s: {"host": "c1", "fault": None} for s in ("s1", "s2", "s3")}
        held = rc.blast_radius(GROUP, GROUP[:3], details, 0.5)
        assert held["failed"] == ["a", "b", "c"]
        assert held["causes"] == ["3 of 3 are on compute host c1"]
        assert held["message"].startswith(
            "Held, nothing changed: 3 of 4 members look failed at once (a, b, c), more than "
            "max_failed_fraction 0.5 of the group.")
        assert "force: true" in held["message"]

    def test_half_or_less_or_a_single_failure_is_not_held(self):
        assert rc.blast_radius(GROUP, GROUP[:2], {}, 0.5) is None
        assert rc.blast_radius(GROUP[:1], GROUP[:1], {}, 0.5) is None  # one of one
        assert rc.blast_radius(GROUP, GROUP[:2], {}, 0.4) is not None

    def test_force_is_never_held(self):
        assert rc.blast_radius(GROUP, GROUP, {}, 0.5, force=True) is None

    def test_causes_a_member_user_can_see(self):
        failed = [member("a", ["s1"], "CHECK_FAILED", "boom"),
                  member("b", ["s2"], "CHECK_FAILED", "boom"), member("c", ["s3"])]
        details = {"s1": {"fault": "No valid host"}, "s2": {"fault": "No valid host"},
                   "s3": {}}
        assert rc.shared_causes(failed, details) == [
            "2 of 3 are with Nova fault 'No valid host'", "2 of 3 are with Heat reason 'boom'",
            "compute hosts not shown to this user (admin only)"]

    def test_selection_holds_only_when_the_hold_applies(self):
        failed_ids = ["s1", "s2", "s3"]
        held = selection.choose(GROUP, "failed", count=3, failed_server_ids=failed_ids,
                                hold=True, max_failed_fraction=0.5)
        assert held["status"] == "held" and held["hold"]["failed"] == ["a", "b", "c"]
        assert held["message"] == held["hold"]["message"]
        named = selection.choose(GROUP, "specific", member="a", failed_server_ids=failed_ids,
                                 hold=False, max_failed_fraction=0.5)
        assert named["status"] == "selected" and named["batches"] == [["a"]]
        forced = selection.choose(GROUP, "failed", count=3, max_unavailable=2,
                                  failed_server_ids=failed_ids, hold=True,
                                  max_failed_fraction=0.5, force=True)
        assert forced["status"] == "selected" and forced["batches"] == [["a", "b"], ["c"]]


def test_an_alarm_again_about_a_member_that_looks_healthy_reboots_nothing():
    alarm = dict(strategy="specific", member="a", hold=True, max_failed_fraction=0.5)
    got = selection.choose(GROUP, failed_server_ids=[], rungs=["reboot"], **alarm)
    assert got["status"] == "already_healed" and got["batches"] == []
    assert got["message"].startswith("Member a looks healthy now (Heat: UPDATE_COMPLETE; its "
                                     "servers not in ERROR): not rebooted nor rebuilt.")
    # still in ERROR: rebooted; replace (no rungs): as before, Heat replaces it
    assert selection.choose(GROUP, failed_server_ids=["s1"], rungs=["reboot"],
                            **alarm)["status"] == "selected"
    assert selection.choose(GROUP, failed_server_ids=[], rungs=[], **alarm)["status"] == (
        "selected")
    # an operator naming it (no hold) gets the reboot asked for
    named = dict(alarm, hold=False)
    assert selection.choose(GROUP, failed_server_ids=[], rungs=["reboot"],
                            **named)["status"] == "selected"


STARTED = {"s1": {"started": True, "reason": None}}


class TestRungProgress:
    def progress(self, details, elapsed=3, started=STARTED, members=GROUP, names=("a",)):
        return rc.rung_progress("reboot", members, list(names), started, details, elapsed, 60)

    def test_active_with_no_task_is_recovered(self):
        got = self.progress({"s1": {"status": "ACTIVE", "task_state": None}})
        assert got["pending"] is False
        assert got["recovered"] == ["a"] and got["left"] == [] and got["mark_healthy"] == []
        assert got["rungs"] == [{"member": "a", "rung": "reboot", "outcome": "recovered",
                                 "reason": "server s1 ACTIVE", "duration_s": 3}]

    def test_still_rebooting_is_pending_until_the_deadline(self):
        detail = {"s1": {"status": "ERROR", "task_state": "rebooting_hard", "host": "c1"}}
        got = self.progress(detail)
        assert got["pending"] is True and got["rungs"] == [] and got["left"] == ["a"]
        late = self.progress(detail, elapsed=61)
        assert late["pending"] is False and late["left"] == ["a"]
        assert late["rungs"][0]["outcome"] == "failed"
        assert late["rungs"][0]["reason"] == (
            "server s1: still ERROR, task rebooting_hard after 61 s (rung_timeout; compute "
            "host c1)")

    def test_refused_error_or_gone_fails_at_once(self):
        refused = self.progress({}, started={"s1": {"started": False, "reason": "409 busy"}})
        assert refused["rungs"][0]["reason"] == "Nova refused the reboot of server s1: 409 busy"
        error = self.progress({"s1": {"status": "ERROR", "task_state": None,
                                      "fault": "disk gone"}})
        assert error["rungs"][0]["reason"] == "server s1: ERROR after the reboot: disk gone"
        gone = self.progress({"s1": {"status": "NOT_FOUND"}})
        assert gone["rungs"][0]["reason"] == "server s1: the server is gone"

    def test_a_recovered_member_heat_shows_failed_is_marked_healthy(self):
        group = [member("a", ["s1"], "CHECK_FAILED"), member("b", ["s2"])]
        got = self.progress({"s1": {"status": "ACTIVE"}, "s2": {"status": "ACTIVE"}},
                            started=dict(STARTED, s2={"started": True}), members=group,
                            names=("a", "b"))
        assert got["recovered"] == ["a", "b"] and got["mark_healthy"] == ["a"]

    def test_a_member_without_a_server_cannot_be_rebooted(self):
        got = self.progress({}, members=[member("a", [])])
        assert got["left"] == ["a"]
        assert got["rungs"][0]["reason"] == "the member has no server to reboot"


def test_the_flapping_limit_counts_each_rung():
    rungs = [{"member": "a", "rung": "reboot"}, {"member": "a", "rung": "rebuild"}]
    report = {"status": "replaced", "replaced": [{"name": "a"}], "rungs": rungs}
    assert guard.healed_slots(report) == ["a", "a", "a"]
    now = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.timezone.utc)
    runs = [{"id": "ex-0", "stack": "web", "updated_at": "2026-12-06 11:59:00",
             "report": report}]
    got = guard.heal_history("ex-1", runs, ["web"], ["a"], cooldown=0, max_heals=3, now=now)
    assert got["status"] == "flapping"
    assert got["heals_in_window"] == {"a": ["ex-0", "ex-0", "ex-0"]}


# --- the Nova calls ---------------------------------------------------------------------

def connection():
    return fake_cloud.connection("tok", "p-1", {"compute": NOVA})


def server(sid, status="ERROR", task=None, image="img-1"):
    return {"server": {"id": sid, "status": status, "OS-EXT-STS:task_state": task,
                       "image": {"id": image} if image else ""}}


def test_reboot_is_a_hard_reboot_and_rebuild_uses_the_servers_own_image():
    with requests_mock.Mocker() as nova:
        nova.get("%s/servers/s1" % NOVA, json=server("s1"))
        action = nova.post("%s/servers/s1/action" % NOVA, status_code=202)
        assert compute.start_rung(connection(), "reboot", "s1") == {"started": True,
                                                                    "reason": None}
        assert action.last_request.json() == {"reboot": {"type": "HARD"}}
        compute.start_rung(connection(), "rebuild", "s1")
        assert action.last_request.json() == {"rebuild": {"imageRef": "img-1"}}


def test_nova_refusing_a_rung_is_a_failed_rung_not_an_error():
    with requests_mock.Mocker() as nova:
        nova.get("%s/servers/s1" % NOVA, json=server("s1", task="rebooting_hard"))
        nova.post("%s/servers/s1/action" % NOVA, status_code=409, json={"conflictingRequest": {
            "message": "Cannot 'rebuild' instance while it is in task_state rebooting_hard"}})
        assert compute.start_rung(connection(), "rebuild", "s1") == {
            "started": False, "reason": "409 Cannot 'rebuild' instance while it is in "
                                        "task_state rebooting_hard"}
        # the same reboot asked again (an action retried) is already started
        assert compute.start_rung(connection(), "reboot", "s1")["started"] is True


def test_a_server_booted_from_a_volume_is_not_rebuilt():
    with requests_mock.Mocker() as nova:
        nova.get("%s/servers/s1" % NOVA, json=server("s1", image=None))
        got = compute.start_rung(connection(), "rebuild", "s1")
        assert got == {"started": False,
                       "reason": "booted from a volume: no image to rebuild with"}
        assert [r.method for r in nova.request_history] == ["GET"]


def test_rung_actions_start_then_follow_the_members_servers():
    members = [member("a", ["s1"]), member("b", ["s2"])]
    with requests_mock.Mocker() as nova:
        nova.get("%s/servers/s1" % NOVA, json=server("s1"))
        nova.post("%s/servers/s1/action" % NOVA, status_code=202)
        started = compute.StartRungAction("reboot", members, ["a"])
        started.connect = lambda context: connection()
        got = started.run(None)
        assert got["rung"] == "reboot" and got["servers"] == {"s1": {"started": True,
                                                                     "reason": None}}
        nova.get("%s/servers/s1" % NOVA, json=server("s1", status="ACTIVE"))
        look = compute.RungProgressAction(members, ["a"], got, 60, wait_s=0)
        look.connect = lambda context: connection()
        progress = look.run(None)
        assert progress["recovered"] == ["a"] and progress["pending"] is False
