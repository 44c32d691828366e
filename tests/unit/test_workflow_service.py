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
    got = wf.concurrent_runs(make_connection, ME, [LOST], ["pair"], stale_after=600)
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
