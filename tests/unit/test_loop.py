"""The reconcile loop's run (ha_actions.loop): the decision on what it read, the heal it
starts, and the pair as it reads it; the reads themselves are faked here (the functional
tests run them on the devcloud)."""

import pytest

from ha_actions import block_storage, loop, workflow

STACK = {"id": "s-1", "name": "app", "status": "UPDATE_COMPLETE"}


def seen(groups=(), pair=None, runs=(), paused=None):
    return {"stack": STACK, "groups": list(groups), "pair": pair, "runs": list(runs),
            "paused": paused}


FAILED = {"name": "group", "failed_server_ids": ["sb"], "members": [
    {"name": "a", "status": "UPDATE_COMPLETE", "server_ids": ["sa"], "creation_time": "x"},
    {"name": "b", "status": "UPDATE_COMPLETE", "server_ids": ["sb"], "creation_time": "y"}]}


@pytest.fixture
def started(monkeypatch):
    calls = []

    def start(conn, name, inputs, description):
        calls.append((name, inputs, description))
        return "heal-1"

    monkeypatch.setattr(workflow, "start_execution", start)
    return calls


def test_a_failed_member_starts_one_heal_and_the_report_names_its_execution(monkeypatch,
                                                                           started):
    monkeypatch.setattr(loop, "look", lambda *a, **k: seen(groups=[FAILED]))
    report = loop.reconcile_stack(None, "app", me="loop-1", options={"cooldown": 30})
    assert started == [("ha.v1.replace_member",
                        {"cooldown": 30, "stack": "s-1", "stale_after": 120,
                         "group": "group", "strategy": "failed"},
                        "Started by ha.v1.reconcile loop-1: group: b failed")]
    assert report["status"] == "started"
    assert report["started"] == {"workflow": "ha.v1.replace_member", "execution_id": "heal-1"}
    assert report["message"].endswith("Execution heal-1.")
    assert report["looked_at"] == {"groups": {"group": 2}, "pair": None, "running": []}


def test_lost_runs_are_ended_first_saying_who_ended_them(monkeypatch, started):
    """Oldest first; a lost on_alarm's replace_member (a run that names the stack too) is
    ended with it, not twice."""
    ended = []

    def end(conn, ex_id, by, quiet):
        ended.append((ex_id, by, quiet))
        return [ex_id] + (["lost-child"] if ex_id == "lost-alarm" else [])
    monkeypatch.setattr(workflow, "end_lost_execution", end)
    runs = [{"id": "lost-child", "workflow": "ha.v1.replace_member",
             "created_at": "2026-12-01 09:00:02", "last_progress": "2026-12-01 09:01:00"},
            {"id": "lost-alarm", "workflow": "ha.v1.on_alarm",
             "created_at": "2026-12-01 09:00:00", "last_progress": "2026-12-01 09:01:00"}]
    monkeypatch.setattr(loop, "look", lambda *a, **k: seen(groups=[FAILED], runs=runs))
    report = loop.reconcile_stack(None, "app", me="loop-1")
    assert ended == [("lost-alarm", "the reconcile loop's run loop-1", ended[0][2])]
    assert ended[0][2] > 120 and report["status"] == "started"


def test_a_paused_stack_is_looked_at_and_left_alone(monkeypatch, started):
    pause = {"paused_at": "2026-12-06 10:00:00", "reason": "kernel upgrade"}
    monkeypatch.setattr(loop, "look", lambda *a, **k: seen(groups=[FAILED], paused=pause))
    report = loop.reconcile_stack(None, "app", me="loop-1")
    assert started == [] and report["status"] == "paused" and report["started"] is None
    assert report["found"] == ["group: b failed"]
    assert report["message"] == (
        "Paused, nothing changed: stack app was paused at 2026-12-06 10:00:00 UTC (kernel "
        "upgrade) (openstack ha pause). Resume it with 'openstack ha resume app', or run "
        "again with force: true. Found: group: b failed.")


def test_a_healthy_stack_starts_nothing(monkeypatch, started):
    pair = {"active": "server_a", "servers": {"server_a": {"id": "A", "status": "ACTIVE"},
                                              "server_b": {"id": "B", "status": "ACTIVE"}},
            "volumes": {"v1": ["A"]}}
    monkeypatch.setattr(loop, "look", lambda *a, **k: seen(pair=pair))
    report = loop.reconcile_stack(None, "app", me="loop-1")
    assert started == [] and report["status"] == "healthy" and report["started"] is None
    assert report["looked_at"]["pair"] == {"active": "server_a", "volumes": 1}


def test_the_pair_view_is_none_for_a_stack_that_is_no_pair(monkeypatch):
    servers = [{"name": "server_a", "id": "A", "status": "ACTIVE"},
               {"name": "server_b", "id": "B", "status": "SHUTOFF"}]
    monkeypatch.setattr(block_storage, "pair_resources", lambda conn, root: (servers, ["v1"]))
    monkeypatch.setattr(block_storage, "volume_status",
                        lambda conn, vid: {"id": vid, "attached_to": ["A"]})
    root = {"parameters": {"active": "server_a"}}
    assert block_storage.pair_view(None, root) == {
        "active": "server_a", "volumes": {"v1": ["A"]},
        "servers": {"server_a": {"id": "A", "status": "ACTIVE"},
                    "server_b": {"id": "B", "status": "SHUTOFF"}}}
    assert block_storage.pair_view(None, {"parameters": {}}) is None
    monkeypatch.setattr(block_storage, "pair_resources", lambda conn, root: (servers[:1], ["v1"]))
    assert block_storage.pair_view(None, root) is None


def test_the_report_counts_the_api_calls_the_look_made():
    class Session:
        def request(self, url, method, **kwargs):
            return "%s %s" % (method, url)

    class Conn:
        session = Session()

    conn = Conn()
    calls = loop.counted(conn)
    assert conn.session.request("/stacks/x", "GET") == "GET /stacks/x"
    conn.session.request("/servers/y", "GET")
    assert len(calls) == 2
