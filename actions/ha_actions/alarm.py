"""What an Aodh alarm notification asks for: ignore it, or heal which member.

Pure decisions, no I/O. The input is the body Aodh's notifiers send
(``aodh/notifier/__init__.py``, ``_handle_action``; the http notifier POSTs it
as JSON)::

    {"alarm_id", "alarm_name", "severity", "previous", "current", "reason",
     "reason_data"}

``previous`` / ``current`` are ``ok``, ``alarm`` or ``insufficient data``.
``reason_data`` depends on the evaluator that changed the state:

``event`` (``aodh/evaluator/event.py``)
    ``{"type": "event", "event": {"message_id", "event_type", "generated",
    "traits": [[name, dtype, value], ...], "raw": {}}}``: Ceilometer's event,
    as it arrived; ``dtype`` is 1 string, 2 integer, 3 float, 4 datetime.
    ``compute.instance.update`` carries ``instance_id``, ``state``,
    ``old_state``, ``project_id``, ``host``.
``loadbalancer_member_health`` (``aodh/evaluator/loadbalancer.py``)
    ``{"type", "count", "most_recent", "unhealthy_members": [Octavia member
    dicts with "id"...], "pool_id", "stack_id", "asg_id"}``. A member's ``id``
    is the Octavia pool member id: the physical id of the
    ``OS::Octavia::PoolMember`` inside the group member, which
    ``ha.v1.replace_member`` finds the member by.
``threshold`` (``aodh/evaluator/threshold.py``; the gnocchi and prometheus
    evaluators use the same) ``{"type": "threshold", "disposition", "count",
    "most_recent"}``: no resource id.
``composite`` (``aodh/evaluator/composite.py``)
    ``{"type": "composite", "composition_form", "causative_rules"}``: no
    resource id.

The decision is a plain dict::

    {"action": "ignore" | "heal",
     "why": str,
     "alarm": {"id", "name", "type", "severity", "previous", "current",
               "reason", "event_type"},
     "member": a server uuid / resource id / member name, or None (None with
               "heal" means: replace the members that show failed),
     "members": [ids] (loadbalancer_member_health: every unhealthy member;
                else [member] or []),
     "source": where member comes from: "event:instance_id",
               "event:resource_id", "loadbalancer:unhealthy_members",
               "configured", or None,
     "stack_id": str or None, "asg_id": str or None (from the payload)}

A body that is not an Aodh notification raises AlarmPayloadError (a ValueError).
"""

from ha_actions.errors import OperatorError

BODY_KEYS = (
    "alarm_id",
    "alarm_name",
    "severity",
    "previous",
    "current",
    "reason",
    "reason_data",
)
ALARM = "alarm"
STATES = ("ok", "alarm", "insufficient data")
KNOWN_TYPES = ("event", "loadbalancer_member_health", "threshold", "composite")
# Traits naming the resource an event is about, in order of preference.
EVENT_ID_TRAITS = ("instance_id", "resource_id")

EXPECTED = (
    "ha.v1.on_alarm expects Aodh's alarm notification: a JSON object with alarm_id, "
    "alarm_name, severity, previous, current (ok | alarm | insufficient data), reason "
    "and reason_data (an object with 'type')"
)


class AlarmPayloadError(OperatorError, ValueError):
    """The body is not an Aodh alarm notification this pack can act on; nothing changed."""


def _fail(problem):
    raise AlarmPayloadError("%s. %s." % (problem, EXPECTED))


def _check_state(body, key, required):
    value = body.get(key)
    if value is None:
        if required:
            _fail("The alarm notification has no %r state" % key)
        return None
    if value not in STATES:
        _fail(
            "The alarm notification's %r is %r, not an Aodh alarm state (%s)"
            % (key, value, ", ".join(STATES))
        )
    return value


def _event_member(reason_data):
    """(member, source, event_type) from an event alarm's reason_data."""
    event = reason_data.get("event")
    if not isinstance(event, dict):
        _fail("reason_data of an event alarm has no 'event' object (got %s)" % type(event).__name__)
    traits = event.get("traits", [])
    if not isinstance(traits, list):
        _fail("The event's 'traits' is a %s, not a list" % type(traits).__name__)
    found = {}
    for trait in traits:
        if not isinstance(trait, (list, tuple)) or len(trait) != 3:
            _fail(
                "The event's trait %r is not [name, type, value] as Aodh passes "
                "Ceilometer's event traits" % (trait,)
            )
        name, _dtype, value = trait
        if name in EVENT_ID_TRAITS and value not in (None, "") and name not in found:
            found[name] = str(value)
    for name in EVENT_ID_TRAITS:
        if name in found:
            return found[name], "event:" + name, event.get("event_type")
    return None, None, event.get("event_type")


