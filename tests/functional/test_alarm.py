"""A real Aodh event alarm heals the example ASG, with no test code calling Mistral."""

import json
import time

import pytest
import requests
from groups import changed, example, members, server_status

pytestmark = pytest.mark.functional


def executions_since(mistral, workflow, since):
    rows = mistral.json("execution-list", "--limit", "-1")
    return [r for r in rows if r["Workflow name"] == workflow and r["Created at"] >= since]


def wait_for_execution(mistral, workflow, since, count, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = executions_since(mistral, workflow, since)
        if len(found) >= count:
            return sorted(found, key=lambda r: r["Created at"])
        time.sleep(0.5)
    raise AssertionError("no execution of %s started within %d s" % (workflow, timeout))


def alarm_url(conn, stack_body):
    url = "/stacks/%s/%s/resources/heal" % (stack_body["stack_name"], stack_body["id"])
    resp = conn.orchestration.get(url, params={"with_attr": "alarm_url"})
    assert resp.status_code == 200, resp.text
    return resp.json()["resource"]["attributes"]["alarm_url"]


def test_server_in_error_fires_the_alarm_and_the_member_is_replaced(
        conn, admin_conn, mistral, stacks, pack_workflows, capsys):
    template, files = example("asg_with_alarm.yaml", "member_server.yaml")
    body = stacks.create(template, parameters={"size": 2}, files=files)
    before = members(conn, body["id"])
    victim = sorted(before)[0]
    server = before[victim]["servers"][0]
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 1))

    broken_at = time.time()
    admin_conn.compute.reset_server_state(server, "error")
    first = wait_for_execution(mistral, "ha.v1.on_alarm", since, 1)[0]
    started_s = time.time() - broken_at
    execution, output = mistral.wait(first["ID"], timeout=600)
    healed_s = time.time() - broken_at
    with capsys.disabled():  # shown in every run, not only when the test fails
        print("\nalarm to execution start: %.1f s; alarm to healed: %.1f s"
              % (started_s, healed_s))

    assert execution["State"] == "SUCCESS", execution["State info"]
    report = output["report"]
    assert report["status"] == "replaced"
    after = members(conn, body["id"])
    assert changed(before, after) == [victim]
    assert report["result"]["replaced"][0]["old_server_ids"] == [server]
    assert server_status(conn, after[victim]["servers"][0]) == "ACTIVE"

    # Aodh fires again (repeat_actions, re-evaluation): the same body POSTed again
    # to the alarm_url starts an execution that replaces nothing.
    alarm_body = json.loads(mistral.run("execution-get-input", first["ID"]).stdout)
    payload = {k: alarm_body[k] for k in ("alarm_id", "alarm_name", "severity", "previous",
                                          "current", "reason", "reason_data")}
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    resp = requests.post(alarm_url(conn, body), json=payload, timeout=30)
    assert resp.status_code == 200, resp.text
    second = wait_for_execution(mistral, "ha.v1.on_alarm", since, 1)[0]
    execution, output = mistral.wait(second["ID"], timeout=300)
    assert execution["State"] == "SUCCESS", execution["State info"]
    assert output["report"]["status"] in ("already_healed", "skipped")
    assert changed(after, members(conn, body["id"])) == []
