"""ha.v1.replace_member on real Heat and Nova, run with the mistral CLI as the member user."""

import concurrent.futures
import json
import time

import pytest
from devcloud_fixtures import StackFactory
from groups import changed, example, members, patch_and_wait, server_status, stack

from ha_actions import workflow as mistral_calls

pytestmark = pytest.mark.functional
WORKFLOW = "ha.v1.replace_member"


@pytest.fixture(scope="module")
def asg(conn, pack_workflows):
    """An ASG of 4 servers whose members were created at different times."""
    factory = StackFactory(conn)
    try:
        template, files = example("asg_of_servers.yaml", "member_server.yaml")
        body = factory.create(template, parameters={"size": 1}, files=files)
        for size in (2, 3, 4):
            time.sleep(1.1)  # creation_time has one-second resolution
            body = patch_and_wait(conn, body, {"size": size})
        got = members(conn, body["id"])
        assert len(got) == 4
        assert len({m["creation_time"] for m in got.values()}) == 4
        yield body
    finally:
        factory.cleanup()


NO_LIMITS = {"cooldown": 0, "max_heals": 1000}


def replace(mistral, **inputs):
    """Run the workflow; no cooldown and no flapping limit unless given: this module heals
    the same members of one stack many times a minute (both have their own tests)."""
    execution, output = mistral.execute(WORKFLOW, dict(NO_LIMITS, **inputs), timeout=600)
    return execution, output.get("report", {})


def by_age(group_members):
    return sorted(group_members, key=lambda n: group_members[n]["creation_time"])


def assert_replaced_exactly(before, after, report, names):
    assert changed(before, after) == sorted(names)
    assert len(after) == len(before)
    assert sorted(r["name"] for r in report["replaced"]) == sorted(names)
    for row in report["replaced"]:
        assert row["old_physical_id"] == before[row["name"]]["physical_id"]
        assert row["new_physical_id"] == after[row["name"]]["physical_id"]
        assert after[row["name"]]["creation_time"] >= before[row["name"]]["creation_time"]


def test_oldest_replaces_the_oldest_member(conn, mistral, asg):
    before = members(conn, asg["id"])
    oldest = by_age(before)[0]
    execution, report = replace(mistral, stack=asg["stack_name"], strategy="oldest")
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "replaced"
    assert_replaced_exactly(before, members(conn, asg["id"]), report, [oldest])


def test_newest_replaces_the_newest_member(conn, mistral, asg):
    before = members(conn, asg["id"])
    newest = by_age(before)[-1]
    execution, report = replace(mistral, stack=asg["id"], group="group", strategy="newest")
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert_replaced_exactly(before, members(conn, asg["id"]), report, [newest])


def test_failed_replaces_the_member_whose_server_is_in_error(conn, admin_conn, mistral, asg):
    before = members(conn, asg["id"])
    broken = by_age(before)[1]
    admin_conn.compute.reset_server_state(before[broken]["servers"][0], "error")
    assert server_status(conn, before[broken]["servers"][0]) == "ERROR"

    execution, report = replace(mistral, stack=asg["stack_name"], strategy="failed",
                                reason="functional test: server in ERROR")
    assert execution["State"] == "SUCCESS", execution["State info"]
    after = members(conn, asg["id"])
    assert_replaced_exactly(before, after, report, [broken])
    assert server_status(conn, after[broken]["servers"][0]) == "ACTIVE"

    # The same request again finds nothing to heal and replaces nothing.
    execution, report = replace(mistral, stack=asg["stack_name"], strategy="failed")
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "already_healed"
    assert changed(after, members(conn, asg["id"])) == []


def test_specific_by_server_uuid_and_again_is_already_healed(conn, mistral, asg):
    before = members(conn, asg["id"])
    target = by_age(before)[2]
    server = before[target]["servers"][0]
    execution, report = replace(mistral, stack=asg["stack_name"], strategy="specific",
                                member=server)
    assert execution["State"] == "SUCCESS", execution["State info"]
    after = members(conn, asg["id"])
    assert_replaced_exactly(before, after, report, [target])

    execution, report = replace(mistral, stack=asg["stack_name"], strategy="specific",
                                member=server)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "already_healed"
    assert report["former_member"] == target
    assert "%s was in member %s of group 'group' until 20" % (server, target) in report["message"]
    assert changed(after, members(conn, asg["id"])) == []


