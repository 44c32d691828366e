"""The reconcile loop's decision (ha_actions.reconcile): what it starts for a stack as it
is, and when it leaves the stack alone."""

import datetime

import pytest

from ha_actions import guard, reconcile

NOW = datetime.datetime(2026, 12, 6, 12, 0, 0, tzinfo=datetime.timezone.utc)
STACK = {"id": "s-1", "name": "app", "status": "UPDATE_COMPLETE"}


def ago(seconds):
    return (NOW - datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def member(name, status="UPDATE_COMPLETE", server="srv", created="2026-12-06T10:00:00"):
    return {"name": name, "status": status, "server_ids": [server], "creation_time": created}


def group(*members, failed_servers=()):
    return {"name": "group", "members": list(members), "failed_server_ids": list(failed_servers)}


HEALTHY = group(member("a", server="sa"), member("b", server="sb"))


def pair(active="server_a", a_status="ACTIVE", volumes=None):
    return {"active": active,
            "servers": {"server_a": {"id": "A", "status": a_status},
                        "server_b": {"id": "B", "status": "ACTIVE"}},
            "volumes": volumes if volumes is not None else {"v1": ["A"]}}


def decide(**kw):
    return reconcile.decide(STACK, now=NOW, **kw)


def test_a_healthy_stack_starts_nothing():
    got = decide(groups=[HEALTHY], pair=pair())
    assert got["start"] is None and got["found"] == [] and got["status"] == "healthy"
    assert got["message"] == "Nothing to heal: every member and the pair are healthy."


def test_a_failed_member_starts_replace_member_for_failed_members_with_the_options():
    broken = group(member("a", server="sa"), member("b", status="CHECK_FAILED", server="sb"))
    got = decide(groups=[broken], options={"cooldown": 60, "max_heals": 3})
    assert got["found"] == ["group: b failed"]
    assert got["start"] == {"workflow": "ha.v1.replace_member", "input": {
        "stack": "s-1", "group": "group", "strategy": "failed", "stale_after": 120,
        "cooldown": 60, "max_heals": 3}}


def test_a_server_in_error_or_gone_counts_as_a_failed_member():
    got = decide(groups=[group(member("a", server="sa"), member("b", server="sb"),
                               failed_servers=["sa"])])
    assert got["found"] == ["group: a failed"]
    assert got["start"]["input"]["strategy"] == "failed"


def test_a_live_run_is_never_fought():
    broken = group(member("a", status="UPDATE_FAILED"))
    runs = [{"id": "ex-1", "workflow": "ha.v1.replace_member", "created_at": ago(900),
             "last_progress": ago(30)}]
    got = decide(groups=[broken], runs=runs)
    assert got["start"] is None and got["status"] == "left_to_run"
    assert "left to the running execution(s) ex-1" in got["message"]


def test_a_run_without_progress_for_stale_after_is_lost_and_the_heal_starts():
    broken = group(member("a", status="UPDATE_FAILED"))
    runs = [{"id": "ex-1", "workflow": "ha.v1.replace_member", "created_at": ago(900),
             "last_progress": ago(121)}]
    got = decide(groups=[broken], runs=runs)
    assert got["status"] == "start" and got["start"]["input"]["stale_after"] == 120
    assert got["lost"] == [{"id": "ex-1", "quiet_s": 121}]
    assert got["message"].endswith("The lost run(s) ex-1 are ended first (no progress for "
                                   "121 s).")


def test_a_lost_run_whose_work_heat_finished_is_ended_with_nothing_started():
    runs = [{"id": "ex-1", "workflow": "ha.v1.replace_member", "created_at": ago(900),
             "last_progress": ago(300)}]
    got = decide(groups=[HEALTHY], runs=runs)
    assert got["status"] == "healthy" and got["start"] is None
    assert got["lost"] == [{"id": "ex-1", "quiet_s": 300}]
    # A paused stack is left as it is, lost runs too.
    paused = decide(groups=[HEALTHY], runs=runs, paused={"paused_at": "x"})
    assert paused["status"] == "paused" and paused["lost"] == []


def test_a_run_without_any_task_counts_from_its_creation():
    runs = [{"id": "ex-1", "workflow": "ha.v1.failover_volume", "created_at": ago(60),
             "last_progress": None}]
    assert reconcile.live_runs(runs, 120, NOW) == runs
    assert reconcile.live_runs(runs, 30, NOW) == []


def test_a_pair_whose_active_failed_or_whose_volumes_moved_fails_over():
    for broken, why in ((pair(a_status="ERROR"), "the active server server_a is ERROR"),
                        (pair(volumes={"v1": ["B"]}),
                         "volume(s) v1 not attached to the active server server_a only"),
                        (pair(volumes={"v1": []}),
                         "volume(s) v1 not attached to the active server server_a only"),
                        (pair(active="server_c"), "the active server server_c is NOT_FOUND")):
        got = decide(pair=broken)
        assert got["found"] == [why]
        assert got["start"] == {"workflow": "ha.v1.failover_volume",
                                "input": {"stack": "s-1", "stale_after": 120}}


def test_each_heal_gets_the_loops_options_it_takes_and_a_typo_is_refused():
    options = {"recovery": "ladder", "dead_host_policy": "delete_server", "cooldown": 0}
    heal = decide(groups=[group(member("a", status="CHECK_FAILED"))], options=options)
    assert heal["start"]["input"]["recovery"] == "ladder"
    assert "dead_host_policy" not in heal["start"]["input"]
    failover = decide(pair=pair(a_status="ERROR"), options=options)
    assert failover["start"]["input"] == {"stack": "s-1", "stale_after": 120, "cooldown": 0,
                                          "dead_host_policy": "delete_server"}
    with pytest.raises(guard.GuardError, match="options recover are inputs of neither"):
        decide(pair=pair(a_status="ERROR"), options={"recover": "ladder"})


def test_a_failed_group_member_comes_before_the_pair():
    got = decide(groups=[group(member("a", status="CREATE_FAILED"))], pair=pair(a_status="ERROR"))
    assert len(got["found"]) == 2
    assert got["start"]["workflow"] == "ha.v1.replace_member"


def test_a_stack_heat_is_working_on_is_left_to_heat():
    got = reconcile.decide(dict(STACK, status="UPDATE_IN_PROGRESS"),
                           groups=[group(member("a", status="UPDATE_FAILED"))], now=NOW)
    assert got["start"] is None and got["status"] == "left_to_heat"
    assert "the stack is UPDATE_IN_PROGRESS: left to Heat" in got["message"]


def test_a_stack_with_no_group_and_no_pair_is_refused_and_stale_after_must_be_positive():
    with pytest.raises(reconcile.NothingToWatch, match=(
            "Stack app has no group .* nothing for the reconcile loop to look after. "
            "Do this.")):
        reconcile.check_watchable("app", [], None, then=" Do this.")
    reconcile.check_watchable("app", [HEALTHY], None)
    reconcile.check_watchable("app", [], pair())
    for bad in (0, -5, "60", True):
        with pytest.raises(guard.GuardError, match="stale_after must be a number of seconds"):
            decide(groups=[HEALTHY], stale_after=bad)
