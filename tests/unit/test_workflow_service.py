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
    """'lost' is a sub-workflow (of 'alarm', as on_alarm runs under an example's workflow)
    with a sub-workflow 'sub' and, under that, 'deep'; 'sibling' is another branch of the
    same tree, not under 'lost'."""
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/executions/lost" % MISTRAL, json={
            "id": "lost", "created_at": "2026-12-03 08:30:00", "root_execution_id": "alarm"})
        mocker.get("%s/executions" % MISTRAL, json={"executions": [
            {"id": "lost", "created_at": "2026-12-03 08:30:00", "state": "RUNNING",
             "task_execution_id": "t-alarm"},
            {"id": "sub", "created_at": "2026-12-03 08:31:00", "state": "RUNNING",
             "task_execution_id": "t-lost"},
            {"id": "deep", "created_at": "2026-12-03 08:31:30", "state": "RUNNING",
             "task_execution_id": "t-sub"},
            {"id": "done", "created_at": "2026-12-03 08:30:30", "state": "SUCCESS",
             "task_execution_id": "t-lost"},
            {"id": "sibling", "created_at": "2026-12-03 08:50:00", "state": "RUNNING",
             "task_execution_id": "t-alarm-2"}]})
        mocker.get("%s/executions/done/tasks" % MISTRAL, json={"tasks": []})
        mocker.get("%s/executions/lost/tasks" % MISTRAL, json={"tasks": [
            {"id": "t-lost", "created_at": "2026-12-03 08:30:01",
             "updated_at": "2026-12-03 08:30:05"}]})
        mocker.get("%s/executions/sub/tasks" % MISTRAL, json={"tasks": [
            {"id": "t-sub", "created_at": "2026-12-03 08:31:00",
             "updated_at": "2026-12-03 08:32:10"}]})
        mocker.get("%s/executions/deep/tasks" % MISTRAL, json={"tasks": [
            {"id": "t-deep", "created_at": "2026-12-03 08:32:11", "updated_at": None}]})
        mocker.get("%s/executions/sibling/tasks" % MISTRAL, json={"tasks": [
            {"id": "t-sib", "created_at": "2026-12-03 08:55:00", "updated_at": None}]})
        for ex_id in ("lost", "sub", "deep", "sibling"):
            mocker.put("%s/executions/%s" % (MISTRAL, ex_id), json={})
        yield mocker


def test_last_progress_is_the_newest_task_change_of_everything_under_the_run(mistral):
    """Sub-workflows at any depth count, found from the tree's root even when the run is
    itself a sub-workflow; another branch of the tree (a sibling's newer task) does not."""
    assert wf.last_progress(make_connection(), "lost") == "2026-12-03 08:32:11"
    assert mistral.request_history[1].qs["root_execution_id"] == ["alarm"]


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
    # The run first (ended, it ignores its sub-workflow's end, so its message stays),
    # then the sub-workflows under it that still ran (Mistral leaves them RUNNING), deepest
    # first; the sibling branch is not this run's.
    assert [(ex_id, body["state"]) for ex_id, body in puts] == [
        ("lost", "ERROR"), ("deep", "ERROR"), ("sub", "ERROR")]
    assert "Ended by me after no progress for 1669 s" in puts[0][1]["state_info"]
    assert "Ended with lost, which Mistral lost" in puts[1][1]["state_info"]


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


def guard_input(me_id, *seen):
    """What a rival's check_concurrency handed ha.concurrent_runs (the API's JSON string)."""
    me = {"id": me_id, "name": ME["name"], "created_at": "2026-12-03 09:00:01"}
    running = [dict(me, stack="pair")] + [dict(ME, id=ex_id, stack="pair") for ex_id in seen]
    return json.dumps({"me": me, "running": running, "stack_refs": ["pair"]})


def guard_answer(went_on):
    """A rival's guard action's output (the API's JSON string): it went on, or yielded."""
    return json.dumps({"result": {"guard": {"blocking": [] if went_on else ["x"]},
                                  "next": "fence" if went_on else "report"}})


