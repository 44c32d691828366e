"""ha_actions.failover: failover_volume's checks before the fence, two actions for what
were six tasks; each service call is stubbed where failover.py makes it."""

import json

import pytest
from openstack import exceptions as sdk_exceptions

from ha_actions import failover

REQUEST = dict(dead_host_policy="fail", fencing_hook="none", timeout=300, poll_delay=2,
               long_poll=20, fence_timeout=120, stall_timeout=300, stale_after=600,
               cooldown=60, max_heals=3, heal_window=3600, force=False)
STACK = {"id": "sid", "name": "pair", "ref": "pair/sid", "status": "UPDATE_COMPLETE"}
RUNNING = [{"id": "ex-0", "name": "ha.v1.failover_volume", "created_at": "2026-12-03 09:00:00",
            "stack": "pair", "dry_run": False}]


@pytest.fixture
def calls(monkeypatch):
    """The calls failover.py makes, in order, with canned answers."""
    made = []

    def record(name, answer):
        def call(*args, **kwargs):
            made.append((name,) + args[1:])
            return answer
        return call

    monkeypatch.setattr(failover.compute, "check_force_down_allowed",
                        record("force_down", {"result": "allowed"}))
    monkeypatch.setattr(failover.orchestration, "wait_for_progress", record("stack", STACK))
    monkeypatch.setattr(failover.workflow, "running_runs", record("running", RUNNING))
    return made


def test_the_request_checked_gives_the_plan_the_stack_and_the_running_runs(calls):
    got = failover.failover_request(lambda: "conn", "pair", "ha.v1.failover_volume",
                                    **REQUEST)
    assert got == {"plan": {"poll_delay": 2, "wait_s": 20, "polls": 14, "fence_polls": 6,
                            "fence_wait_s": 20},
                   "stack": STACK, "stack_refs": ["sid", "pair", "pair/sid", "pair"],
                   "running": RUNNING}
    assert calls == [("stack", "pair"), ("running", "ha.v1.failover_volume")]


def test_force_down_is_checked_before_the_stack_is_read(calls):
    failover.failover_request(lambda: "conn", "pair", "wf", **dict(
        REQUEST, dead_host_policy="force_down", fencing_hook="ft.fence"))
    assert [call[0] for call in calls] == ["force_down", "stack", "running"]
    assert calls[0] == ("force_down", "ft.fence")


def test_a_bad_request_is_refused_before_any_call():
    def no_connection():
        raise AssertionError("connected")

    action = failover.FailoverRequestAction("pair", "wf", **dict(REQUEST, cooldown=-1))
    json.dumps(vars(action))
    action.connect = lambda context: no_connection()
    got = action.run(None)
    assert got.is_error() and got.error.startswith("cooldown must be a number of seconds")


@pytest.mark.parametrize("status, history, step", [
    ("ready", {"status": "ok"}, "fence"),
    ("ready", {"status": "flapping"}, "report"),
    ("attach_only", None, "attach"),
    ("record_only", None, "record"),
    ("already_active", None, "report"),
])
def test_inspect_reads_the_heal_limits_only_for_a_failover_that_would_fence(
        monkeypatch, status, history, step):
    read = []
    guard = {"blocking": [], "stale": [], "message": ""}
    monkeypatch.setattr(failover.workflow, "concurrent_runs",
                        lambda connect, *args: read.append(("guard",) + args) or guard)
    monkeypatch.setattr(failover.block_storage, "failover_state",
                        lambda conn, *args: read.append(("state",) + args) or {"status": status})
    monkeypatch.setattr(failover.workflow, "heal_history",
                        lambda conn, me, refs, **limits: read.append(("limits", me, limits))
                        or history)
    me = {"id": "ex-1", "name": "ha.v1.failover_volume", "created_at": "2026-12-03 09:00:01"}
    got = failover.failover_inspect(lambda: "conn", "pair", None, "active", me, [], ["sid"],
                                    600, cooldown=60, max_heals=3, heal_window=3600,
                                    force=False)
    assert got == {"guard": guard, "state": {"status": status}, "where": None,
                   "limits": history, "next": step}
    assert read[:2] == [("guard", me, [], ["sid"], 600), ("state", "pair", None, "active")]
    assert read[2:] == ([("limits", me, dict(cooldown=60, max_heals=3, heal_window=3600,
                                             force=False))] if status == "ready" else [])


def test_inspect_reads_nothing_more_when_an_older_run_blocks(monkeypatch):
    guard = {"blocking": [{"id": "ex-0"}], "stale": [], "message": "ex-0 runs."}
    monkeypatch.setattr(failover.workflow, "concurrent_runs", lambda *args: guard)
    monkeypatch.setattr(failover.block_storage, "failover_state", None)  # not called
    got = failover.failover_inspect(lambda: "conn", "pair", None, "active", {"id": "ex-1"},
                                    [{"id": "ex-0"}], ["sid"])
    assert got == {"guard": guard, "state": None, "where": None, "limits": None,
                   "next": "report"}


def test_the_action_hands_every_input_over(calls):
    action = failover.FailoverRequestAction("pair", "wf", **REQUEST)
    assert action.args == dict(REQUEST, stack="pair", workflow_name="wf")
    action.connect = lambda context: "conn"
    assert action.run(None)["stack_refs"] == ["sid", "pair", "pair/sid", "pair"]


