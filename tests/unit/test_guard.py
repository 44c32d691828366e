"""The concurrency guard shared by replace_member and failover_volume (ha_actions.guard)."""

import datetime

import pytest

from ha_actions import guard

NOW = datetime.datetime(2026, 12, 3, 9, 0, 0, tzinfo=datetime.timezone.utc)
REFS = ["web", "id-1", "web/id-1"]


def run(ex_id, created_at, stack="web", name="ha.v1.replace_member", dry_run=False):
    return {"id": ex_id, "name": name, "created_at": created_at, "stack": stack,
            "dry_run": dry_run}


ME = run("m", "2026-12-03 08:59:30")


def test_an_older_run_for_the_same_stack_blocks():
    got = guard.concurrent_runs(ME, [ME, run("a", "2026-12-03 08:59:00")], REFS, now=NOW)
    assert got["older"] == ["a"] and got["stale"] == []
    assert ("Skipped, nothing changed: the older execution(s) a of ha.v1.replace_member"
            in got["message"])


@pytest.mark.parametrize("other", [
    run("z", "2026-12-03 08:59:31"),                    # younger
    run("a", "2026-12-03 08:59:00", stack="other"),     # another stack
    run("a", "2026-12-03 08:59:00", name="ha.v1.failover_volume"),  # another workflow
    run("a", "2026-12-03 08:59:00", dry_run=True),      # a dry run changes nothing
    run("z", "2026-12-03 08:59:30"),                    # same second, higher id
])
def test_runs_that_do_not_block(other):
    got = guard.concurrent_runs(ME, [other], REFS, now=NOW)
    assert got == {"older": [], "stale": [], "message": ""}


def test_same_second_lower_id_blocks_and_every_stack_name_counts():
    runs = [run("a", "2026-12-03 08:59:30", stack="id-1"), run("b", "2026-12-03T08:59:10Z",
                                                                stack="web/id-1")]
    assert guard.concurrent_runs(ME, runs, REFS, now=NOW)["older"] == ["a", "b"]


def test_a_dry_run_is_never_blocked():
    me = dict(ME, dry_run=True)
    assert guard.concurrent_runs(me, [run("a", "2026-12-03 08:59:00")], REFS, now=NOW)[
        "older"] == []


def test_only_runs_old_enough_to_be_stale_need_their_progress_read():
    runs = [run("old", "2026-12-03 08:40:00"), run("a", "2026-12-03 08:59:00")]
    assert guard.needs_progress(ME, runs, REFS, stale_after=600, now=NOW) == ["old"]
    assert guard.needs_progress(dict(ME, dry_run=True), runs, REFS, now=NOW) == []


def test_a_run_without_progress_for_stale_after_no_longer_blocks_and_is_named():
    runs = [run("lost", "2026-12-03 08:40:00"), run("slow", "2026-12-03 08:41:00"),
            run("a", "2026-12-03 08:59:00")]
    progress = {"lost": "2026-12-03 08:45:00", "slow": "2026-12-03 08:58:00"}
    got = guard.concurrent_runs(ME, runs, REFS, stale_after=600, now=NOW, progress=progress)
    assert got["older"] == ["slow", "a"]  # old but busy: still blocks
    assert got["stale"] == [{"id": "lost", "created_at": "2026-12-03 08:40:00",
                             "quiet_s": 900}]
    assert "Execution(s) lost made no progress for over 600 s" in got["message"]
    assert "were ended (state ERROR)" in got["message"]
    alone = guard.concurrent_runs(ME, runs[:1], REFS, stale_after=600, now=NOW,
                                  progress=progress)
    assert alone["older"] == [] and alone["message"].startswith("Execution(s) lost")


def test_a_run_whose_progress_was_not_read_blocks():
    runs = [run("old", "2026-12-03 08:40:00")]
    assert guard.concurrent_runs(ME, runs, REFS, stale_after=600, now=NOW)["older"] == ["old"]


@pytest.mark.parametrize("bad", [0, -5, "soon", True, None])
def test_bad_stale_after_is_a_clear_error(bad):
    with pytest.raises(guard.GuardError, match="stale_after must be a number of seconds > 0"):
        guard.concurrent_runs(ME, [], REFS, stale_after=bad, now=NOW)


def test_a_bad_time_is_a_clear_error():
    with pytest.raises(guard.GuardError, match="created_at 'yesterday' is not a time"):
        guard.concurrent_runs(ME, [run("a", "yesterday")], REFS, now=NOW)