def rival_tasks(mocker, ex_id, *tries, state="RUNNING"):
    """Mistral's answers about a rival: its guard task's action executions, one answer per
    look (an input, an (input, output) pair, a list of tries; None: not scheduled yet),
    and its state."""
    def answer(given):
        if isinstance(given, list):
            return given
        if isinstance(given, tuple):
            return [{"input": given[0], "output": given[1]}]
        return [{"input": given}] if given else []

    mocker.get("%s/tasks?workflow_execution_id=%s" % (MISTRAL, ex_id),
               json={"tasks": [{"id": "t-" + ex_id}]})
    mocker.get("%s/tasks/t-%s/action_executions" % (MISTRAL, ex_id),
               [{"json": {"action_executions": answer(given)}} for given in tries])
    mocker.get("%s/executions/%s" % (MISTRAL, ex_id), json={"id": ex_id, "state": state})


@pytest.mark.parametrize("tries, state, seen", [
    # Its guard was handed this run: it yields to it.
    ((guard_input("z", "me"),), "RUNNING", {"z": True}),
    # Its guard missed this run, on the second look; on the third it has gone on: this
    # one must yield.
    ((None, guard_input("z"), (guard_input("z"), guard_answer(True))), "RUNNING",
     {"z": False}),
    # Its guard missed this run but yielded to a run older than itself: it blocks no one
    # (three runs at once: the oldest goes on).
    (((guard_input("z"), guard_answer(False)),), "RUNNING", {"z": None}),
    # It ended before its guard (e.g. the stack was busy): it changes nothing.
    ((None,), "ERROR", {}),
    # Its guard was tried again (executor lost) after this run appeared: the newest try
    # decides.
    (([{"input": guard_input("z")}, {"input": guard_input("z", "me")}],), "RUNNING",
     {"z": True}),
])
def test_a_younger_rivals_guard_says_whether_it_counted_this_run_or_went_on(tries, state,
                                                                           seen):
    pauses = []
    with requests_mock.Mocker() as mocker:
        rival_tasks(mocker, "z", *tries, state=state)
        got = wf.seen_by_younger(make_connection(), "me", ["z"], sleep=pauses.append)
        asked = [r.qs for r in mocker.request_history if r.path.endswith("/tasks")]
        tries_asked = [r.qs for r in mocker.request_history
                       if r.path.endswith("/action_executions")]
    assert got == seen
    assert pauses == [wf.CONFIRM_INTERVAL] * (len(tries) - 1)
    assert asked[0] == {"workflow_execution_id": ["z"],
                        "name": ["in:decide,check_concurrency,inspect"]}
    assert tries_asked[0]["include_output"] == ["true"]


def test_a_rival_that_missed_this_run_and_has_not_answered_is_yielded_to_in_the_end():
    clock = fake_cloud.Clock()
    with requests_mock.Mocker() as mocker:
        rival_tasks(mocker, "z", guard_input("z"))
        got = wf.seen_by_younger(make_connection(), "me", ["z"], timeout=2, interval=0.5,
                                 sleep=clock.sleep, clock=clock)
    assert got == {"z": False} and clock.now == 2


def test_three_runs_started_at_once_let_the_oldest_go_on_when_the_others_yield_in_a_ring():
    """'a' (oldest) committed last: 'j' missed it and yielded to 'i', which saw 'a' and
    yielded to it; 'a' waited for 'j''s answer instead of yielding to it."""
    young = [dict(ME, id=ex_id, stack="pair", created_at="2026-12-03 09:00:0%d" % n)
             for n, ex_id in ((1, "i"), (2, "j"))]
    me = dict(ME, id="a")

    def recorded(rival, *listed):
        return json.dumps({"me": rival, "running": [dict(rival)] + list(listed),
                           "stack_refs": ["pair"]})

    with requests_mock.Mocker() as mocker:
        rival_tasks(mocker, "i", (recorded(young[0], dict(me, stack="pair")),
                                  guard_answer(False)))
        rival_tasks(mocker, "j", guard_input("j"), (recorded(young[1], young[0]),
                                                    guard_answer(False)))
        got = wf.concurrent_runs(make_connection, me, [dict(me, stack="pair")] + young,
                                 ["pair"], stale_after=10 ** 9,
                                 confirm=lambda conn, me_id, ids: wf.seen_by_younger(
                                     conn, me_id, ids, sleep=lambda s: None))
    assert got["blocking"] == [] and got["message"] == ""


