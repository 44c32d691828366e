"""ha_actions.report: every report of ha.v1.replace_member and ha.v1.failover_volume (every
status, every message; failover_volume's steps and fencing from its task records) and a
sub-workflow's error unwrapped, with no cloud and no Mistral."""

import datetime

import pytest

from ha_actions import report as rp

NOW = datetime.datetime(2026, 12, 3, 9, 0, 42, tzinfo=datetime.timezone.utc)
STARTED = "2026-12-03 09:00:00"
EX = "ex-1"

REQUEST = {"stack": "web", "group": None, "strategy": "oldest", "member": None, "count": 1,
           "max_unavailable": 1, "reason": None, "dry_run": False, "timeout": 900,
           "not_a_member": "fail", "force": False}
BEFORE = {"stack": {"id": "id-1", "name": "web", "ref": "web/id-1",
                    "status": "UPDATE_COMPLETE"},
          "group": {"name": "group", "status": "UPDATE_COMPLETE", "ref": "n/1"},
          "members": [], "size": 3, "warnings": [], "busy": False}
GUARD = {"older": [], "younger": [], "blocking": [], "stale": [], "message": ""}
SELECTION = {"status": "selected", "selected": [{"name": "m1"}], "batches": [["m1"]],
             "remaining_failed": 0, "message": "The 1 oldest member(s) selected."}
LIMITS = {"status": "ok", "message": "", "last_heal": None, "heals_in_window": {"m1": []}}
ROW = {"name": "m1", "old_physical_id": "p1", "new_physical_id": "p2",
       "old_server_ids": ["s1"], "new_server_ids": ["s2"]}
REASON = "ha.v1.replace_member execution ex-1"
BASE = {"stack": {"id": "id-1", "name": "web"}, "group": "group", "strategy": "oldest",
        "member": None, "count": 1, "reason": REASON, "execution_id": EX,
        "group_size_before": 3, "warnings": [], "replaced": [], "stale_executions": [],
        "duration_s": 42, "recovery": "replace"}


def facts(**changes):
    got = {"reason": REASON, "before": BEFORE, "guard": GUARD, "selection": SELECTION,
           "history": None, "limits": None, "heat_preview": None, "replaced": [],
           "also_replaced": [], "lost_builds": [], "group_size": None,
           "failed_batch": None, "error": None}
    got.update(changes)
    return got


def build(request=None, **changes):
    return rp.report("replace_member", dict(REQUEST, **(request or {})), facts(**changes),
                     EX, STARTED, now=NOW)


def test_replaced():
    got = build(limits=LIMITS, replaced=[ROW], group_size=3)
    assert got == dict(
        BASE, status="replaced", replaced=[ROW], also_replaced=[], batches=[["m1"]],
        group_size=3, remaining_failed=0, lost_builds=[], recovered=[], rungs=[],
        message="Replaced m1 in 1 batch(es). The 1 oldest member(s) selected.")


def test_replaced_says_what_else_happened_on_the_way():
    stale = {"id": "old", "created_at": "2026-12-03 07:00:00", "quiet_s": 700}
    guard = dict(GUARD, stale=[stale], message="Execution(s) old made no progress.")
    forced = dict(LIMITS, message="force: true: the pause, the cooldown and the flapping "
                                  "limit were not applied.")
    also = dict(ROW, name="m2")
    got = build({"force": True, "count": 2}, guard=guard, limits=forced,
                selection=dict(SELECTION, batches=[["m1"], ["m3"]]),
                replaced=[ROW, dict(ROW, name="m3")], also_replaced=[also],
                lost_builds=["s9"], group_size=3)
    assert got["status"] == "replaced"
    assert got["stale_executions"] == [stale]
    assert got["also_replaced"] == [also] and got["lost_builds"] == ["s9"]
    assert got["message"] == (
        "Replaced m1, m3 in 2 batch(es). The 1 oldest member(s) selected. Heat also "
        "replaced m2 (already failed). Deleted server(s) s9 whose build Nova had lost; "
        "Heat built them again. Execution(s) old made no progress. force: true: the pause, "
        "the cooldown and the flapping limit were not applied.")


def test_dry_run():
    selection = dict(SELECTION, selected=[{"name": "m1"}, {"name": "m2"}],
                     batches=[["m1"], ["m2"]])
    got = build({"dry_run": True, "count": 2}, selection=selection,
                heat_preview={"updated": []})
    assert got == dict(
        BASE, count=2, status="dry_run", would_replace=selection["selected"],
        batches=[["m1"], ["m2"]], remaining_failed=0, heat_preview={"updated": []},
        message="Dry run, nothing changed. The 1 oldest member(s) selected. Would mark "
                "unhealthy and replace, in batches: m1 | m2. heat_preview is what a "
                "no-change update would do now; members are marked unhealthy only in a "
                "real run, so it lists them only if Heat already shows them failed.")


def test_skipped():
    guard = dict(GUARD, older=["ex-0"], blocking=["ex-0"],
                 message="Skipped, nothing changed: the older execution(s) ex-0 of "
                         "ha.v1.replace_member already work on this stack. See its report.")
    got = build(guard=guard, selection=None)
    assert got == dict(BASE, status="skipped", running_executions=["ex-0"],
                       message=guard["message"])


