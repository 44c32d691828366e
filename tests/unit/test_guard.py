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
    assert got == {"older": [], "younger": [], "blocking": [], "stale": [], "message": ""}


def test_same_second_lower_id_blocks_and_every_stack_name_counts():
    runs = [run("a", "2026-12-03 08:59:30", stack="id-1"), run("b", "2026-12-03T08:59:10Z",
                                                                stack="web/id-1")]
    assert guard.concurrent_runs(ME, runs, REFS, now=NOW)["older"] == ["a", "b"]


def test_a_dry_run_is_never_blocked():
    me = dict(ME, dry_run=True)
    assert guard.concurrent_runs(me, [run("a", "2026-12-03 08:59:00")], REFS, now=NOW)[
        "older"] == []


def test_younger_rivals_are_the_later_runs_on_the_same_stack():
    runs = [ME, run("z", "2026-12-03 08:59:30"), run("y", "2026-12-03 08:59:45"),
            run("a", "2026-12-03 08:59:00"), run("o", "2026-12-03 08:59:40", stack="other"),
            run("d", "2026-12-03 08:59:40", dry_run=True)]
    assert guard.younger_rivals(ME, runs, REFS) == ["z", "y"]
    assert guard.younger_rivals(dict(ME, dry_run=True), runs, REFS) == []


MEMBERS = [{"name": "m-1", "physical_id": "nested-1", "server_ids": ["srv-1"]},
           {"name": "m-2", "physical_id": "nested-2", "server_ids": ["srv-2"]}]


def alarm_run(ex_id, created_at, member):
    """An alarm's run (on_alarm hands replace_member the server, not_a_member ignore)."""
    return dict(run(ex_id, created_at), member=member, not_a_member="ignore")


def test_an_alarm_run_about_a_server_of_no_member_neither_blocks_nor_is_blocked():
    # One alarm fires for every stack of the project: a host failure starts a run about
    # another stack's server for this stack too; it ends 'ignored' and changes nothing.
    stranger = alarm_run("a", "2026-12-03 08:59:00", "srv-of-another-stack")
    got = guard.concurrent_runs(ME, [stranger], REFS, now=NOW, members=MEMBERS)
    assert got["blocking"] == [] and got["message"] == ""
    assert guard.younger_rivals(stranger, [ME], REFS, MEMBERS) == []
    assert guard.concurrent_runs(stranger, [ME], REFS, now=NOW, members=MEMBERS)[
        "blocking"] == []
    # Without the members (an older guard input, or failover_volume) it blocks as before.
    assert guard.concurrent_runs(ME, [stranger], REFS, now=NOW)["older"] == ["a"]


@pytest.mark.parametrize("member", ["srv-1", "m-1", "nested-2"])
def test_an_alarm_run_about_a_member_by_any_of_its_names_blocks(member):
    got = guard.concurrent_runs(ME, [alarm_run("a", "2026-12-03 08:59:00", member)], REFS,
                                now=NOW, members=MEMBERS)
    assert got["older"] == ["a"]


def test_a_run_that_fails_on_a_stranger_still_blocks():
    # not_a_member 'fail' (an operator's typo): it ends failed, and is not second-guessed.
    typo = dict(run("a", "2026-12-03 08:59:00"), member="no-such", not_a_member="fail")
    assert guard.concurrent_runs(ME, [typo], REFS, now=NOW, members=MEMBERS)["older"] == ["a"]


def test_a_rival_that_left_a_stranger_out_did_not_count_it_older():
    stranger = alarm_run("a", "2026-12-03 08:59:00", "srv-of-another-stack")
    young = run("z", "2026-12-03 08:59:31")
    assert guard.counts_me_as_older("a", dict(recorded(young, stranger),
                                             members=MEMBERS)) is False
    assert guard.counts_me_as_older("a", recorded(young, stranger)) is True


def recorded(me, *running):
    """What a rival's check_concurrency handed ha.concurrent_runs."""
    return {"me": me, "running": [me] + list(running), "stack_refs": REFS}