def _lb_members(reason_data):
    """[Octavia member ids] of a loadbalancer_member_health alarm's reason_data."""
    unhealthy = reason_data.get("unhealthy_members") or []
    if not isinstance(unhealthy, list):
        _fail(
            "reason_data 'unhealthy_members' is a %s, not a list of Octavia members"
            % type(unhealthy).__name__
        )
    ids = []
    for entry in unhealthy:
        if not isinstance(entry, dict) or not entry.get("id"):
            _fail("Unhealthy member %r has no 'id' (an Octavia pool member id)" % (entry,))
        if entry["id"] not in ids:
            ids.append(str(entry["id"]))
    return ids


def _optional_id(reason_data, key):
    value = reason_data.get(key)
    if value is not None and not isinstance(value, str):
        _fail("reason_data %r is a %s, not an id" % (key, type(value).__name__))
    return value or None


def parse_alarm(body, member=None):
    """The decision for one Aodh notification ``body``; ``member`` is the fallback.

    Raises AlarmPayloadError when ``body`` is not an Aodh alarm notification.
    """
    if not isinstance(body, dict):
        _fail("The alarm notification is a %s, not an object" % type(body).__name__)
    alarm_id = body.get("alarm_id")
    if not alarm_id or not isinstance(alarm_id, str):
        _fail("The alarm notification has no 'alarm_id' (got %r)" % (alarm_id,))
    current = _check_state(body, "current", required=True)
    previous = _check_state(body, "previous", required=False)
    reason_data = body.get("reason_data")
    if not isinstance(reason_data, dict):
        _fail(
            "The alarm notification's 'reason_data' is %s, not an object"
            % ("missing" if reason_data is None else "a " + type(reason_data).__name__)
        )
    if member is not None and (not isinstance(member, str) or not member.strip()):
        _fail(
            "The configured fallback 'member' must be a non-empty string or null, not %r"
            % (member,)
        )
    alarm_type = reason_data.get("type")
    if alarm_type is not None and not isinstance(alarm_type, str):
        _fail("reason_data 'type' is a %s, not a string" % type(alarm_type).__name__)

    decision = {
        "action": "ignore",
        "why": "",
        "alarm": {
            "id": alarm_id,
            "name": body.get("alarm_name"),
            "type": alarm_type,
            "severity": body.get("severity"),
            "previous": previous,
            "current": current,
            "reason": body.get("reason"),
            "event_type": None,
        },
        "member": None,
        "members": [],
        "source": None,
        "stack_id": None,
        "asg_id": None,
    }
    label = "Alarm %s (%s)" % (body.get("alarm_name") or alarm_id, alarm_id)

    if current != ALARM:
        decision["why"] = "%s went %s -> %s: only a transition into 'alarm' heals." % (
            label,
            previous,
            current,
        )
        return decision

    found, source, members = None, None, []
    if alarm_type == "event":
        found, source, decision["alarm"]["event_type"] = _event_member(reason_data)
    elif alarm_type == "loadbalancer_member_health":
        members = _lb_members(reason_data)
        decision["stack_id"] = _optional_id(reason_data, "stack_id")
        decision["asg_id"] = _optional_id(reason_data, "asg_id")
        if members:
            found, source = members[0], "loadbalancer:unhealthy_members"
    elif alarm_type not in KNOWN_TYPES and member is None:
        _fail(
            "%s: reason_data type %r is not one this pack reads (%s) and no fallback "
            "'member' is configured, so nothing says what to heal"
            % (label, alarm_type, ", ".join(KNOWN_TYPES))
        )

    decision["action"] = "heal"
    if found is not None:
        decision["member"] = found
        decision["source"] = source
        decision["members"] = members or [found]
        what = "%s names %s (%s)" % (label, found, source)
        if len(members) > 1:
            what += (
                "; %d unhealthy members (%s): this run replaces the first, a re-fired "
                "alarm the next" % (len(members), ", ".join(members))
            )
        decision["why"] = what + "."
    elif member is not None:
        decision["member"] = member
        decision["source"] = "configured"
        decision["members"] = [member]
        decision["why"] = "%s (type %s) names no resource: using the configured member %s." % (
            label,
            alarm_type,
            member,
        )
    else:
        decision["why"] = (
            "%s (type %s) names no resource and no member is configured: replacing the "
            "members that show failed." % (label, alarm_type)
        )
    return decision


