"""Nova (compute) calls and the Mistral actions built on them.

Raw REST through the openstacksdk proxy, like orchestration.py: functions take a
Connection and plain values and return plain dicts.
"""

import datetime
import functools
import time

from openstack import exceptions as sdk_exceptions

from ha_actions import orchestration, recovery, report, workflow
from ha_actions.connection import OpenStackAction, OperatorError, long_poll, readable

NOT_FOUND = "NOT_FOUND"


def get_server(conn, server_id):
    """Nova's server body, or None when there is no such server."""
    resp = conn.compute.get("/servers/%s" % server_id)
    if resp.status_code == 404:
        return None
    sdk_exceptions.raise_from_response(resp)
    return resp.json()["server"]


def server_detail(conn, server_id):
    """``{status, task_state, host, fault}`` of one server (status NOT_FOUND if gone;
    host only for a caller allowed to see it, admin by default)."""
    server = get_server(conn, server_id)
    if server is None:
        return {"status": NOT_FOUND, "task_state": None, "host": None, "fault": None}
    return {"status": server["status"], "task_state": server.get("OS-EXT-STS:task_state"),
            "host": server.get("OS-EXT-SRV-ATTR:host"),
            "fault": (server.get("fault") or {}).get("message")}


def server_status(conn, server_id):
    """Nova's status of one server (ACTIVE, ERROR, SHUTOFF...), or NOT_FOUND."""
    return server_detail(conn, server_id)["status"]


def server_statuses(conn, server_ids):
    """``{"statuses": {id: status}, "error": [ids in ERROR], "missing": [ids gone],
    "failed": [both], "details": {id: server_detail}}``: a server deleted outside Heat is
    as failed as one in ERROR."""
    details = {sid: server_detail(conn, sid) for sid in dict.fromkeys(server_ids or ())}
    statuses = {sid: detail["status"] for sid, detail in details.items()}
    error = [sid for sid, status in statuses.items() if status == "ERROR"]
    missing = [sid for sid, status in statuses.items() if status == NOT_FOUND]
    return {"statuses": statuses, "error": error, "missing": missing, "failed": error + missing,
            "details": details}


RUNG_BODIES = {"reboot": lambda server: {"reboot": {"type": "HARD"}},
               "rebuild": lambda server: {"rebuild": {"imageRef": server["image"]["id"]}}}


def start_rung(conn, rung, server_id):
    """Trigger one rung on a server: a hard reboot, or a rebuild with the server's own
    image. ``{"started": bool, "reason"}``: Nova's refusal (409: a task in the way; a
    server booted from a volume has no image to rebuild with) is a failed rung, not an
    error."""
    server = get_server(conn, server_id)
    if server is None:
        return {"started": False, "reason": "the server is gone"}
    if rung == "rebuild" and not (server.get("image") or {}).get("id"):
        return {"started": False, "reason": "booted from a volume: no image to rebuild with"}
    resp = conn.compute.post("/servers/%s/action" % server_id,
                             json=RUNG_BODIES[rung](server))
    if resp.status_code == 409 and _already_started(conn, rung, server_id):
        return {"started": True, "reason": None}  # this action's earlier try (a retry)
    if resp.status_code in (400, 403, 409):
        return {"started": False, "reason": "%d %s" % (resp.status_code, _nova_message(resp))}
    sdk_exceptions.raise_from_response(resp)
    return {"started": True, "reason": None}


RUNG_TASK_STATES = {"reboot": ("rebooting_hard", "reboot_pending_hard", "reboot_started_hard"),
                    "rebuild": ("rebuilding", "rebuild_block_device_mapping",
                                "rebuild_spawning")}


def _already_started(conn, rung, server_id):
    return server_detail(conn, server_id)["task_state"] in RUNG_TASK_STATES[rung]


def _nova_message(resp):
    try:
        body = resp.json()
        return next(iter(body.values())).get("message") or resp.text
    except (ValueError, AttributeError, StopIteration):
        return resp.text


def servers_in_error(conn):
    """Ids of the project's servers Nova shows in ERROR (one listing call)."""
    resp = conn.compute.get("/servers", params={"status": "ERROR"})
    sdk_exceptions.raise_from_response(resp)
    return [server["id"] for server in resp.json().get("servers", [])]