def test_a_server_of_another_stack_is_not_a_member_and_changes_nothing(conn, mistral, asg,
                                                                       stacks):
    template, files = example("asg_of_servers.yaml", "member_server.yaml")
    other = stacks.create(template, parameters={"size": 1}, files=files)
    foreign = next(iter(members(conn, other["id"]).values()))["servers"][0]
    before = members(conn, asg["id"])
    updated_before = stack(conn, asg["id"])["updated_time"]

    execution, report = replace(mistral, stack=asg["stack_name"], strategy="specific",
                                member=foreign)
    assert execution["State"] == "ERROR"
    assert "%s is not a member of group 'group' and never was" % foreign in execution[
        "State info"]
    assert report["status"] == "failed"
    assert members(conn, asg["id"]) == before
    assert stack(conn, asg["id"])["updated_time"] == updated_before


def test_alarm_runs_about_another_stacks_server_do_not_make_the_real_heal_skip(
        conn, mistral, asg, stacks):
    """One alarm fires for every stack of the project: when a host fails, each stack gets
    a run about each broken server, its own and the others'. Runs about a server of no
    member (not_a_member ignore, as on_alarm starts them) end 'ignored' and must not make
    the stack's real heal, started after them, end 'skipped'."""
    template, files = example("asg_of_servers.yaml", "member_server.yaml")
    other = stacks.create(template, parameters={"size": 1}, files=files)
    foreign = next(iter(members(conn, other["id"]).values()))["servers"][0]
    before = members(conn, asg["id"])
    api = mistral.api()
    stranger = dict(NO_LIMITS, stack=asg["stack_name"], strategy="specific", member=foreign,
                    not_a_member="ignore")
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        strangers = list(pool.map(lambda _: api.start(WORKFLOW, stranger), range(3)))
    real = api.start(WORKFLOW, dict(NO_LIMITS, stack=asg["stack_name"], strategy="oldest"))

    ex, output = api.wait(real, timeout=600)
    assert ex["state"] == "SUCCESS", ex.get("state_info")
    assert output["report"]["status"] == "replaced", output["report"]
    assert_replaced_exactly(before, members(conn, asg["id"]), output["report"],
                            [by_age(before)[0]])
    for ex_id in strangers:
        ex, output = api.wait(ex_id, timeout=300)
        assert (ex["state"], output["report"]["status"]) == ("SUCCESS", "ignored"), output
    # The real run's guard was handed at least one of them RUNNING, and went on.
    handed = mistral_calls.recorded_guard_input(conn, real)["running"]
    assert set(strangers) & {run["id"] for run in handed}, handed


def test_cooldown_holds_a_second_heal_back_and_force_bypasses_it(conn, mistral, asg):
    execution, first = replace(mistral, stack=asg["stack_name"], strategy="oldest")
    assert first["status"] == "replaced", execution["State info"]
    before = members(conn, asg["id"])
    oldest = by_age(before)[0]

    execution, held = replace(mistral, stack=asg["stack_name"], strategy="oldest",
                              cooldown=600)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert held["status"] == "cooldown"
    assert held["message"].startswith("Cooldown, nothing changed: execution %s healed this "
                                      "stack " % first["execution_id"])
    assert "or with force: true" in held["message"]
    assert held["would_replace"] == [oldest]
    assert held["last_heal"]["id"] == first["execution_id"]
    assert changed(before, members(conn, asg["id"])) == []

    execution, forced = replace(mistral, stack=asg["stack_name"], strategy="oldest",
                                cooldown=600, force=True)
    assert forced["status"] == "replaced", execution["State info"]
    assert ("force: true: the pause, the cooldown and the flapping limit were not applied."
            in forced["message"])
    assert_replaced_exactly(before, members(conn, asg["id"]), forced, [oldest])


def test_dry_run_changes_nothing(conn, mistral, asg):
    before = members(conn, asg["id"])
    updated_before = stack(conn, asg["id"])["updated_time"]
    oldest = by_age(before)[0]
    execution, report = replace(mistral, stack=asg["stack_name"], strategy="oldest",
                                dry_run=True)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert report["status"] == "dry_run"
    assert [m["name"] for m in report["would_replace"]] == [oldest]
    assert members(conn, asg["id"]) == before
    assert stack(conn, asg["id"])["updated_time"] == updated_before


def test_count_two_replaces_in_batches_of_one(conn, mistral, asg):
    before = members(conn, asg["id"])
    two_oldest = by_age(before)[:2]
    execution, report = replace(mistral, stack=asg["stack_name"], strategy="oldest",
                                count=2, max_unavailable=1)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert_replaced_exactly(before, members(conn, asg["id"]), report, two_oldest)
    assert len(report["batches"]) == 2
    # Each batch's inspect marked its member and PATCHed the stack at once; the batch's
    # update (ha.v1.update_stack) only waited on that PATCH.
    tasks = mistral.api().tasks(execution["ID"])
    published = {name: [json.loads(t.get("published") or "{}") for t in tasks
                        if (t["workflow_name"], t["name"]) == name]
                 for name in (("ha.v1.replace_member_batch", "inspect"),
                              ("ha.v1.update_stack", "update"))}
    patched = [p["before"]["patched"] for p in published["ha.v1.replace_member_batch",
                                                         "inspect"]]
    assert len(patched) == 2 and all(p and p["parameters"] == {} for p in patched), patched
    assert sorted(p["previous"] for p in published["ha.v1.update_stack", "update"]) == sorted(
        p["previous_updated_time"] for p in patched)