def test_already_healed_by_the_selection():
    selection = {"status": "already_healed", "selected": [], "batches": [],
                 "remaining_failed": 0, "message": "No failed member: Heat shows none."}
    got = build({"strategy": "failed"}, selection=selection)
    assert got == dict(BASE, strategy="failed", status="already_healed",
                       message="No failed member: Heat shows none.", former_member=None)


NOT_FOUND = {"status": "not_found", "selected": [], "batches": [], "remaining_failed": 0,
             "message": "No member of the group has physical id s1 now."}
FORMER = {"status": "already_healed", "former_member": "m1", "last_seen": "2026-12-03",
          "message": "s1 was in member m1 of group 'group' until 2026-12-03 (Heat's events)."}
NEVER = {"status": "not_a_member", "former_member": None, "last_seen": None,
         "message": "s1 is not a member of group 'group' and never was."}
SPECIFIC = {"strategy": "specific", "member": "s1"}


def test_already_healed_by_heats_events():
    got = build(SPECIFIC, selection=NOT_FOUND, history=FORMER)
    assert got == dict(BASE, strategy="specific", member="s1", status="already_healed",
                       former_member="m1",
                       message=FORMER["message"] + " " + NOT_FOUND["message"])


def test_ignored():
    got = build(dict(SPECIFIC, not_a_member="ignore"), selection=NOT_FOUND, history=NEVER)
    assert got == dict(BASE, strategy="specific", member="s1", status="ignored",
                       message=NEVER["message"] + " " + NOT_FOUND["message"])


def test_not_a_member_fails_with_heats_word_only():
    got = build(SPECIFIC, selection=NOT_FOUND, history=NEVER)
    assert got == dict(BASE, strategy="specific", member="s1", status="failed",
                       error=NEVER["message"], message=NEVER["message"], also_replaced=[],
                       recovered=[], rungs=[])


HOLD = {"failed": ["m1", "m2", "m3"], "causes": ["3 of 3 are on compute host c1"],
        "message": "Held, nothing changed: 3 of 4 members look failed at once."}


def test_held_by_the_blast_radius_names_the_members_and_causes():
    selection = dict(SELECTION, status="held", hold=HOLD, batches=[["m1", "m2"], ["m3"]])
    got = build({"strategy": "failed"}, selection=selection)
    assert got == dict(BASE, strategy="failed", status="held", message=HOLD["message"],
                       failed_members=["m1", "m2", "m3"],
                       causes=["3 of 3 are on compute host c1"],
                       would_replace=["m1", "m2", "m3"])


def rung(member, name, outcome, reason="ACTIVE"):
    return {"member": member, "rung": name, "outcome": outcome, "reason": reason,
            "duration_s": 3}


def test_a_failed_batch_reports_its_rungs_so_the_flapping_limit_counts_them():
    tried = [rung("m1", "reboot", "failed", "still ERROR after 120 s")]
    got = build({"recovery": "reboot"}, limits=LIMITS, failed_batch=0,
                error={"result": "Not recovered by reboot: m1: ...", "rungs": tried})
    assert got["status"] == "failed" and got["rungs"] == tried
    assert got["error"] == "Batch 1 of 1 (m1): Not recovered by reboot: m1: ..."


def test_a_dry_run_says_which_rungs_come_first():
    got = build({"dry_run": True, "recovery": "ladder"})
    assert got["status"] == "dry_run"
    assert got["message"].startswith(
        "Dry run, nothing changed. The 1 oldest member(s) selected. Would reboot, then "
        "rebuild, then replace what they leave, in batches: m1.")


def test_recovered_by_a_reboot_replaces_nothing():
    got = build({"recovery": "reboot"}, limits=LIMITS, recovered=["m1"],
                rungs=[rung("m1", "reboot", "recovered")])
    assert got["status"] == "recovered"
    assert got["recovery"] == "reboot" and got["replaced"] == []
    assert got["recovered"] == ["m1"]
    assert got["message"] == ("Rungs: m1 recovered by reboot (same server and physical id). "
                              "The 1 oldest member(s) selected.")


def test_a_ladder_that_ended_in_replace_lists_every_rung():
    rungs = [rung("m1", "reboot", "failed", "still ERROR after 15 s"),
             rung("m1", "rebuild", "failed", "Nova refused the rebuild")]
    got = build({"recovery": "ladder"}, limits=LIMITS, replaced=[ROW], rungs=rungs,
                group_size=3)
    assert got["status"] == "replaced" and got["rungs"] == rungs
    assert got["message"] == (
        "Rungs: m1: reboot failed (still ERROR after 15 s); m1: rebuild failed (Nova refused "
        "the rebuild). Replaced m1 in 1 batch(es). The 1 oldest member(s) selected.")


