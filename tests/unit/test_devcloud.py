"""The devcloud launcher's own logic: errors it gives and what it never prints."""

import os
import socket
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "devcloud_lib"))

import cloud  # noqa: E402
import configs  # noqa: E402
import fake_neutron  # noqa: E402


@pytest.fixture
def layout(tmp_path):
    lay = configs.Layout(str(tmp_path))
    for d in (lay.run, lay.logs):
        os.makedirs(d)
    return lay


def test_port_taken_by_a_stranger_is_a_clear_error_and_starts_nothing(layout):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        svc = cloud.Service("web", ["/bin/sleep", "30"], port)
        with pytest.raises(cloud.DevcloudError) as err:
            svc.start(layout)
    assert "port %d (web) is already in use" % port in str(err.value)
    assert "tools/devcloud up" in str(err.value)
    assert not os.path.exists(svc.pidfile(layout))


def test_service_that_dies_at_start_reports_its_log_tail(layout):
    svc = cloud.Service("broken", ["/bin/sh", "-c", "echo cannot read config; exit 3"], 1)
    svc.start(layout)
    with pytest.raises(cloud.DevcloudError) as err:
        svc.wait_ready(layout, timeout=10)
    assert "broken exited during start-up" in str(err.value)
    assert "cannot read config" in str(err.value)


def test_stop_ends_the_whole_process_group(layout):
    svc = cloud.Service("tree", ["/bin/sh", "-c", "sleep 60 & sleep 60"])
    svc.start(layout)
    pgid = svc.pid(layout)
    assert cloud.group_alive(pgid)
    assert svc.stop(layout)
    assert not cloud.group_alive(pgid)
    assert not os.path.exists(svc.pidfile(layout))


def test_failed_commands_and_logs_never_show_a_password(layout, tmp_path):
    sec = cloud.load_secrets(layout)
    with pytest.raises(cloud.DevcloudError) as err:
        cloud.run(["/bin/sh", "-c", "echo 'bad SQL near %s'; exit 1" % sec["db_password"]])
    assert sec["db_password"] not in str(err.value)
    assert "bad SQL near ***" in str(err.value)
    log = tmp_path / "svc.log"
    log.write_text("auth failed for %s\n" % sec["admin_password"])
    assert sec["admin_password"] not in cloud.tail(str(log))


def test_reordered_config_is_not_a_change():
    assert cloud._ini_values("[a]\nx = 1\ny = 2\n") == cloud._ini_values("[a]\ny = 2\nx = 1\n")
    assert cloud._ini_values("[a]\nx = 1\n") != cloud._ini_values("[a]\nx = 2\n")


def test_fake_network_endpoint_answers_empty_collections_and_refuses_changes():
    seen = {}

    def start_response(status, headers):
        seen["status"] = status

    body = fake_neutron.application({"PATH_INFO": "/v2.0/ports", "REQUEST_METHOD": "GET"},
                                    start_response)
    assert seen["status"] == "200 OK" and b'"ports": []' in body[0]
    fake_neutron.application({"PATH_INFO": "/v2.0/ports", "REQUEST_METHOD": "POST"},
                             start_response)
    assert seen["status"].startswith("403")


def test_mistral_api_launcher_runs_no_cron_thread(layout):
    # A cron thread in mistral-server's launcher holds Mistral's DB lock when the API
    # worker is forked now and then; that worker then hangs on every call (seen in CI).
    conf = configs.mistral_conf(layout, cloud.load_secrets(layout))
    assert conf["cron_trigger"] == {"run_in_api": False}


def test_a_config_holding_only_defaults_is_written_and_compared(layout):
    # configparser keeps [DEFAULT] out of sections(): a file of only [DEFAULT] (the
    # scaled Mistral's per-process host files) once compared equal to a missing file.
    assert cloud._ini_values("[DEFAULT]\nhost = a\n") != cloud._ini_values("")
    assert cloud._ini_values("[DEFAULT]\nhost = a\n") != cloud._ini_values(
        "[DEFAULT]\nhost = b\n")


def test_mistral_mode_is_remembered_and_scaled_mode_runs_each_component(layout, monkeypatch):
    monkeypatch.delenv("DEVCLOUD_MISTRAL_SCALE", raising=False)
    assert cloud.mistral_mode(layout) == "all"
    assert [s.name for s in cloud.mistral_services(layout, "all")] == ["mistral"]
    assert cloud.choose_mistral_mode(layout, True) == "scaled"
    assert cloud.choose_mistral_mode(layout) == "scaled"  # no flag: as chosen last
    monkeypatch.setenv("DEVCLOUD_MISTRAL_SCALE", "0")
    assert cloud.choose_mistral_mode(layout) == "all"
    monkeypatch.setenv("DEVCLOUD_MISTRAL_SCALE", "1")
    assert cloud.choose_mistral_mode(layout) == "scaled"
    names = [svc.name for _, svc in cloud.services(layout) if svc.name.startswith("mistral")]
    assert names == ["mistral-api", "mistral-engine", "mistral-engine-2", "mistral-executor",
                     "mistral-executor-2", "mistral-notifier", "mistral-periodic"]
    api = cloud.find_service(layout, "mistral-api")
    assert api.port == configs.PORTS["mistral"] and api.argv[-2:] == ["--server", "api"]
    engine2 = cloud.find_service(layout, "mistral-engine-2")
    assert engine2.port is None and engine2.argv[-2:] == ["--server", "engine"]
    assert cloud.mistral_host_conf_path(layout, "engine-2") in engine2.argv


def test_mistral_recovers_lost_actions_in_seconds(layout):
    conf = configs.mistral_conf(layout, cloud.load_secrets(layout))
    beat = conf["action_heartbeat"]
    # An action whose executor died is failed (and retried by the workflow) after
    # first_heartbeat_timeout + max_missed * check_interval seconds, not after an hour;
    # a live action whose heartbeats wait out a RabbitMQ restart (~20 s) is not.
    silence = beat["max_missed_heartbeats"] * beat["check_interval"]
    assert 45 <= silence and beat["first_heartbeat_timeout"] + silence <= 90
    assert conf["engine"]["execution_integrity_check_delay"] > 0
    assert conf["scheduler"]["pickup_job_after"] <= 30


def test_kill_ends_the_group_at_once_and_forgets_it(layout, monkeypatch):
    svc = cloud.Service("victim", ["/bin/sh", "-c", "trap '' TERM; sleep 60 & sleep 60"])
    monkeypatch.setattr(cloud, "find_service", lambda lay, name: svc)
    svc.start(layout)
    pgid = svc.pid(layout)
    cloud.kill(layout.state, "victim")
    assert not cloud.group_alive(pgid)
    assert not os.path.exists(svc.pidfile(layout))
