"""Cinder (block storage) calls, and the read-only look at a failover pair.

Raw REST through the openstacksdk proxy, like orchestration.py and compute.py:
functions take a Connection and plain values and return plain dicts. Reads are
wait-friendly: each answers ``pending`` so a workflow can poll with ``retry`` /
``continue-on`` instead of an action that sleeps.
"""

from openstack import exceptions as sdk_exceptions

from ha_actions import compute
from ha_actions import orchestration as orch
from ha_actions.connection import OpenStackAction, long_poll, readable
from ha_actions.pair import NOT_FOUND, FailoverError, check_shape, decide

# Cinder states a volume passes through on its own; anything else that is not the
# expected state is final (error, error_detaching, maintenance...).
TRANSIENT = ("attaching", "detaching", "reserved", "creating", "downloading")
VOLUME_TYPES = ("OS::Cinder::Volume",)


def volume_status(conn, volume_id):
    """``{id, name, status, attached_to: [server ids]}`` of a volume (status NOT_FOUND if gone)."""
    resp = conn.block_storage.get("/volumes/%s" % volume_id)
    if resp.status_code == 404:
        return {"id": volume_id, "name": None, "status": NOT_FOUND, "attached_to": []}
    sdk_exceptions.raise_from_response(resp)
    vol = resp.json()["volume"]
    return {
        "id": vol["id"],
        "name": vol.get("name"),
        "status": vol["status"],
        "attached_to": sorted({a["server_id"] for a in vol.get("attachments") or ()
                               if a.get("server_id")}),
    }


def detach_under_way(conn, server_id, volume_id):
    """``detaching`` or ``not_attached`` (from ``server_id``) as Cinder shows the volume
    now, else None (also when Cinder cannot say): compute.detach_volume's ``under_way``."""
    try:
        vol = volume_status(conn, volume_id)
    except sdk_exceptions.SDKException:
        return None
    if vol["status"] == NOT_FOUND:
        return None
    if server_id not in vol["attached_to"]:
        return "not_attached"
    return "detaching" if vol["status"] == "detaching" else None


def volume_statuses(conn, volume_ids, expect=None, server_id=None):
    """Each volume's status and servers, and whether the wait for ``expect`` is over.

    ``expect``: ``available`` (detached from everyone) or ``in-use`` (attached, to
    ``server_id`` only when it is given). ``pending``: some volume is still on its
    way there (a transient state, or not yet changed). ``failed``: volumes in a final
    state other than the expected one. ``done``: every volume is as expected.
    """
    vols = [volume_status(conn, vid) for vid in dict.fromkeys(volume_ids or ())]
    done, failed, pending = [], [], []
    for vol in vols:
        if expect is None or _as_expected(vol, expect, server_id):
            done.append(vol["id"])
        elif vol["status"] in TRANSIENT or vol["status"] in ("available", "in-use"):
            pending.append(vol["id"])
        else:
            failed.append(vol["id"])
    return {
        "volumes": vols,
        "done": len(done) == len(vols),
        "pending": bool(pending),
        "failed": failed,
        "where": {v["id"]: (v["attached_to"] or [v["status"]]) for v in vols},
    }


def wait_for_volumes(conn, volume_ids, expect, server_id=None, wait_s=0, **poll):
    """``volume_statuses``, looked at again (``long_poll``) for at most ``wait_s`` s while
    the wait for ``expect`` is neither done nor failed."""
    return long_poll(lambda: volume_statuses(conn, volume_ids, expect, server_id),
                     lambda got: expect and not got["done"] and not got["failed"],
                     wait_s, **poll)


def plan_initial_attach(vols, server_id):
    """Which volumes to attach to a pair's first active server (pure).

    ``vols``: volume_status() of each. Available ones are attached; ones on the server
    already are left; one held by another server or in any other state is a
    FailoverError (nothing is attached: the workflow never moves a volume at create).
    Returns ``{"status": attach | already_attached, "to_attach": [ids], "message"}``.
    """
    if not vols:
        raise FailoverError("No volume to attach: give the pair's volume ids (e.g. "
                            "{get_attr: [volumes, refs]}).")
    wrong = ["%s (%s%s)" % (v["id"], v["status"], " on " + ", ".join(v["attached_to"])
                            if v["attached_to"] else "")
             for v in vols
             if not (v["status"] == "available" and not v["attached_to"])
             and not _as_expected(v, "in-use", server_id)]
    if wrong:
        raise FailoverError(
            "Not attaching anything to %s: volume(s) %s are neither available nor on it. A "
            "volume on another server is moved only by ha.v1.failover_volume; one in "
            "another state needs Cinder's attention first." % (server_id, ", ".join(wrong)))
    to_attach = [v["id"] for v in vols if v["status"] == "available"]
    if not to_attach:
        return {"status": "already_attached", "to_attach": [],
                "message": "Every volume is on %s already: nothing to do." % server_id}
    return {"status": "attach", "to_attach": to_attach,
            "message": "Attaching %s to %s." % (", ".join(to_attach), server_id)}