def test_the_guard_input_is_the_guard_tasks_not_replace_members_inspect():
    """replace_member's inspect (the group, no ``running``) is passed over for its decide
    (check_concurrency in older releases); failover_volume's inspect (the guard and the
    pair) is the guard."""
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/tasks?workflow_execution_id=z" % MISTRAL,
                   json={"tasks": [{"id": "t-inspect"}, {"id": "t-guard"}]})
        mocker.get("%s/tasks/t-inspect/action_executions" % MISTRAL, json={
            "action_executions": [{"input": json.dumps({"stack": "pair", "group": "g"})}]})
        mocker.get("%s/tasks/t-guard/action_executions" % MISTRAL, json={
            "action_executions": [{"input": guard_input("z", "me")}]})
        assert wf.recorded_guard_input(make_connection(), "z") == json.loads(
            guard_input("z", "me"))
        failover_inspect = dict(json.loads(guard_input("z")), standby=None, cooldown=60)
        mocker.get("%s/tasks?workflow_execution_id=y" % MISTRAL,
                   json={"tasks": [{"id": "t-y"}]})
        mocker.get("%s/tasks/t-y/action_executions" % MISTRAL, json={
            "action_executions": [{"input": json.dumps(failover_inspect)}]})
        assert wf.recorded_guard_input(make_connection(), "y") == failover_inspect


def test_a_younger_rival_still_before_its_guard_is_waited_for_only_so_long():
    clock = fake_cloud.Clock()
    with requests_mock.Mocker() as mocker:
        rival_tasks(mocker, "z", None)
        got = wf.seen_by_younger(make_connection(), "me", ["z"], timeout=2, interval=0.5,
                                 sleep=clock.sleep, clock=clock)
    assert got == {}  # it will see this run when it looks
    assert clock.now == 2


def test_the_run_a_younger_rival_missed_is_skipped_and_ends_nothing():
    me = dict(ME, id="me")
    young = dict(ME, id="z", created_at="2026-12-03 09:00:01", stack="pair")
    asked = []

    def confirm(conn, me_id, younger):
        asked.append((me_id, younger))
        return {"z": False}

    got = wf.concurrent_runs(make_connection, me, [dict(me, stack="pair"), young], ["pair"],
                             stale_after=10 ** 9, confirm=confirm)
    assert asked == [("me", ["z"])]
    assert got["blocking"] == ["z"] and got["older"] == [] and got["stale"] == []


def test_a_blocked_run_does_not_read_its_younger_rivals():
    def confirm(*args):
        raise AssertionError("read a younger rival")

    older = dict(LOST, id="a", created_at="2026-12-03 08:59:59")
    young = dict(LOST, id="z", created_at="2026-12-03 09:00:01")
    got = wf.concurrent_runs(make_connection, ME, [older, young], ["pair"],
                             stale_after=10 ** 9, confirm=confirm)
    assert got["blocking"] == ["a"]


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
    assert query["fields"] == ["id,state,updated_at,input,output"]  # outputs in, cheaply
    assert query["sort_keys"] == ["updated_at,id"] and query["sort_dirs"] == ["desc,desc"]


def test_ended_runs_are_read_page_by_page_newest_first(monkeypatch):
    """More ended runs in the window than one page holds: the next pages are read after
    the last one seen, so the newest heal of the stack is never cut off."""
    monkeypatch.setattr(wf, "PAGE", 2)
    now = datetime.datetime(2026, 12, 3, 9, 0, 0, tzinfo=datetime.timezone.utc)

    def run(ex_id, stack):
        return {"id": ex_id, "state": "SUCCESS", "updated_at": "2026-12-03 08:59:00",
                "input": json.dumps({"stack": stack}), "output": "{}"}
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/executions" % MISTRAL, [
            {"json": {"executions": [run("a", "x"), run("b", "x")]}},
            {"json": {"executions": [run("c", "x"), run("d", "pair")]}},
            {"json": {"executions": [run("e", "pair")]}}])
        runs = wf.ended_runs(make_connection(), "ha.v1.replace_member", 3600, now=now)
        markers = [r.qs.get("marker") for r in mocker.request_history]
    assert [r["id"] for r in runs] == ["a", "b", "c", "d", "e"]
    assert markers == [None, ["b"], ["d"]]