def test_a_batch_its_rungs_did_not_recover_says_why_and_that_nothing_was_replaced():
    recovery = {"recovered": ["m2"], "left": ["m1"],
                "rungs": [rung("m1", "reboot", "failed", "server s1: ERROR after the reboot"),
                          rung("m2", "reboot", "recovered")]}
    got = rp.report("replace_member_batch", {"members": ["m1", "m2"], "rungs": ["reboot"],
                                             "timeout": 900},
                    {"before": BEFORE, "error": None, "recovery": recovery})
    assert got == {"status": "failed", "error": (
        "Not recovered by reboot: m1: server s1: ERROR after the reboot. Recovered: m2. "
        "Nothing was replaced: recovery ladder (or replace) would replace them.")}


@pytest.mark.parametrize("status, message", [
    ("cooldown", "Cooldown, nothing changed: execution ex-0 healed this stack 10 s ago."),
    ("flapping", "Flapping, nothing changed: member m1 was healed 3 times."),
    ("paused", "Paused, nothing changed: stack web was paused."),
])
def test_held_by_the_heal_limits(status, message):
    last = {"id": "ex-0", "ended_at": "2026-12-03 08:59:00", "ago_s": 10}
    limits = {"status": status, "message": message, "last_heal": last,
              "heals_in_window": {"m1": ["ex-0"]}}
    got = build(limits=limits)
    assert got == dict(BASE, status=status, message=message, would_replace=["m1"],
                       last_heal=last, heals_in_window={"m1": ["ex-0"]})


def test_failed_before_the_stack_was_found_reports_the_request():
    got = rp.report("replace_member", REQUEST, {"error": "Stack 'web' not found."}, EX,
                    STARTED, now=NOW)
    assert got == {"stack": "web", "group": None, "strategy": "oldest", "member": None,
                   "count": 1, "execution_id": EX, "status": "failed",
                   "error": "Stack 'web' not found.", "message": "Stack 'web' not found.",
                   "replaced": [], "also_replaced": [], "recovered": [], "rungs": [],
                   "duration_s": 42}


def test_failed_before_the_guard_has_no_stale_executions():
    got = build(guard=None, selection=None, error="Mistral said no.")
    assert "stale_executions" not in got
    assert got["status"] == "failed" and got["message"] == "Mistral said no."


def test_failed_on_a_busy_stack():
    busy = dict(BEFORE, busy=True, stack=dict(BEFORE["stack"], status="UPDATE_IN_PROGRESS"),
                group=dict(BEFORE["group"], status=None))
    got = build(before=busy, guard=None, selection=None)
    message = ("Stack web is still UPDATE_IN_PROGRESS (group group: null) after 900 s: not "
               "updating over a running operation. Try again later.")
    assert got["status"] == "failed"
    assert got["error"] == got["message"] == message


def test_failed_in_a_batch_says_which_and_what_was_replaced_before():
    selection = dict(SELECTION, batches=[["m1"], ["m2", "m3"]])
    error = {"error": {"x": 1}, "result": "Stack web ended UPDATE_FAILED: boom"}
    got = build(limits=LIMITS, selection=selection, replaced=[ROW], failed_batch=1,
                error=error)
    message = ("Batch 2 of 2 (m2, m3): Stack web ended UPDATE_FAILED: boom Already "
               "replaced: m1.")
    assert got["status"] == "failed"
    assert got["error"] == got["message"] == message
    assert got["replaced"] == [ROW] and got["also_replaced"] == []


def test_failed_in_the_first_batch():
    got = build(limits=LIMITS, failed_batch=0, error={"result": "Timeout."})
    assert got["message"] == "Batch 1 of 1 (m1): Timeout."


@pytest.mark.parametrize("result, error", [
    ("plain text", "plain text"),
    ({"error": "x", "result": "the fail message"}, "the fail message"),
    ({"error": "x", "result": None}, "{'error': 'x', 'result': None}"),
    (None, "null"),
    (True, "true"),
    (3, "3"),
])
def test_unwrap_error(result, error):
    assert rp.unwrap_error(result) == error


def test_a_batch_failure_in_the_update_names_the_marked_members():
    request = {"members": ["m1", "m2"], "timeout": 900}
    got = rp.report("replace_member_batch", request,
                    {"error": {"result": "Heat said no."}, "failed_step": "update"})
    assert got == {"status": "failed",
                   "error": "Heat said no. (members marked unhealthy: m1, m2)"}
    other = rp.report("replace_member_batch", request, {"error": "Nova said no."})
    assert other == {"status": "failed", "error": "Nova said no."}


def test_a_batch_on_a_busy_stack():
    busy = dict(BEFORE, busy=True, stack=dict(BEFORE["stack"], status="UPDATE_IN_PROGRESS"))
    got = rp.report("replace_member_batch", {"members": ["m1"], "timeout": 60},
                    {"before": busy, "error": None})
    assert got["error"] == ("Stack web is still UPDATE_IN_PROGRESS after 60 s: not updating "
                            "over a running operation.")


@pytest.mark.parametrize("workflow, request_, found", [
    ("replace_member", REQUEST, {}),                     # no error, no selection
    ("replace_member_batch", {"members": []}, {}),       # a batch reports failures only
    ("no_such_workflow", REQUEST, {}),
])
def test_a_report_that_cannot_be_built_is_an_operator_error(workflow, request_, found):
    with pytest.raises(rp.ReportError):
        rp.report(workflow, request_, found, EX, STARTED, now=NOW)


