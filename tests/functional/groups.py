"""What the operator would look at in Heat and Nova: a group's members, as plain dicts."""

import os
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples")


def example(name, *members):
    """(template text, files) for an example and the member templates it uses."""
    def read(n):
        with open(os.path.join(EXAMPLES, n)) as f:
            return f.read()
    return read(name), {m: read(m) for m in members}


def _get(conn, url, **params):
    resp = conn.orchestration.get(url, params=params or None)
    assert resp.status_code == 200, resp.text
    return resp.json()


def members(conn, stack_id, group="group"):
    """{member name: {physical_id, creation_time, status, servers}} of a group."""
    group_res = _get(conn, "/stacks/%s/resources/%s" % (stack_id, group))["resource"]
    nested = group_res["physical_resource_id"]
    result = {}
    for res in _get(conn, "/stacks/%s/resources" % nested)["resources"]:
        if res["resource_type"] == "OS::Nova::Server":
            servers = [res["physical_resource_id"]]
        else:
            inner = _get(conn, "/stacks/%s/resources" % res["physical_resource_id"])["resources"]
            servers = [r["physical_resource_id"] for r in inner
                       if r["resource_type"] == "OS::Nova::Server"]
        result[res["resource_name"]] = {
            "physical_id": res["physical_resource_id"],
            "creation_time": res["creation_time"],
            "status": res["resource_status"],
            "servers": servers,
        }
    return result


def stack(conn, stack_id):
    return _get(conn, "/stacks/%s" % stack_id)["stack"]


def patch_and_wait(conn, stack_body, parameters, timeout=300):
    """PATCH the stack's parameters and wait for UPDATE_COMPLETE."""
    url = "/stacks/%s/%s" % (stack_body["stack_name"], stack_body["id"])
    resp = conn.orchestration.patch(url, json={"parameters": parameters})
    assert resp.status_code == 202, resp.text
    deadline = time.time() + timeout
    while True:
        body = stack(conn, stack_body["id"])
        if body["stack_status"] != "UPDATE_IN_PROGRESS":
            assert body["stack_status"] == "UPDATE_COMPLETE", body["stack_status_reason"]
            return body
        assert time.time() < deadline, "stack update did not finish"
        time.sleep(1)


def changed(before, after):
    """Names of the members whose physical id changed."""
    return sorted(n for n in before if n in after
                  and before[n]["physical_id"] != after[n]["physical_id"])


def server_status(conn, server_id):
    return conn.compute.get_server(server_id).status