def test_a_rival_that_listed_me_older_yields_to_me_one_that_did_not_goes_on():
    young = run("z", "2026-12-03 08:59:31")
    assert guard.counts_me_as_older("m", recorded(young, ME)) is True
    assert guard.counts_me_as_older("m", recorded(young)) is False
    # Listed, but as another stack's run: it did not count me.
    assert guard.counts_me_as_older("m", recorded(young, dict(ME, stack="other"))) is False
    with pytest.raises(guard.GuardError, match="recorded guard input is not"):
        guard.counts_me_as_older("m", {"me": young})


def test_a_younger_run_that_did_not_see_me_blocks_me_one_that_did_not():
    got = guard.concurrent_runs(ME, [run("z", "2026-12-03 08:59:31")], REFS, now=NOW,
                                seen_me={"z": False})
    assert got["older"] == [] and got["younger"] == ["z"] and got["blocking"] == ["z"]
    assert ("Skipped, nothing changed: execution(s) z of ha.v1.replace_member, started at "
            "the same time, did not see this one" in got["message"])
    assert guard.concurrent_runs(ME, [run("z", "2026-12-03 08:59:31")], REFS, now=NOW,
                                 seen_me={"z": True})["blocking"] == []


def test_two_runs_that_miss_each_other_in_one_direction_let_exactly_one_go_on():
    # "a" committed late: "m" looked before it and missed it; "a" then saw "m".
    older = run("a", "2026-12-03 08:59:30")
    me_view = guard.concurrent_runs(ME, [ME], REFS, now=NOW)
    older_view = guard.concurrent_runs(
        older, [older, ME], REFS, now=NOW,
        seen_me={"m": guard.counts_me_as_older("a", recorded(ME))})
    assert me_view["blocking"] == [] and older_view["blocking"] == ["m"]


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


# --- cooldown and flapping limit ---------------------------------------------------------

def ended(ex_id, updated_at, replaced=(), status="replaced", stack="web", also=()):
    report = {"status": status, "replaced": [{"name": n} for n in replaced],
              "also_replaced": [{"name": n} for n in also]}
    return {"id": ex_id, "state": "SUCCESS", "updated_at": updated_at, "stack": stack,
            "report": report}


def history(runs, slots=("m-1",), **limits):
    return guard.heal_history("m", runs, REFS, list(slots) if slots else None, now=NOW,
                              **limits)


def test_no_heal_in_the_window_lets_the_run_go_on():
    got = history([ended("a", "2026-12-03 07:00:00", ["m-1"])], heal_window=3600)
    assert got["status"] == "ok" and got["heals_in_window"] == {"m-1": []}
    assert got["last_heal"] == {"id": "a", "ended_at": "2026-12-03 07:00:00", "ago_s": 7200}


def test_a_heal_of_the_stack_within_the_cooldown_holds_the_run_back():
    got = history([ended("a", "2026-12-03 08:59:20", ["m-2"])], cooldown=60)
    assert got["status"] == "cooldown"
    assert got["message"] == (
        "Cooldown, nothing changed: execution a healed this stack 40 s ago (ended "
        "2026-12-03 08:59:20 UTC) and the cooldown is 60 s. Run again in 20 s, or with "
        "force: true.")


def test_cooldown_zero_and_an_older_heal_do_not_hold_back():
    runs = [ended("a", "2026-12-03 08:59:20", ["m-2"])]
    assert history(runs, cooldown=0)["status"] == "ok"
    assert history(runs, cooldown=30)["status"] == "ok"


def test_the_same_member_healed_max_heals_times_in_the_window_is_flapping():
    runs = [ended("a", "2026-12-03 08:40:00", ["m-1"]), ended("b", "2026-12-03 08:50:00", [],
                                                              also=["m-1"]),
            ended("c", "2026-12-03 08:55:00", ["m-2"])]
    got = history(runs, max_heals=2, heal_window=1800, cooldown=0)
    assert got["status"] == "flapping"
    assert got["heals_in_window"] == {"m-1": ["b", "a"]}
    assert got["message"].startswith(
        "Flapping, nothing changed: member m-1 was healed 2 times in the last 1800 s "
        "(executions b, a; max_heals is 2 per heal_window).")
    assert "look at the application" in got["message"] and "force: true" in got["message"]
    # Another member of the same stack is not flapping (but the cooldown still counts).
    assert history(runs, slots=["m-3"], max_heals=2, cooldown=0)["status"] == "ok"


