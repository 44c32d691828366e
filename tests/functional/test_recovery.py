"""The recovery ladder (reboot, rebuild, replace) and the blast-radius hold of
ha.v1.replace_member on real Heat and Nova, run with the mistral CLI as the member user."""

import pytest
from groups import (
    COMPUTE_SERVICES,
    changed,
    devcloud_service,
    example,
    mark_member_unhealthy,
    members,
    server_host,
    server_status,
    stack,
    wait_compute_service,
)

pytestmark = pytest.mark.functional
WORKFLOW = "ha.v1.replace_member"
NO_LIMITS = {"cooldown": 0, "max_heals": 1000}


def asg(stacks, size):
    template, files = example("asg_of_servers.yaml", "member_server.yaml")
    return stacks.create(template, parameters={"size": size}, files=files)


def heal(mistral, **inputs):
    execution, output = mistral.execute(WORKFLOW, dict(NO_LIMITS, **inputs), timeout=600)
    return execution, output.get("report", {})


def break_servers(admin_conn, conn, before, names):
    for name in names:
        server = before[name]["servers"][0]
        admin_conn.compute.reset_server_state(server, "error")
        assert server_status(conn, server) == "ERROR"


@pytest.mark.parametrize("recovery, heat_too", [("reboot", True), ("ladder", False)])
def test_a_server_in_error_is_rebooted_in_place_without_a_stack_update(
        conn, admin_conn, mistral, stacks, pack_workflows, recovery, heat_too):
    """heat_too: Heat shows the member CHECK_FAILED as well; once rebooted it is marked
    healthy again (a later stack update must not replace it)."""
    body = asg(stacks, 2)
    before = members(conn, body["id"])
    broken = sorted(before)[0]
    break_servers(admin_conn, conn, before, [broken])
    if heat_too:
        mark_member_unhealthy(conn, body["id"], broken)
        assert members(conn, body["id"])[broken]["status"] == "CHECK_FAILED"
    updated = stack(conn, body["id"])["updated_time"]

    execution, report = heal(mistral, stack=body["stack_name"], recovery=recovery,
                             rung_timeout=60)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "recovered", report
    assert report["recovered"] == [broken] and report["replaced"] == []
    assert [(r["member"], r["rung"], r["outcome"]) for r in report["rungs"]] == [
        (broken, "reboot", "recovered")]
    after = members(conn, body["id"])
    for name in before:  # same physical ids, same servers, nothing replaced
        assert (after[name]["physical_id"], after[name]["servers"]) == (
            before[name]["physical_id"], before[name]["servers"])
    assert not after[broken]["status"].endswith("_FAILED"), after[broken]
    assert server_status(conn, after[broken]["servers"][0]) == "ACTIVE"
    assert stack(conn, body["id"])["updated_time"] == updated  # no stack update


def test_most_of_the_group_failed_is_held_and_force_replaces_in_batches(
        conn, admin_conn, mistral, stacks, pack_workflows):
    body = asg(stacks, 4)
    before = members(conn, body["id"])
    broken = sorted(before)[:3]
    break_servers(admin_conn, conn, before, broken)
    updated = stack(conn, body["id"])["updated_time"]

    # The loop's run (strategy failed) and an alarm's run about one of them: both held.
    for inputs in ({"count": 3}, {"strategy": "specific", "not_a_member": "ignore",
                                  "member": before[broken[0]]["servers"][0]}):
        execution, report = heal(mistral, stack=body["stack_name"], **inputs)
        assert execution["State"] == "SUCCESS", execution["State info"]
        assert report["status"] == "held", report
        assert sorted(report["failed_members"]) == broken  # oldest first: Heat's order
        for name in broken:
            assert name in report["message"]
        assert "max_failed_fraction 0.5" in report["message"]
    assert members(conn, body["id"]) == before
    assert stack(conn, body["id"])["updated_time"] == updated

    execution, report = heal(mistral, stack=body["stack_name"], count=3, max_unavailable=2,
                             force=True)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "replaced", report
    assert [len(b) for b in report["batches"]] == [2, 1]  # max_unavailable 2, oldest first
    assert sorted(sum(report["batches"], [])) == broken
    after = members(conn, body["id"])
    assert changed(before, after) == broken
    for name in broken:
        assert server_status(conn, after[name]["servers"][0]) == "ACTIVE"


@pytest.mark.alone
def test_ladder_climbs_to_replace_when_the_members_compute_host_is_down(
        conn, admin_conn, mistral, stacks, pack_workflows):
    """The member's nova-compute stopped: the reboot is accepted but never happens (past
    its deadline), the rebuild is refused (the reboot is still Nova's task), and Heat
    replaces the member on the other host."""
    body = asg(stacks, 1)
    before = members(conn, body["id"])
    (name,) = before
    server = before[name]["servers"][0]
    host = server_host(admin_conn, server)
    service = COMPUTE_SERVICES[host]
    devcloud_service("stop", service)
    try:
        wait_compute_service(admin_conn, host, "down")
        break_servers(admin_conn, conn, before, [name])
        execution, report = heal(mistral, stack=body["stack_name"], recovery="ladder",
                                 rung_timeout=15, poll_delay=2)
    finally:
        devcloud_service("start", service)
        wait_compute_service(admin_conn, host, "up")
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "replaced", report
    rungs = [(r["member"], r["rung"], r["outcome"]) for r in report["rungs"]]
    assert rungs == [(name, "reboot", "failed"), (name, "rebuild", "failed")]
    assert "after 1" in report["rungs"][0]["reason"]  # past its 15 s deadline
    assert "409" in report["rungs"][1]["reason"]  # Nova refused the rebuild
    assert [r["name"] for r in report["replaced"]] == [name]
    after = members(conn, body["id"])
    assert changed(before, after) == [name]
    new_server = after[name]["servers"][0]
    assert server_status(conn, new_server) == "ACTIVE"
    assert server_host(admin_conn, new_server) != host