def test_duration_counts_from_mistrals_created_at():
    assert rp.duration_s("2026-12-03 08:59:00", NOW) == 102
    assert rp.duration_s("2026-12-03T09:00:00Z", NOW) == 42


def test_the_action_returns_the_report_or_the_error():
    from ha_actions.workflow import ReportAction

    # replace_member's report reads no task records: no connection is made.
    got = ReportAction("replace_member", REQUEST, {"error": "boom"}, EX, STARTED).run(None)
    assert got["status"] == "failed" and got["message"] == "boom"
    refused = ReportAction("nothing", REQUEST).run(None)
    assert refused.is_error() and "No report for workflow 'nothing'" in refused.error


# --- ha.v1.failover_volume ---------------------------------------------------------------

FV_REQUEST = {"stack": "pair", "standby": None, "parameter": "active", "quiesce": "none",
              "activate": "none", "hook_timeout": 120, "dead_host_policy": "fail",
              "fencing_hook": "ft.fence", "fence_timeout": 120, "restore": False,
              "timeout": 300}
PAIR = {"status": "ready", "stack": {"id": "sid", "name": "pair", "ref": "pair/sid"},
        "active": {"name": "server_a", "id": "a", "status": "ACTIVE"},
        "standby": {"name": "server_b", "id": "b"}, "volume_ids": ["v1", "v2"],
        "where": {"v1": ["a"], "v2": ["a"]}, "message": "Ready."}
STOPPED = {"method": "stop", "result": "SHUTOFF"}
NOT_NEEDED = {"method": "none", "result": "not needed"}
FV_BASE = {"stack": {"id": "sid", "name": "pair"},
           "old_active": {"name": "server_a", "id": "a"},
           "new_active": {"name": "server_b", "id": "b"}, "execution_id": EX,
           "stale_executions": [], "duration_s": 42}
MOVED = {"v1": ["b"], "v2": ["b"]}


def task(name, at, ended="SUCCESS", created=None, **published):
    """A task record as workflow.task_records gives it: ended (``ended``: its state) at
    09:00:``at``, created then too unless ``created`` says."""
    end = "2026-12-03 09:00:%02d" % at
    return {"name": name, "state": ended, "published": published,
            "created_at": "2026-12-03 09:00:%02d" % created if created is not None else end,
            "finished_at": end}


def server(status, **more):
    return dict({"id": "a", "status": status, "task_state": None, "host": "cmp1",
                 "host_state": "up"}, **more)


INSPECT = task("inspect", 2, guard=GUARD, state=PAIR, where=PAIR["where"],
               limits={"status": "ok"}, next="fence")
GUARD_TASKS = [task("check_request", 1, plan={})]
FENCED = [task("fence", 3), task("wait_shutoff", 5, old_state=server("SHUTOFF"))]


def moved(at):
    """The records of a move that starts at 09:00:``at``: 4 s to detach, 4 s to attach."""
    return [task("detach", at), task("wait_detached", at + 4, where={"v1": [], "v2": []},
                                     failed_step=None),
            task("attach", at + 5), task("wait_attached", at + 8, where=MOVED,
                                         failed_step=None)]


MOVE = moved(6)
RECORD = task("record", 30, final={"status": "UPDATE_COMPLETE"})
TASKS = GUARD_TASKS + [INSPECT] + FENCED + MOVE + [RECORD, task("report", 31, "RUNNING")]
STEPS = [{"name": "inspect", "result": "Ready.", "duration_s": 2.0},
         {"name": "fence", "result": "stopped: SHUTOFF", "duration_s": 3.0},
         {"name": "detach", "result": "available", "duration_s": 5.0},
         {"name": "attach", "result": "in-use on server_b", "duration_s": 4.0},
         {"name": "record", "result": "UPDATE_COMPLETE", "duration_s": 16.0}]


def fv_facts(**changes):
    got = {"stack_info": {"id": "sid", "name": "pair", "ref": "pair/sid"}, "guard": GUARD,
           "state": PAIR, "limits": {"status": "ok"}, "where": MOVED, "old_state": None,
           "fence_failed": False, "restore_state": None, "after": None, "failed_step": None,
           "error": None, "located": None, "locate_error": None}
    got.update(changes)
    return got


def failover(request=None, tasks=TASKS, unread=None, **changes):
    return rp.report("failover_volume", dict(FV_REQUEST, **(request or {})),
                     fv_facts(**changes), EX, STARTED, now=NOW, tasks=tasks, unread=unread)


def steps(got):
    return [(step["name"], step["result"]) for step in got["steps"]]


def test_failed_over():
    got = failover()
    assert got == dict(FV_BASE, status="failed_over", volumes=MOVED, fencing=STOPPED,
                       restored=None, steps=STEPS,
                       message="Failed over 2 volume(s) from server_a to server_b; stack "
                               "parameter active = server_b.")