class ServerStatusesAction(OpenStackAction):
    """Return Nova's status of each given server id, and which are in ERROR or gone."""

    def __init__(self, server_ids):
        self.server_ids = server_ids

    def run(self, context):
        return readable(lambda: server_statuses(self.connect(context), self.server_ids))


# --- the recovery ladder's rungs (recovery.py decides; these trigger and look) ------------

def _servers_of(members, names):
    by_name = {m["name"]: m for m in members}
    return [sid for name in names for sid in (by_name.get(name) or {}).get("server_ids", ())]


class StartRungAction(OpenStackAction):
    """Trigger a rung (reboot | rebuild) on every server of the named members; return
    ``{"rung", "started_at", "servers": {id: {started, reason}}}`` for ha.rung_progress."""

    def __init__(self, rung, members, names):
        self.rung = rung
        self.members = members
        self.names = names

    def run(self, context):
        def start():
            conn = self.connect(context)
            started_at = datetime.datetime.now(datetime.timezone.utc).isoformat()
            servers = {sid: start_rung(conn, self.rung, sid)
                       for sid in _servers_of(self.members, self.names)}
            return {"rung": self.rung, "started_at": started_at, "servers": servers}

        return readable(start)


class RungProgressAction(OpenStackAction):
    """Look at the servers a rung started on (again every second for up to ``wait_s``
    s while a member is pending): recovery.rung_progress, pending until each member
    recovered or failed, or the rung's deadline passed."""

    def __init__(self, members, names, started, rung_timeout, wait_s=10):
        self.members = members
        self.names = names
        self.started = started
        self.rung_timeout = rung_timeout
        self.wait_s = wait_s

    def run(self, context):
        conn = None

        def look():
            details = {sid: server_detail(conn, sid)
                       for sid in _servers_of(self.members, self.names)}
            return recovery.rung_progress(self.started["rung"], self.members, self.names,
                                          self.started["servers"], details,
                                          report.since(self.started["started_at"]),
                                          self.rung_timeout)

        def watch():
            nonlocal conn
            conn = self.connect(context)
            return long_poll(look, lambda progress: progress["pending"], self.wait_s)

        return readable(watch)


# --- failover: server state, fencing (stop), volume attachments -------------------------
# Nova answers os-stop, os-volume_attachments and DELETE with 202 and works on in the
# background: each function triggers and returns; the workflow polls server_state or
# block_storage.volume_statuses.

HOST_UP, HOST_DOWN, HOST_UNKNOWN = "up", "down", "unknown"


def _compute_service_state(conn, host):
    """up / down (also forced_down) of the nova-compute service on ``host``; unknown if hidden.

    os-services is admin-only by default: a member user gets 403, which is ``unknown``.
    """
    if not host:
        return HOST_UNKNOWN
    resp = conn.compute.get("/os-services", params={"host": host, "binary": "nova-compute"})
    if resp.status_code in (401, 403, 404):
        return HOST_UNKNOWN
    sdk_exceptions.raise_from_response(resp)
    services = resp.json().get("services", [])
    if not services:
        return HOST_UNKNOWN
    down = any(s.get("state") == "down" or s.get("forced_down") for s in services)
    return HOST_DOWN if down else HOST_UP


def server_state(conn, server_id):
    """``{id, name, status, task_state, host, host_status, host_state}`` of one server.

    ``host`` and ``host_status`` are what the caller may see (admin by default);
    ``host_state`` is the compute service's up/down from os-services, or ``unknown``.
    ``host_down``: Nova's host_status or the service says the host is down.
    A server that does not exist has status NOT_FOUND.
    """
    server = get_server(conn, server_id)
    if server is None:
        return {"id": server_id, "name": None, "status": NOT_FOUND, "task_state": None,
                "host": None, "host_status": None, "host_state": HOST_UNKNOWN,
                "host_down": False}
    host = server.get("OS-EXT-SRV-ATTR:host")
    host_status = server.get("host_status")
    host_state = _compute_service_state(conn, host)
    return {
        "id": server["id"],
        "name": server.get("name"),
        "status": server["status"],
        "task_state": server.get("OS-EXT-STS:task_state"),
        "host": host,
        "host_status": host_status,
        "host_state": host_state,
        "host_down": host_state == HOST_DOWN or host_status in ("DOWN", "UNKNOWN"),
    }


