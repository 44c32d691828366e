"""Real Aodh event alarms heal the example stacks, with no test code calling Mistral.

The other tests POST to the same alarm_url Aodh's notifier POSTs to (heat-api-cfn):
the bodies Aodh sends in cases the devcloud cannot provoke on demand (a transition
back to ok, the same alarm twice at once) and bodies Aodh never sends.
"""

import json
import time

import pytest
import requests
from devcloud_fixtures import mistral_since
from groups import (
    AttachmentWatcher,
    alarm_url,
    aodh_alarm_body,
    changed,
    create_pair,
    example,
    members,
    server_status,
    stack,
    volume_servers,
)

# Every alarm of the example fires for any server of the project that goes to ERROR, and
# these tests read the on_alarm runs started since a moment: run beside no other test.
pytestmark = [pytest.mark.functional, pytest.mark.alone]


WORKFLOW = "ha.v1.on_alarm"
AODH_KEYS = ("alarm_id", "alarm_name", "severity", "previous", "current", "reason",
             "reason_data")


def executions_since(mistral, since, seen=()):
    """The on_alarm executions created since ``since`` (Mistral's REST API, filtered there:
    no CLI process and no full listing per look), oldest first, as the CLI names fields."""
    rows = mistral.api().get("/executions", workflow_name=WORKFLOW,
                             created_at="gte:%s" % since, limit=1000)["executions"]
    return sorted(({"ID": r["id"], "Created at": r["created_at"]} for r in rows
                   if r["id"] not in seen), key=lambda r: r["Created at"])


