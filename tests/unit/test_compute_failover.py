"""The failover part of ha_actions.compute (stop, state, attach/detach) against a mocked Nova."""

import json

import pytest
import requests_mock
from mistral_lib import actions

import fake_cloud
from ha_actions import compute, failover
from test_compute import NOVA, S1, S2, TOKEN, make_connection

V1 = "vvvvvvvv-0000-4000-8000-000000000001"
V2 = "vvvvvvvv-0000-4000-8000-000000000002"


@pytest.fixture
def nova():
    with requests_mock.Mocker() as mocker:
        yield mocker


def server(mocker, sid, status, host=None, host_status=None):
    body = {"id": sid, "name": "n", "status": status, "OS-EXT-STS:task_state": None}
    if host:
        body["OS-EXT-SRV-ATTR:host"] = host
    if host_status:
        body["host_status"] = host_status
    mocker.get("%s/servers/%s" % (NOVA, sid), json={"server": body})


def test_server_state_as_member_hides_the_host(nova):
    server(nova, S1, "ACTIVE")
    state = compute.server_state(make_connection(), S1)
    assert state["status"] == "ACTIVE"
    assert (state["host"], state["host_state"], state["host_down"]) == (None, "unknown", False)
    assert len(nova.request_history) == 1


@pytest.mark.parametrize("services, expected", [
    ([{"state": "up", "status": "enabled", "forced_down": False}], "up"),
    ([{"state": "down", "status": "enabled", "forced_down": False}], "down"),
    ([{"state": "up", "status": "enabled", "forced_down": True}], "down"),
])
def test_server_state_as_admin_reads_the_compute_service(nova, services, expected):
    server(nova, S1, "ACTIVE", host="cmp1", host_status="UP")
    nova.get("%s/os-services" % NOVA, json={"services": services})
    state = compute.server_state(make_connection(), S1)
    assert state["host_state"] == expected
    assert state["host_down"] is (expected == "down")
    assert nova.last_request.qs == {"host": ["cmp1"], "binary": ["nova-compute"]}


def test_server_state_forbidden_services_is_unknown(nova):
    server(nova, S1, "ACTIVE", host="cmp1")
    nova.get("%s/os-services" % NOVA, status_code=403, json={"forbidden": {"code": 403}})
    assert compute.server_state(make_connection(), S1)["host_state"] == "unknown"


def test_server_state_missing(nova):
    nova.get("%s/servers/%s" % (NOVA, S1), status_code=404, json={"itemNotFound": {"code": 404}})
    assert compute.server_state(make_connection(), S1)["status"] == compute.NOT_FOUND


@pytest.mark.parametrize("answers, until, looks", [
    # Powering off, then SHUTOFF: seen at the third look, half a second apart.
    ([{"json": {"server": {"id": S1, "status": st}}} for st in ("ACTIVE", "ACTIVE", "SHUTOFF")],
     "SHUTOFF", 3),
    # Being deleted, then gone.
    ([{"json": {"server": {"id": S1, "status": "SHUTOFF"}}},
      {"status_code": 404, "json": {"itemNotFound": {"code": 404}}}], compute.NOT_FOUND, 2),
    # Without until: one look, whatever the status.
    ([{"json": {"server": {"id": S1, "status": "ACTIVE"}}}], None, 1),
])
def test_a_status_wait_looks_again_until_the_server_has_it(nova, answers, until, looks):
    nova.get("%s/servers/%s" % (NOVA, S1), answers)
    clock = fake_cloud.Clock()
    got = compute.wait_for_status(make_connection(), S1, until, wait_s=20, sleep=clock.sleep,
                                  clock=clock)
    assert got["status"] == (until or "ACTIVE")
    assert nova.call_count == looks and clock.sleeps == [0.25] * (looks - 1)


def test_a_status_wait_hands_back_the_last_state_when_its_bound_is_over(nova):
    server(nova, S1, "ACTIVE")
    clock = fake_cloud.Clock()
    got = compute.wait_for_status(make_connection(), S1, "SHUTOFF", wait_s=3,
                                  sleep=clock.sleep, clock=clock)
    assert got["status"] == "ACTIVE" and clock.now == 3


def test_stop_server(nova):
    nova.post("%s/servers/%s/action" % (NOVA, S1), status_code=202)
    assert compute.stop_server(make_connection(), S1)["result"] == "stopping"
    assert nova.last_request.json() == {"os-stop": None}


def test_stop_server_already_stopped(nova):
    nova.post("%s/servers/%s/action" % (NOVA, S1), status_code=409,
              json={"conflictingRequest": {"code": 409, "message": "in vm_state stopped"}})
    server(nova, S1, "SHUTOFF")
    assert compute.stop_server(make_connection(), S1)["result"] == "already_stopped"


def test_stop_server_already_pending(nova):
    """A stop cast to a down compute host stays pending; a second stop answers 409."""
    nova.post("%s/servers/%s/action" % (NOVA, S1), status_code=409,
              json={"conflictingRequest": {"code": 409, "message": "task_state powering-off"}})
    body = {"id": S1, "name": "n", "status": "ACTIVE", "OS-EXT-STS:task_state": "powering-off"}
    nova.get("%s/servers/%s" % (NOVA, S1), json={"server": body})
    assert compute.stop_server(make_connection(), S1)["result"] == "already_stopping"


