"""ha_actions.block_storage against mocked Cinder, Nova and Heat APIs (requests-mock).

Bodies follow cinder/api/v3/views/volumes.py (attachments: server_id, attachment_id...)
and heat/api/openstack/v1 (stacks, resources).
"""

import json

import pytest
import requests_mock
from mistral_lib import actions

import fake_cloud
from ha_actions import block_storage as bs

TOKEN = "gAAAAAB-block-storage-test-token"
PROJECT = "p-1234"
CINDER = "https://cinder.example.com:8776/v3/" + PROJECT
NOVA = "https://nova.example.com:8774/v2.1"
HEAT = "https://heat.example.com:8004/v1/" + PROJECT
STACK = ("pair", "11111111-aaaa-4aaa-8aaa-000000000001")
VOLS = ("vvvvvvvv-0000-4000-8000-000000000001", "vvvvvvvv-0000-4000-8000-000000000002")
A = "33333333-cccc-4ccc-8ccc-00000000000a"
B = "33333333-cccc-4ccc-8ccc-00000000000b"


def make_connection():
    return fake_cloud.connection(TOKEN, PROJECT, {"block-storage": CINDER, "compute": NOVA,
                                                "orchestration": HEAT})


@pytest.fixture
def api():
    with requests_mock.Mocker() as mocker:
        yield mocker


def volume_body(vid, status, *servers):
    return {"volume": {
        "id": vid, "name": "v", "status": status, "multiattach": False,
        "attachments": [{"server_id": s, "attachment_id": "att-" + s, "volume_id": vid,
                         "host_name": None, "device": "/dev/vdb", "id": vid} for s in servers],
    }}


def volume(mocker, vid, status, *servers):
    mocker.get("%s/volumes/%s" % (CINDER, vid), json=volume_body(vid, status, *servers))


def test_volume_status_and_missing(api):
    volume(api, VOLS[0], "in-use", A)
    api.get("%s/volumes/%s" % (CINDER, VOLS[1]), status_code=404,
            json={"itemNotFound": {"code": 404, "message": "not found"}})
    conn = make_connection()
    assert bs.volume_status(conn, VOLS[0]) == {
        "id": VOLS[0], "name": "v", "status": "in-use", "attached_to": [A]}
    assert bs.volume_status(conn, VOLS[1])["status"] == bs.NOT_FOUND
    assert api.last_request.headers["X-Auth-Token"] == TOKEN


@pytest.mark.parametrize("states, expect, server, done, pending, failed", [
    ((("available",), ("available",)), "available", None, True, False, []),
    ((("detaching", A), ("available",)), "available", None, False, True, []),
    ((("in-use", A), ("available",)), "in-use", B, False, True, []),
    ((("in-use", B), ("in-use", B)), "in-use", B, True, False, []),
    ((("in-use", A), ("in-use", B)), "in-use", B, False, True, []),
    ((("error_detaching", A), ("available",)), "available", None, False, False, [VOLS[0]]),
    ((("in-use", A), ("in-use", B)), None, None, True, False, []),
])
def test_volume_statuses_wait_flags(api, states, expect, server, done, pending, failed):
    for vid, (status, *servers) in zip(VOLS, states):
        volume(api, vid, status, *servers)
    result = bs.volume_statuses(make_connection(), list(VOLS) + [VOLS[0]], expect, server)
    assert (result["done"], result["pending"], result["failed"]) == (done, pending, failed)
    assert len(result["volumes"]) == 2  # duplicates asked once
    assert set(result["where"]) == set(VOLS)


def test_a_volume_wait_looks_again_until_done_or_failed(api):
    def vol(status, *servers):
        return {"json": volume_body(VOLS[0], status, *servers)}

    api.get("%s/volumes/%s" % (CINDER, VOLS[0]),
            [vol("detaching", A), vol("detaching", A), vol("available")])
    clock = fake_cloud.Clock()
    got = bs.wait_for_volumes(make_connection(), [VOLS[0]], "available", wait_s=20,
                              sleep=clock.sleep, clock=clock)
    assert got["done"] is True and clock.sleeps == [0.25, 0.25]
    # A final state other than the one waited for ends the wait at once.
    api.get("%s/volumes/%s" % (CINDER, VOLS[0]), [vol("error_detaching", A)])
    clock = fake_cloud.Clock()
    got = bs.wait_for_volumes(make_connection(), [VOLS[0]], "available", wait_s=20,
                              sleep=clock.sleep, clock=clock)
    assert got["failed"] == [VOLS[0]] and clock.sleeps == []


