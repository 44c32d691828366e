"""ha_actions.workflow against a mocked Mistral API: reading another execution's progress,
ending a lost one, and the guard action that does both only when needed."""

import datetime
import json

import pytest
import requests_mock

import fake_cloud
from ha_actions import guard
from ha_actions import workflow as wf

TOKEN = "gAAAAAB-workflow-test-token"
PROJECT = "p-1234"
MISTRAL = "https://mistral.example.com:8989/v2"
ME = {"id": "me", "name": "ha.v1.failover_volume", "created_at": "2026-12-03 09:00:00"}
LOST = {"id": "lost", "name": "ha.v1.failover_volume", "created_at": "2026-12-03 08:30:00",
        "stack": "pair"}


def make_connection():
    return fake_cloud.connection(TOKEN, PROJECT, {"workflowv2": MISTRAL})


@pytest.fixture
def mistral():
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/executions/lost" % MISTRAL, json={"id": "lost",
                                                       "created_at": "2026-12-03 08:30:00"})
        mocker.get("%s/executions" % MISTRAL, json={"executions": [
            {"id": "sub", "created_at": "2026-12-03 08:31:00", "state": "RUNNING"},
            {"id": "done", "created_at": "2026-12-03 08:30:30", "state": "SUCCESS"}]})
        mocker.get("%s/executions/done/tasks" % MISTRAL, json={"tasks": []})
        mocker.get("%s/executions/lost/tasks" % MISTRAL, json={"tasks": [
            {"created_at": "2026-12-03 08:30:01", "updated_at": "2026-12-03 08:30:05"}]})
        mocker.get("%s/executions/sub/tasks" % MISTRAL, json={"tasks": [
            {"created_at": "2026-12-03 08:31:00", "updated_at": "2026-12-03 08:32:10"},
            {"created_at": "2026-12-03 08:32:11", "updated_at": None}]})
        mocker.put("%s/executions/lost" % MISTRAL, json={})
        mocker.put("%s/executions/sub" % MISTRAL, json={})
        yield mocker


def test_last_progress_is_the_newest_task_change_sub_workflows_included(mistral):
    assert wf.last_progress(make_connection(), "lost") == "2026-12-03 08:32:11"
    assert mistral.request_history[1].qs["root_execution_id"] == ["lost"]


def test_a_lost_run_is_ended_saying_who_took_over(mistral, monkeypatch):
    now = datetime.datetime(2026, 12, 3, 9, 0, 0, tzinfo=datetime.timezone.utc)
    real = guard.concurrent_runs
    monkeypatch.setattr(guard, "concurrent_runs",
                        lambda *a, **k: real(*a, **dict(k, now=now)))
    monkeypatch.setattr(guard, "_now", lambda _: now)
    got = wf.concurrent_runs(make_connection, ME, [LOST], ["pair"], stale_after=600, settle=0)
    assert got["older"] == [] and got["stale"][0]["id"] == "lost"
    puts = [(r.path.rsplit("/", 1)[-1], r.json()) for r in mistral.request_history
            if r.method == "PUT"]
    # The sub-workflow that still ran first (Mistral leaves it RUNNING), then the run.
    assert [(ex_id, body["state"]) for ex_id, body in puts] == [("sub", "ERROR"),
                                                                 ("lost", "ERROR")]
    assert "Ended with lost, which Mistral lost" in puts[0][1]["state_info"]
    assert "Ended by me after no progress for 1669 s" in puts[1][1]["state_info"]


def test_no_old_rival_means_no_call_and_no_connection():
    def no_connection():
        raise AssertionError("connected")

    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = lambda seconds_ago: (now - datetime.timedelta(seconds=seconds_ago)).strftime(  # noqa: E731
        "%Y-%m-%d %H:%M:%S")
    young = dict(LOST, created_at=stamp(20))
    action = wf.ConcurrentRunsAction(dict(ME, created_at=stamp(5)), [young], ["pair"])
    json.dumps(vars(action))
    got = wf.concurrent_runs(no_connection, action.me, [young], ["pair"])
    assert got["older"] == ["lost"]


def late_rivals(*executions):
    """Mistral's answer to the second look: the runs it shows RUNNING (none IDLE)."""
    mocker = requests_mock.Mocker()
    mocker.get("%s/executions?state=RUNNING" % MISTRAL, json={"executions": list(executions)})
    mocker.get("%s/executions?state=IDLE" % MISTRAL, json={"executions": []})
    return mocker


def as_listed(run_id, created_at, stack="pair"):
    return {"id": run_id, "workflow_name": ME["name"], "created_at": created_at,
            "input": json.dumps({"stack": stack})}


@pytest.mark.parametrize("rivals, older", [
    # Started in the same second, lower id, not visible at the first look: it wins.
    ([as_listed("a-first", ME["created_at"]), as_listed("me", ME["created_at"])], ["a-first"]),
    # Only this run, or a run of another stack: it goes on.
    ([as_listed("me", ME["created_at"])], []),
    ([as_listed("a-first", ME["created_at"], stack="other")], []),
])
def test_an_unblocked_run_looks_again_after_a_pause(rivals, older):
    now = datetime.datetime(2026, 12, 3, 9, 0, 1, tzinfo=datetime.timezone.utc)
    me = dict(ME, id="me")
    pauses = []
    with late_rivals(*rivals) as mocker:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(guard, "_now", lambda _: now)
            got = wf.concurrent_runs(make_connection, me, [dict(me, stack="pair")], ["pair"],
                                     sleep=pauses.append)
        asked = [r.qs for r in mocker.request_history]
    assert pauses == [wf.SETTLE_S]
    assert got["older"] == older
    assert all(q["workflow_name"] == [ME["name"]] for q in asked)
    if older:
        assert "the older execution(s) a-first" in got["message"]


def test_heal_history_reads_the_ended_runs_of_the_workflow_with_their_reports():
    now = datetime.datetime(2026, 12, 3, 9, 0, 0, tzinfo=datetime.timezone.utc)
    report = {"status": "replaced", "replaced": [{"name": "m-1"}]}
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/executions" % MISTRAL, json={"executions": [
            {"id": "a", "state": "SUCCESS", "updated_at": "2026-12-03 08:59:30",
             "input": json.dumps({"stack": "pair"}), "output": json.dumps({"report": report})},
            {"id": "b", "state": "ERROR", "updated_at": "2026-12-03 08:59:40",
             "input": json.dumps({"stack": "pair"}), "output": ""}]})
        runs = wf.ended_runs(make_connection(), "ha.v1.replace_member", 3600, now=now)
        query = mocker.request_history[0].qs
    assert runs == [
        {"id": "a", "state": "SUCCESS", "updated_at": "2026-12-03 08:59:30", "stack": "pair",
         "report": report},
        {"id": "b", "state": "ERROR", "updated_at": "2026-12-03 08:59:40", "stack": "pair",
         "report": None}]
    assert query["workflow_name"] == ["ha.v1.replace_member"]
    assert query["updated_at"] == ["gte:2026-12-03 08:00:00"]
    assert query["state"] == ["in:success,error"]  # requests_mock lower-cases the query
    assert query["include_output"] == ["true"]


def test_forced_heal_history_reads_nothing():
    with requests_mock.Mocker() as mocker:
        got = wf.heal_history(make_connection(), ME, ["pair"], force=True)
        assert mocker.request_history == []
    assert got["status"] == "ok" and "force: true" in got["message"]
