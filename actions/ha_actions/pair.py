"""Which server of an active/standby pair holds the volumes and which one takes over:
the decision of ``ha.failover_state``, pure (no I/O). It is handed what Heat, Nova and
Cinder showed (``block_storage.failover_state`` reads them)::

    servers: [{"id", "name", "status"}, ...]   the stack's top-level servers
    volumes: [{"id", "name", "status", "attached_to": [server ids]}, ...]
"""

from ha_actions.errors import OperatorError

NOT_FOUND = "NOT_FOUND"


class FailoverError(OperatorError):
    """The stack is not a pair that can fail over, or the request does not fit it."""


def pick(servers, wanted):
    """The server entry matching ``wanted`` (resource name or server id), or None."""
    for server in servers:
        if wanted in (server["name"], server["id"]):
            return server
    return None


def check_shape(stack_name, params, parameter, servers, volume_ids):
    """Raise FailoverError unless the stack can be a pair: a parameter to record the
    active in, two servers or more, a volume."""
    if parameter not in params:
        raise FailoverError(
            "Stack %s has no parameter %r to record the active server in (see "
            "examples/failover_pair.yaml)." % (stack_name, parameter))
    if len(servers) < 2:
        raise FailoverError(
            "Stack %s has %d server(s) (%s): a failover needs an active and a standby."
            % (stack_name, len(servers), ", ".join(s["name"] for s in servers) or "none"))
    if not volume_ids:
        raise FailoverError("Stack %s has no OS::Cinder::Volume to fail over." % stack_name)


def decide(stack_name, recorded, servers, volumes, where, parameter="active", standby=None,
           failed=None):
    """``{status, active, standby, message}`` of the pair (``recorded``: the server the
    stack parameter names). ``status``: ``ready`` (fail over from active to standby),
    ``already_active`` (nothing to do), ``record_only`` (the volumes are all on a server
    the parameter does not name: ``active`` is the recorded one, ``standby`` the holder,
    only the parameter needs setting), ``attach_only`` (an interrupted failover: every
    volume available, the recorded active fenced; attach to the standby and record),
    ``not_active`` (``failed``, the server an alarm reported, is not the active one:
    nothing to fail over, whatever the standby's state); or raises FailoverError with
    what the operator must do."""
    holders = sorted({sid for v in volumes for sid in v["attached_to"]})
    busy = [v for v in volumes if v["status"] not in ("available", "in-use")]
    if busy:
        raise FailoverError(
            "Volume(s) %s are not settled (%s): not moving anything. Check them with "
            "'openstack volume show'." % (
                ", ".join(v["id"] for v in busy), ", ".join(v["status"] for v in busy)))
    unattached = [v["id"] for v in volumes if not v["attached_to"]]
    if not holders:
        interrupted = _interrupted_failover(servers, recorded, standby)
        if interrupted is not None:
            return interrupted
    if len(holders) != 1 or unattached:
        raise FailoverError(
            "The volumes of stack %s are not all held by one server (where: %s): no single "
            "active server. Attach every volume to the active server first (openstack "
            "server add volume), or detach the strays." % (stack_name, where))
    active = next((s for s in servers if s["id"] == holders[0]), None)
    if active is None:
        raise FailoverError(
            "The volumes are attached to server %s, which is not one of the stack's "
            "servers (%s)." % (holders[0], ", ".join(s["name"] for s in servers)))
    recorded_server = pick(servers, recorded) if recorded else None
    if (recorded_server is not None and recorded_server["id"] != active["id"]
            and failed not in (active["id"], active["name"])
            and standby in (None, active["id"], active["name"])):
        # An earlier failover moved every volume and did not record it (or someone moved
        # them by hand): the data is where it is; only the Heat model is behind.
        return {"status": "record_only", "active": recorded_server, "standby": active,
                "message": (
                    "The volumes are already all on %s (%s) but the stack records %s as "
                    "%s: nothing to move, the record is set right." % (
                        active["name"], active["id"], recorded_server["name"], parameter))}
    if failed is not None and failed not in (active["id"], active["name"]):
        return {"status": "not_active", "active": active, "standby": None, "message": (
            "Server %s is not the active server of the pair (%s, %s): nothing to fail "
            "over, nothing changed." % (failed, active["name"], active["id"]))}
    target = _target(stack_name, servers, active, standby)
    if target is None or (standby is None and target["status"] == "SHUTOFF"
                          and active["status"] == "ACTIVE" and recorded == active["name"]):
        return _already_active(active, target, standby, parameter)
    if target["status"] != "ACTIVE":
        raise FailoverError(
            "Standby %s (%s) is %s, not ACTIVE: nothing changed, the volumes stay on %s. "
            "Start or repair the standby (openstack server start %s), then run again." % (
                target["name"], target["id"], target["status"], active["name"],
                target["id"]))
    return {"status": "ready", "active": active, "standby": target, "message": (
        "Fail over %d volume(s) from %s (%s, %s) to %s (%s)." % (
            len(volumes), active["name"], active["id"], active["status"],
            target["name"], target["id"]))}


