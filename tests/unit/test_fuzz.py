"""Property-based tests of the pure modules: whatever a caller or Aodh sends, the answer is
a decision of the documented shape or an OperatorError with a message, never a crash.

The fault suite (tests/faults/test_fuzz_on_alarm.py) sends a sample of the same bodies to
the real ha.v1.on_alarm.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_strategies import BODIES, JSON, UUIDS
from ha_actions import alarm, guard, selection
from ha_actions.errors import OperatorError

QUICK = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decision_is_well_formed(decision):
    assert decision["action"] in ("ignore", "heal")
    assert isinstance(decision["why"], str) and decision["why"]
    assert decision["alarm"]["current"] in alarm.STATES
    if decision["action"] == "ignore":
        assert decision["alarm"]["current"] != alarm.ALARM and decision["member"] is None
    assert decision["member"] is None or isinstance(decision["member"], str)


@QUICK
@given(BODIES, st.none() | st.text(max_size=12) | st.integers())
def test_any_body_is_a_decision_or_a_clear_error(body, member):
    try:
        decision = alarm.parse_alarm(body, member)
    except alarm.AlarmPayloadError as exc:
        assert str(exc).strip() and alarm.EXPECTED in str(exc)
        return
    decision_is_well_formed(decision)


@QUICK
@given(JSON, st.none() | st.text(max_size=12))
def test_anything_at_all_is_a_decision_or_a_clear_error(body, member):
    try:
        decision_is_well_formed(alarm.parse_alarm(body, member))
    except alarm.AlarmPayloadError as exc:
        assert str(exc).strip()


MEMBER = st.fixed_dictionaries({
    "name": st.text(min_size=1, max_size=6), "physical_id": UUIDS,
    "status": st.sampled_from(["CREATE_COMPLETE", "UPDATE_COMPLETE", "CHECK_FAILED",
                               "CREATE_FAILED", None]),
    "creation_time": st.none() | st.sampled_from(["2026-01-01T00:00:00Z",
                                                  "2026-01-02T00:00:00Z"]),
    "server_ids": st.lists(UUIDS, max_size=2), "resource_ids": st.lists(UUIDS, max_size=2)})
INPUT = st.none() | st.booleans() | st.integers(-3, 12) | st.floats(-1, 10) | st.text(max_size=8)


@QUICK
@given(st.lists(MEMBER, max_size=5, unique_by=lambda m: m["name"]),
       st.sampled_from(list(selection.STRATEGIES)) | st.text(max_size=8),
       st.none() | UUIDS | st.text(max_size=8), INPUT, INPUT, INPUT, INPUT)
def test_any_replace_request_is_a_selection_or_a_clear_error(members, strategy, member, count,
                                                             max_unavailable, timeout, delay):
    try:
        plan = selection.check_request(strategy, member, count, max_unavailable, timeout, delay)
        assert plan["polls"] >= 1 and plan["poll_delay"] >= 1
        picked = selection.select_members(members, strategy, member, count)
        batches = selection.batches([m["name"] for m in picked["selected"]], max_unavailable)
    except OperatorError as exc:
        assert str(exc).strip()
        return
    # not_found: a specific member no member has now (the workflow then reads the group's
    # history: replaced already, or never a member); it selects nothing.
    assert picked["status"] in ("selected", "already_healed", "not_found")
    assert picked["status"] != "not_found" or (strategy == "specific" and
                                               picked["selected"] == [])
    assert len(picked["selected"]) <= max(1, count)
    assert all(m in members for m in picked["selected"])
    assert sum(len(b) for b in batches) == len(picked["selected"])
    assert all(1 <= len(b) <= max_unavailable for b in batches)


RUN = st.fixed_dictionaries({"id": st.text(min_size=1, max_size=4), "name": st.sampled_from(
    ["ha.v1.replace_member", "ha.v1.failover_volume"]), "created_at": st.sampled_from(
    ["2026-12-03 08:00:00", "2026-12-03 08:59:59", "2026-12-03 09:00:00", "soon"]),
    "stack": st.sampled_from(["web", "other", None]), "dry_run": st.booleans()})


@QUICK
@given(RUN, st.lists(RUN, max_size=6), INPUT)
def test_the_guard_blocks_only_older_runs_for_the_same_stack(me, running, stale_after):
    try:
        got = guard.concurrent_runs(me, running, ["web"], stale_after)
    except OperatorError as exc:
        assert str(exc).strip()
        return
    by_id = {}
    for run in running:
        by_id.setdefault(run["id"], []).append(run)
    for ex_id in got["older"]:
        assert ex_id != me["id"]
        assert any(r["stack"] == "web" and r["name"] == me["name"] and not r["dry_run"]
                   for r in by_id[ex_id])
    assert not (me["dry_run"] and got["older"])
