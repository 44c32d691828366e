"""The pure parts of ``openstack ha`` (ha_actions.cli): progress, exit code, report table,
version tags, the packaged workflows."""

import io
import json
import os
import pathlib

import pytest
import yaml
from osc_lib import exceptions

from ha_actions import version
from ha_actions.cli import pack, report

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def task(name, state, created, wf="ha.v1.replace_member"):
    return {"id": name, "name": name, "state": state, "created_at": created,
            "workflow_name": wf}


def test_running_task_is_the_newest_active_one_across_sub_workflows():
    tasks = [task("select", "SUCCESS", "2026-01-01 10:00:00"),
             task("batch", "RUNNING", "2026-01-01 10:00:01"),
             task("wait_update", "RUNNING_DELAYED", "2026-01-01 10:00:05", "ha.v1.update_stack"),
             task("old", "ERROR", "2026-01-01 10:00:09")]
    assert report.task_label(report.running_task(tasks)) == "ha.v1.update_stack.wait_update"
    assert report.running_task([tasks[0], tasks[3]]) is None


def test_running_task_is_the_sub_workflows_action_not_the_task_waiting_for_it():
    parent = dict(task("run_batch", "RUNNING", "2026-01-01 10:00:01"), type="WORKFLOW")
    child = dict(task("wait", "RUNNING", "2026-01-01 10:00:01", "ha.v1.update_stack"),
                 id="0", type="ACTION")
    assert report.task_label(report.running_task([parent, child])) == "ha.v1.update_stack.wait"


def test_progress_on_a_tty_rewrites_one_line():
    out = io.StringIO()
    progress = report.Progress(out, tty=True)
    progress.update("ex1", "RUNNING", task("select_members", "RUNNING", "t"), 1.2)
    progress.update("ex1", "RUNNING", None, 3)
    progress.done()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    first, second = text.split("\r")[1:]
    assert first == "ex1 RUNNING 1s: ha.v1.replace_member.select_members"
    # the shorter line is padded so nothing of the longer one stays visible
    assert second.rstrip("\n") == "ex1 RUNNING 3s".ljust(len(first))


def test_progress_off_a_tty_prints_a_line_only_when_the_task_changes():
    out = io.StringIO()
    progress = report.Progress(out, tty=False)
    for elapsed, name in ((0, "a"), (2, "a"), (4, "b"), (6, "b")):
        progress.update("ex1", "RUNNING", task(name, "RUNNING", "t"), elapsed)
    progress.update("ex1", "SUCCESS", None, 8)
    progress.done()
    assert out.getvalue().splitlines() == [
        "ex1 RUNNING 0s: ha.v1.replace_member.a", "ex1 RUNNING 4s: ha.v1.replace_member.b",
        "ex1 SUCCESS 8s"]
    assert "\r" not in out.getvalue()


@pytest.mark.parametrize("state, status, allow_skipped, code", [
    ("SUCCESS", "replaced", False, 0),
    ("SUCCESS", "already_healed", False, 0),
    ("SUCCESS", "failed", True, 1),
    ("SUCCESS", "skipped", False, 1),
    ("SUCCESS", "skipped", True, 0),
    ("SUCCESS", "cooldown", False, 1),
    ("SUCCESS", "held", False, 1),
    ("SUCCESS", "paused", False, 1),
    ("SUCCESS", "paused", True, 0),
    ("SUCCESS", "recovered", False, 0),
    ("ERROR", "failed", False, 1),
    ("ERROR", None, True, 1),
    ("CANCELLED", "replaced", False, 1),
])
def test_exit_code(state, status, allow_skipped, code):
    ex = {"state": state, "output": {"report": {"status": status}} if status else {}}
    assert report.exit_code(ex, allow_skipped) == code


