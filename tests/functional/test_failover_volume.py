"""ha.v1.failover_volume on real Heat, Nova and Cinder, run with the mistral CLI as the member user.

The pair's servers sit on the devcloud's two compute hosts (anti-affinity). The
dead-host test stops the nova-compute service of the active's host (tools/devcloud
stop) and always starts it again, waiting until Nova sees it up.
"""

import contextlib
import json

import pytest
from devcloud_fixtures import ADMIN, MistralCLI
from groups import (
    COMPUTE_SERVICES,
    AttachmentWatcher,
    compute_service,
    create_pair,
    devcloud_service,
    patch_and_wait,
    release_forced_down,
    server_host,
    server_status,
    stack,
    stack_outputs,
    volume_servers,
    wait_compute_service,
    wait_volume,
)

pytestmark = pytest.mark.functional
WORKFLOW = "ha.v1.failover_volume"


def failover(mistral, volume_ids, **inputs):
    """Run the workflow while a watcher checks no volume is ever on two servers (cooldown
    0 unless given: tests fail a pair over and back within a minute)."""
    with AttachmentWatcher(volume_ids):
        execution, output = mistral.execute(WORKFLOW, dict({"poll_delay": 1, "cooldown": 0},
                                                           **inputs),
                                            timeout=600)
    return execution, output.get("report", {})


def where(conn, volume_ids):
    return {vid: volume_servers(conn, vid) for vid in volume_ids}


def test_the_pair_deploys_whole_and_a_no_change_update_moves_nothing(conn, mistral, stacks,
                                                                   pack_workflows):
    """Stack create alone attaches the volumes to the server 'active' names (its
    OS::Mistral::ExternalResource runs ha.v1.attach_pair once); updates run nothing."""
    body, servers, volume_ids = create_pair(conn, stacks, volume_count=2, active="server_b")
    b = servers["server_b"]
    assert where(conn, volume_ids) == {vid: ("in-use", [b]) for vid in volume_ids}
    url = "/stacks/%s/%s/resources/initial_attachment" % (body["stack_name"], body["id"])
    resource = conn.orchestration.get(url, params={"with_attr": "output"}).json()["resource"]
    assert resource["resource_status"] == "CREATE_COMPLETE"
    report = json.loads(resource["attributes"]["output"])["report"]
    assert report["status"] == "attached" and report["server"] == b
    assert report["volumes"] == {vid: [b] for vid in volume_ids}
    execution = mistral.json("execution-get", resource["physical_resource_id"])
    assert execution["Workflow name"] == "ha.v1.attach_pair"
    assert execution["State"] == "SUCCESS"

    patch_and_wait(conn, stack(conn, body["id"]), {})
    assert where(conn, volume_ids) == {vid: ("in-use", [b]) for vid in volume_ids}
    after = conn.orchestration.get(url).json()["resource"]
    assert after["physical_resource_id"] == resource["physical_resource_id"]  # no new run
    assert server_status(conn, servers["server_a"]) == "ACTIVE"