def test_flapping_wins_over_the_cooldown_and_force_bypasses_both():
    runs = [ended(x, "2026-12-03 08:59:%02d" % i, ["m-1"]) for i, x in enumerate("abc")]
    assert history(runs, max_heals=3, cooldown=60)["status"] == "flapping"
    forced = history(runs, max_heals=3, cooldown=60, force=True)
    assert forced["status"] == "ok"
    assert forced["message"] == ("force: true: the pause, the cooldown and the flapping "
                                 "limit were not applied.")


def test_a_paused_stack_holds_every_run_back_unless_force():
    pause = {"paused_at": "2026-12-03 08:00:00", "reason": None}
    got = history([], paused=pause)
    assert got["status"] == "paused"
    assert got["message"] == (
        "Paused, nothing changed: stack %s was paused at 2026-12-03 08:00:00 UTC (openstack "
        "ha pause). Resume it with 'openstack ha resume %s', or run again with force: "
        "true." % (REFS[-1], REFS[-1]))
    # The pause comes before the flapping limit; force applies none of them.
    runs = [ended(x, "2026-12-03 08:59:%02d" % i, ["m-1"]) for i, x in enumerate("abc")]
    assert history(runs, max_heals=3, paused=pause)["status"] == "paused"
    assert history(runs, max_heals=3, paused=pause, force=True)["status"] == "ok"


def test_failovers_count_for_the_stack_as_a_whole():
    runs = [ended("a", "2026-12-03 08:30:00", status="failed_over"),
            ended("b", "2026-12-03 08:45:00", status="failed_over"),
            ended("c", "2026-12-03 08:50:00", status="already_active")]
    got = history(runs, slots=None, max_heals=2, cooldown=0)
    assert got["status"] == "flapping" and got["heals_in_window"] == {"the stack": ["b", "a"]}
    assert "the stack was healed 2 times" in got["message"]


@pytest.mark.parametrize("other", [
    ended("x", "2026-12-03 08:59:50", [], status="failed"),         # replaced nothing
    ended("x", "2026-12-03 08:59:50", [], status="already_healed"),
    ended("x", "2026-12-03 08:59:50", ["m-1"], stack="other"),       # another stack
    dict(ended("x", "2026-12-03 08:59:50", ["m-1"]), report=None),  # lost: no output
    ended("m", "2026-12-03 08:59:50", ["m-1"]),                       # itself
])
def test_runs_that_healed_nothing_here_are_no_heals(other):
    got = history([other], max_heals=1, cooldown=60)
    assert got["status"] == "ok" and got["last_heal"] is None


def test_a_failed_run_that_replaced_a_member_is_a_heal():
    run_ = dict(ended("x", "2026-12-03 08:59:50", ["m-1"], status="failed"), state="ERROR")
    assert history([run_], cooldown=60)["status"] == "cooldown"


def test_a_younger_rival_that_missed_me_blocks_me_only_once_it_went_on():
    young = run("z", "2026-12-03 08:59:31")
    went, yielded = {"guard": {"blocking": []}}, {"guard": {"blocking": ["y"]}}
    assert guard.younger_verdict("m", recorded(young, ME)) is True
    assert guard.younger_verdict("m", recorded(young), went) is False
    assert guard.younger_verdict("m", recorded(young), yielded) is None
    assert guard.younger_verdict("m", recorded(young)) is False  # not answered yet
    # An answer that is no guard's (its action failed) is no answer.
    assert guard.went_on("Heartbeat wasn't received.") is None
    assert guard.went_on({"next": "report"}) is None
    assert guard.went_on({"blocking": []}) is True  # check_concurrency (older releases)
    got = guard.concurrent_runs(ME, [ME, young], REFS, now=NOW, seen_me={"z": None})
    assert got["blocking"] == [] and got["message"] == ""