def heat_pair(mocker, active="server_a", volume_count=1, extra_server=False):
    href = "%s/stacks/%s/%s" % (HEAT, *STACK)
    mocker.get("%s/stacks/%s" % (HEAT, STACK[0]), json={"stack": {
        "id": STACK[1], "stack_name": STACK[0], "stack_status": "CREATE_COMPLETE",
        "stack_status_reason": "", "updated_time": None,
        "parameters": {"active": active, "OS::stack_id": STACK[1]}}})

    def res(name, rtype, physical, stack=STACK):
        return {"resource_name": name, "resource_type": rtype, "physical_resource_id": physical,
                "resource_status": "CREATE_COMPLETE",
                "links": [{"rel": "stack", "href": "%s/stacks/%s/%s" % (HEAT, *stack)}]}

    nested = ("pair-volumes-x", "22222222-bbbb-4bbb-8bbb-000000000002")
    resources = [res("server_a", "OS::Nova::Server", A), res("server_b", "OS::Nova::Server", B),
                 res("volumes", "OS::Heat::ResourceGroup", nested[1])]
    resources += [res(str(i), "OS::Cinder::Volume", VOLS[i], nested) for i in range(volume_count)]
    if extra_server:
        resources.append(res("server_c", "OS::Nova::Server", "c" * 8))
    mocker.get(href + "/resources", json={"resources": resources})
    return href


def servers(mocker, **statuses):
    for sid, status in statuses.items():
        sid = {"a": A, "b": B}.get(sid, sid)
        mocker.get("%s/servers/%s" % (NOVA, sid), json={"server": {"id": sid, "status": status}})


def test_failover_state_ready(api):
    heat_pair(api, volume_count=2)
    servers(api, a="ERROR", b="ACTIVE")
    volume(api, VOLS[0], "in-use", A)
    volume(api, VOLS[1], "in-use", A)
    state = bs.failover_state(make_connection(), STACK[0])
    assert state["status"] == "ready"
    assert state["active"]["id"] == A and state["standby"]["id"] == B
    assert state["volume_ids"] == list(VOLS)
    assert state["stack"]["ref"] == "%s/%s" % STACK
    assert api.request_history[1].qs == {"nested_depth": ["1"]}


def test_failover_state_standby_not_active(api):
    heat_pair(api)
    servers(api, a="ACTIVE", b="SHUTOFF")
    volume(api, VOLS[0], "in-use", A)
    with pytest.raises(bs.FailoverError, match=r"Standby server_b .* is SHUTOFF, not ACTIVE: "
                                               r"nothing changed"):
        bs.failover_state(make_connection(), STACK[0], standby="server_b")


def test_failover_state_already_active_after_failover(api):
    heat_pair(api, active="server_b")
    servers(api, a="SHUTOFF", b="ACTIVE")
    volume(api, VOLS[0], "in-use", B)
    conn = make_connection()
    assert bs.failover_state(conn, STACK[0])["status"] == "already_active"
    assert bs.failover_state(conn, STACK[0], standby=B)["status"] == "already_active"
    with pytest.raises(bs.FailoverError, match="SHUTOFF, not ACTIVE"):
        bs.failover_state(conn, STACK[0], standby="server_a")


@pytest.mark.parametrize("failed", [A, "server_a", "not-a-pair-server"])
def test_failover_state_reported_server_not_active_even_with_a_broken_standby(api, failed):
    heat_pair(api, active="server_b")
    servers(api, a="ERROR", b="ACTIVE")
    volume(api, VOLS[0], "in-use", B)
    state = bs.failover_state(make_connection(), STACK[0], failed=failed)
    assert state["status"] == "not_active"
    assert state["active"]["name"] == "server_b"
    assert "Server %s is not the active server of the pair (server_b" % failed in state["message"]


@pytest.mark.parametrize("failed", [B, "server_b"])
def test_failover_state_reported_server_is_the_active_one(api, failed):
    heat_pair(api, active="server_b")
    servers(api, a="ACTIVE", b="ERROR")
    volume(api, VOLS[0], "in-use", B)
    state = bs.failover_state(make_connection(), STACK[0], failed=failed)
    assert state["status"] == "ready" and state["standby"]["name"] == "server_a"


@pytest.mark.parametrize("failed, standby", [(None, None), ("server_a", None), (A, B),
                                              (None, "server_b")])
def test_failover_state_volumes_already_on_the_standby_only_need_recording(api, failed,
                                                                           standby):
    heat_pair(api, active="server_a")
    servers(api, a="ERROR", b="ACTIVE")
    volume(api, VOLS[0], "in-use", B)
    state = bs.failover_state(make_connection(), STACK[0], standby=standby, failed=failed)
    assert state["status"] == "record_only"
    assert state["active"]["name"] == "server_a" and state["standby"]["name"] == "server_b"
    assert "already all on server_b" in state["message"]
    assert "records server_a as active" in state["message"]


@pytest.mark.parametrize("old_status", ["SHUTOFF", bs.NOT_FOUND])
def test_an_interrupted_failover_is_taken_up_at_the_attach(api, old_status):
    heat_pair(api, active="server_a")
    servers(api, a=old_status, b="ACTIVE")
    volume(api, VOLS[0], "available")
    state = bs.failover_state(make_connection(), STACK[0])
    assert state["status"] == "attach_only"
    assert state["active"]["name"] == "server_a" and state["standby"]["name"] == "server_b"
    assert "did not attach them: attach them to server_b" in state["message"]