def test_report_table_puts_status_first_and_keeps_values_for_json():
    replaced = [{"name": "m1", "old_physical_id": "a", "new_physical_id": "b"}]
    ex = {"id": "ex1", "workflow_name": "ha.v1.replace_member", "state": "SUCCESS",
          "output": {"report": {"zeta": 1, "replaced": replaced, "status": "replaced",
                                "execution_id": "ex1", "message": "done"}}}
    cols, values = report.report_table(ex)
    assert cols == ("execution_id", "workflow", "execution_state", "status", "message",
                    "replaced", "zeta")
    by_col = dict(zip(cols, values))
    assert by_col["replaced"].machine_readable() == replaced
    assert json.loads(by_col["replaced"].human_readable()) == replaced
    assert by_col["status"].human_readable() == "replaced"


def test_report_table_of_an_execution_without_report_shows_state_info():
    cols, values = report.report_table({"id": "e", "state": "ERROR", "state_info": "boom",
                                        "output": {}})
    assert cols[-1] == "state_info" and values[-1].human_readable() == "boom"


def test_list_row():
    ex = {"id": "e", "workflow_name": "ha.v1.replace_member", "state": "SUCCESS",
          "input": {"stack": "web"}, "created_at": "c",
          "output": {"report": {"status": "replaced", "message": "x" * 300}}}
    row = report.list_row(ex)
    assert row[:5] == ("e", "ha.v1.replace_member", "web", "SUCCESS", "replaced")
    assert len(row[6]) == 120


def test_release_and_version_compare():
    assert version.release("1.0.0.dev43") == "1.0.0"
    assert version.release("2.1.0rc1") == "2.1.0"
    with pytest.raises(ValueError):
        version.release("v1")
    assert pack.version_key("1.10.0") > pack.version_key("1.9.3")
    assert pack.tag_version(["ha-actions", "ha-actions-v1", "ha-actions-1.2.0"]) == "1.2.0"
    assert pack.tag_version(["ha-actions", "ha-actions-v1"]) is None
    workflows = {"a": {"tags": ["ha-actions-1.1.0"]}, "b": {"tags": ["ha-actions-0.9.0"]},
                 "c": {"tags": ["ha-actions-v1"]}, "d": {"tags": None}}
    assert pack.newer_in_mistral(workflows, "1.0.0") == {"a": "1.1.0"}


def test_installed_version_is_setup_cfg_s():
    with open(os.path.join(REPO, "setup.cfg")) as f:
        line = next(x for x in f if x.startswith("version"))
    assert version.pack_version() == line.split("=")[1].strip()


def test_packaged_workflows_resolve_from_the_installed_package():
    files = pack.workflow_files()
    assert sorted(files) == sorted(f for f in os.listdir(os.path.join(REPO, "workflows"))
                                   if f.endswith(".yaml"))


def test_workflow_dir_of_a_regular_install_is_the_record_s_data_files(tmp_path):
    share = tmp_path / "share" / "ha-actions" / "workflows"
    share.mkdir(parents=True)
    (share / "x.yaml").write_text("version: '2.0'\n")

    class Dist:
        files = [pathlib.PurePosixPath("../../../share/ha-actions/workflows/x.yaml")]

        def locate_file(self, path):
            return tmp_path / "lib" / "py" / "site" / path

        def read_text(self, name):
            return None
    (tmp_path / "lib" / "py" / "site").mkdir(parents=True)
    assert pack.workflow_dir(Dist()) == str(share)


def test_every_workflow_is_tagged_with_the_version_and_nothing_else_changes():
    for text in pack.workflow_files().values():
        out = pack.tagged(text, "7.0.0")
        before, after = yaml.safe_load(text), yaml.safe_load(out)
        for name in pack.workflow_names(text):
            assert after[name]["tags"] == before[name]["tags"] + ["ha-actions-7.0.0"]
            after[name]["tags"] = before[name]["tags"]
        assert after == before
        assert out.count("\n") == text.count("\n")  # comments kept


def test_tagging_refuses_a_file_it_cannot_tag():
    with pytest.raises(exceptions.CommandError, match="cannot tag workflows"):
        pack.tagged("version: '2.0'\nwf:\n  tags: [other]\n  tasks: {}\n", "1.0.0")