# --- What ha.v1.on_alarm does with a notification -------------------------------------
# The inputs of the called workflows that on_alarm passes on from its ``options``; every
# other input of theirs keeps the called workflow's own default (no copy here:
# tests/unit/test_workflows.py checks these names against the workflows' inputs).
OPTIONS = {
    "replace_member": ("count", "max_unavailable", "reason", "dry_run", "timeout",
                       "poll_delay", "stall_timeout", "stale_after", "cooldown",
                       "max_heals", "heal_window", "force", "recovery", "rung_timeout",
                       "max_failed_fraction"),
    "failover_volume": ("standby", "parameter", "quiesce", "activate", "hook_timeout",
                        "dead_host_policy", "fencing_hook", "fence_timeout", "restore",
                        "timeout", "poll_delay", "long_poll", "stall_timeout",
                        "stale_after", "cooldown", "max_heals", "heal_window", "force"),
}


class AlarmConfigError(OperatorError, ValueError):
    """on_alarm's own configuration (operation, options, stack) does not fit."""


def check_options(operation, options):
    """Raise AlarmConfigError unless ``operation`` is one on_alarm runs and ``options``
    only names inputs it passes on to it."""
    if operation not in OPTIONS:
        raise AlarmConfigError("operation must be replace_member or failover_volume, not "
                               "%s." % (operation,))
    if not isinstance(options, dict):
        raise AlarmConfigError("options must be an object of extra inputs for ha.v1.%s, not "
                               "%s." % (operation, options))
    unknown = sorted(key for key in options if key not in OPTIONS[operation])
    if unknown:
        raise AlarmConfigError(
            "options %s are not inputs of ha.v1.%s that ha.v1.on_alarm passes on; use: %s."
            % (", ".join(unknown), operation, ", ".join(OPTIONS[operation])))


def alarm_plan(body, stack=None, group=None, member=None, operation="replace_member",
               options=None, execution_id=None):
    """What ha.v1.on_alarm does for one notification (its configuration first: a bad one
    fails even on an 'ok' alarm). Returns ``{"next": "ignore" | "check_active" | "heal",
    "workflow", "inputs", "decision", "target", "report"}``: ``check_active`` when a
    failover's alarm names a server (fail over only if it is the active one); ``inputs``
    are the called workflow's, the options as given (its own defaults for the rest);
    ``report`` is on_alarm's report before the called workflow's result."""
    options = {} if options is None else options
    check_options(operation, options)
    decision = parse_alarm(body, member)
    target = stack or decision["stack_id"]
    alarm = decision["alarm"]
    report = {"status": "ignored", "alarm": alarm, "operation": operation,
              "why": decision["why"], "member": None, "stack": target, "result": None}
    plan = {"next": "ignore", "workflow": "ha.v1." + operation, "inputs": None,
            "decision": decision, "target": target, "report": report}
    if decision["action"] == "ignore":
        return plan
    if target is None:
        raise AlarmConfigError(
            "No stack to heal: input stack is null and alarm %s (type %s) carries no "
            "stack_id. Set stack (e.g. {get_param: OS::stack_id} in the template that wires "
            "the alarm)." % (alarm["id"], alarm["type"]))
    report["member"] = decision["member"]
    if operation == "replace_member":
        inputs = {"stack": target, "group": group, "member": decision["member"],
                  "strategy": "specific" if decision["member"] is not None else "failed",
                  "not_a_member": "ignore",
                  "reason": "Aodh alarm %s (%s), ha.v1.on_alarm execution %s" % (
                      alarm["name"], alarm["id"], execution_id)}
        plan["next"] = "heal"
    else:
        inputs = {"stack": target}
        plan["next"] = "check_active" if decision["member"] is not None else "heal"
    inputs.update(options)
    plan["inputs"] = inputs
    return plan