def next_step(state, limits=None):
    """What ha.v1.failover_volume does once it has read the pair (``state``: ``decide``'s)
    and, when it is ready, the heal limits (``limits``: guard.heal_history's): ``record``
    (only the stack parameter is behind), ``attach`` (take up an interrupted failover),
    ``fence`` (ready, and no limit holds it back: fence, then move), else ``report``
    (already active, or held back)."""
    if state["status"] == "record_only":
        return "record"
    if state["status"] == "attach_only":
        return "attach"
    if state["status"] == "ready" and (limits or {}).get("status") == "ok":
        return "fence"
    return "report"


def _target(stack_name, servers, active, standby):
    """The server to take over: the named ``standby`` (None when it is the active one
    already), or the only other server."""
    if standby is not None:
        target = pick(servers, standby)
        if target is None:
            raise FailoverError(
                "Standby %r is not a server of stack %s (servers: %s)." % (
                    standby, stack_name,
                    ", ".join("%s (%s)" % (s["name"], s["id"]) for s in servers)))
        return None if target["id"] == active["id"] else target
    others = [s for s in servers if s["id"] != active["id"]]
    if len(others) != 1:
        raise FailoverError(
            "Stack %s has %d servers besides the active %s: name the standby "
            "(input 'standby')." % (stack_name, len(others), active["name"]))
    return others[0]


def _already_active(active, other, standby, parameter):
    """Nothing to do: the named standby is the active already, or (no standby named) the
    state a completed failover leaves, the old active fenced (stopped)."""
    if standby is not None:
        message = "%s (%s) already holds every volume: nothing to do." % (
            active["name"], active["id"])
    else:
        message = (
            "%s (%s) is ACTIVE, holds every volume and is the stack's %s; the other server "
            "%s is SHUTOFF: nothing to do. Give 'standby' to fail over to it anyway (start "
            "it first)." % (active["name"], active["id"], parameter, other["name"]))
    return {"status": "already_active", "active": active, "standby": None, "message": message}


def _interrupted_failover(servers, recorded, standby):
    """Every volume is available and the recorded active is fenced (SHUTOFF or gone): an
    earlier failover stopped it and detached the volumes, then was lost before attaching
    them. The state to go on from: attach to the standby and record it. None otherwise."""
    fenced = pick(servers, recorded) if recorded else None
    if fenced is None or fenced["status"] not in ("SHUTOFF", NOT_FOUND):
        return None
    others = [s for s in servers if s["id"] != fenced["id"]]
    target = pick(others, standby) if standby is not None else (
        others[0] if len(others) == 1 else None)
    if target is None or target["status"] != "ACTIVE":
        return None
    return {"status": "attach_only", "active": fenced, "standby": target, "message": (
        "An earlier failover fenced %s (%s, %s) and detached every volume but did not "
        "attach them: attach them to %s (%s) and record it." % (
            fenced["name"], fenced["id"], fenced["status"], target["name"], target["id"]))}
