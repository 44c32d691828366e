"""The fault suite's own verdicts (tests/faults/faultlib.py): a row's outcome comes from
what Mistral recorded, a refusal counts only with a reason and a report, and the two
tables keep faults and load apart."""

import os
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "functional"))
sys.path.insert(0, os.path.join(TESTS, "faults"))

import faultlib  # noqa: E402


def ended(state, info=None):
    return {"state": state, "state_info": info}


FAILED = {"status": "failed", "message": "Stack 'x' not found."}


def test_a_refusal_needs_a_reason_and_a_report():
    assert faultlib.clear_error(ended("ERROR", "Stack 'x' not found."), FAILED)
    assert not faultlib.clear_error(ended("ERROR", "Stack 'x' not found."), {})
    assert not faultlib.clear_error(ended("ERROR", "boom"), {"status": "failed"})
    assert not faultlib.clear_error(ended("ERROR", "boom"), dict(FAILED, message=None))
    assert not faultlib.clear_error(ended("ERROR", ""), FAILED)
    assert not faultlib.clear_error(ended("ERROR", "Traceback (most recent call last)"),
                                    FAILED)
    assert not faultlib.clear_error(ended("SUCCESS", "x"), FAILED)


def test_each_end_is_counted_as_what_mistral_recorded():
    quiet = ("skipped", "already_healed")
    kind = faultlib.kind_of_end
    assert kind(ended("SUCCESS"), {"status": "replaced"}, quiet) == "replaced"
    assert kind(ended("SUCCESS"), {"status": "skipped"}, quiet) == "quiet"
    assert kind(ended("SUCCESS"), {"status": "ignored"}, quiet) == "other"
    assert kind(ended("SUCCESS"), {}, quiet) == "other"
    assert kind(ended("ERROR", "Stack 'x' not found."), FAILED, quiet) == "refused"
    assert kind(ended("ERROR", "x"), {}, quiet) == "other"


def test_only_the_reconcile_loops_own_heal_makes_a_row_healed_by_the_loop():
    assert faultlib.HEALED_BY_LOOP != faultlib.HEALED
    assert faultlib.outcome_of(ended("SUCCESS"), {"status": "replaced"}) == faultlib.HEALED
    assert faultlib.outcome_of(ended("SUCCESS"), {"status": "already_healed"}) == \
        "already_healed"
    assert faultlib.outcome_of(ended("ERROR", "x"), {}) == "error-without-reason"

    class Mistral:
        """Mistral's record: a run started by hand (no loop description), another stack's
        loop heal, and the loop's heal of this stack, which ended the lost run."""
        executions_listed = [
            {"id": "by-hand", "description": "", "input": '{"stack": "s-1"}'},
            {"id": "other", "description": faultlib.LOOP_STARTED + "l-0: x",
             "input": '{"stack": "s-2"}'},
            {"id": "heal", "description": faultlib.LOOP_STARTED + "l-1: group: a failed",
             "input": '{"stack": "s-1"}'}]

        def get(self, url, **params):
            return {"executions": self.executions_listed}

        def wait(self, execution_id, timeout):
            assert execution_id == "heal"
            return {"state": "SUCCESS"}, {"report": {"status": "replaced"}}

        def execution(self, execution_id):
            return {"state": "ERROR", "state_info": "Ended by heal after no progress for "
                    "95 s: %s (an engine died under it)" % faultlib.ENDED_AS_LOST}

    run = faultlib.FaultRun(Mistral(), None, "engine killed", faultlib.HEALED, [])
    execution, report = run.healed_by_the_loop("lost", faultlib.LOST_RUNNING,
                                               "ha.v1.replace_member", "s-1")
    assert run.outcome == faultlib.HEALED_BY_LOOP and run.executions == ["heal"]
    assert "the loop started heal" in run.injected


