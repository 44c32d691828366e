"""ha_actions.replace: replace_member's looks and checks around its PATCH, four actions for
what were nine tasks; each service call is stubbed where replace.py makes it."""

import json

import pytest
from openstack import exceptions as sdk_exceptions

from ha_actions import replace

MEMBERS = [{"name": "m-%d" % i, "physical_id": "p-%d" % i, "server_ids": ["s-%d" % i],
            "status": "CREATE_COMPLETE", "created_at": "2026-12-03 08:0%d:00" % i}
           for i in range(3)]
LOOK = {"stack": {"id": "sid", "name": "asg", "ref": "asg/sid"},
        "group": {"name": "group", "ref": "asg-group/gid"}, "members": MEMBERS, "size": 3,
        "warnings": [], "busy": False}
ME = {"id": "ex-1", "name": "ha.v1.replace_member", "created_at": "2026-12-03 09:00:01",
      "dry_run": False, "member": None, "not_a_member": "fail"}
PLAN = {"hold": False, "rungs": [], "replaces": True}
LIMITS = dict(cooldown=60, max_heals=3, heal_window=3600, force=False)
FREE = {"older": [], "younger": [], "blocking": [], "stale": [], "message": ""}


class Calls(list):
    """The calls made, and the canned answers a test may change."""

    answers = None


@pytest.fixture
def calls(monkeypatch):
    """The calls replace.py makes, in order; ``answers`` may be changed by a test."""
    made, answers = Calls(), {"look": dict(LOOK), "guard": FREE, "limits": {"status": "ok"},
                         "health": {"failed": ["s-2"], "details": {"s-2": {"status": "ERROR"}}},
               "patched": {"stack": "asg/sid", "parameters": {},
                           "previous_updated_time": ""}}

    def record(name, key=None):
        def call(*args, **kwargs):
            made.append((name,) + args[1:] + tuple(sorted(kwargs.items())))
            return answers[key] if key else None
        return call

    monkeypatch.setattr(replace.orchestration, "group_members", record("look", "look"))
    monkeypatch.setattr(replace.orchestration, "mark_members",
                        lambda conn, ref, names, reason: made.append(("mark", ref, names))
                        or names)
    monkeypatch.setattr(replace.orchestration, "update_existing",
                        lambda conn, ref, unless_busy_since: made.append(("patch", ref))
                        or dict(answers["patched"], since=unless_busy_since))
    monkeypatch.setattr(replace.workflow, "running_runs", lambda conn, wf: made.append(
        ("running", wf)) or ["run"])
    monkeypatch.setattr(replace.workflow, "concurrent_runs", lambda connect, *args, **kw:
                        made.append(("guard",) + args) or answers["guard"])
    monkeypatch.setattr(replace.compute, "server_statuses", lambda conn, ids: made.append(
        ("health", ids)) or answers["health"])
    monkeypatch.setattr(replace.workflow, "heal_history", lambda conn, me, refs, slots, **kw:
                        made.append(("limits", slots, kw)) or answers["limits"])
    made.answers = answers
    return made


def decide(**kwargs):
    args = dict(me=ME, running=[], stack_refs=["sid"], members=MEMBERS, plan=PLAN,
                strategy="oldest", **LIMITS)
    args.update(kwargs)
    return replace.decide(lambda: "conn", **args)


def test_inspect_lists_the_running_runs_only_once_heat_is_not_busy(monkeypatch):
    made = []
    looks = iter([dict(LOOK, busy=True), dict(LOOK)])
    monkeypatch.setattr(replace.orchestration, "group_members",
                        lambda conn, stack, group: made.append("look") or next(looks))
    monkeypatch.setattr(replace.workflow, "running_runs",
                        lambda conn, wf: made.append(wf) or ["run"])
    busy = replace.inspect(lambda: "conn", "asg", None, "ha.v1.replace_member")
    assert busy["busy"] and "running" not in busy and made == ["look"]
    assert busy["stack_refs"] == ["sid", "asg", "asg/sid", "asg"]
    got = replace.inspect(lambda: "conn", "asg", None, "ha.v1.replace_member")
    assert got["running"] == ["run"] and made == ["look", "look", "ha.v1.replace_member"]


def test_decide_selects_checks_the_limits_and_runs_the_batches(calls):
    got = decide(count=2)
    assert got["next"] == "run_batch" and got["guard"] == FREE
    assert got["selection"]["batches"] == [["m-0"], ["m-1"]]
    assert got["limits"] == {"status": "ok"} and got["failed_server_ids"] == []
    assert [c[0] for c in calls] == ["guard", "limits"]
    assert calls[-1] == ("limits", ["m-0", "m-1"], LIMITS)


def test_decide_reads_nothing_more_when_an_older_run_blocks(calls):
    calls.answers["guard"] = dict(FREE, blocking=[{"id": "ex-0"}], message="ex-0 runs.")
    got = decide()
    assert got == {"guard": calls.answers["guard"], "failed_server_ids": [], "selection": None,
                   "limits": None, "next": "report"}
    assert [c[0] for c in calls] == ["guard"]


@pytest.mark.parametrize("limits, step", [({"status": "ok"}, "run_batch"),
                                          ({"status": "cooldown"}, "report")])
def test_decide_follows_the_heal_limits(calls, limits, step):
    calls.answers["limits"] = limits
    assert decide()["next"] == step


def test_a_dry_run_goes_to_the_preview_without_the_limits(calls):
    got = decide(me=dict(ME, dry_run=True))
    assert got["next"] == "preview" and got["limits"] is None
    assert [c[0] for c in calls] == ["guard"]