@pytest.fixture
def moves(monkeypatch):
    """The trigger and look of each move, recorded; the looks say the end has come."""
    made = []

    def record(name, answer):
        return lambda conn, *args, **kwargs: made.append((name,) + args) or answer

    monkeypatch.setattr(failover.compute, "stop_server", record("stop", {"result": "stopping"}))
    monkeypatch.setattr(failover.compute, "wait_for_status",
                        record("status", {"status": "SHUTOFF"}))
    monkeypatch.setattr(failover.compute, "detach_volumes", record("detach", {"volumes": {}}))
    monkeypatch.setattr(failover.compute, "attach_volumes", record("attach", {"volumes": {}}))
    monkeypatch.setattr(failover.block_storage, "wait_for_volumes",
                        record("volumes", {"done": True}))
    return made


def test_each_move_looks_for_its_end_for_wait_s(moves):
    conn = lambda: "conn"  # noqa: E731
    assert failover.stop(conn, "a", 20) == {"result": "stopping", "state": {"status": "SHUTOFF"},
                                            "next_started": None}
    assert failover.detach(conn, "a", ["v1"], 20)["state"] == {"done": True}
    assert failover.attach(conn, "b", ["v1"], 20)["state"] == {"done": True}
    assert moves == [("stop", "a"), ("status", "a", "SHUTOFF", 20), ("detach", "a", ["v1"]),
                     ("volumes", ["v1"], "available"), ("attach", "b", ["v1"]),
                     ("volumes", ["v1"], "in-use", "b", 20)]


def test_each_move_starts_the_next_once_it_sees_its_end(monkeypatch, moves):
    sent = {"stack": "pair/sid", "parameters": {"active": "b"}, "previous_updated_time": ""}
    monkeypatch.setattr(failover.orchestration, "update_existing",
                        lambda conn, stack, parameters: moves.append(
                            ("patch", stack, parameters)) or sent)
    conn = lambda: "conn"  # noqa: E731
    fenced = failover.stop(conn, "a", 20, then_detach=["v1"])
    assert fenced["next_started"] == {"volumes": {}}
    detached = failover.detach(conn, "a", ["v1"], 20, fenced["next_started"], then_attach="b")
    attached = failover.attach(conn, "b", ["v1"], 20, detached["next_started"], "pair/sid",
                               {"active": "b"})
    assert attached["next_started"] == sent
    # each start is made once, by the move before, as soon as that one saw its end
    assert moves == [("stop", "a"), ("status", "a", "SHUTOFF", 20), ("detach", "a", ["v1"]),
                     ("volumes", ["v1"], "available"), ("attach", "b", ["v1"]),
                     ("volumes", ["v1"], "in-use", "b", 20),
                     ("patch", "pair/sid", {"active": "b"})]


@pytest.mark.parametrize("seen", [{"status": "ACTIVE"}, {"status": "SHUTDOWN"}])
def test_no_volume_moves_before_the_old_active_is_seen_shutoff(monkeypatch, moves, seen):
    monkeypatch.setattr(failover.compute, "wait_for_status", lambda *args: seen)
    assert failover.stop(lambda: "conn", "a", 20, then_detach=["v1"])["next_started"] is None
    assert moves == [("stop", "a")]


@pytest.mark.parametrize("move, args", [
    (failover.detach, ("a", ["v1"], 20, None, "b")),
    (failover.attach, ("b", ["v1"], 20, None, "pair", {"active": "b"})),
])
def test_nothing_is_started_before_every_volume_is_seen_where_it_goes(monkeypatch, moves,
                                                                       move, args):
    monkeypatch.setattr(failover.block_storage, "wait_for_volumes",
                        lambda *args, **kwargs: {"done": False})
    monkeypatch.setattr(failover.orchestration, "update_existing", pytest.fail)
    assert move(lambda: "conn", *args)["next_started"] is None
    assert [m[0] for m in moves] == [move.__name__]


def test_a_start_that_did_not_go_out_whole_is_left_to_its_own_step(monkeypatch, moves):
    def refused(conn, stack, parameters):
        raise sdk_exceptions.ConflictException("stack pair is UPDATE_IN_PROGRESS")
    monkeypatch.setattr(failover.orchestration, "update_existing", refused)
    attached = failover.attach(lambda: "conn", "b", ["v1"], 20, None, "pair", {"active": "b"})
    assert attached["next_started"] is None and attached["state"] == {"done": True}
    partly = failover.actions.Result(error="Attaching volume v2 on server b failed")
    monkeypatch.setattr(failover.compute, "attach_volumes", lambda *args: partly)
    assert failover.detach(lambda: "conn", "a", ["v1", "v2"], 20, None, "b")["next_started"] is None


def test_a_move_the_one_before_started_is_only_looked_at(moves):
    started = {"server_id": "a", "volumes": {"v1": "detaching"}}
    assert failover.detach(lambda: "conn", "a", ["v1"], 20, started)["volumes"] == {
        "v1": "detaching"}
    assert moves == [("volumes", ["v1"], "available")]


def test_a_move_without_wait_s_only_triggers_as_before(moves):
    action = failover.StopServerAction("a")
    json.dumps(vars(action))
    action.connect = lambda context: "conn"
    assert action.run(None) == {"result": "stopping"}
    assert failover.DetachVolumesAction("a", ["v1"]).args["wait_s"] is None
    assert moves == [("stop", "a")]


def test_a_refused_move_is_not_looked_at(monkeypatch, moves):
    refused = failover.actions.Result(error="Attaching volume v1 on server b failed")
    monkeypatch.setattr(failover.compute, "attach_volumes", lambda *args: refused)
    assert failover.attach(lambda: "conn", "b", ["v1"], 20) is refused
    assert moves == []