def test_failed_over_with_each_move_seeing_its_own_end():
    """fence, detach and attach that saw their end themselves (no wait task): the same
    steps and fencing, each ended by the move's own record."""
    fast = [task("fence", 5, old_state=server("SHUTOFF")),
            task("detach", 10, where={"v1": [], "v2": []}, moved=True),
            task("attach", 14, where=MOVED, moved=True)]
    got = failover(tasks=GUARD_TASKS + [INSPECT] + fast + [RECORD])
    assert got["steps"] == STEPS and got["fencing"] == STOPPED
    assert got["status"] == "failed_over"


def test_a_move_that_did_not_see_its_end_leaves_the_step_to_its_wait_task():
    slow = [task("fence", 3, old_state=server("ACTIVE", task_state="powering-off")),
            task("wait_shutoff", 5, old_state=server("SHUTOFF")),
            task("detach", 7, where={"v1": ["a"], "v2": ["a"]}, moved=False),
            task("wait_detached", 10, where={"v1": [], "v2": []}, failed_step=None),
            task("attach", 14, where=MOVED, moved=True)]
    got = failover(tasks=GUARD_TASKS + [INSPECT] + slow + [RECORD])
    assert got["steps"] == STEPS and got["fencing"] == STOPPED


def test_failed_over_and_restored():
    after = {"servers": [{"name": "server_a", "id": "a2", "status": "ACTIVE"},
                         {"name": "server_b", "id": "b", "status": "ACTIVE"}]}
    restore = [task("restore_delete", 31), task("restore_wait_deleted", 33),
               task("restore_mark", 34), task("restore_update", 40),
               task("restore_read", 41, after=after)]
    got = failover({"restore": True}, tasks=TASKS[:-1] + restore, after=after)
    assert got["status"] == "failed_over"
    assert got["restored"] == {"name": "server_a", "old_id": "a", "new_id": "a2",
                               "status": "ACTIVE"}
    assert got["steps"] == STEPS + [{"name": "restore", "result": "new server_a: a2",
                                     "duration_s": 11.0}]


def test_failover_skipped():
    guard = dict(GUARD, blocking=["ex-0"], message="Skipped, nothing changed: ex-0.")
    blocked = task("inspect", 2, guard=guard, state=None, where=None, limits=None,
                   next="report")  # the guard blocked: the pair was not read, no step
    got = failover(tasks=GUARD_TASKS + [blocked], guard=guard, state=None, limits=None)
    assert got == {"stack": {"id": "sid", "name": "pair"}, "status": "skipped",
                   "execution_id": EX, "running_executions": ["ex-0"], "volumes": None,
                   "fencing": NOT_NEEDED, "steps": [], "message": guard["message"],
                   "duration_s": 42}


@pytest.mark.parametrize("status", ["paused", "cooldown", "flapping"])
def test_failover_held_by_the_heal_limits(status):
    limits = {"status": status, "message": status + ": nothing moved.",
              "last_heal": {"id": "ex-0"}, "heals_in_window": {"the stack": ["ex-0"]}}
    got = failover(tasks=GUARD_TASKS + [INSPECT], limits=limits, where=PAIR["where"])
    assert got == dict(FV_BASE, status=status, volumes=PAIR["where"], fencing=NOT_NEEDED,
                       steps=STEPS[:1], message=limits["message"], last_heal={"id": "ex-0"},
                       heals_in_window={"the stack": ["ex-0"]})


def test_already_active():
    state = dict(PAIR, status="already_active", standby=None,
                 message="server_a is the active already.")
    got = failover(tasks=[task("inspect", 2, state=state)], state=state, limits=None,
                   where=PAIR["where"])
    assert got == dict(FV_BASE, new_active={"name": "server_a", "id": "a"},
                       status="already_active", volumes=PAIR["where"], fencing=NOT_NEEDED,
                       steps=[{"name": "inspect", "result": "server_a is the active already.",
                               "duration_s": 2.0}],
                       message="server_a is the active already.")


def test_recorded():
    state = dict(PAIR, status="record_only", message="The volumes are already all on server_b.")
    got = failover(tasks=[task("inspect", 2, state=state), RECORD], state=state, limits=None)
    assert got == dict(FV_BASE, status="recorded", volumes=MOVED, fencing=NOT_NEEDED,
                       steps=[{"name": "inspect", "result": state["message"], "duration_s": 2.0},
                              {"name": "record", "result": "UPDATE_COMPLETE",
                               "duration_s": 28.0}],
                       message="The volumes are already all on server_b. Stack "
                               "parameter active = server_b now.")


def test_an_interrupted_failover_taken_up_was_fenced_by_the_earlier_one():
    state = dict(PAIR, status="attach_only", active=dict(PAIR["active"], status="SHUTOFF"))
    tasks = [task("inspect", 2, state=state)] + MOVE[2:] + [RECORD]
    got = failover(tasks=tasks, state=state)
    assert got["status"] == "failed_over"
    assert got["fencing"] == {"method": "stop", "result": "already SHUTOFF (an earlier failover)"}
    assert [name for name, _ in steps(got)] == ["inspect", "attach", "record"]