def stop_server(conn, server_id):
    """Ask Nova to stop (power off) a server: ``stopping``, ``already_stopped`` if SHUTOFF,
    or ``already_stopping`` if an earlier stop is still pending (task_state powering-off,
    e.g. cast to a compute host that is down: Nova answers 409 to a second stop).
    """
    resp = conn.compute.post("/servers/%s/action" % server_id, json={"os-stop": None})
    if resp.status_code == 409:
        state = conn.compute.get("/servers/%s" % server_id)
        if state.status_code == 200:
            server = state.json()["server"]
            if server["status"] == "SHUTOFF":
                return {"server_id": server_id, "result": "already_stopped"}
            if server.get("OS-EXT-STS:task_state") == "powering-off":
                return {"server_id": server_id, "result": "already_stopping"}
    sdk_exceptions.raise_from_response(resp)
    return {"server_id": server_id, "result": "stopping"}


def delete_server(conn, server_id):
    """Delete a server (on a down host Nova deletes it locally and releases its volumes)."""
    resp = conn.compute.delete("/servers/%s" % server_id)
    if resp.status_code == 404:
        return {"server_id": server_id, "result": "already_deleted"}
    sdk_exceptions.raise_from_response(resp)
    return {"server_id": server_id, "result": "deleting"}


# A build Nova lost (its message dropped while RabbitMQ restarted) stays BUILD, task state
# scheduling, for ever; Heat's engine keeps polling it, holding the resource, and a
# resume PATCH waits behind it until the stack times out.
LOST_BUILD_TASK_STATE = "scheduling"


def is_lost_build(server, now, older_than):
    """True for a server still BUILD / scheduling ``older_than`` (> 0) s after its creation."""
    created = orchestration.parse_time(server.get("created"))
    return bool(older_than and older_than > 0 and created is not None
                and server.get("status") == "BUILD"
                and server.get("OS-EXT-STS:task_state") == LOST_BUILD_TASK_STATE
                and now - created >= older_than)


def delete_lost_builds(conn, server_ids, older_than, now=None):
    """Delete those of ``server_ids`` that are lost builds (``is_lost_build``): Heat then
    fails their resources and the next PATCH builds them again. ``{"deleted": [ids]}``."""
    now = time.time() if now is None else now
    deleted = []
    for server_id in server_ids:
        resp = conn.compute.get("/servers/%s" % server_id)
        if resp.status_code == 404:
            continue
        sdk_exceptions.raise_from_response(resp)
        if is_lost_build(resp.json()["server"], now, older_than):
            delete_server(conn, server_id)
            deleted.append(server_id)
    return {"deleted": deleted}


def delete_stack_lost_builds(conn, stack, older_than):
    """delete_lost_builds on the servers Heat is still creating or updating in ``stack``."""
    return delete_lost_builds(conn, orchestration.servers_in_progress(conn, stack), older_than)


def resume_update(conn, stack, parameters, older_than):
    """Resume a stalled update of ``stack``: delete the servers it waits on that Nova lost
    while building (best effort: Nova's error is noted, the PATCH goes on), then PATCH
    again; orchestration.update_existing's result plus ``deleted`` and ``delete_error``."""
    try:
        deleted = delete_stack_lost_builds(conn, stack, older_than)["deleted"]
        note = None
    except sdk_exceptions.SDKException as exc:
        deleted, note = [], str(exc)
    result = orchestration.update_existing(conn, stack, parameters)
    result.update(deleted=deleted, delete_error=note)
    return result


# dead_host_policy force_down: os-services by uuid and ``forced_down`` in the PUT body
# (nova/api/openstack/compute/services.py, microversion 2.53). Admin-only by default.
SERVICES_MICROVERSION = "2.53"