@pytest.mark.parametrize("a, b", [("ACTIVE", "ACTIVE"), ("SHUTOFF", "ERROR")])
def test_available_volumes_with_an_unfenced_active_or_a_broken_standby_move_nothing(api, a, b):
    heat_pair(api, active="server_a")
    servers(api, a=a, b=b)
    volume(api, VOLS[0], "available")
    with pytest.raises(bs.FailoverError, match="not all held by one server"):
        bs.failover_state(make_connection(), STACK[0])


def test_failover_state_moves_back_to_the_recorded_server_only_when_asked(api):
    heat_pair(api, active="server_a")
    servers(api, a="ACTIVE", b="ACTIVE")
    volume(api, VOLS[0], "in-use", B)
    state = bs.failover_state(make_connection(), STACK[0], standby="server_a")
    assert state["status"] == "ready" and state["standby"]["name"] == "server_a"
    # An alarm about the server that holds the volumes is about the real active one.
    state = bs.failover_state(make_connection(), STACK[0], failed=B)
    assert state["status"] == "ready" and state["active"]["name"] == "server_b"


@pytest.mark.parametrize("setup, message", [
    (lambda m: (volume(m, VOLS[0], "available"),), "not all held by one server"),
    (lambda m: (volume(m, VOLS[0], "detaching", A),), "not settled"),
    (lambda m: (volume(m, VOLS[0], "in-use", "f" * 8),), "not one of the stack's servers"),
])
def test_failover_state_unclear_volumes(api, setup, message):
    heat_pair(api)
    servers(api, a="ACTIVE", b="ACTIVE")
    setup(api)
    with pytest.raises(bs.FailoverError, match=message):
        bs.failover_state(make_connection(), STACK[0])


def test_failover_state_needs_standby_among_many(api):
    heat_pair(api, extra_server=True)
    servers(api, a="ACTIVE", b="ACTIVE", **{"c" * 8: "ACTIVE"})
    volume(api, VOLS[0], "in-use", A)
    with pytest.raises(bs.FailoverError, match="name the standby"):
        bs.failover_state(make_connection(), STACK[0])
    with pytest.raises(bs.FailoverError, match="not a server of stack"):
        bs.failover_state(make_connection(), STACK[0], standby="nope")


def test_actions_are_readable(monkeypatch, api):
    monkeypatch.setattr(bs.OpenStackAction, "connect", lambda self, ctx: make_connection())
    heat_pair(api)
    servers(api, a="ACTIVE", b="ERROR")
    volume(api, VOLS[0], "in-use", A)
    action = bs.FailoverStateAction(STACK[0])
    json.dumps(vars(action))
    result = action.run(None)
    assert isinstance(result, actions.Result) and result.is_error()
    assert "ERROR, not ACTIVE" in result.error
    ok = bs.VolumeStatusesAction([VOLS[0]], "in-use", A).run(None)
    assert ok["done"] is True
    api.get("%s/volumes/%s" % (CINDER, VOLS[1]), status_code=503,
            json={"computeFault": {"code": 503, "message": "Service Unavailable"}})
    bad = bs.VolumeStatusesAction([VOLS[1]]).run(None)
    assert bad.is_error() and TOKEN not in bad.error


# --- the first attachment of a new pair (ha.v1.attach_pair) ------------------------------

def vol(vid, status="available", on=()):
    return {"id": vid, "name": None, "status": status, "attached_to": list(on)}


def test_initial_attach_attaches_the_available_volumes_and_leaves_the_ones_there():
    got = bs.plan_initial_attach([vol("v1"), vol("v2", "in-use", ["srv-a"])], "srv-a")
    assert got == {"status": "attach", "to_attach": ["v1"], "message": "Attaching v1 to srv-a."}


def test_initial_attach_with_every_volume_there_does_nothing():
    got = bs.plan_initial_attach([vol("v1", "in-use", ["srv-a"])], "srv-a")
    assert got["status"] == "already_attached" and got["to_attach"] == []


@pytest.mark.parametrize("vols, shown", [
    ([vol("v1"), vol("v2", "in-use", ["srv-b"])], "v2 (in-use on srv-b)"),
    ([vol("v1", "error")], "v1 (error)"),
    ([vol("v1", "attaching")], "v1 (attaching)"),
])
def test_initial_attach_refuses_a_volume_elsewhere_and_attaches_nothing(vols, shown):
    with pytest.raises(bs.FailoverError) as err:
        bs.plan_initial_attach(vols, "srv-a")
    assert str(err.value).startswith(
        "Not attaching anything to srv-a: volume(s) %s are neither available nor on it." % shown)
    assert "moved only by ha.v1.failover_volume" in str(err.value)


def test_initial_attach_without_volumes_says_what_to_give():
    with pytest.raises(bs.FailoverError, match="No volume to attach"):
        bs.plan_initial_attach([], "srv-a")