def test_a_listing_whose_marker_was_deleted_meanwhile_starts_again(monkeypatch):
    """Executions deleted while the pages are read (a project cleaning up its history):
    Mistral answers 404 for the marker; the listing starts again, and gives up only when
    that keeps happening."""
    monkeypatch.setattr(wf, "PAGE", 2)
    now = datetime.datetime(2026, 12, 3, 9, 0, 0, tzinfo=datetime.timezone.utc)
    run = {"state": "SUCCESS", "updated_at": "2026-12-03 08:59:00", "input": "{}",
           "output": "{}"}
    gone = {"status_code": 404, "json": {"faultstring": "WorkflowExecution not found"}}
    page = {"json": {"executions": [dict(run, id="a"), dict(run, id="b")]}}
    last = {"json": {"executions": [dict(run, id="c")]}}
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/executions" % MISTRAL, [page, gone, page, last])
        runs = wf.ended_runs(make_connection(), "ha.v1.replace_member", 3600, now=now)
        markers = [r.qs.get("marker") for r in mocker.request_history]
    assert [r["id"] for r in runs] == ["a", "b", "c"]
    assert markers == [None, ["b"], None, ["b"]]
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/executions" % MISTRAL, [page, gone] * wf.MARKER_TRIES)
        with pytest.raises(wf.sdk_exceptions.NotFoundException):
            wf.ended_runs(make_connection(), "ha.v1.replace_member", 3600, now=now)
        assert len(mocker.request_history) == 2 * wf.MARKER_TRIES


def test_forced_heal_history_reads_nothing():
    with requests_mock.Mocker() as mocker:
        got = wf.heal_history(make_connection(), ME, ["pair"], force=True)
        assert mocker.request_history == []
    assert got["status"] == "ok" and "force: true" in got["message"]


def test_stack_runs_are_this_stacks_with_progress_read_only_for_the_old_ones():
    now = datetime.datetime(2026, 12, 3, 9, 0, 0, tzinfo=datetime.timezone.utc)
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/executions" % MISTRAL, [
            {"json": {"executions": [
                {"id": "old", "workflow_name": "ha.v1.replace_member",
                 "created_at": "2026-12-03 08:50:00", "input": json.dumps({"stack": "asg"})},
                {"id": "young", "workflow_name": "ha.v1.on_alarm",
                 "created_at": "2026-12-03 08:59:30", "input": json.dumps({"stack": "s-id"})},
                {"id": "other", "workflow_name": "ha.v1.replace_member",
                 "created_at": "2026-12-03 08:00:00", "input": json.dumps({"stack": "x"})}]}},
            {"json": {"executions": []}}])
        mocker.get("%s/executions/old" % MISTRAL, json={"id": "old",
                                                      "created_at": "2026-12-03 08:50:00"})
        mocker.get("%s/executions/old/tasks" % MISTRAL, json={"tasks": [
            {"id": "t1", "created_at": "2026-12-03 08:50:01",
             "updated_at": "2026-12-03 08:55:00"}]})
        runs = wf.stack_runs(make_connection(), ("ha.v1.replace_member", "ha.v1.on_alarm"),
                             ["s-id", "asg", "asg/s-id"], stale_after=120, now=now)
        first = mocker.request_history[0].qs
    assert first["state"] == ["running"] and first["workflow_name"] == [
        "in:ha.v1.replace_member,ha.v1.on_alarm"]
    assert runs == [
        {"id": "old", "workflow": "ha.v1.replace_member", "created_at": "2026-12-03 08:50:00",
         "last_progress": "2026-12-03 08:55:00"},
        {"id": "young", "workflow": "ha.v1.on_alarm", "created_at": "2026-12-03 08:59:30"}]


def test_start_execution_posts_the_input_as_json_and_gives_the_id():
    with requests_mock.Mocker() as mocker:
        mocker.post("%s/executions" % MISTRAL, json={"id": "new-1"})
        got = wf.start_execution(make_connection(), "ha.v1.replace_member",
                                 {"stack": "asg", "strategy": "failed"}, "by the loop")
        body = mocker.request_history[0].json()
    assert got == "new-1"
    assert body["workflow_name"] == "ha.v1.replace_member"
    assert json.loads(body["input"]) == {"stack": "asg", "strategy": "failed"}
    assert body["description"] == "by the loop"