def test_faults_and_load_are_two_tables():
    rows = [
        {"kind": "fault", "fault": "heat-engine restarted", "injected": "after wait",
         "expected": "healed", "outcome": "healed", "seconds": 12.3, "invariants": "held",
         "ok": True},
        {"kind": "load", "fault": "10 at once", "injected": "10 starts at once",
         "started": 10, "accepted": 10, "replaced": 1, "quiet": 9, "refused": 0, "other": 0,
         "expected": "held", "outcome": "held", "seconds": 30.0, "invariants": "held",
         "ok": True},
        {"kind": "fault", "fault": "engine killed", "injected": "after mark",
         "expected": "healed or healed by the reconcile loop",
         "outcome": "lost by Mistral: left RUNNING with no task moving", "seconds": None,
         "invariants": "held", "ok": False},
    ]
    text = faultlib.format_table(rows)
    faults, load = text.split("Load and bad input held")
    assert "heat-engine restarted" in faults and "engine killed" in faults
    assert "10 at once" in load and "heat-engine" not in load
    assert "refused with a reason" in load
    assert text.splitlines()[-1] == (
        "2 fault(s), 1 load row(s): 2 as expected, 1 not: engine killed")


def test_the_watcher_reads_a_groups_health_in_two_calls():
    """Members are the group's nested resources; their servers are nested a level further
    (member_server.yaml) or the members themselves; healthy = every server ACTIVE."""
    import requests_mock

    import fake_cloud

    heat, nova = "https://heat.example.com/v1/p-1", "https://nova.example.com/v2.1"
    conn = fake_cloud.connection("tok", "p-1", {"orchestration": heat, "compute": nova})
    resources = [
        {"resource_name": "group", "resource_type": "OS::Heat::AutoScalingGroup"},
        {"resource_name": "m1", "resource_type": "member_server.yaml",
         "parent_resource": "group"},
        {"resource_name": "m2", "resource_type": "member_server.yaml",
         "parent_resource": "group"},
        {"resource_name": "m3", "resource_type": "OS::Nova::Server",
         "parent_resource": "group", "physical_resource_id": "s3"},
        {"resource_name": "server", "resource_type": "OS::Nova::Server",
         "parent_resource": "m1", "physical_resource_id": "s1"},
        {"resource_name": "server", "resource_type": "OS::Nova::Server",
         "parent_resource": "m2", "physical_resource_id": "s2"},
        {"resource_name": "other", "resource_type": "OS::Nova::Server",
         "parent_resource": "elsewhere", "physical_resource_id": "s9"}]
    with requests_mock.Mocker() as mocker:
        mocker.get(heat + "/stacks/app/id-1/resources", json={"resources": resources})
        mocker.get(nova + "/servers/detail", json={"servers": [
            {"id": "s1", "status": "ACTIVE"}, {"id": "s2", "status": "ERROR"},
            {"id": "s3", "status": "ACTIVE"}, {"id": "s9", "status": "ACTIVE"}]})
        assert faultlib.group_health(conn, "app/id-1", "group") == (3, 2)
        assert mocker.request_history[0].qs["nested_depth"] == ["2"]
        assert len(mocker.request_history) == 2


def test_the_clouds_fixture_never_shows_a_password():
    """pytest prints a failing test's fixtures (seen in a CI log: the devcloud fixture's
    passwords, half elided); the clouds.yaml entries are shown by name only."""
    import devcloud_fixtures  # noqa: E402 - on the path set above

    clouds = devcloud_fixtures.Clouds({"devcloud": {"auth": {"password": "s3cret-pw"}}})
    assert repr(clouds) == "<clouds devcloud (passwords not shown)>"
    assert "s3cret-pw" not in str(clouds)
    assert clouds["devcloud"]["auth"]["password"] == "s3cret-pw"


def test_the_upload_lock_is_taken_again_by_its_holder_and_kept_from_other_processes(
        tmp_path, monkeypatch):
    """test_cli.py holds it across its 99.0.0 window and uploads inside it; another
    pytest worker (a process) waits until the window ends."""
    import subprocess

    import devcloud_fixtures  # noqa: E402 - on the path set above

    monkeypatch.setattr(devcloud_fixtures, "STATE", str(tmp_path))
    probe = ("import fcntl, sys; f = open(sys.argv[1], 'w')\n"
             "try: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
             "except BlockingIOError: sys.exit(1)")

    def free_for_another_process():
        return subprocess.run([sys.executable, "-c", probe,
                               str(tmp_path / "workflow-upload.lock")]).returncode == 0

    with devcloud_fixtures.one_upload_at_a_time():
        with devcloud_fixtures.one_upload_at_a_time():  # an upload in the window
            assert not free_for_another_process()
        assert not free_for_another_process()
    assert free_for_another_process()
