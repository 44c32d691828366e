"""``openstack ha`` (the pack's OSC plugin): the real ``openstack`` entry point of this
venv, run in a subprocess as the member user."""

import json
import time

import pytest
from devcloud_fixtures import StackFactory, one_upload_at_a_time
from groups import changed, create_pair, example, members, patch_and_wait, volume_servers

from ha_actions import version
from ha_actions.cli import pack

# The pack tests change the workflows' tags in Mistral: one worker runs this file in order.
pytestmark = [pytest.mark.functional, pytest.mark.xdist_group("cli")]
SUB_WORKFLOWS = (": ha.v1.replace_member_batch.", ": ha.v1.update_stack.")
@pytest.fixture(scope="module")
def installed(osc, devcloud, pack_workflows):
    """The pack installed with ``openstack ha pack install --update``; its rows. After
    pack_workflows (this repository's untagged copies), never before it."""
    with one_upload_at_a_time():
        return osc.json("ha", "pack", "install", "--update")


@pytest.fixture(scope="module")
def asg(conn, installed):
    """An ASG of 2 servers created a second apart (so one is the oldest)."""
    factory = StackFactory(conn)
    try:
        template, files = example("asg_of_servers.yaml", "member_server.yaml")
        body = factory.create(template, parameters={"size": 1}, files=files)
        time.sleep(1.1)  # creation_time has one-second resolution
        yield patch_and_wait(conn, body, {"size": 2})
    finally:
        factory.cleanup()


def test_pack_install_tags_every_workflow_and_show_says_so(osc, installed):
    tag = "ha-actions-" + version.pack_version()
    names = sorted(n for t in pack.workflow_files().values() for n in pack.workflow_names(t))
    assert sorted(r["Workflow"] for r in installed) == names
    assert {r["Tag"] for r in installed} == {tag}
    shown = {r["Workflow"]: r for r in osc.json("ha", "pack", "show")}
    assert sorted(shown) == names
    for row in shown.values():
        assert row["Installed"] == row["In Mistral"] == version.pack_version(), row


def test_newer_workflows_in_mistral_are_refused_and_left_alone(osc, installed, mistral,
                                                              tmp_path):
    text = pack.workflow_files()["update_stack.yaml"]
    newer = tmp_path / "update_stack.yaml"
    newer.write_text(pack.tagged(text, "99.0.0"))
    current = tmp_path / "current.yaml"
    current.write_text(pack.tagged(text, version.pack_version()))
    # The lock of every upload (and of the other workers' pack installs) is held until
    # the current tag is back: no one else meets 99.0.0 or changes it meanwhile.
    with one_upload_at_a_time():
        mistral.upload(str(newer))
        try:
            proc = osc.run("ha", "pack", "install", "--update")
            assert proc.returncode == 1, proc.stderr
            assert "newer" in proc.stderr and "ha.v1.update_stack 99.0.0" in proc.stderr
            assert "Nothing was uploaded" in proc.stderr
            shown = {r["Workflow"]: r for r in osc.json("ha", "pack", "show")}
            assert shown["ha.v1.update_stack"]["In Mistral"] == "99.0.0"
        finally:
            mistral.upload(str(current))
    shown = {r["Workflow"]: r for r in osc.json("ha", "pack", "show")}
    assert shown["ha.v1.update_stack"]["In Mistral"] == version.pack_version()


def test_member_replace_wait_heals_the_oldest_and_reports_it(conn, osc, asg):
    before = members(conn, asg["id"])
    oldest = min(before, key=lambda n: before[n]["creation_time"])
    proc = osc.run("ha", "member", "replace", asg["stack_name"], "--strategy", "oldest",
                   "--force", "--wait", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["execution_state"] == "SUCCESS" and got["status"] == "replaced", got
    assert [r["name"] for r in got["replaced"]] == [oldest]
    assert changed(before, members(conn, asg["id"])) == [oldest]
    # not a TTY: plain lines, one per running task, the last one the end state
    lines = proc.stderr.strip().splitlines()
    assert "\r" not in proc.stderr and len(lines) >= 3, proc.stderr
    assert all(line.startswith(got["execution_id"]) for line in lines), lines
    # the tasks of the sub-workflows (the batch, the stack update) are followed too
    assert any(sub in line for line in lines for sub in SUB_WORKFLOWS), lines
    assert lines[-1].split()[1] == "SUCCESS"
    # execution show / list tell the same
    shown = osc.json("ha", "execution", "show", got["execution_id"])
    assert shown["status"] == "replaced" and shown["replaced"] == got["replaced"]
    rows = osc.json("ha", "execution", "list", "--stack", asg["stack_name"])
    assert [(r["ID"], r["Status"]) for r in rows] == [(got["execution_id"], "replaced")]


def test_member_replace_wait_on_a_tty_updates_one_line(conn, osc, asg):
    before = members(conn, asg["id"])
    code, out = osc.run_tty("ha", "member", "replace", asg["stack_name"], "--strategy",
                            "newest", "--force", "--wait", "-c", "status", "-c", "replaced")
    assert code == 0, out
    progress = out[:out.index("+")]  # the table starts with its border
    assert progress.count("\r") >= 3 and progress.count("\n") <= 2, repr(progress)
    assert any(sub in progress for sub in SUB_WORKFLOWS) and "| replaced" in out
    assert len(changed(before, members(conn, asg["id"]))) == 1


def test_a_failed_run_exits_non_zero_and_says_why(osc, installed):
    proc = osc.run("ha", "member", "replace", "no-such-stack-ft", "--wait", "-f", "json")
    assert proc.returncode == 1, proc.stderr
    got = json.loads(proc.stdout)
    assert got["execution_state"] == "ERROR" and got["status"] == "failed"
    assert "no-such-stack-ft" in got["error"], got


def test_member_without_specific_strategy_is_refused_before_anything_starts(osc, installed):
    proc = osc.run("ha", "member", "replace", "any", "--strategy", "oldest", "--member", "x")
    assert proc.returncode == 1
    assert "--member goes with --strategy specific" in proc.stderr


def test_volume_failover_wait_moves_the_volume_and_again_is_refused_by_the_cooldown(
        conn, osc, installed, stacks):
    body, servers, volume_ids = create_pair(conn, stacks)
    proc = osc.run("ha", "volume", "failover", body["stack_name"], "--wait", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["execution_state"] == "SUCCESS" and got["status"] == "failed_over", got
    assert got["new_active"] == {"name": "server_b", "id": servers["server_b"]}
    assert volume_servers(conn, volume_ids[0]) == ("in-use", [servers["server_b"]])
    # The fenced server_a started again (the pair could fail back; --restore, which
    # builds a new one, has its own test), then straight back: the cooldown holds it
    # (exit 1, nothing moved) unless --allow-skipped.
    conn.compute.start_server(servers["server_a"])
    conn.compute.wait_for_server(conn.compute.get_server(servers["server_a"]),
                                 status="ACTIVE", wait=120)
    proc = osc.run("ha", "volume", "failover", body["stack_name"], "--wait", "-f", "json")
    assert proc.returncode == 1, proc.stderr
    held = json.loads(proc.stdout)
    assert held["status"] == "cooldown" and "Cooldown, nothing changed" in held["message"]
    assert volume_servers(conn, volume_ids[0]) == ("in-use", [servers["server_b"]])
    proc = osc.run("ha", "volume", "failover", body["stack_name"], "--wait", "--allow-skipped",
                   "-f", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["status"] == "cooldown"