def initial_attach_plan(conn, server_id, volume_ids):
    """plan_initial_attach on the volumes' state in Cinder now."""
    return plan_initial_attach(
        [volume_status(conn, vid) for vid in dict.fromkeys(volume_ids or ())], server_id)


def _as_expected(vol, expect, server_id):
    if vol["status"] != expect:
        return False
    if expect == "available":
        return not vol["attached_to"]
    if server_id:
        return vol["attached_to"] == [server_id]
    return True


def pair_resources(conn, root):
    """(servers, volume ids) of a pair stack: its top-level servers, each with Nova's
    status, by name; its volumes (also one nested level down), sorted."""
    resources = orch.list_resources(conn, orch.stack_ref(root), nested_depth=1)
    servers = []
    for res in resources:
        if res.get("resource_type") in orch.SERVER_TYPES and res.get("physical_resource_id") \
                and orch.link_stack(res) == (root["stack_name"], root["id"]):
            sid = res["physical_resource_id"]
            servers.append({"name": res["resource_name"], "id": sid,
                            "status": compute.server_status(conn, sid)})
    servers.sort(key=lambda s: s["name"])
    volume_ids = sorted(res["physical_resource_id"] for res in resources
                        if res.get("resource_type") in VOLUME_TYPES
                        and res.get("physical_resource_id"))
    return servers, volume_ids


def pair_view(conn, root, parameter="active"):
    """The pair as the reconcile loop reads it (reconcile.decide's ``pair``), or None when
    the stack is no pair (no ``parameter``, fewer than two servers or no volume)."""
    recorded = (root.get("parameters") or {}).get(parameter)
    if not recorded:
        return None
    servers, volume_ids = pair_resources(conn, root)
    if len(servers) < 2 or not volume_ids:
        return None
    return {"active": recorded,
            "servers": {s["name"]: {"id": s["id"], "status": s["status"]} for s in servers},
            "volumes": {v["id"]: v["attached_to"] for v in
                        (volume_status(conn, vid) for vid in volume_ids)}}


def failover_state(conn, stack, standby=None, parameter="active", failed=None):
    """Read-only look at an active/standby pair: the stack's top-level ``OS::Nova::Server``
    resources are the pair, its ``OS::Cinder::Volume`` resources (also one nested level
    down, e.g. in a ResourceGroup) the volumes; what Heat, Nova and Cinder show, and what
    ``pair.decide`` makes of it (status, active, standby, message), or FailoverError."""
    root = orch.get_stack(conn, stack)
    summary = orch.stack_summary(root)
    servers, volume_ids = pair_resources(conn, root)
    params = root.get("parameters") or {}
    recorded = params.get(parameter)
    base = {
        "stack": {"id": summary["id"], "name": summary["name"], "ref": summary["ref"],
                  "status": summary["status"], "busy": summary["in_progress"]},
        "parameter": parameter,
        "recorded_active": recorded,
        "servers": servers,
        "volume_ids": volume_ids,
    }
    check_shape(summary["name"], params, parameter, servers, volume_ids)
    vols = volume_statuses(conn, volume_ids)
    base.update(volumes=vols["volumes"], where=vols["where"])
    return dict(base, **decide(summary["name"], recorded, servers, vols["volumes"],
                               vols["where"], parameter, standby, failed))


class VolumeStatusesAction(OpenStackAction):
    """Return each volume's Cinder status and servers; with expect, whether the wait is over.

    expect: available (detached) or in-use (attached, to server_id if given); with wait_s,
    look again every 0.25 s for up to wait_s s while some volume is still on its way.
    """

    def __init__(self, volume_ids, expect=None, server_id=None, wait_s=0):
        self.volume_ids = volume_ids
        self.expect = expect
        self.server_id = server_id
        self.wait_s = wait_s

    def run(self, context):
        return readable(lambda: wait_for_volumes(
            self.connect(context), self.volume_ids, self.expect, self.server_id, self.wait_s))


class FailoverStateAction(OpenStackAction):
    """Read-only look at an active/standby pair stack: servers, volumes, active, standby.

    failed: a server an alarm reported; status not_active when it is not the active one.
    """

    def __init__(self, stack, standby=None, parameter="active", failed=None):
        self.stack = stack
        self.standby = standby
        self.parameter = parameter
        self.failed = failed

    def run(self, context):
        return readable(lambda: failover_state(
            self.connect(context), self.stack, self.standby, self.parameter, self.failed))


class InitialAttachPlanAction(OpenStackAction):
    """Say which of a new pair's volumes to attach to its active server (ha.v1.attach_pair);
    refuse when one is elsewhere."""

    def __init__(self, server_id, volume_ids):
        self.server_id = server_id
        self.volume_ids = volume_ids

    def run(self, context):
        return readable(lambda: initial_attach_plan(
            self.connect(context), self.server_id, self.volume_ids))
