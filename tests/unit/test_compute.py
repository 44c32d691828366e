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
    }
    assert len(nova.request_history) == 3  # duplicates asked once
    assert nova.last_request.headers["X-Auth-Token"] == TOKEN


def test_no_servers_no_calls(nova):
    assert compute.server_statuses(make_connection(), []) == {
        "statuses": {},
        "error": [],
        "missing": [],
        "failed": [],
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
