"""What the operator would look at in Heat and Nova: a group's members, as plain dicts."""

import os
import subprocess
import threading
import time

import openstack
import requests
from devcloud_fixtures import DEVCLOUD, MEMBER, STATE

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


def _resources_url(conn, stack_id):
    """Heat redirects only /stacks/{id}; sub-paths need /stacks/{name}/{id}."""
    body = stack(conn, stack_id)
    return "/stacks/%s/%s/resources" % (body["stack_name"], body["id"])


def members(conn, stack_id, group="group"):
    """{member name: {physical_id, creation_time, status, servers}} of a group."""
    url = _resources_url(conn, stack_id)
    nested = _get(conn, "%s/%s" % (url, group))["resource"]["physical_resource_id"]
    result = {}
    for res in _get(conn, _resources_url(conn, nested))["resources"]:
        if res["resource_type"] == "OS::Nova::Server":
            servers = [res["physical_resource_id"]]
        else:
            inner_url = _resources_url(conn, res["physical_resource_id"])
            inner = _get(conn, inner_url)["resources"]
            servers = [r["physical_resource_id"] for r in inner
                       if r["resource_type"] == "OS::Nova::Server"]
        result[res["resource_name"]] = {
            "physical_id": res["physical_resource_id"],
            "creation_time": res["creation_time"],
            "status": res["resource_status"],
            "servers": servers,
        }
    return result


def mark_member_unhealthy(conn, stack_id, name, group="group"):
    """Heat shows the member CHECK_FAILED, as after a failed check or an operator's mark."""
    nested = _get(conn, "%s/%s" % (_resources_url(conn, stack_id), group))["resource"][
        "physical_resource_id"]
    resp = conn.orchestration.patch("%s/%s" % (_resources_url(conn, nested), name), json={
        "mark_unhealthy": True, "resource_status_reason": "functional test"})
    assert resp.status_code == 200, resp.text


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


# --- failover pairs (ha.v1.failover_volume) ---------------------------------------------


def stack_outputs(conn, stack_id):
    """{output key: value} of a stack."""
    return {o["output_key"]: o["output_value"]
            for o in stack(conn, stack_id).get("outputs", [])}


def volume_servers(conn, volume_id):
    """(status, sorted server ids) of a volume as Cinder shows its attachments."""
    resp = conn.block_storage.get("/volumes/%s" % volume_id)
    assert resp.status_code == 200, resp.text
    vol = resp.json()["volume"]
    return vol["status"], sorted({a["server_id"] for a in vol.get("attachments") or ()})


def wait_volume(conn, volume_id, status, server_id=None, timeout=120):
    """Poll a volume until it has ``status`` (and is attached to ``server_id`` only)."""
    deadline = time.time() + timeout
    while True:
        got = volume_servers(conn, volume_id)
        if got[0] == status and (server_id is None or got[1] == [server_id]):
            return got
        assert time.time() < deadline, "volume %s is %s, not %s" % (volume_id, got, status)
        time.sleep(0.5)


def attach_and_wait(conn, server_id, volume_ids):
    """Attach volumes to a server by hand, as Nova's API does (not the pack)."""
    for volume_id in volume_ids:
        wait_volume(conn, volume_id, "available")
        resp = conn.compute.post("/servers/%s/os-volume_attachments" % server_id,
                                 json={"volumeAttachment": {"volumeId": volume_id}})
        assert resp.status_code == 200, resp.text
    for volume_id in volume_ids:
        wait_volume(conn, volume_id, "in-use", server_id)


class AttachmentWatcher:
    """Background thread: polls Cinder every ``interval`` s and records any moment a volume
    is attached to more than one server (``violations``). Leaving the ``with`` block
    asserts it polled, without errors, and saw no volume on two servers."""

    def __init__(self, volume_ids, interval=0.3):
        self.conn = openstack.connect(cloud=MEMBER)
        self.volume_ids, self.interval = list(volume_ids), interval
        self.violations, self.polls, self.errors = [], 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for volume_id in self.volume_ids:
                try:
                    status, servers = volume_servers(self.conn, volume_id)
                except Exception as exc:  # noqa: BLE001 - reported by stop()
                    self.errors.append(repr(exc))
                    continue
                if len(servers) > 1:
                    self.violations.append((time.time(), volume_id, status, servers))
            self.polls += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, exc_type, *exc):
        self._stop.set()
        self._thread.join(timeout=10)
        if exc_type is None:
            assert self.polls > 0 and not self.errors, self.errors
            assert self.violations == [], "volume attached to two servers at once"
        return False


# --- compute hosts (dead-host failover) -------------------------------------------------

COMPUTE_SERVICES = {"devcloud": "nova-compute", "devcloud-2": "nova-compute-2"}


def server_host(admin_conn, server_id):
    """The compute host of a server (admin only: OS-EXT-SRV-ATTR:host)."""
    return admin_conn.compute.get_server(server_id).compute_host


def devcloud_service(action, service):
    """``tools/devcloud start|stop SERVICE`` (a test that stops one runs alone)."""
    subprocess.run([DEVCLOUD, action, service], check=True, timeout=120,
                   env=dict(os.environ))


def compute_service_state(admin_conn, host):
    """'up' or 'down' of the nova-compute service on ``host``, as an admin sees it."""
    services = list(admin_conn.compute.services(binary="nova-compute", host=host))
    assert len(services) == 1, services
    return services[0].state