def test_stop_server_refused_is_readable(monkeypatch, nova):
    monkeypatch.setattr(compute.OpenStackAction, "connect", lambda self, ctx: make_connection())
    nova.post("%s/servers/%s/action" % (NOVA, S1), status_code=409,
              json={"conflictingRequest": {"code": 409, "message": "Instance is locked"}})
    server(nova, S1, "ACTIVE")
    result = failover.StopServerAction(S1).run(None)
    assert isinstance(result, actions.Result) and result.is_error()
    assert "locked" in result.error and TOKEN not in result.error


def test_delete_server(nova):
    nova.delete("%s/servers/%s" % (NOVA, S1), status_code=204)
    nova.delete("%s/servers/%s" % (NOVA, S2), status_code=404, json={"itemNotFound": {}})
    conn = make_connection()
    assert compute.delete_server(conn, S1)["result"] == "deleting"
    assert compute.delete_server(conn, S2)["result"] == "already_deleted"


def test_detach_volumes(nova):
    nova.delete("%s/servers/%s/os-volume_attachments/%s" % (NOVA, S1, V1), status_code=202)
    nova.delete("%s/servers/%s/os-volume_attachments/%s" % (NOVA, S1, V2), status_code=404,
                json={"itemNotFound": {"code": 404}})
    result = compute.detach_volumes(make_connection(), S1, [V1, V2])
    assert result == {"server_id": S1, "volumes": {V1: "detaching", V2: "not_attached"}}


CINDER = "https://cinder.example.com:8776/v3/p-1234"


@pytest.mark.parametrize("volume, answer", [
    ({"status": "detaching", "attachments": [{"server_id": S1}]}, "detaching"),
    ({"status": "available", "attachments": []}, "not_attached"),
])
def test_a_detach_already_under_way_is_not_refused_again(nova, volume, answer):
    nova.delete("%s/servers/%s/os-volume_attachments/%s" % (NOVA, S1, V1), status_code=400,
                json={"badRequest": {"code": 400, "message": "Invalid volume"}})
    nova.get("%s/volumes/%s" % (CINDER, V1), json={"volume": dict(volume, id=V1)})
    conn = fake_cloud.connection(TOKEN, "p-1234", {"compute": NOVA, "block-storage": CINDER})
    assert failover.detach(lambda: conn, S1, [V1])["volumes"] == {V1: answer}


def test_a_detach_refused_while_the_volume_is_in_use_there_says_so(nova):
    nova.delete("%s/servers/%s/os-volume_attachments/%s" % (NOVA, S1, V1), status_code=400,
                json={"badRequest": {"code": 400, "message": "Invalid volume"}})
    nova.get("%s/volumes/%s" % (CINDER, V1),
             json={"volume": {"id": V1, "status": "in-use", "attachments": [{"server_id": S1}]}})
    conn = fake_cloud.connection(TOKEN, "p-1234", {"compute": NOVA, "block-storage": CINDER})
    result = failover.detach(lambda: conn, S1, [V1])
    assert result.is_error()
    assert "Detaching volume %s on server %s failed" % (V1, S1) in result.error


def test_attach_volumes_skips_attached_ones(nova):
    nova.get("%s/servers/%s/os-volume_attachments" % (NOVA, S2),
             json={"volumeAttachments": [{"volumeId": V2, "serverId": S2, "id": V2}]})
    nova.post("%s/servers/%s/os-volume_attachments" % (NOVA, S2),
              json={"volumeAttachment": {"volumeId": V1, "serverId": S2, "id": V1}})
    result = compute.attach_volumes(make_connection(), S2, [V1, V2])
    assert result["volumes"] == {V1: "attaching", V2: "already_attached"}
    posts = [r for r in nova.request_history if r.method == "POST"]
    assert [r.json() for r in posts] == [{"volumeAttachment": {"volumeId": V1}}]


def test_attach_failure_says_what_was_done(monkeypatch, nova):
    monkeypatch.setattr(compute.OpenStackAction, "connect", lambda self, ctx: make_connection())
    nova.get("%s/servers/%s/os-volume_attachments" % (NOVA, S2), json={"volumeAttachments": []})
    nova.post("%s/servers/%s/os-volume_attachments" % (NOVA, S2), [
        {"json": {"volumeAttachment": {"volumeId": V1}}},
        {"status_code": 400, "json": {"badRequest": {"code": 400, "message": "Invalid volume"}}},
    ])
    action = failover.AttachVolumesAction(S2, [V1, V2])
    json.dumps(vars(action))
    result = action.run(None)
    assert result.is_error()
    assert "Attaching volume %s on server %s failed" % (V2, S2) in result.error
    assert "%s (attaching)" % V1 in result.error


def test_actions_run(monkeypatch, nova):
    monkeypatch.setattr(compute.OpenStackAction, "connect", lambda self, ctx: make_connection())
    server(nova, S1, "SHUTOFF")
    nova.delete("%s/servers/%s" % (NOVA, S1), status_code=204)
    nova.delete("%s/servers/%s/os-volume_attachments/%s" % (NOVA, S1, V1), status_code=202)
    assert compute.ServerStateAction(S1).run(None)["status"] == "SHUTOFF"
    assert compute.DeleteServerAction(S1).run(None)["result"] == "deleting"
    assert failover.DetachVolumesAction(S1, [V1]).run(None)["volumes"] == {V1: "detaching"}