def test_failover_moves_the_volume_and_heat_keeps_it_there(conn, mistral, stacks,
                                                           pack_workflows):
    body, servers, volume_ids = create_pair(conn, stacks)
    a, b = servers["server_a"], servers["server_b"]

    execution, report = failover(mistral, volume_ids, stack=body["stack_name"])
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "failed_over", report
    assert report["old_active"] == {"name": "server_a", "id": a}
    assert report["new_active"] == {"name": "server_b", "id": b}
    assert report["fencing"]["method"] == "stop"
    assert report["fencing"]["result"] == "SHUTOFF"
    assert report["volumes"] == {volume_ids[0]: [b]}
    assert [s["name"] for s in report["steps"]] == ["inspect", "fence", "detach", "attach",
                                                    "record"]
    assert all(isinstance(s["duration_s"], (int, float)) for s in report["steps"])
    # Each move started the next once it saw its own end: the fence the detach, the detach
    # the attach, the attach the record's PATCH (the record's update only waited on it).
    seen = {t["name"]: json.loads(t.get("published") or "{}")
            for t in mistral.api().tasks(execution["ID"])}
    assert seen["fence"]["detaching"]["volumes"] == {volume_ids[0]: "detaching"}, seen
    assert seen["detach"]["attaching"]["volumes"] == {volume_ids[0]: "attaching"}, seen
    assert seen["attach"]["patched"]["parameters"] == {"active": "server_b"}, seen
    assert seen["update"]["previous"] == seen["attach"]["patched"]["previous_updated_time"]
    assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [b])}
    assert server_status(conn, a) == "SHUTOFF"
    assert server_status(conn, b) == "ACTIVE"
    after = stack(conn, body["id"])
    assert after["stack_status"] == "UPDATE_COMPLETE"
    assert after["parameters"]["active"] == "server_b"

    # A later no-change update of the stack leaves the volume on the new active.
    patch_and_wait(conn, after, {})
    assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [b])}

    # Again: nothing to do, nothing changed.
    updated = stack(conn, body["id"])["updated_time"]
    execution, report = failover(mistral, volume_ids, stack=body["stack_name"])
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "already_active", report
    assert report["new_active"]["id"] == b
    assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [b])}
    assert stack(conn, body["id"])["updated_time"] == updated
    assert server_status(conn, a) == "SHUTOFF"


def test_restore_gives_the_pair_a_new_standby_that_can_take_over(conn, admin_conn, mistral,
                                                                 stacks, pack_workflows):
    body, servers, volume_ids = create_pair(conn, stacks)
    a, b = servers["server_a"], servers["server_b"]

    execution, report = failover(mistral, volume_ids, stack=body["stack_name"], restore=True)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "failed_over", report
    assert [s["name"] for s in report["steps"]][-2:] == ["record", "restore"]
    restored = report["restored"]
    new_a = stack_outputs(conn, body["id"])["servers"]["server_a"]
    assert restored == {"name": "server_a", "old_id": a, "new_id": new_a, "status": "ACTIVE"}
    assert new_a != a
    assert conn.compute.find_server(a) is None
    assert server_status(conn, new_a) == "ACTIVE"
    assert server_host(admin_conn, new_a) != server_host(admin_conn, b)
    assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [b])}
    after = stack(conn, body["id"])
    assert after["stack_status"] == "UPDATE_COMPLETE"
    assert after["parameters"]["active"] == "server_b"

    # A failback right away is held back by the cooldown: nothing moves.
    updated = stack(conn, body["id"])["updated_time"]
    execution, held = failover(mistral, volume_ids, stack=body["stack_name"], cooldown=600)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert held["status"] == "cooldown", held
    assert held["message"].startswith("Cooldown, nothing changed: execution %s healed this "
                                      "stack " % report["execution_id"])
    assert held["fencing"]["method"] == "none"
    assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [b])}
    assert server_status(conn, b) == "ACTIVE"
    assert stack(conn, body["id"])["updated_time"] == updated

    # The pair is whole again: the volume can fail back to the new server_a (force: the
    # operator overrides the cooldown).
    execution, report = failover(mistral, volume_ids, stack=body["stack_name"], cooldown=600,
                                 force=True)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "failed_over", report
    assert report["new_active"] == {"name": "server_a", "id": new_a}
    assert report["restored"] is None
    assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [new_a])}