def wait_compute_service(admin_conn, host, state, timeout=90):
    """Poll until the nova-compute service on ``host`` is ``state`` (up/down)."""
    deadline = time.time() + timeout
    while True:
        got = compute_service_state(admin_conn, host)
        if got == state:
            return got
        assert time.time() < deadline, "nova-compute on %s is %s, not %s" % (host, got, state)
        time.sleep(1)


def compute_service(admin_conn, host):
    """The nova-compute service on ``host`` as os-services (microversion 2.53) shows it."""
    resp = admin_conn.compute.get("/os-services", params={"binary": "nova-compute",
                                                          "host": host}, microversion="2.53")
    resp.raise_for_status()
    (service,) = resp.json()["services"]
    return service


def release_forced_down(admin_conn, host):
    """Undo dead_host_policy force_down: the service counts by its heartbeat again."""
    service = compute_service(admin_conn, host)
    if service["forced_down"]:
        admin_conn.compute.put("/os-services/%s" % service["id"], json={"forced_down": False},
                               microversion="2.53").raise_for_status()


def create_pair(conn, stacks, volume_count=1, heal_on_alarm=False, active="server_a",
                reconcile_minutes=0):
    """A failover pair as 'openstack stack create' of the example gives it: its volumes
    on the active server (ha.v1.attach_pair ran at create); (stack, servers, volume ids).

    Its alarms and its reconcile loop only where a test wants them: tests that run the
    workflow by hand stay alone with it."""
    template, _ = example("failover_pair.yaml")
    body = stacks.create(template, parameters={"volume_count": volume_count,
                                               "heal_on_alarm": heal_on_alarm,
                                               "active": active,
                                               "reconcile_minutes": reconcile_minutes})
    outputs = stack_outputs(conn, body["id"])
    servers, volume_ids = outputs["servers"], sorted(outputs["volume_ids"])
    assert len(volume_ids) == volume_count
    for volume_id in volume_ids:  # in-use on the active right after CREATE_COMPLETE
        assert volume_servers(conn, volume_id) == ("in-use", [servers[active]]), volume_id
    return body, servers, volume_ids


def alarm_url(conn, stack_body):
    """The alarm_url of an example's ``heal`` workflow (what its Aodh alarm POSTs to)."""
    url = "/stacks/%s/%s/resources/heal" % (stack_body["stack_name"], stack_body["id"])
    resp = conn.orchestration.get(url, params={"with_attr": "alarm_url"})
    assert resp.status_code == 200, resp.text
    return resp.json()["resource"]["attributes"]["alarm_url"]


def service_log(service):
    """The devcloud's log file of ``service`` (e.g. keystone, aodh-notifier)."""
    return os.path.join(STATE, "logs", service + ".log")


def log_lines(service, offset=0):
    """The lines of ``service``'s log from byte ``offset`` on ([] when it has none)."""
    if not os.path.exists(service_log(service)):
        return []
    with open(service_log(service), errors="replace") as f:
        f.seek(offset)
        return f.readlines()


def alarm_url_answer(conn, stack_body):
    """What heat-api-cfn answers now to the stack's alarm_url (for a test's failure
    message when an alarm started no run): a POST of an alarm going back to ok, which
    on_alarm ignores, so it changes nothing."""
    log = service_log("keystone")
    seen = os.path.getsize(log) if os.path.exists(log) else 0
    resp = requests.post(alarm_url(conn, stack_body), json=aodh_alarm_body(
        "diagnosis", "no-server", previous="alarm", current="ok"), timeout=30)
    refusals = [line.split("Authorization failed.", 1)[1].strip()[:200]
                for line in log_lines("keystone", seen) if "Authorization failed." in line]
    # heat-api-cfn tries more than one signature form: a refusal Keystone logged meanwhile
    # may be one of those, under a POST heat-api-cfn then accepted.
    return ("the alarm_url answers HTTP %s: %s; Keystone refused meanwhile (maybe only one "
            "of heat-api-cfn's signature forms): %s" % (resp.status_code, resp.text[:300],
                                                        refusals or "nothing"))


def aodh_answers(stack_name):
    """The HTTP answers aodh-notifier logged for the alarms of stack ``stack_name`` (its
    alarms are named after the stack), oldest first: what Heat answered Aodh's own POSTs
    of the alarm_url it holds, e.g. ['403 AccessDenied.']."""
    ids, answers = set(), []
    for line in log_lines("aodh-notifier"):
        if "Notifying alarm %s-" % stack_name in line:
            ids.add(line.split("Notifying alarm ", 1)[1].split()[1])
        elif "gets response:" in line and any("<%s>" % i in line for i in ids):
            answers.append(line.split("gets response:", 1)[1].strip())
    return answers


def aodh_alarm_body(alarm_id, server_id, previous="ok", current="alarm"):
    """The body aodh-notifier POSTs for the examples' event alarm on
    compute.instance.update (aodh/notifier/__init__.py)."""
    return {
        "alarm_id": alarm_id, "alarm_name": "server_error_alarm", "severity": "low",
        "previous": previous, "current": current,
        "reason": "Event <id=ev-1,event_type=compute.instance.update> hits the query.",
        "reason_data": {"type": "event", "event": {
            "message_id": "ev-1", "event_type": "compute.instance.update",
            "generated": "2026-11-24T00:00:00", "raw": {},
            "traits": [["instance_id", 1, server_id], ["state", 1, "error"],
                       ["old_state", 1, "active"]]}},
    }