def check_force_down_allowed(conn, fencing_hook):
    """OperatorError unless the caller may see (and so, by Nova's default policy, force
    down) compute services and the fencing hook workflow exists. Reads only."""
    resp = conn.compute.get("/os-services", params={"binary": "nova-compute"},
                            microversion=SERVICES_MICROVERSION)
    if resp.status_code in (401, 403):
        raise OperatorError(
            "dead_host_policy force_down needs an admin: marking a nova-compute service "
            "forced_down is admin-only, and Nova refused to list the compute services to "
            "this caller (HTTP %d). Nothing was changed. Run it as an admin, or use "
            "dead_host_policy delete_server, which works as a member." % resp.status_code)
    sdk_exceptions.raise_from_response(resp)
    if not workflow.workflow_exists(conn, fencing_hook):
        raise OperatorError(
            "fencing_hook %s is not a workflow Mistral knows (create it first: it gets "
            "{stack, server_id, host}, powers the host off out of band and returns "
            "fenced: true). Nothing was changed." % fencing_hook)
    return {"result": "allowed", "fencing_hook": fencing_hook}


def hook_confirmed_off(hook_output):
    """The fencing hook's output says the host is off: ``fenced`` is exactly true."""
    return isinstance(hook_output, dict) and hook_output.get("fenced") is True


def force_down_host(conn, host, fencing_hook, hook_output):
    """Mark the nova-compute service on ``host`` forced_down, only after the fencing hook
    confirmed the host is off. ``{host, service_id, result}``."""
    if not host:
        raise OperatorError(
            "The old active's compute host is not known (Nova did not show it), so its "
            "service cannot be forced down. The volumes were NOT moved.")
    if not hook_confirmed_off(hook_output):
        raise OperatorError(
            "The fencing hook %s did not confirm that host %s is off (its output: %s; "
            "fenced: true is needed). The compute service was not forced down and the "
            "volumes were NOT moved. Make sure the host is powered off, then run again."
            % (fencing_hook, host, str(hook_output)[:200]))
    resp = conn.compute.get("/os-services", params={"binary": "nova-compute", "host": host},
                            microversion=SERVICES_MICROVERSION)
    sdk_exceptions.raise_from_response(resp)
    services = resp.json().get("services", [])
    if len(services) != 1:
        raise OperatorError("Nova shows %d nova-compute services on host %s, not one: "
                            "nothing was forced down and the volumes were NOT moved."
                            % (len(services), host))
    service = services[0]
    if service.get("forced_down"):
        return {"host": host, "service_id": service["id"], "result": "already_forced_down"}
    resp = conn.compute.put("/os-services/%s" % service["id"], json={"forced_down": True},
                            microversion=SERVICES_MICROVERSION)
    sdk_exceptions.raise_from_response(resp)
    return {"host": host, "service_id": service["id"], "result": "forced_down"}


def attached_volume_ids(conn, server_id):
    """Ids of the volumes Nova shows attached to a server."""
    resp = conn.compute.get("/servers/%s/os-volume_attachments" % server_id)
    sdk_exceptions.raise_from_response(resp)
    return [a["volumeId"] for a in resp.json().get("volumeAttachments", [])]


def detach_volume(conn, server_id, volume_id, under_way=None):
    """Start detaching a volume from a server: ``detaching``, or ``not_attached`` (404).
    A refusal (Nova's 400) of a volume ``under_way(volume_id)`` says is already detaching,
    or no longer on the server, is taken as that answer: a detach started before (by the
    fence, or a try lost with its executor) is not refused a second time."""
    resp = conn.compute.delete(
        "/servers/%s/os-volume_attachments/%s" % (server_id, volume_id))
    if resp.status_code == 404:
        return "not_attached"
    if resp.status_code in (400, 409) and under_way:
        already = under_way(volume_id)
        if already:
            return already
    sdk_exceptions.raise_from_response(resp)
    return "detaching"


def attach_volume(conn, server_id, volume_id):
    """Start attaching a volume to a server: ``attaching``, or ``already_attached``."""
    if volume_id in attached_volume_ids(conn, server_id):
        return "already_attached"
    resp = conn.compute.post("/servers/%s/os-volume_attachments" % server_id,
                             json={"volumeAttachment": {"volumeId": volume_id}})
    sdk_exceptions.raise_from_response(resp)
    return "attaching"


def _each_volume(conn, fn, server_id, volume_ids, verb):
    """Apply ``fn`` to each volume in turn; on an error, say which were already done."""
    done = {}
    for volume_id in volume_ids or ():
        try:
            done[volume_id] = fn(conn, server_id, volume_id)
        except sdk_exceptions.SDKException as exc:
            return _volume_error(verb, server_id, volume_id, done, exc)
    return {"server_id": server_id, "volumes": done}