def test_two_volumes_move_together_and_named_standby_again_is_already_active(
        conn, mistral, stacks, pack_workflows):
    body, servers, volume_ids = create_pair(conn, stacks, volume_count=2)
    a, b = servers["server_a"], servers["server_b"]

    execution, report = failover(mistral, volume_ids, stack=body["id"], standby=b)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "failed_over", report
    assert report["volumes"] == {vid: [b] for vid in volume_ids}
    assert where(conn, volume_ids) == {vid: ("in-use", [b]) for vid in volume_ids}
    assert server_status(conn, a) == "SHUTOFF"
    assert stack(conn, body["id"])["parameters"]["active"] == "server_b"

    execution, report = failover(mistral, volume_ids, stack=body["id"], standby="server_b")
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "already_active", report
    assert where(conn, volume_ids) == {vid: ("in-use", [b]) for vid in volume_ids}


def test_standby_not_active_fails_clearly_and_moves_nothing(conn, mistral, stacks,
                                                            pack_workflows):
    body, servers, volume_ids = create_pair(conn, stacks)
    a, b = servers["server_a"], servers["server_b"]
    conn.compute.stop_server(b)
    conn.compute.wait_for_server(conn.compute.get_server(b), status="SHUTOFF", wait=120)
    updated = stack(conn, body["id"])["updated_time"]

    execution, report = failover(mistral, volume_ids, stack=body["stack_name"], standby="server_b")
    assert execution["State"] == "ERROR"
    assert "Standby server_b (%s) is SHUTOFF, not ACTIVE" % b in execution["State info"]
    assert "nothing changed" in execution["State info"]
    assert report["status"] == "failed"
    assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [a])}
    assert server_status(conn, a) == "ACTIVE"
    assert stack(conn, body["id"])["updated_time"] == updated


# Refused by inspect, after the concurrency guard: run one by one (a run still going
# would make the next one end 'skipped').
BAD_INPUTS_AFTER_THE_GUARD = [
    ({"standby": "server_c"}, "Standby 'server_c' is not a server of stack"),
    ({"parameter": "primary"}, "has no parameter 'primary' to record the active server in"),
]
# Refused before the guard (the input checks, the admin check, the stack lookup): all
# started at once.
BAD_INPUTS = [
    ({"stack": "no-such-stack"}, "Stack 'no-such-stack' not found"),
    ({"dead_host_policy": "reboot"},
     "dead_host_policy must be fail, delete_server or force_down, not reboot"),
    ({"dead_host_policy": "force_down"}, "dead_host_policy force_down needs fencing_hook"),
    ({"fencing_hook": "ft.fence_host"},
     "fencing_hook is used only with dead_host_policy force_down, not with fail"),
    # the admin's path, asked for by the member user: refused before anything changes
    ({"dead_host_policy": "force_down", "fencing_hook": "ft.fence_host"},
     "dead_host_policy force_down needs an admin"),
    ({"stall_timeout": -1}, "stall_timeout must be a number of seconds > 0, not -1."),
    ({"timeout": "long"}, "timeout must be a number of seconds > 0, not 'long'."),
    ({"max_heals": 0}, "max_heals must be a whole number >= 1"),
    ({"heal_window": "1h"}, "heal_window must be a number of seconds > 0, not '1h'."),
    ({"long_poll": -5}, "long_poll must be a number of seconds >= 0 (how long one look waits "
                        "for a change; 0: one look per poll_delay), not -5."),
]


def test_bad_input_fails_clearly_and_changes_nothing(conn, mistral, stacks, pack_workflows):
    body, servers, volume_ids = create_pair(conn, stacks)
    updated = stack(conn, body["id"])["updated_time"]
    with AttachmentWatcher(volume_ids):
        ended = mistral.refusals(WORKFLOW, {"stack": body["stack_name"], "poll_delay": 1},
                                 BAD_INPUTS, BAD_INPUTS_AFTER_THE_GUARD)
    for inputs, message, execution, output in ended:
        report = output["report"]
        assert execution["State"] == "ERROR", inputs
        assert message in execution["State info"], (inputs, execution["State info"])
        assert report["status"] == "failed"
        assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [servers["server_a"]])}
        assert server_status(conn, servers["server_a"]) == "ACTIVE"
        assert stack(conn, body["id"])["updated_time"] == updated