def test_failover_failed_before_the_pair_was_read():
    message = "dead_host_policy force_down needs an admin. Nothing was changed."
    got = failover(tasks=[task("check_request", 1, "ERROR", error=message)], state=None,
                   guard=None, where=None, limits=None, error=message)
    assert got == {"stack": "pair", "execution_id": EX, "status": "failed", "error": message,
                   "message": message, "volumes": None,
                   "fencing": {"method": "none", "result": "not started"}, "steps": [],
                   "duration_s": 42}


NOT_STOPPED = [task("fence", 3), task("wait_shutoff", 8, old_state=server("ACTIVE")),
               task("fence_failed", 8)]
NOT_CONFIRMED = "not confirmed - still ACTIVE (task_state null, host up) after 120 s"


def test_fencing_not_confirmed_under_policy_fail_says_what_to_do():
    got = failover(tasks=GUARD_TASKS + [INSPECT] + NOT_STOPPED, fence_failed=True,
                   where=PAIR["where"])
    assert got["status"] == "failed"
    assert got["fencing"] == {"method": "stop", "result": NOT_CONFIRMED}
    assert got["steps"] == STEPS[:1] + [{"name": "fence", "result": NOT_CONFIRMED,
                                         "duration_s": 6.0}]
    assert got["error"] == got["message"] == (
        "Fencing failed: could not stop the old active server_a (a): not confirmed - still "
        "ACTIVE (task_state null, host up) after 120 s. The volumes were NOT moved (still on "
        "server_a). If its compute host is down (Nova accepts the stop but cannot carry it "
        "out), make sure the server is really off (power off the host; an admin can then "
        "mark its nova-compute service forced_down), then run again with "
        "dead_host_policy=delete_server: it deletes server_a (Nova deletes it locally and "
        "releases its volumes) and moves the volumes to server_b. An admin can run with "
        "dead_host_policy=force_down and a fencing_hook, which powers the host off and has "
        "it forced down first.")


@pytest.mark.parametrize("fence, result", [
    ([task("fence", 3, "ERROR", fence_error="409 locked")], "stop refused - 409 locked"),
    ([task("fence", 3), task("wait_shutoff", 8, "ERROR", fence_error="Nova 503")],
     "state unknown - Nova 503"),
    ([task("fence", 3), task("wait_shutoff", 8, old_state=server(
        "ACTIVE", task_state="powering-off", host_state="down"))],
     "not confirmed - still ACTIVE (task_state powering-off, host down) after 120 s"),
])
def test_every_way_the_stop_can_fail_is_the_fence_steps_result(fence, result):
    got = failover(tasks=[INSPECT] + fence + [task("fence_failed", 9)], fence_failed=True)
    assert got["fencing"] == {"method": "stop", "result": result}
    assert steps(got) == [("inspect", "Ready."), ("fence", result)]


DELETED = [task("delete_old", 9, deleted={"result": "deleting"}),
           task("wait_deleted", 12, old_state=server("NOT_FOUND"), failed_step=None)]


def test_fencing_not_confirmed_under_delete_server_goes_on():
    tasks = [INSPECT] + NOT_STOPPED + DELETED + moved(13) + [RECORD]
    got = failover({"dead_host_policy": "delete_server"}, tasks=tasks, fence_failed=True)
    assert got["status"] == "failed_over"
    assert got["fencing"] == {"method": "delete_server", "result": "deleted"}
    assert steps(got) == [("inspect", "Ready."), ("fence", NOT_CONFIRMED),
                          ("delete_server", "deleted (dead_host_policy delete_server): NOT_FOUND"),
                          ("detach", "available"), ("attach", "in-use on server_b"),
                          ("record", "UPDATE_COMPLETE")]
    assert [step["duration_s"] for step in got["steps"]] == [2.0, 6.0, 4.0, 5.0, 4.0, 9.0]


def test_force_down_after_the_fencing_hook():
    hook = {"fenced": True, "powered_off": "cmp1"}
    tasks = [INSPECT] + NOT_STOPPED + [
        task("locate_host", 8, old_state=server("ACTIVE", host_state="down")),
        task("fence_host", 9, hook_output=hook),
        task("force_down", 9, forced={"host": "cmp1", "service_id": 7, "result": "forced_down"}),
    ] + DELETED + moved(13) + [RECORD]
    got = failover({"dead_host_policy": "force_down"}, tasks=tasks, fence_failed=True)
    assert got["status"] == "failed_over"
    assert got["fencing"] == {"method": "force_down", "result": "deleted"}
    assert steps(got) == [
        ("inspect", "Ready."), ("fence", NOT_CONFIRMED),
        ("fence_host", "ft.fence: {'fenced': True, 'powered_off': 'cmp1'}"),
        ("force_down", "nova-compute on cmp1: forced_down"),
        ("delete_server", "deleted (dead_host_policy force_down): NOT_FOUND"),
        ("detach", "available"), ("attach", "in-use on server_b"), ("record", "UPDATE_COMPLETE")]