def test_the_guards_running_list_is_read_filtered_with_only_the_fields_it_needs():
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/executions" % MISTRAL, json={"executions": [
            {"id": "a", "workflow_name": "ha.v1.replace_member",
             "created_at": "2026-12-03 08:50:00",
             "input": json.dumps({"stack": "asg", "dry_run": True})},
            {"id": "b", "workflow_name": "ha.v1.replace_member",
             "created_at": "2026-12-03 08:51:00", "input": json.dumps(
                 {"stack": "s-id", "member": "srv-9", "not_a_member": "ignore"})}]})
        runs = wf.running_runs(make_connection(), "ha.v1.replace_member")
        asked = mocker.request_history[0].qs
    assert asked["state"] == ["running"]
    assert asked["workflow_name"] == ["in:ha.v1.replace_member"]
    assert asked["fields"] == ["id,workflow_name,created_at,input"]
    assert runs == [
        {"id": "a", "name": "ha.v1.replace_member", "created_at": "2026-12-03 08:50:00",
         "stack": "asg", "dry_run": True, "member": None, "not_a_member": None},
        {"id": "b", "name": "ha.v1.replace_member", "created_at": "2026-12-03 08:51:00",
         "stack": "s-id", "dry_run": False, "member": "srv-9", "not_a_member": "ignore"}]


# --- a run's own task records, for its report (ha.report) ----------------------------------

RECORDS = {"tasks": [
    {"id": "t1", "name": "inspect", "state": "SUCCESS", "created_at": "2026-12-03 09:00:01",
     "updated_at": "2026-12-03 09:00:03", "finished_at": "2026-12-03 09:00:02",
     "published": json.dumps({"state": {"message": "Ready."}})},
    {"id": "t2", "name": "report", "state": "RUNNING", "created_at": "2026-12-03 09:00:04",
     "updated_at": None, "finished_at": None, "published": None}]}


def test_task_records_are_read_with_only_the_fields_the_report_needs():
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/executions/ex-1/tasks" % MISTRAL, json=RECORDS)
        got = wf.task_records(make_connection(), "ex-1")
        asked = mocker.request_history[0]
    assert asked.qs["fields"] == ["name,state,published,created_at,updated_at,finished_at"]
    assert asked.qs["sort_keys"] == ["created_at"] and asked.qs["sort_dirs"] == ["asc"]
    assert asked.headers["X-Auth-Token"] == TOKEN   # the caller's token, as every call
    assert got == [
        {"name": "inspect", "state": "SUCCESS", "published": {"state": {"message": "Ready."}},
         "created_at": "2026-12-03 09:00:01", "finished_at": "2026-12-03 09:00:02"},
        {"name": "report", "state": "RUNNING", "published": {},
         "created_at": "2026-12-03 09:00:04", "finished_at": "2026-12-03 09:00:04"}]


FV_REQUEST = {"stack": "pair", "dead_host_policy": "fail", "parameter": "active"}
FV_FACTS = {"guard": {"blocking": ["ex-0"], "message": "Skipped."},
            "stack_info": {"id": "sid", "name": "pair"}}


def report_action(monkeypatch, workflow="failover_volume", connect=make_connection):
    monkeypatch.setattr(wf.ReportAction, "connect", lambda self, context: connect())
    return wf.ReportAction(workflow, FV_REQUEST, FV_FACTS, "ex-1", "2026-12-03 09:00:00")


def test_the_report_of_failover_volume_reads_its_runs_task_records(monkeypatch):
    action = report_action(monkeypatch)
    json.dumps(vars(action))
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/executions/ex-1/tasks" % MISTRAL, json=RECORDS)
        got = action.run(None)
    assert got["status"] == "skipped"
    assert got["steps"] == [{"name": "inspect", "result": "Ready.", "duration_s": 2.0}]
    assert "steps_error" not in got and TOKEN not in json.dumps(got)


def test_a_report_whose_task_records_cannot_be_read_is_built_without_them(monkeypatch):
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/executions/ex-1/tasks" % MISTRAL, status_code=403,
                   json={"faultstring": "Forbidden"})
        got = report_action(monkeypatch).run(None)
    assert got["status"] == "skipped" and got["steps"] == []
    assert "Forbidden" in got["steps_error"] and TOKEN not in json.dumps(got)


def test_a_report_that_reads_no_task_records_connects_to_nothing(monkeypatch):
    def no_connection():
        raise AssertionError("connected")

    action = report_action(monkeypatch, "replace_member_batch", no_connection)
    action.args.update(request={"members": ["m1"], "timeout": 60}, facts={"error": "boom"})
    assert action.run(None) == {"status": "failed", "error": "boom"}