def test_action_modules_do_not_import_the_cli():
    for name in os.listdir(os.path.join(REPO, "actions", "ha_actions")):
        if name.endswith(".py"):
            with open(os.path.join(REPO, "actions", "ha_actions", name)) as f:
                text = f.read()
            assert "ha_actions.cli" not in text and "osc_lib" not in text, name


class RecordingClient:
    """What the commands hand to Mistral (client_manager.ha), recorded."""

    def __init__(self):
        self.started = []

    def start(self, workflow, inputs, description=""):
        self.started.append((workflow, inputs))
        return {"id": "ex-1", "state": "RUNNING", "output": {}, "state_info": None}


def started_by(command_class, argv):
    from unittest import mock

    from ha_actions.cli import commands

    app = mock.Mock()
    app.client_manager.ha = RecordingClient()
    cmd = getattr(commands, command_class)(app, None)
    cmd.take_action(cmd.get_parser("openstack ha").parse_args(argv))
    return app.client_manager.ha.started


def test_volume_failover_passes_its_options_and_nothing_unset():
    assert started_by("VolumeFailover", ["pair", "--restore", "--dead-host-policy",
                                         "delete_server", "--standby", "server_b"]) == [
        ("ha.v1.failover_volume", {"stack": "pair", "standby": "server_b",
                                   "dead_host_policy": "delete_server", "restore": True})]
    assert started_by("VolumeFailover", ["pair"]) == [("ha.v1.failover_volume",
                                                       {"stack": "pair"})]


def test_member_replace_passes_its_options_and_nothing_unset():
    assert started_by("MemberReplace", ["ha-demo", "--member", "m-1", "--force",
                                        "--timeout", "60"]) == [
        ("ha.v1.replace_member", {"stack": "ha-demo", "strategy": "specific",
                                  "member": "m-1", "force": True, "timeout": 60})]


def test_member_replace_passes_the_recovery_and_the_hold():
    assert started_by("MemberReplace", ["ha-demo", "--recovery", "ladder", "--rung-timeout",
                                        "30", "--max-failed-fraction", "0.75"]) == [
        ("ha.v1.replace_member", {"stack": "ha-demo", "recovery": "ladder",
                                  "rung_timeout": 30, "max_failed_fraction": 0.75})]
    with pytest.raises(SystemExit):  # argparse: invalid choice, says which ones
        started_by("MemberReplace", ["ha-demo", "--recovery", "restart"])


def test_a_watch_row_shows_the_loops_options():
    from ha_actions.cli import watch
    trigger = {"name": "ha-watch-web", "pattern": "* * * * * */20",
               "next_execution_time": "2026-12-06 21:00:20",
               "workflow_input": {"stack": "sid", "options": {"recovery": "ladder"}}}
    row = dict(zip(watch.COLUMNS, watch.trigger_row(trigger)))
    assert row == {"name": "ha-watch-web", "stack": "sid", "every_s": 20,
                   "pattern": "* * * * * */20", "stale_after": 120,
                   "options": {"recovery": "ladder"},
                   "next_execution_time": "2026-12-06 21:00:20"}
    trigger["workflow_input"] = {"stack": "sid", "stale_after": 60}
    assert dict(zip(watch.COLUMNS, watch.trigger_row(trigger)))["options"] == {}


def test_watch_every_is_a_part_of_a_minute_or_whole_minutes_and_reads_back():
    from ha_actions.cli import watch
    for every, pattern in ((10, "* * * * * */10"), (20, "* * * * * */20"),
                           (30, "* * * * * */30"), (60, "* * * * *"),
                           (300, "*/5 * * * *"), (3600, "0 * * * *")):
        assert watch.pattern_for(every) == pattern
        assert watch.every_of(pattern) == every
    for bad in (0, 5, 25, 45, 90, 3660):
        with pytest.raises(exceptions.CommandError, match="10, 15, 20 or 30 seconds, or whole "
                                                          "minutes between 60 and 3600"):
            watch.pattern_for(bad)
    for foreign in ("* * * * * */7", "*/5 8 * * *", "0 0 * * * */20"):
        assert watch.every_of(foreign) is None
    assert watch.every_of("0 8 * * *") is None