@pytest.mark.parametrize("policy, after_stop, fencing", [
    ("force_down", [task("locate_host", 9), task("fence_host", 12, "ERROR", error="no power")],
     {"method": "force_down", "result": "fencing hook failed - no power"}),
    ("force_down", [task("fence_host", 10, hook_output={"fenced": False}),
                    task("force_down", 10, "ERROR", error="ft.fence did not confirm")],
     {"method": "force_down", "result": "not forced down - ft.fence did not confirm"}),
    ("delete_server", [task("delete_old", 9, "ERROR", error="403")],
     {"method": "delete_server", "result": "delete refused - 403"}),
    ("delete_server", [DELETED[0], task("wait_deleted", 20, old_state=server("ACTIVE"),
                                        failed_step="wait_deleted")],
     {"method": "delete_server", "result": "not confirmed - still ACTIVE"}),
    ("delete_server", [DELETED[0], task("wait_deleted", 20, "ERROR", error="Nova 500")],
     {"method": "delete_server", "result": "deleting"}),
])
def test_every_way_the_fencing_of_last_resort_can_fail(policy, after_stop, fencing):
    got = failover({"dead_host_policy": policy}, tasks=[INSPECT] + NOT_STOPPED + after_stop,
                   fence_failed=True, error="x", failed_step="x")
    assert got["status"] == "failed" and got["fencing"] == fencing


def test_a_deletion_not_confirmed_is_still_the_delete_servers_step():
    tasks = [INSPECT] + NOT_STOPPED + [
        DELETED[0], task("wait_deleted", 20, old_state=server("ACTIVE"),
                         failed_step="wait_deleted")]
    got = failover({"dead_host_policy": "delete_server"}, tasks=tasks, fence_failed=True,
                   failed_step="wait_deleted")
    assert steps(got)[-1] == ("delete_server", "deleted (dead_host_policy delete_server): ACTIVE")
    assert got["error"] == ("Fencing failed: server_a was not deleted within 120 s. The volumes "
                            "were NOT moved.")


@pytest.mark.parametrize("ended, hook, result", [
    ("SUCCESS", {}, "SUCCESS (ft.hook)"),
    ("ERROR", {"hook_error": "Workflow not found [name=ft.hook]"},
     "FAILED, ignored (ft.hook): Workflow not found [name=ft.hook]"),
])
def test_the_hooks_are_steps_and_their_failure_only_reported(ended, hook, result):
    tasks = ([INSPECT, task("quiesce", 3, ended, **hook)] + FENCED[:1]
             + [task("wait_shutoff", 6, old_state=server("SHUTOFF"))] + MOVE
             + [task("activate", 20, ended, **hook), RECORD])
    got = failover({"quiesce": "ft.hook", "activate": "ft.hook"}, tasks=tasks)
    assert got["status"] == "failed_over"
    assert steps(got) == [("inspect", "Ready."), ("quiesce", result),
                          ("fence", "stopped: SHUTOFF"), ("detach", "available"),
                          ("attach", "in-use on server_b"), ("activate", result),
                          ("record", "UPDATE_COMPLETE")]
    assert [step["duration_s"] for step in got["steps"]] == [2.0, 1.0, 3.0, 4.0, 4.0, 6.0, 10.0]


def test_a_task_tried_again_is_one_step_timed_to_its_last_try():
    """A wait retried 20 times is one record (created at its first try): one step, from
    the end of the step before to the end of its last try."""
    tasks = [INSPECT, task("fence", 3), task("wait_shutoff", 45, created=3,
                                             old_state=server("SHUTOFF"))]
    got = failover(tasks=tasks, failed_step="x", error="later")
    assert got["steps"] == STEPS[:1] + [{"name": "fence", "result": "stopped: SHUTOFF",
                                         "duration_s": 43.0}]


def test_records_of_the_same_second_are_in_the_workflows_order():
    """Mistral keeps whole seconds and lists ties in any order."""
    same = [task("fence_failed", 5), task("wait_shutoff", 5, created=5,
                                          old_state=server("ACTIVE")), task("fence", 5)]
    got = failover(tasks=same + [INSPECT], fence_failed=True)
    assert steps(got) == [("inspect", "Ready."),
                          ("fence", "not confirmed - still ACTIVE (task_state null, host up) "
                                    "after 120 s")]


def test_a_task_run_twice_is_two_steps_in_their_places():
    tasks = [INSPECT, task("record", 10, final={"status": "UPDATE_FAILED"}),
             task("record", 20, final={"status": "UPDATE_COMPLETE"})]
    got = failover(tasks=tasks, failed_step="x", error="later")
    assert got["steps"][1:] == [{"name": "record", "result": "UPDATE_FAILED", "duration_s": 8.0},
                                {"name": "record", "result": "UPDATE_COMPLETE",
                                 "duration_s": 10.0}]


