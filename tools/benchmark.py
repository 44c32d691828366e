"""ha.v1.replace_member side by side with Aodh's autohealer, on the devcloud.

Aodh's autohealer (aodh/notifier/heat.py, TrustHeatAlarmNotifier) finds the failed
member by physical id (resources.list nested_depth=3 filtered on physical_resource_id,
then parent_resource), marks it unhealthy in the group and updates the root stack
(stacks.update existing=True); it neither waits nor checks, and tells nobody. Here its
calls are made with python-heatclient as the member user. The devcloud has no Octavia,
so the failed member is named by its server's uuid, which the same lookup finds.

The same alarm fires twice, GAP s apart, as a re-evaluated or repeated alarm does: for
ha-actions the two firings are two executions of ha.v1.replace_member (strategy specific,
member = the server's uuid: what ha.v1.on_alarm passes on).

Run by tools/benchmark in the devcloud venv. Prints one row per approach and round:
seconds until the trigger returned, until the failed server was gone and the stack
settled, how many new servers the stack got (1 is right), the stack's status, and what the
caller learns. Timings are noisy: compare rows of one run, not runs.
"""

import argparse
import json
import time

import openstack
from demo import deploy, member_rows, mistral, wait_stack
from heatclient import client as heat_client

GAP = 2


def aodh_autoheal(heat, stack_id, asg_id, physical_id):
    """The calls TrustHeatAlarmNotifier.notify makes for one unhealthy member."""
    found = heat.resources.list(stack_id, nested_depth=3,
                                filters={"physical_resource_id": physical_id})
    if not found:
        return "no unhealthy resource found"
    heat.resources.mark_unhealthy(asg_id, found[0].parent_resource, True,
                                  "unhealthy load balancer member")
    heat.stacks.update(stack_id, existing=True)
    return "stack update sent"


def fire_twice(fire):
    """Call ``fire`` twice, GAP s apart; (seconds until both returned, their results)."""
    started, results = time.time(), []
    for i in range(2):
        try:
            results.append(fire())
        except Exception as exc:  # noqa: BLE001 - Aodh logs it and goes on; so do we
            results.append("error: %s" % str(exc).splitlines()[0][:80])
        if i == 0:
            time.sleep(GAP)
    return time.time() - started - GAP, results


def run_aodh(conn, stack, server_id):
    heat = heat_client.Client("1", session=conn.session)
    asg_id = next(r["physical_resource_id"] for r in conn.orchestration.get(
        "/stacks/%s/%s/resources" % (stack["stack_name"], stack["id"])).json()["resources"]
        if r["resource_name"] == "group")
    trigger_s, results = fire_twice(lambda: aodh_autoheal(heat, stack["id"], asg_id, server_id))
    return trigger_s, "; ".join(results)


def run_ha_actions(conn, stack, server_id):
    request = json.dumps({"stack": stack["stack_name"], "strategy": "specific",
                          "member": server_id, "poll_delay": 2})

    def start():
        return json.loads(mistral("execution-create", "ha.v1.replace_member", request,
                                  "-f", "json").stdout)["ID"]

    trigger_s, ids = fire_twice(start)
    statuses = []
    for ex_id in ids:
        while json.loads(mistral("execution-get", ex_id, "-f", "json").stdout)["State"] in (
                "RUNNING", "IDLE"):
            time.sleep(1)
        output = json.loads(mistral("execution-get-output", ex_id).stdout or "{}")
        statuses.append((output.get("report") or {}).get("status", "failed"))
    return trigger_s, "reports: " + ", ".join(statuses)


def wait_healed(conn, stack, server_id, timeout=600):
    """Until the failed server is no member's server and the stack is settled."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        wait_stack(conn, stack["id"])
        try:
            gone = server_id not in [row[2] for row in member_rows(conn, stack["id"])]
        except (KeyError, StopIteration):  # a member changed while being read: look again
            gone = False
        if gone:
            time.sleep(3)  # a second update may start just after the first ended
            return wait_stack(conn, stack["id"])
        time.sleep(1)
    raise SystemExit("benchmark: %s not healed within %d s" % (stack["stack_name"], timeout))


def servers_created_since(conn, since):
    """The project's servers created after ``since``, deleted ones included (one stack
    is healing at a time, and Heat's server names are too short to tell stacks apart)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
    resp = conn.compute.get("/servers/detail", params={"changes-since": stamp})
    return [s["id"] for s in resp.json()["servers"] if s["created"] >= stamp]


def one_round(conn, admin, approach, run, index):
    stack = deploy(conn, "bench-%s-%d" % (approach, index), size=3)
    server_id = member_rows(conn, stack["id"])[0][2]
    admin.compute.reset_server_state(server_id, "error")
    started = time.time()
    trigger_s, told = run(conn, stack, server_id)
    body = wait_healed(conn, stack, server_id)
    healed_s = time.time() - started
    replaced = len(servers_created_since(conn, started - 1))
    conn.orchestration.delete("/stacks/%s/%s" % (stack["stack_name"], stack["id"]))
    return (approach, index, trigger_s, healed_s, replaced, body["stack_status"], told)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    conn = openstack.connect(cloud="devcloud")
    admin = openstack.connect(cloud="devcloud-admin")
    rows = []
    for index in range(1, args.rounds + 1):
        for approach, run in (("aodh-autohealer", run_aodh), ("ha-actions", run_ha_actions)):
            rows.append(one_round(conn, admin, approach, run, index))
            print("benchmark: %s round %d done" % (approach, index), flush=True)
    head = ("approach", "round", "trigger_s", "healed_s", "servers", "stack", "caller told")
    print("\n%-16s %5s %9s %8s %8s %-16s %s" % head)
    for row in rows:
        print("%-16s %5d %9.1f %8.1f %8d %-16s %s" % row)


if __name__ == "__main__":
    main()