def _volume_error(verb, server_id, volume_id, done, exc):
    from mistral_lib import actions

    return actions.Result(error="%s volume %s on server %s failed: %s. Already requested: %s." % (
        verb, volume_id, server_id, exc,
        ", ".join("%s (%s)" % item for item in done.items()) or "none"))


def detach_volumes(conn, server_id, volume_ids, under_way=None):
    """Start detaching each volume from ``server_id``; ``{server_id, volumes: {id: result}}``
    (``under_way``: see detach_volume)."""
    return _each_volume(conn, functools.partial(detach_volume, under_way=under_way),
                        server_id, volume_ids, "Detaching")


def attach_volumes(conn, server_id, volume_ids):
    """Start attaching each volume to ``server_id``; ``{server_id, volumes: {id: result}}``."""
    return _each_volume(conn, attach_volume, server_id, volume_ids, "Attaching")


def wait_for_status(conn, server_id, until, wait_s=0, **poll):
    """``server_state``, looked at again (``long_poll``) for at most ``wait_s`` s while
    the status is none of ``until`` (a status or a list; NOT_FOUND for a deletion)."""
    wanted = [until] if isinstance(until, str) else list(until or ())
    return long_poll(lambda: server_state(conn, server_id),
                     lambda state: wanted and state["status"] not in wanted, wait_s, **poll)


class ServerStateAction(OpenStackAction):
    """Return a server's status, task state, and (as far as visible) its host and host state.

    With ``until`` (a status, e.g. SHUTOFF or NOT_FOUND) and ``wait_s``: look again every
    0.25 s for up to wait_s s until the server has it; the workflow's retry does the rest.
    """

    def __init__(self, server_id, until=None, wait_s=0):
        self.server_id = server_id
        self.until = until
        self.wait_s = wait_s

    def run(self, context):
        return readable(lambda: wait_for_status(self.connect(context), self.server_id,
                                                self.until, self.wait_s))


class DeleteServerAction(OpenStackAction):
    """Delete a server (fencing of last resort); poll ha.server_state for NOT_FOUND."""

    def __init__(self, server_id):
        self.server_id = server_id

    def run(self, context):
        return readable(lambda: delete_server(self.connect(context), self.server_id))


class DeleteLostBuildsAction(OpenStackAction):
    """Delete the servers a stalled update of ``stack`` waits on that Nova lost while
    building; return their ids. Kept for ha.v1.update_stack as uploaded by an earlier
    release (it resumed with this, then PATCHed in a task of its own)."""

    def __init__(self, stack, older_than):
        self.stack = stack
        self.older_than = older_than

    def run(self, context):
        return readable(lambda: delete_stack_lost_builds(self.connect(context), self.stack,
                                                         self.older_than))


class ResumeUpdateAction(OpenStackAction):
    """PATCH a stalled update of ``stack`` again, once the servers it waits on that Nova
    lost while building (BUILD / scheduling for ``older_than`` s) are deleted."""

    def __init__(self, stack, older_than, parameters=None):
        self.stack = stack
        self.older_than = older_than
        self.parameters = parameters

    def run(self, context):
        return readable(lambda: resume_update(self.connect(context), self.stack,
                                              self.parameters, self.older_than))


class CheckForceDownAction(OpenStackAction):
    """Refuse dead_host_policy force_down before anything changes: not an admin, or no
    such fencing hook workflow."""

    def __init__(self, fencing_hook):
        self.fencing_hook = fencing_hook

    def run(self, context):
        return readable(lambda: check_force_down_allowed(self.connect(context),
                                                         self.fencing_hook))


class ForceDownHostAction(OpenStackAction):
    """Mark a dead host's nova-compute service forced_down once the fencing hook confirmed
    it is off (then Nova deletes its servers locally, at once)."""

    def __init__(self, host, fencing_hook, hook_output):
        self.host = host
        self.fencing_hook = fencing_hook
        self.hook_output = hook_output

    def run(self, context):
        return readable(lambda: force_down_host(self.connect(context), self.host,
                                                self.fencing_hook, self.hook_output))