# Refused by the input checks or the stack lookup, before the concurrency guard: all
# started at once.
BAD_INPUTS = [
    ({"stack": "no-such-stack", "strategy": "oldest"}, "Stack 'no-such-stack' not found"),
    ({"group": "no_such_group", "strategy": "oldest"}, "no_such_group"),
    ({"strategy": "specific"}, "member"),
    ({"strategy": "sideways"}, "sideways"),
    ({"strategy": "oldest", "cooldown": -1},
     "cooldown must be a number of seconds >= 0 (0: none), not -1."),
    ({"strategy": "oldest", "max_heals": 0}, "max_heals must be a whole number >= 1"),
    ({"strategy": "oldest", "force": "yes"}, "force must be true or false, not 'yes'."),
    ({"strategy": "oldest", "stall_timeout": 0},
     "stall_timeout must be a number of seconds > 0, not 0."),
    ({"strategy": "oldest", "stale_after": "soon"},
     "stale_after must be a number of seconds > 0, not 'soon'."),
    ({"strategy": "oldest", "not_a_member": "skip"},
     "not_a_member must be fail or ignore, not 'skip'."),
    ({"strategy": "oldest", "recovery": "restart"},
     "recovery must be one of replace, reboot, rebuild, ladder, not 'restart'"),
    ({"max_failed_fraction": 0}, "max_failed_fraction must be a number in (0, 1]"),
    ({"max_failed_fraction": 1.5}, "max_failed_fraction must be a number in (0, 1]"),
    ({"recovery": "ladder", "rung_timeout": 5},
     "rung_timeout must be a number of seconds >= 10"),
]
# Refused by the member selection, after the guard: one by one (a run still going would
# make the next one end 'skipped').
BAD_INPUTS_AFTER_THE_GUARD = [
    ({"strategy": "specific", "member": "not-a-member"}, "not-a-member"),
    ({"strategy": "oldest", "count": 5}, "count"),
]


def test_bad_input_fails_clearly_and_changes_nothing(conn, mistral, asg):
    before = members(conn, asg["id"])
    updated_before = stack(conn, asg["id"])["updated_time"]

    ended = mistral.refusals(WORKFLOW, {"stack": asg["stack_name"]}, BAD_INPUTS,
                             BAD_INPUTS_AFTER_THE_GUARD)
    for inputs, message, execution, _ in ended:
        assert execution["State"] == "ERROR", inputs
        assert message in execution["State info"], (inputs, execution["State info"])
    assert members(conn, asg["id"]) == before
    assert stack(conn, asg["id"])["updated_time"] == updated_before


def test_member_with_server_and_volume_is_found_by_server_uuid_and_replaced_whole(
        conn, mistral, stacks, pack_workflows):
    template, files = example("asg_of_servers_with_volume.yaml", "member_server_volume.yaml")
    body = stacks.create(template, parameters={"size": 2}, files=files)
    before = members(conn, body["id"])
    target = sorted(before)[0]
    server = before[target]["servers"][0]
    old_volumes = {a.volume_id for a in conn.compute.volume_attachments(server)}
    assert len(old_volumes) == 1

    execution, report = replace(mistral, stack=body["stack_name"], strategy="specific",
                                member=server)
    assert execution["State"] == "SUCCESS", execution["State info"]
    after = members(conn, body["id"])
    assert_replaced_exactly(before, after, report, [target])
    new_server = after[target]["servers"][0]
    assert new_server != server
    new_volumes = {a.volume_id for a in conn.compute.volume_attachments(new_server)}
    assert len(new_volumes) == 1 and new_volumes != old_volumes
    assert report["replaced"][0]["new_server_ids"] == [new_server]


def test_resource_group_member_is_replaced(conn, mistral, stacks, pack_workflows):
    template, _ = example("resource_group_of_servers.yaml")
    body = stacks.create(template, parameters={"size": 3})
    before = members(conn, body["id"])
    assert sorted(before) == ["0", "1", "2"]
    execution, report = replace(mistral, stack=body["stack_name"], strategy="specific",
                                member="1")
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert_replaced_exactly(before, members(conn, body["id"]), report, ["1"])
