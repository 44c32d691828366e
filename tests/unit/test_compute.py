"""ha_actions.compute against a mocked Nova API (requests-mock)."""

import json

import pytest
import requests_mock
from mistral_lib import actions

import fake_cloud
from ha_actions import compute

TOKEN = "gAAAAAB-compute-test-token"
NOVA = "https://nova.example.com:8774/v2.1"
S1 = "33333333-cccc-4ccc-8ccc-000000000001"
S2 = "33333333-cccc-4ccc-8ccc-000000000002"
S3 = "33333333-cccc-4ccc-8ccc-000000000003"


def make_connection():
    return fake_cloud.connection(TOKEN, "p-1234", {"compute": NOVA})


@pytest.fixture
def nova():
    with requests_mock.Mocker() as mocker:
        mocker.get("%s/servers/%s" % (NOVA, S1), json={"server": {"id": S1, "status": "ACTIVE"}})
        mocker.get("%s/servers/%s" % (NOVA, S2), json={"server": {"id": S2, "status": "ERROR"}})
        mocker.get(
            "%s/servers/%s" % (NOVA, S3),
            status_code=404,
            json={"itemNotFound": {"code": 404, "message": "Instance %s could not be found." % S3}},
        )
        yield mocker


def test_server_statuses(nova):
    result = compute.server_statuses(make_connection(), [S1, S2, S3, S1])
    assert result == {
        "statuses": {S1: "ACTIVE", S2: "ERROR", S3: compute.NOT_FOUND},
        "error": [S2],
        "missing": [S3],
        "failed": [S2, S3],
        "details": {
            S1: {"status": "ACTIVE", "task_state": None, "host": None, "fault": None},
            S2: {"status": "ERROR", "task_state": None, "host": None, "fault": None},
            S3: {"status": compute.NOT_FOUND, "task_state": None, "host": None, "fault": None},
        },
    }
    assert len(nova.request_history) == 3  # duplicates asked once
    assert nova.last_request.headers["X-Auth-Token"] == TOKEN


def test_no_servers_no_calls(nova):
    assert compute.server_statuses(make_connection(), []) == {
        "statuses": {},
        "error": [],
        "missing": [],
        "failed": [],
        "details": {},
    }
    assert compute.server_statuses(make_connection(), None)["statuses"] == {}
    assert nova.request_history == []


def test_servers_in_error(nova):
    nova.get("%s/servers" % NOVA, json={"servers": [{"id": S2, "name": "x", "links": []}]})
    assert compute.servers_in_error(make_connection()) == [S2]
    assert nova.last_request.qs == {"status": ["error"]}


def test_nova_failure_is_readable(monkeypatch, nova):
    nova.get(
        "%s/servers/%s" % (NOVA, S1),
        status_code=503,
        json={"computeFault": {"code": 503, "message": "Service Unavailable"}},
    )
    monkeypatch.setattr(compute.OpenStackAction, "connect", lambda self, ctx: make_connection())
    result = compute.ServerStatusesAction([S1]).run(None)
    assert isinstance(result, actions.Result) and result.is_error()
    assert "Service Unavailable" in result.error
    assert TOKEN not in result.error


def test_action(monkeypatch, nova):
    monkeypatch.setattr(compute.OpenStackAction, "connect", lambda self, ctx: make_connection())
    action = compute.ServerStatusesAction([S2])
    json.dumps(vars(action))
    assert action.run(None)["error"] == [S2]


# --- lost builds: a stalled update's servers Nova never scheduled -------------------------

HEAT = "https://heat.example.com:8004/v1/p-1234"
CREATED = "2026-12-04T22:41:33Z"
CREATED_AT = 1796424093.0  # CREATED in seconds since the epoch


def build(status="BUILD", task_state="scheduling", created=CREATED):
    return {"status": status, "OS-EXT-STS:task_state": task_state, "created": created}


@pytest.mark.parametrize("server, age, older_than, lost", [
    (build(), 41, 40, True),
    (build(), 40, 40, True),
    (build(), 39, 40, False),                          # may still be scheduled
    (build(task_state="spawning"), 600, 40, False),    # on a host: slow, not lost
    (build(task_state="networking"), 600, 40, False),
    (build(status="ACTIVE", task_state=None), 600, 40, False),
    (build(status="ERROR", task_state=None), 600, 40, False),
    (build(created=None), 600, 40, False),
    (build(), 600, 0, False),                          # stall detection off: never
    (build(), 600, None, False),
])
def test_is_lost_build(server, age, older_than, lost):
    assert compute.is_lost_build(server, CREATED_AT + age, older_than) is lost


def stack_to_patch(nova):
    """Heat's stack web/1 (last updated at CREATED), which answers a PATCH."""
    nova.get("%s/stacks/web/1" % HEAT, json={"stack": {
        "id": "1", "stack_name": "web", "updated_time": CREATED}})
    nova.patch("%s/stacks/web/1" % HEAT, status_code=202)


