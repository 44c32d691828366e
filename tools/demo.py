"""The ha-actions demo on the devcloud (run by tools/demo inside the devcloud venv).

Deploys examples/asg_of_servers.yaml as the member user, breaks one member's
server (admin reset-state to ERROR), runs ha.v1.replace_member with strategy
'failed' through the mistral CLI, and prints the members before and after. Then
the same with the pack's OpenStackClient plugin: ``openstack ha pack install``,
another member broken, ``openstack ha member replace ha-demo --wait`` (its live
progress and report).
"""

import json
import os
import subprocess
import sys
import time

import openstack

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = "ha-demo"


def say(text):
    print("demo: %s" % text, flush=True)


def venv_bin(name):
    """A command of the venv this demo runs in (tools/demo: the devcloud's)."""
    return os.path.join(os.path.dirname(sys.executable), name)


def mistral(*args):
    proc = subprocess.run([venv_bin("mistral"), *args], capture_output=True, text=True)
    if proc.returncode != 0 and "workflow-create" not in args:
        sys.exit("demo: mistral %s failed: %s" % (args[0], proc.stderr[-1500:]))
    return proc


def wait_stack(conn, name):
    while True:
        body = conn.orchestration.get("/stacks/%s" % name).json()["stack"]
        if not body["stack_status"].endswith("IN_PROGRESS"):
            return body
        time.sleep(1)


def deploy(conn, name=STACK, size=3):
    """Stack ``name`` from examples/asg_of_servers.yaml (``size`` servers), or the existing one."""
    if conn.orchestration.get("/stacks/%s" % name).status_code == 200:
        say("stack %s exists already; using it" % name)
        return wait_stack(conn, name)
    say("deploying examples/asg_of_servers.yaml as stack %s (%d real Nova servers)"
        % (name, size))
    files = {}
    for path in ("asg_of_servers.yaml", "member_server.yaml"):
        with open(os.path.join(REPO, "examples", path)) as f:
            files[path] = f.read()
    resp = conn.orchestration.post("/stacks", json={
        "stack_name": name, "template": files.pop("asg_of_servers.yaml"), "files": files,
        "parameters": {"size": size}})
    if resp.status_code != 201:
        sys.exit("demo: stack create failed: %s" % resp.text)
    body = wait_stack(conn, name)
    if body["stack_status"] != "CREATE_COMPLETE":
        sys.exit("demo: stack %s: %s" % (body["stack_status"], body["stack_status_reason"]))
    return body


def resources(conn, stack_id):
    """A stack's resources (sub-paths need /stacks/{name}/{id}, only /stacks/{id} redirects)."""
    body = conn.orchestration.get("/stacks/%s" % stack_id).json()["stack"]
    return conn.orchestration.get("/stacks/%s/%s/resources" % (
        body["stack_name"], body["id"])).json()["resources"]


def member_rows(conn, stack_id):
    group = next(r for r in resources(conn, stack_id) if r["resource_name"] == "group")
    rows = []
    for res in resources(conn, group["physical_resource_id"]):
        inner = resources(conn, res["physical_resource_id"])
        server_id = next(r["physical_resource_id"] for r in inner
                         if r["resource_type"] == "OS::Nova::Server")
        rows.append((res["resource_name"], res["creation_time"], server_id,
                     conn.compute.get_server(server_id).status))
    return sorted(rows, key=lambda r: r[1])


def table(title, rows):
    print("\n%s\n%-14s %-22s %-38s %s" % (title, "member", "created", "server", "status"))
    for row in rows:
        print("%-14s %-22s %-38s %s" % row)
    print()


def break_member(conn, admin, stack_id, index):
    """Put the server of the index-th oldest member into ERROR; the members before."""
    rows = member_rows(conn, stack_id)
    victim = rows[index]
    say("breaking member %s: its server %s goes to ERROR (admin reset-state)"
        % (victim[0], victim[2]))
    admin.compute.reset_server_state(victim[2], "error")
    return member_rows(conn, stack_id)


def openstack_ha(*args):
    """Run ``openstack ha ...`` with its output (progress, report) on the terminal."""
    say("openstack ha %s" % " ".join(args))
    code = subprocess.run([venv_bin("openstack"), "ha", *args]).returncode
    if code != 0:
        sys.exit("demo: openstack ha %s exited %d" % (args[0], code))


def heal_with_the_cli(conn, admin, stack_id):
    """The same heal with the pack's OpenStackClient plugin."""
    say("now with the openstack CLI plugin of the pack")
    openstack_ha("pack", "install", "--update")
    table("Before", break_member(conn, admin, stack_id, 0))
    # --force: the first heal just ended, within the cooldown (60 s)
    openstack_ha("member", "replace", STACK, "--reason", "demo: server in ERROR", "--force",
                 "--wait")
    table("After", member_rows(conn, stack_id))


def main():
    conn = openstack.connect(cloud="devcloud")
    admin = openstack.connect(cloud="devcloud-admin")
    for path in sorted(os.listdir(os.path.join(REPO, "workflows"))):
        full = os.path.join(REPO, "workflows", path)
        if mistral("workflow-create", full).returncode != 0:
            mistral("workflow-update", full)
    say("uploaded the pack's workflows with 'mistral workflow-create' (member user)")
    body = deploy(conn)
    table("Before", break_member(conn, admin, body["id"], 1))
    request = {"stack": STACK, "strategy": "failed", "reason": "demo: server in ERROR"}
    say("mistral execution-create ha.v1.replace_member '%s'" % json.dumps(request))
    ex_id = json.loads(mistral("execution-create", "ha.v1.replace_member", json.dumps(request),
                               "-f", "json").stdout)["ID"]
    started = time.time()
    while True:
        ex = json.loads(mistral("execution-get", ex_id, "-f", "json").stdout)
        if ex["State"] not in ("RUNNING", "IDLE"):
            break
        time.sleep(1)
    say("execution %s ended %s after %.0f s" % (ex_id, ex["State"], time.time() - started))
    report = json.loads(mistral("execution-get-output", ex_id).stdout or "{}").get("report")
    if ex["State"] != "SUCCESS":
        sys.exit("demo: the workflow failed: %s" % ex["State info"])
    print(json.dumps(report, indent=2))
    table("After", member_rows(conn, body["id"]))
    heal_with_the_cli(conn, admin, body["id"])
    print("""Explore:  source .devcloud/demo-openrc.sh
          openstack stack resource list -n 2 %(s)s
          mistral execution-list; mistral execution-get-output %(e)s
          openstack ha execution list --stack %(s)s; openstack ha pack show
Run it yourself, e.g. replace the oldest member:
          mistral execution-create ha.v1.replace_member '{"stack": "%(s)s", "strategy": "oldest"}'
          openstack ha member replace %(s)s --strategy oldest --force --wait
Tear down: openstack stack delete -y %(s)s; tools/devcloud down""" % {"s": STACK, "e": ex_id})


if __name__ == "__main__":
    main()