def test_volume_held_by_no_server_fails_clearly_and_changes_nothing(conn, mistral, stacks,
                                                                   pack_workflows):
    body, servers, volume_ids = create_pair(conn, stacks)
    outputs = stack_outputs(conn, body["id"])
    # Someone detached it by hand (the example attaches it at create).
    conn.compute.delete("/servers/%s/os-volume_attachments/%s" % (servers["server_a"],
                                                                 volume_ids[0]))
    wait_volume(conn, volume_ids[0], "available")

    execution, report = failover(mistral, volume_ids, stack=body["stack_name"])
    assert execution["State"] == "ERROR"
    assert "are not all held by one server" in execution["State info"]
    assert "Attach every volume to the active server first" in execution["State info"]
    assert where(conn, volume_ids) == {volume_ids[0]: ("available", [])}
    assert {server_status(conn, sid) for sid in outputs["servers"].values()} == {"ACTIVE"}
    assert stack(conn, body["id"])["updated_time"] is None


def test_fencing_not_confirmed_under_policy_fail_moves_nothing(conn, admin_conn, mistral, stacks,
                                                               pack_workflows):
    """The old active cannot be stopped: an admin locks it (os-stop then answers 409)."""
    body, servers, volume_ids = create_pair(conn, stacks)
    a = servers["server_a"]
    admin_conn.compute.lock_server(a)
    try:
        execution, report = failover(mistral, volume_ids, stack=body["stack_name"],
                                     fence_timeout=5)
        assert execution["State"] == "ERROR"
        info = execution["State info"]
        assert "Fencing failed: could not stop the old active server_a" in info
        assert "NOT moved" in info and "dead_host_policy=delete_server" in info
        assert report["status"] == "failed"
        assert report["fencing"]["method"] == "stop"
        assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [a])}
        assert server_status(conn, a) == "ACTIVE"
    finally:
        admin_conn.compute.unlock_server(a)
    wait_volume(conn, volume_ids[0], "in-use", a)


HOOK = """\
---
version: '2.0'
ft.failover_hook:
  input:
    - stack
    - server_id
  tasks:
    hello:
      action: std.echo output=<% $.server_id %>
"""


def test_hooks_run_and_a_failing_hook_is_reported_not_fatal(conn, mistral, stacks,
                                                            pack_workflows, tmp_path):
    path = tmp_path / "hook.yaml"
    path.write_text(HOOK)
    mistral.upload(str(path))
    body, servers, volume_ids = create_pair(conn, stacks)
    b = servers["server_b"]

    execution, report = failover(mistral, volume_ids, stack=body["stack_name"],
                                 quiesce="ft.failover_hook", activate="ft.no_such_hook",
                                 hook_timeout=30)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "failed_over", report
    steps = {s["name"]: s["result"] for s in report["steps"]}
    assert steps["quiesce"] == "SUCCESS (ft.failover_hook)"
    assert steps["activate"].startswith("FAILED, ignored (ft.no_such_hook)")
    assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [b])}


def test_pair_servers_are_on_different_compute_hosts(conn, admin_conn, stacks):
    body, servers, _ = create_pair(conn, stacks)
    hosts = {name: server_host(admin_conn, sid) for name, sid in servers.items()}
    assert sorted(hosts.values()) == ["devcloud", "devcloud-2"], hosts


@contextlib.contextmanager
def active_host_down(conn, admin_conn, stacks):
    """A pair whose active's nova-compute is stopped (os-stop is accepted but never
    happens) until the block ends: (stack, servers, volume ids, host). Afterwards the
    service is started again (and no longer forced down) and seen up."""
    body, servers, volume_ids = create_pair(conn, stacks)
    host = server_host(admin_conn, servers["server_a"])
    service = COMPUTE_SERVICES[host]
    devcloud_service("stop", service)
    try:
        wait_compute_service(admin_conn, host, "down")
        yield body, servers, volume_ids, host
    finally:
        release_forced_down(admin_conn, host)
        devcloud_service("start", service)
        wait_compute_service(admin_conn, host, "up")