def test_resume_deletes_only_lost_builds_then_patches_again(monkeypatch, nova):
    """S1 lost (scheduling for 5 min), S2 building on a host, S3 gone: only S1 deleted,
    then the stack PATCHed again with the run's parameters."""
    nova.get("%s/servers/%s" % (NOVA, S1), json={"server": dict(build(), id=S1)})
    nova.get("%s/servers/%s" % (NOVA, S2), json={"server": dict(build(task_state="spawning"))})
    nova.delete("%s/servers/%s" % (NOVA, S1), status_code=204)
    nova.get("%s/stacks/web/1/resources" % HEAT, json={"resources": [
        {"resource_type": "OS::Nova::Server", "resource_status": "CREATE_IN_PROGRESS",
         "physical_resource_id": S1},
        {"resource_type": "OS::Nova::Server", "resource_status": "UPDATE_IN_PROGRESS",
         "physical_resource_id": S2},
        {"resource_type": "OS::Nova::Server", "resource_status": "CREATE_IN_PROGRESS",
         "physical_resource_id": S3},
        {"resource_type": "OS::Nova::Server", "resource_status": "CREATE_COMPLETE",
         "physical_resource_id": "done"},
        {"resource_type": "OS::Heat::AutoScalingGroup", "resource_status": "UPDATE_IN_PROGRESS",
         "physical_resource_id": "group"},
        {"resource_type": "OS::Nova::Server", "resource_status": "CREATE_IN_PROGRESS",
         "physical_resource_id": ""},
    ]})
    conn = fake_cloud.connection(TOKEN, "p-1234", {"compute": NOVA, "orchestration": HEAT})
    monkeypatch.setattr(compute.time, "time", lambda: CREATED_AT + 300)
    monkeypatch.setattr(compute.OpenStackAction, "connect", lambda self, ctx: conn)
    stack_to_patch(nova)
    action = compute.ResumeUpdateAction("web/1", 40, {"active": "b"})
    json.dumps(vars(action))
    assert action.run(None) == {"stack": "web/1", "parameters": {"active": "b"},
                                "previous_updated_time": CREATED, "deleted": [S1],
                                "delete_error": None}
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in nova.request_history
            if r.method in ("DELETE", "PATCH")] == [("DELETE", S1), ("PATCH", "1")]
    assert nova.request_history[0].qs == {"nested_depth": ["3"]}
    assert nova.request_history[-1].json() == {"parameters": {"active": "b"}}


def test_the_old_delete_lost_builds_action_still_deletes_them(monkeypatch, nova):
    """ha.delete_lost_builds, for an update_stack uploaded by an earlier release."""
    nova.get("%s/servers/%s" % (NOVA, S1), json={"server": dict(build(), id=S1)})
    nova.delete("%s/servers/%s" % (NOVA, S1), status_code=204)
    nova.get("%s/stacks/web/1/resources" % HEAT, json={"resources": [
        {"resource_type": "OS::Nova::Server", "resource_status": "CREATE_IN_PROGRESS",
         "physical_resource_id": S1}]})
    conn = fake_cloud.connection(TOKEN, "p-1234", {"compute": NOVA, "orchestration": HEAT})
    monkeypatch.setattr(compute.time, "time", lambda: CREATED_AT + 300)
    monkeypatch.setattr(compute.OpenStackAction, "connect", lambda self, ctx: conn)
    assert compute.DeleteLostBuildsAction("web/1", 40).run(None) == {"deleted": [S1]}
    assert not [r for r in nova.request_history if r.method == "PATCH"]


def test_resume_patches_again_when_nova_cannot_say_what_is_lost(monkeypatch, nova):
    nova.get("%s/stacks/web/1/resources" % HEAT, json={"resources": [
        {"resource_type": "OS::Nova::Server", "resource_status": "CREATE_IN_PROGRESS",
         "physical_resource_id": S1}]})
    nova.get("%s/servers/%s" % (NOVA, S1), status_code=500,
             json={"computeFault": {"code": 500, "message": "Unexpected API Error"}})
    stack_to_patch(nova)
    conn = fake_cloud.connection(TOKEN, "p-1234", {"compute": NOVA, "orchestration": HEAT})
    result = compute.resume_update(conn, "web/1", {}, 40)
    assert result["deleted"] == [] and "Unexpected API Error" in result["delete_error"]
    assert [r.method for r in nova.request_history][-1] == "PATCH"
    assert nova.request_history[-1].json() == {}


def test_delete_lost_builds_nova_failure_is_readable(monkeypatch, nova):
    nova.get("%s/servers/%s" % (NOVA, S1), status_code=503,
             json={"computeFault": {"code": 503, "message": "Service Unavailable"}})
    result = compute.readable(lambda: compute.delete_lost_builds(make_connection(), [S1], 40))
    assert isinstance(result, actions.Result) and result.is_error()
    assert "Service Unavailable" in result.error and TOKEN not in result.error
    assert not [r for r in nova.request_history if r.method == "DELETE"]