def wait_for_execution(mistral, since, count=1, seen=(), timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = executions_since(mistral, since, seen)
        if len(found) >= count:
            return found
        time.sleep(0.5)
    raise AssertionError("%d execution(s) of %s did not start within %d s"
                         % (count, WORKFLOW, timeout))


def finish_all(mistral, since, seen=()):
    """Wait for every on_alarm execution since ``since``; {id: (execution, output)}."""
    return {r["ID"]: mistral.wait(r["ID"], timeout=600)
            for r in executions_since(mistral, since, seen)}


def break_server_and_wait(admin_conn, mistral, server_id, capsys):
    """Put a server in ERROR (admin reset-state) and wait for the execution its alarm
    starts; print the timings. Returns (execution id, execution, output)."""
    since = mistral_since()
    broken_at = time.time()
    admin_conn.compute.reset_server_state(server_id, "error")
    first = wait_for_execution(mistral, since)[0]
    started_s = time.time() - broken_at
    execution, output = mistral.wait(first["ID"], timeout=600)
    with capsys.disabled():  # shown in every run, not only when the test fails
        print("\nalarm to execution start: %.1f s; alarm to healed: %.1f s"
              % (started_s, time.time() - broken_at))
    return first["ID"], execution, output


def post_alarm(url, payload):
    """POST ``payload`` to a stack's alarm_url, as Aodh's http notifier does."""
    resp = requests.post(url, json=payload, timeout=30)
    assert resp.status_code == 200, resp.text


def test_server_in_error_fires_the_alarm_and_the_member_is_replaced(
        conn, admin_conn, mistral, stacks, pack_workflows, capsys):
    template, files = example("asg_with_alarm.yaml", "member_server.yaml")
    body = stacks.create(template, parameters={"size": 2, "reconcile_minutes": 0}, files=files)
    before = members(conn, body["id"])
    victim = sorted(before)[0]
    server = before[victim]["servers"][0]
    first, execution, output = break_server_and_wait(admin_conn, mistral, server, capsys)

    assert execution["State"] == "SUCCESS", execution["State info"]
    report = output["report"]
    assert report["status"] == "replaced"
    after = members(conn, body["id"])
    assert changed(before, after) == [victim]
    assert report["result"]["replaced"][0]["old_server_ids"] == [server]
    assert server_status(conn, after[victim]["servers"][0]) == "ACTIVE"

    # Aodh fires again (repeat_actions, re-evaluation): the same body POSTed again
    # to the alarm_url starts an execution that replaces nothing.
    alarm_body = json.loads(mistral.run("execution-get-input", first).stdout)
    since = mistral_since()
    post_alarm(alarm_url(conn, body), {k: alarm_body[k] for k in AODH_KEYS})
    second = wait_for_execution(mistral, since, seen={first})[0]
    execution, output = mistral.wait(second["ID"], timeout=300)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert output["report"]["status"] in ("already_healed", "skipped")
    assert changed(after, members(conn, body["id"])) == []


def test_active_server_in_error_fails_the_pair_over(conn, admin_conn, mistral, stacks,
                                                     pack_workflows, capsys):
    body, servers, volume_ids = create_pair(conn, stacks, heal_on_alarm=True)
    a, b = servers["server_a"], servers["server_b"]
    since = mistral_since()

    with AttachmentWatcher(volume_ids):
        first, execution, output = break_server_and_wait(admin_conn, mistral, a, capsys)
        runs = finish_all(mistral, since)

    assert execution["State"] == "SUCCESS", execution["State info"]
    report = output["report"]
    assert report["status"] == "failed_over", report
    assert report["member"] == a
    assert report["result"]["old_active"] == {"name": "server_a", "id": a}
    assert report["result"]["new_active"] == {"name": "server_b", "id": b}
    assert report["result"]["volumes"] == {volume_ids[0]: [b]}
    # One failure, one execution: the updates Nova sends while the workflow stops the
    # server in ERROR (old_state error) do not fire the alarm again.
    assert list(runs) == [first], [out["report"]["status"] for _, out in runs.values()]
    assert volume_servers(conn, volume_ids[0]) == ("in-use", [b])
    assert server_status(conn, a) == "SHUTOFF"
    healed = stack(conn, body["id"])
    assert healed["parameters"]["active"] == "server_b"

    # The old active goes to ERROR again: its alarm fires again (repeat_actions), and
    # the execution sees that server_a is no longer the active server.
    since = mistral_since()
    admin_conn.compute.reset_server_state(a, "error")
    second = wait_for_execution(mistral, since, seen=set(runs))[0]
    execution, output = mistral.wait(second["ID"], timeout=300)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert output["report"]["status"] == "ignored"
    assert "not the active server" in output["report"]["why"]
    assert volume_servers(conn, volume_ids[0]) == ("in-use", [b])
    assert stack(conn, body["id"])["updated_time"] == healed["updated_time"]


def asg_with_alarm(conn, stacks, heal_options=None, **parameters):
    """The example with its alarm only (these tests read the alarm's runs): no loop."""
    template, files = example("asg_with_alarm.yaml", "member_server.yaml")
    parameters = dict({"size": 2, "reconcile_minutes": 0}, **parameters)
    if heal_options:
        parameters["heal_options"] = json.dumps(heal_options)
    body = stacks.create(template, parameters=parameters, files=files)
    return body, members(conn, body["id"])


def alarm_id(conn, stack_body):
    url = "/stacks/%s/%s/resources/server_error_alarm" % (stack_body["stack_name"],
                                                            stack_body["id"])
    resp = conn.orchestration.get(url)
    assert resp.status_code == 200, resp.text
    return resp.json()["resource"]["physical_resource_id"]


def test_a_stack_that_chose_the_ladder_has_its_server_rebooted_in_place_by_the_alarm(
        conn, admin_conn, mistral, stacks, pack_workflows, capsys):
    body, before = asg_with_alarm(conn, stacks, recovery="ladder")
    victim = sorted(before)[0]
    server = before[victim]["servers"][0]
    _, execution, output = break_server_and_wait(admin_conn, mistral, server, capsys)

    assert execution["State"] == "SUCCESS", execution["State info"]
    result = output["report"]["result"]
    assert result["status"] == "recovered", result
    assert result["recovery"] == "ladder" and result["recovered"] == [victim]
    assert [(r["member"], r["rung"], r["outcome"]) for r in result["rungs"]] == [
        (victim, "reboot", "recovered")]
    assert members(conn, body["id"]) == before  # same server, same physical id
    assert server_status(conn, server) == "ACTIVE"


def test_alarm_back_to_ok_and_foreign_bodies_change_nothing(conn, mistral, stacks,
                                                            pack_workflows):
    body, before = asg_with_alarm(conn, stacks)
    server = before[sorted(before)[0]]["servers"][0]
    aid, url = alarm_id(conn, body), alarm_url(conn, body)
    since = mistral_since()

    # A body that is not Aodh's (unknown keys): heat-engine starts no execution.
    post_alarm(url, {"event": "server down", "server": server})
    # Aodh's own body for alarm -> ok names the server, but heals nothing.
    post_alarm(url, aodh_alarm_body(aid, server, previous="alarm", current="ok"))
    # Aodh's keys, but not an alarm notification: a clear error, nothing changed.
    post_alarm(url, dict(aodh_alarm_body(aid, server), reason_data="server down"))

    found = wait_for_execution(mistral, since, count=2)
    runs = finish_all(mistral, since)
    assert len(runs) == 2, "the foreign body started an execution: %s" % found
    by_state = {execution["State"]: output for execution, output in runs.values()}
    assert sorted(by_state) == ["ERROR", "SUCCESS"], runs
    assert by_state["SUCCESS"]["report"]["status"] == "ignored"
    assert "alarm -> ok" in by_state["SUCCESS"]["report"]["why"]
    error = [execution["State info"] for execution, _ in runs.values()
             if execution["State"] == "ERROR"][0]
    assert "'reason_data' is a str, not an object" in error
    assert "ha.v1.on_alarm expects Aodh's alarm notification" in error
    assert changed(before, members(conn, body["id"])) == []


def test_an_alarm_about_a_server_of_no_member_is_ignored(conn, mistral, stacks, pack_workflows):
    body, before = asg_with_alarm(conn, stacks)
    template, files = example("asg_of_servers.yaml", "member_server.yaml")
    other = stacks.create(template, parameters={"size": 1}, files=files)
    foreign = next(iter(members(conn, other["id"]).values()))["servers"][0]
    since = mistral_since()

    post_alarm(alarm_url(conn, body), aodh_alarm_body(alarm_id(conn, body), foreign))
    run = wait_for_execution(mistral, since)[0]
    execution, output = mistral.wait(run["ID"], timeout=300)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert output["report"]["status"] == "ignored"
    assert "%s is not a member of group 'group' and never was" % foreign in output[
        "report"]["result"]["message"]
    assert changed(before, members(conn, body["id"])) == []


def test_a_member_that_keeps_failing_ends_flapping_and_is_left_alone(conn, mistral, stacks,
                                                                   pack_workflows):
    """The alarm fires each time the member's new server fails again: after max_heals
    replacements within heal_window the next alarm replaces nothing."""
    limits = {"cooldown": 0, "max_heals": 2, "heal_window": 600}
    body, before = asg_with_alarm(conn, stacks, heal_options=limits)
    victim = sorted(before)[0]
    aid, url = alarm_id(conn, body), alarm_url(conn, body)
    statuses, heals = [], []
    for _ in range(3):
        current = members(conn, body["id"])
        since = mistral_since()
        post_alarm(url, aodh_alarm_body(aid, current[victim]["servers"][0]))
        run = wait_for_execution(mistral, since)[0]
        execution, output = mistral.wait(run["ID"], timeout=600)
        assert execution["State"] == "SUCCESS", execution["State info"]
        statuses.append(output["report"]["status"])
        heals.append(output["report"]["result"])
    assert statuses == ["replaced", "replaced", "flapping"], statuses
    held = heals[-1]
    assert held["heals_in_window"] == {
        victim: [heals[1]["execution_id"], heals[0]["execution_id"]]}
    assert held["message"].startswith(
        "Flapping, nothing changed: member %s was healed 2 times in the last 600 s" % victim)
    assert "look at the application" in held["message"]
    assert changed(current, members(conn, body["id"])) == []


BAD_CONFIGURATIONS = [
    ({"operation": "reboot"}, "operation must be replace_member or failover_volume, not reboot."),
    ({"options": {"count": 1, "forced": True}},
     "options forced are not inputs of ha.v1.replace_member that ha.v1.on_alarm passes on"),
    ({"options": "fast"}, "options must be an object of extra inputs for ha.v1.replace_member"),
    ({"stack": None}, "No stack to heal: input stack is null and alarm"),
]


def test_bad_configuration_fails_clearly_and_changes_nothing(conn, mistral, stacks,
                                                             pack_workflows):
    body, before = asg_with_alarm(conn, stacks)
    payload = aodh_alarm_body(alarm_id(conn, body), before[sorted(before)[0]]["servers"][0])
    for config, message in BAD_CONFIGURATIONS:
        execution, output = mistral.execute(WORKFLOW, {**payload, "stack": body["id"], **config})
        assert execution["State"] == "ERROR", config
        assert message in execution["State info"], (config, execution["State info"])
        assert output["report"]["status"] == "failed"
        assert changed(before, members(conn, body["id"])) == []
        assert stack(conn, body["id"])["updated_time"] is None