FENCING_HOOKS = """\
---
version: '2.0'
ft.fence_host:
  input: [stack, server_id, host]
  tasks:
    power_off:
      action: std.noop
  output:
    fenced: true
    powered_off: <% $.host %>
ft.fence_host_unsure:
  input: [stack, server_id, host]
  tasks:
    power_off:
      action: std.noop
  output:
    fenced: false
"""


@pytest.fixture
def project_admin(devcloud, admin_conn, conn):
    """The mistral CLI as the admin user with the admin role in the member's project:
    how an operator runs the admin's path on a tenant's stack."""
    user = admin_conn.identity.find_user("admin")
    role = admin_conn.identity.find_role("admin")
    admin_conn.identity.assign_project_role_to_user(conn.current_project_id, user, role)
    return MistralCLI(devcloud, ADMIN, project=conn.current_project.name)


@pytest.mark.alone
def test_dead_host_policy_force_down_as_admin_after_the_fencing_hook(
        conn, admin_conn, mistral, project_admin, stacks, pack_workflows, tmp_path):
    """Host of the active stopped: a member asking for force_down is refused; the admin's
    run with a hook that is not sure moves nothing; with a hook that confirms, the host's
    nova-compute is forced down, the old active deleted, the volume moved."""
    path = tmp_path / "fencing_hooks.yaml"
    path.write_text(FENCING_HOOKS)
    mistral.upload(str(path))
    with active_host_down(conn, admin_conn, stacks) as (body, servers, volume_ids, host):
        a, b = servers["server_a"], servers["server_b"]
        force_down = {"stack": body["stack_name"], "fence_timeout": 5,
                      "dead_host_policy": "force_down", "fencing_hook": "ft.fence_host"}

        # (a) the member user: refused before anything changes.
        execution, report = failover(mistral, volume_ids, **force_down)
        assert execution["State"] == "ERROR"
        assert "dead_host_policy force_down needs an admin" in execution["State info"]
        assert "Nothing was changed" in execution["State info"]
        assert report["status"] == "failed" and report["steps"] == []

        # (b) the admin, with a hook that does not answer fenced: true: nothing moves.
        execution, report = failover(project_admin, volume_ids,
                                     **dict(force_down, fencing_hook="ft.fence_host_unsure"))
        assert execution["State"] == "ERROR"
        assert "ft.fence_host_unsure did not confirm that host %s is off" % host in \
            execution["State info"]
        assert report["fencing"]["method"] == "force_down"
        assert compute_service(admin_conn, host)["forced_down"] is False

        for unchanged in (a, b):
            assert server_status(conn, unchanged) == "ACTIVE"
        assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [a])}
        assert stack(conn, body["id"])["parameters"]["active"] == "server_a"

        # (c) the admin, with a hook that confirms the host is off.
        execution, report = failover(project_admin, volume_ids, **force_down)
        assert execution["State"] == "SUCCESS", execution["State info"]
        assert report["status"] == "failed_over", report
        assert report["fencing"] == {"method": "force_down", "result": "deleted"}
        steps = report["steps"]
        assert [s["name"] for s in steps] == ["inspect", "fence", "fence_host", "force_down",
                                              "delete_server", "detach", "attach",
                                              "record"], steps
        assert "'powered_off': '%s'" % host in steps[2]["result"], steps
        assert steps[3]["result"] == "nova-compute on %s: forced_down" % host
        assert compute_service(admin_conn, host)["forced_down"] is True
        assert report["volumes"] == {volume_ids[0]: [b]}
        assert where(conn, volume_ids) == {volume_ids[0]: ("in-use", [b])}
        assert conn.compute.find_server(a, ignore_missing=True) is None
        assert stack(conn, body["id"])["parameters"]["active"] == "server_b"
