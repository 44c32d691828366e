"""dead_host_policy force_down: the admin check and the forced_down call (ha_actions.compute)
against a mocked Nova and Mistral, and the fencing hook inputs (ha_actions.inputs)."""

import pytest
import requests_mock

import fake_cloud
from ha_actions import compute, inputs
from test_compute import NOVA, TOKEN

MISTRAL = "https://mistral.example.com:8989/v2"
SERVICE = "5b9f1b0e-0000-4000-8000-00000000c0de"
SERVICES = "%s/os-services" % NOVA


def make_connection():
    return fake_cloud.connection(TOKEN, "p-1234", {"compute": NOVA, "workflowv2": MISTRAL})


@pytest.fixture
def cloud():
    with requests_mock.Mocker() as mocker:
        yield mocker


def services(mocker, forced_down=False, count=1):
    mocker.get(SERVICES, json={"services": [
        {"id": SERVICE, "host": "cmp2", "binary": "nova-compute", "state": "down",
         "forced_down": forced_down}] * count})


def test_an_admin_with_an_existing_hook_may_force_down(cloud):
    services(cloud)
    cloud.get("%s/workflows/ops.ipmi_off" % MISTRAL, json={"name": "ops.ipmi_off"})
    assert compute.check_force_down_allowed(make_connection(), "ops.ipmi_off")["result"] == \
        "allowed"
    assert cloud.request_history[0].headers["OpenStack-API-Version"] == "compute 2.53"


def test_a_member_is_refused_before_anything_changes(cloud):
    cloud.get(SERVICES, status_code=403, json={"forbidden": {"code": 403}})
    with pytest.raises(compute.OperatorError) as err:
        compute.check_force_down_allowed(make_connection(), "ops.ipmi_off")
    assert str(err.value).startswith("dead_host_policy force_down needs an admin")
    assert "(HTTP 403). Nothing was changed." in str(err.value)
    assert [r.method for r in cloud.request_history] == ["GET"]


def test_a_missing_hook_is_refused(cloud):
    services(cloud)
    cloud.get("%s/workflows/ops.nope" % MISTRAL, status_code=404, json={"faultstring": "x"})
    with pytest.raises(compute.OperatorError,
                       match="fencing_hook ops.nope is not a workflow Mistral knows"):
        compute.check_force_down_allowed(make_connection(), "ops.nope")


def test_the_service_is_forced_down_once_the_hook_confirmed(cloud):
    services(cloud)
    cloud.put("%s/%s" % (SERVICES, SERVICE), json={"service": {"forced_down": True}})
    got = compute.force_down_host(make_connection(), "cmp2", "ops.ipmi_off", {"fenced": True})
    assert got == {"host": "cmp2", "service_id": SERVICE, "result": "forced_down"}
    assert cloud.request_history[0].qs == {"binary": ["nova-compute"], "host": ["cmp2"]}
    put = cloud.request_history[-1]
    assert put.json() == {"forced_down": True}
    assert put.headers["OpenStack-API-Version"] == "compute 2.53"


def test_an_already_forced_down_service_is_left_as_it_is(cloud):
    services(cloud, forced_down=True)
    got = compute.force_down_host(make_connection(), "cmp2", "ops.ipmi_off", {"fenced": True})
    assert got["result"] == "already_forced_down"
    assert [r.method for r in cloud.request_history] == ["GET"]


@pytest.mark.parametrize("output", [None, {}, {"fenced": False}, {"fenced": "true"}, "done"])
def test_nothing_is_forced_down_without_the_hooks_fenced_true(cloud, output):
    with pytest.raises(compute.OperatorError) as err:
        compute.force_down_host(make_connection(), "cmp2", "ops.ipmi_off", output)
    assert "ops.ipmi_off did not confirm that host cmp2 is off" in str(err.value)
    assert "volumes were NOT moved" in str(err.value)
    assert cloud.request_history == []


def test_an_unknown_host_or_two_services_move_nothing(cloud):
    with pytest.raises(compute.OperatorError, match="compute host is not known"):
        compute.force_down_host(make_connection(), None, "ops.ipmi_off", {"fenced": True})
    services(cloud, count=2)
    with pytest.raises(compute.OperatorError, match="2 nova-compute services on host cmp2"):
        compute.force_down_host(make_connection(), "cmp2", "ops.ipmi_off", {"fenced": True})
    assert [r.method for r in cloud.request_history] == ["GET"]


def test_the_actions_return_readable_errors(monkeypatch, cloud):
    monkeypatch.setattr(compute.OpenStackAction, "connect", lambda self, ctx: make_connection())
    cloud.get(SERVICES, status_code=403, json={"forbidden": {"code": 403}})
    result = compute.CheckForceDownAction("ops.ipmi_off").run(None)
    assert result.is_error() and "needs an admin" in result.error
    result = compute.ForceDownHostAction("cmp2", "ops.ipmi_off", {"fenced": False}).run(None)
    assert result.is_error() and "did not confirm" in result.error


@pytest.mark.parametrize("given, message", [
    ({"dead_host_policy": "force_down"}, "dead_host_policy force_down needs fencing_hook"),
    ({"dead_host_policy": "force_down", "fencing_hook": "none"},
     "dead_host_policy force_down needs fencing_hook"),
    ({"fencing_hook": "ops.ipmi_off"},
     "fencing_hook is used only with dead_host_policy force_down, not with fail"),
    ({"dead_host_policy": "force_down", "fencing_hook": 7},
     "fencing_hook must be a workflow name, not 7."),
])
def test_fencing_hook_inputs(given, message):
    with pytest.raises(inputs.InputError) as err:
        inputs.check_failover_request(**given)
    assert str(err.value).startswith(message)


def test_force_down_with_a_hook_is_a_valid_request():
    plan = inputs.check_failover_request(dead_host_policy="force_down",
                                         fencing_hook="ops.ipmi_off")
    assert plan["fence_polls"] == 60