@pytest.mark.parametrize("move, failed_step, last", [
    (MOVE[:1] + [task("wait_detached", 40, where=PAIR["where"], failed_step="wait_detached")],
     "wait_detached", [("detach", "not detached: {'v1': ['a'], 'v2': ['a']}")]),
    (MOVE[:3] + [task("wait_attached", 40, where={"v1": [], "v2": []},
                      failed_step="wait_attached")],
     "wait_attached", [("detach", "available"), ("attach", "not attached: {'v1': [], 'v2': []}")]),
    (MOVE[:2] + [task("attach", 11, "ERROR", error="busy", failed_step="attach")],
     "attach", [("detach", "available")]),
])
def test_a_failure_mid_move_ends_the_steps_where_it_happened(move, failed_step, last):
    tasks = [INSPECT] + FENCED + move + [task("locate", 41, located=LOCATED)]
    got = failover(tasks=tasks, failed_step=failed_step, located=LOCATED,
                   error="busy" if failed_step == "attach" else None)
    assert got["status"] == "failed" and got["fencing"] == STOPPED
    assert steps(got) == [("inspect", "Ready."), ("fence", "stopped: SHUTOFF")] + last
    assert got["volumes"] == LOCATED and got["error"].endswith(NOW_AT)


def test_task_records_not_read_leave_the_report_without_steps():
    got = failover(tasks=None, unread="The token this execution runs with expired.")
    assert got["status"] == "failed_over" and got["steps"] == []
    assert got["steps_error"] == "The token this execution runs with expired."
    assert got["fencing"] == {"method": "unknown", "result": "task records not read: The "
                                                             "token this execution runs with "
                                                             "expired."}


@pytest.mark.parametrize("step, error, facts_, message", [
    ("locate_host", "Nova said no.", {},
     "Fencing failed: Nova said no. The volumes were NOT moved."),
    ("fence_host", {"error": "x", "result": "no power"}, {"old_state": {"host": "cmp1"}},
     "Fencing failed: the fencing hook ft.fence failed or took longer than hook_timeout "
     "(120 s) for host cmp1: no power. The compute service was not forced down and the "
     "volumes were NOT moved (still on server_a)."),
    ("force_down", "refused.", {}, "Fencing failed: refused."),
    ("delete_old", "403", {},
     "Fencing failed: stop and delete of server_a were refused: 403. The volumes were NOT "
     "moved."),
    ("wait_deleted", None, {},
     "Fencing failed: server_a was not deleted within 120 s. The volumes were NOT moved."),
    ("record", {"error": "x", "result": "Stack pair ended UPDATE_FAILED: no"}, {},
     "The volumes are on server_b but recording it in the stack parameter active failed: "
     "Stack pair ended UPDATE_FAILED: no Set it yourself: openstack stack update --existing "
     "--parameter active=server_b pair"),
])
def test_a_failed_step_says_it_in_its_words(step, error, facts_, message):
    got = failover(failed_step=step, error=error, **facts_)
    assert got["status"] == "failed"
    assert got["error"] == got["message"] == message


LOCATED = {"v1": ["b"], "v2": ["available"]}
NOW_AT = " Volumes now (volume: servers or status): {'v1': ['b'], 'v2': ['available']}"


@pytest.mark.parametrize("step, error, message", [
    ("detach", "busy", "Detaching from server_a failed: busy"),
    ("attach", "busy", "Attaching to server_b failed: busy"),
    ("wait_detached", None, "Volumes did not become available after detaching from server_a "
                            "(300 s): {'v1': ['a'], 'v2': ['a']}"),
    ("wait_attached", None, "Volumes were not attached to server_b after 300 s: "
                            "{'v1': ['a'], 'v2': ['a']}"),
    ("wait_attached", "Heartbeat wasn't received.", "Heartbeat wasn't received."),
    ("wait_deleted", "Nova 500", "Nova 500"),
])
def test_a_failure_mid_move_says_where_the_volumes_are(step, error, message):
    got = failover(failed_step=step, error=error, where=PAIR["where"], located=LOCATED)
    assert got["error"] == message + NOW_AT
    assert got["volumes"] == LOCATED
    unread = failover(failed_step=step, error=error, where=PAIR["where"],
                      locate_error="Cinder 503")
    assert unread["error"] == message + " Could not read where the volumes are: Cinder 503"
    assert unread["volumes"] == PAIR["where"]


@pytest.mark.parametrize("error, restore_state, why", [
    ("delete refused", None, "delete refused"),
    ({"error": "x", "result": "Stack pair ended UPDATE_FAILED"}, None,
     "Stack pair ended UPDATE_FAILED"),
    (None, {"status": "ACTIVE"}, "server a was not deleted within 300 s (still ACTIVE)"),
])
def test_a_failed_restore_says_the_volumes_are_safe(error, restore_state, why):
    got = failover({"restore": True}, failed_step="restore", error=error,
                   restore_state=restore_state)
    assert got["status"] == "failed"
    assert got["error"] == (
        "Failed over: the volumes are on server_b (b) and the stack records it, but restoring "
        "server_a failed: %s. Replace it yourself: openstack stack resource mark unhealthy "
        "pair server_a && openstack stack update --existing pair" % why)
    # Its step: from the end of the record to the report.
    assert got["steps"] == STEPS + [{"name": "restore", "result": "FAILED: " + why,
                                     "duration_s": 12.0}]