def test_a_member_no_longer_in_the_group_goes_to_its_history(calls):
    got = decide(strategy="specific", member="0c7e7ab5-1d5c-4a7e-9f5e-5a3b2c1d0e9f")
    assert got["selection"]["status"] == "not_found" and got["next"] == "history"


def test_the_hold_reads_the_servers_and_hands_them_to_the_selection(calls):
    got = decide(strategy="failed", plan=dict(PLAN, hold=True))
    assert ("health", ["s-0", "s-1", "s-2"]) in calls
    assert got["failed_server_ids"] == ["s-2"]
    assert [m["name"] for m in got["selection"]["selected"]] == ["m-2"]
    assert got["next"] == "run_batch"


def test_a_held_selection_goes_to_the_report(calls):
    calls.answers["health"] = {"failed": ["s-0", "s-1", "s-2"], "details": {}}
    got = decide(strategy="failed", plan=dict(PLAN, hold=True))
    assert got["selection"]["status"] == "held" and got["next"] == "report"
    assert "limits" not in [c[0] for c in calls]


@pytest.mark.parametrize("mark, busy, marked", [(True, False, ["m-1"]), (False, False, None),
                                                (True, True, None)])
def test_a_batch_marks_its_members_only_when_asked_and_heat_is_not_busy(calls, mark, busy,
                                                                         marked):
    calls.answers["look"] = dict(LOOK, busy=busy)
    got = replace.inspect_batch(lambda: "conn", "asg/sid", "group", ["m-1"], "why", mark)
    assert got.get("marked") == marked
    assert (("mark", "asg-group/gid", ["m-1"]) in calls) is bool(marked)
    # Once marked, the root stack's PATCH goes out at once; update_stack only waits on it.
    assert got["patched"] == (dict(calls.answers["patched"], since="") if marked else None)
    assert [c for c in calls if c[0] in ("mark", "patch")] == (
        [("mark", "asg-group/gid", ["m-1"]), ("patch", "asg/sid")] if marked else [])


def test_a_patch_that_did_not_go_out_is_left_to_update_stack(calls, monkeypatch):
    def refused(conn, ref, unless_busy_since):
        raise sdk_exceptions.ConflictException("409: the stack is busy")

    monkeypatch.setattr(replace.orchestration, "update_existing", refused)
    got = replace.inspect_batch(lambda: "conn", "asg/sid", "group", ["m-1"], "why")
    assert got["marked"] == ["m-1"] and got["patched"] is None


def test_an_update_heat_already_runs_is_waited_on_from_the_runs_look(calls):
    """A try of the batch's inspect lost with its executor after its PATCH: the next try
    hands over the time of the run's look, so that Heat's update in progress is taken as
    its own (orchestration.update_existing's unless_busy_since, tested there)."""
    look = dict(LOOK, stack=dict(LOOK["stack"], updated_time="2026-12-07T08:00:00Z"))
    got = replace.inspect_batch(lambda: "conn", "asg/sid", "group", ["m-0"], look=look)
    assert got["patched"]["since"] == "2026-12-07T08:00:00Z"


def test_the_request_is_checked_before_any_call(calls):
    with pytest.raises(replace.selection.SelectionError, match="strategy"):
        replace.request(lambda: "conn", "asg", None, "wf", strategy="best")
    assert calls == []
    got = replace.request(lambda: "conn", "asg", None, "wf", strategy="oldest")
    assert got["plan"]["polls"] == 180 and got["look"]["running"] == ["run"]


def test_the_first_batch_takes_the_runs_look(calls):
    got = replace.inspect_batch(lambda: "conn", "asg/sid", "group", ["m-0"], look=LOOK)
    assert got["marked"] == ["m-0"]
    assert calls == [("mark", "asg-group/gid", ["m-0"]), ("patch", "asg/sid")]


def test_verify_reads_the_group_after_and_checks_the_replacement(calls):
    after = [dict(m, physical_id="p-new", server_ids=["s-new"]) if m["name"] == "m-1" else m
             for m in MEMBERS]
    calls.answers["look"] = dict(LOOK, members=after)
    got = replace.verify(lambda: "conn", "asg/sid", "group", MEMBERS, ["m-1"])
    assert got["after"]["members"] == after
    assert [r["name"] for r in got["verified"]["replaced"]] == ["m-1"]


def test_verify_says_what_was_not_replaced(calls):
    action = replace.VerifyAction("asg/sid", "group", MEMBERS, ["m-1"])
    action.connect = lambda context: "conn"
    got = action.run(None)
    assert got.is_error() and "m-1" in got.error


def test_the_actions_hand_every_input_over_and_keep_only_json(calls):
    action = replace.DecideAction(ME, [], ["sid"], MEMBERS, PLAN, "oldest", **LIMITS)
    json.dumps(vars(action))
    action.connect = lambda context: "conn"
    assert action.run(None)["next"] == "run_batch"
    checked = replace.RequestAction("asg", "wf", "oldest", cooldown=-1)
    json.dumps(vars(checked))
    checked.connect = lambda context: "conn"
    assert checked.run(None).error.startswith("cooldown must be a number of seconds")
    inspect = replace.InspectAction("asg", "ha.v1.replace_member")
    inspect.connect = lambda context: "conn"
    assert inspect.run(None)["running"] == ["run"]
    batch = replace.BatchInspectAction("asg/sid", "group", ["m-0"], mark=False)
    batch.connect = lambda context: "conn"
    assert "marked" not in batch.run(None)
