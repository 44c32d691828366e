"""Heat (orchestration) calls and the Mistral actions built on them.

Raw REST through the openstacksdk proxy: the SDK's ``update_stack`` always
PUTs a whole template and its ``preview`` performs a real update, and its
resource objects drop ``nested_depth`` and fields such as ``parent_resource``.
Functions take a Connection and plain values and return plain dicts.

A stack is addressed as ``name/id`` once known (``stack_ref``): Heat answers a
bare name or id with a 302 to that path.
"""

import datetime
import re
import time
from urllib import parse

from openstack import exceptions as sdk_exceptions

from ha_actions import selection
from ha_actions.connection import (
    LONG_POLL_INTERVAL,
    OpenStackAction,
    OperatorError,
    long_poll,
    readable,
)
from ha_actions.stack_update import (
    DEAD_AFTER_S,
    SERVER_TYPES,
    failed_transiently,
    next_step,
    traversal_dead,
)

GROUP_TYPES = (
    "OS::Heat::AutoScalingGroup",
    "OS::Heat::ResourceGroup",
    "OS::Heat::InstanceGroup",
    "AWS::AutoScaling::AutoScalingGroup",
)
# Group types whose size Heat recomputes from the non-failed members on update
# unless the template sets a desired capacity.
_DESIRED_CAPACITY = {
    "OS::Heat::AutoScalingGroup": "desired_capacity",
    "AWS::AutoScaling::AutoScalingGroup": "DesiredCapacity",
}
_STACK_LINK = re.compile(r"/stacks/([^/]+)/([^/?#]+)/?$")
# Depth below the group's nested stack: member (0), member template (1), one more (2).
MEMBER_DEPTH = 2
# Member nested stacks whose events group_history reads, newest first.
MAX_HISTORY_STACKS = 40


class StackNotFound(OperatorError):
    """The stack named by the caller does not exist for this project."""


class GroupError(OperatorError):
    """The group named by the caller is missing, ambiguous or not a group."""


def _json(resp):
    sdk_exceptions.raise_from_response(resp)
    return resp.json() if resp.content else {}


def get_stack(conn, stack):
    """The stack (name, id or name/id) as Heat shows it, without its outputs (resolving
    them reads every resource they name: Nova, nested stacks; nothing here reads them);
    StackNotFound if there is none."""
    resp = conn.orchestration.get("/stacks/%s" % stack, params={"resolve_outputs": "false"})
    if resp.status_code == 404:
        raise StackNotFound(
            "Stack %r not found in project %s. Check the name or id with "
            "'openstack stack list'." % (stack, conn.current_project_id)
        )
    return _json(resp)["stack"]


def stack_ref(stack):
    """``name/id`` of a stack dict, the path Heat serves without a redirect."""
    return "%s/%s" % (stack["stack_name"], stack["id"])


def stack_summary(stack, previous_updated_time=None):
    """The fields of a stack an operator reads, plus what a poll needs.

    ``in_progress``: Heat shows ``*_IN_PROGRESS``. ``pending``: in progress, or
    ``previous_updated_time`` (the stack's updated_time before a PATCH, '' if it had
    none) was given and Heat has not begun a newer update yet.
    """
    status = stack["stack_status"]
    updated = stack.get("updated_time")
    in_progress = status.endswith("_IN_PROGRESS")
    # '' stands for "never updated" (Mistral cannot pass "no value" apart from null).
    not_started = previous_updated_time is not None and (updated or "") == previous_updated_time
    return {
        "id": stack["id"],
        "name": stack["stack_name"],
        "ref": stack_ref(stack),
        "status": status,
        "status_reason": stack.get("stack_status_reason"),
        "updated_time": updated,
        "in_progress": in_progress,
        "pending": in_progress or not_started,
    }


def link_stack(resource, rel="stack"):
    """(name, id) of the stack a resource's link ``rel`` points to, or None."""
    for link in resource.get("links", ()):
        if link.get("rel") == rel:
            match = _STACK_LINK.search(parse.urlsplit(link.get("href", "")).path)
            if match:
                return parse.unquote(match.group(1)), parse.unquote(match.group(2))
    return None


def list_resources(conn, ref, nested_depth=0, **filters):
    """Resources of stack ``ref`` (``name/id``) as Heat lists them, to ``nested_depth``."""
    params = dict(filters)
    if nested_depth:
        params["nested_depth"] = nested_depth
    resp = conn.orchestration.get("/stacks/%s/resources" % ref, params=params)
    return _json(resp)["resources"]


def find_group(resources, group=None):
    """The group resource named ``group`` (or the only group); GroupError otherwise."""
    groups = [r for r in resources if r.get("resource_type") in GROUP_TYPES]
    described = (
        ", ".join("%s (%s)" % (r["resource_name"], r["resource_type"]) for r in groups) or "none"
    )
    if group is None:
        if len(groups) == 1:
            return groups[0]
        raise GroupError(
            "The stack has %d groups, so 'group' must name one. Groups: %s."
            % (len(groups), described)
        )
    for resource in resources:
        if resource["resource_name"] == group:
            if resource.get("resource_type") not in GROUP_TYPES:
                raise GroupError(
                    "Resource %r is a %s, not a group (%s). Groups: %s."
                    % (group, resource.get("resource_type"), ", ".join(GROUP_TYPES), described)
                )
            return resource
    raise GroupError("The stack has no resource %r. Groups: %s." % (group, described))


def members_from_resources(resources, group_stack_id):
    """Members of a group from a nested listing of its stack; plain dicts, by name.

    Each member: name, physical_id, status, status_reason, creation_time, type,
    server_ids (the member itself if it is a server, else the servers inside its
    template) and resource_ids (physical ids of everything inside it).
    """
    owner = {}  # nested stack id -> resource that owns it
    for res in resources:
        nested = link_stack(res, "nested")
        if nested:
            owner[nested[1]] = res
    members = {}
    for res in resources:
        ref = link_stack(res)
        if ref and ref[1] == group_stack_id:
            members[res["resource_name"]] = {
                "name": res["resource_name"],
                "physical_id": res.get("physical_resource_id") or "",
                "status": res.get("resource_status"),
                "status_reason": res.get("resource_status_reason"),
                "creation_time": res.get("creation_time"),
                "type": res.get("resource_type"),
                "server_ids": [],
                "resource_ids": [],
            }
    for res in resources:
        member = _member_of(res, owner, group_stack_id)
        if member is None or member not in members:
            continue
        entry = members[member]
        physical_id = res.get("physical_resource_id")
        is_member = res["resource_name"] == member and link_stack(res)[1] == group_stack_id
        if physical_id and res.get("resource_type") in SERVER_TYPES:
            entry["server_ids"].append(physical_id)
        if physical_id and not is_member:
            entry["resource_ids"].append(physical_id)
    return [members[name] for name in sorted(members)]


def _member_of(resource, owner, group_stack_id):
    """Name of the group member that ``resource`` is, or is inside; None if neither."""
    current = resource
    for _ in range(MEMBER_DEPTH + 2):
        ref = link_stack(current)
        if ref is None:
            return None
        if ref[1] == group_stack_id:
            return current["resource_name"]
        current = owner.get(ref[1])
        if current is None:
            return None
    return None


def _size_warning(conn, root_ref, group):
    key = _DESIRED_CAPACITY.get(group.get("resource_type"))
    if key is None:
        return None
    template = _json(conn.orchestration.get("/stacks/%s/template" % root_ref))
    resources = template.get("resources") or template.get("Resources") or {}
    props = resources.get(group["resource_name"]) or {}
    props = props.get("properties") or props.get("Properties") or {}
    if key in props:
        return None
    return (
        "Group %s sets no %s: on update Heat sizes it from its non-failed members "
        "(bounded by the minimum size), so a member marked unhealthy may be removed "
        "rather than replaced." % (group["resource_name"], key)
    )


def group_members(conn, stack, group=None):
    """Read-only look at a stack's group: stack summary, group, its members.

    Returns ``{"stack": stack_summary, "group": {name, type, status, physical_id,
    ref}, "members": [member...], "size": int, "warnings": [...], "busy": bool}``.
    """
    root = get_stack(conn, stack)
    root_ref = stack_ref(root)
    group_res = find_group(list_resources(conn, root_ref), group)
    nested_id = group_res.get("physical_resource_id")
    if not nested_id:
        raise GroupError(
            "Group %s has no nested stack yet (status %s)."
            % (group_res["resource_name"], group_res.get("resource_status"))
        )
    nested = link_stack(group_res, "nested")
    nested_ref = "%s/%s" % nested if nested else stack_ref(get_stack(conn, nested_id))
    members = members_from_resources(
        list_resources(conn, nested_ref, nested_depth=MEMBER_DEPTH), nested_id
    )
    warning = _size_warning(conn, root_ref, group_res)
    summary = stack_summary(root)
    return {
        "stack": summary,
        "group": {
            "name": group_res["resource_name"],
            "type": group_res.get("resource_type"),
            "status": group_res.get("resource_status"),
            "physical_id": nested_id,
            "ref": nested_ref,
        },
        "members": members,
        "size": len(members),
        "warnings": [warning] if warning else [],
        # Heat works on the stack or on the group alone (e.g. a scaling signal).
        "busy": summary["in_progress"]
        or (group_res.get("resource_status") or "").endswith("_IN_PROGRESS"),
    }


def list_events(conn, ref):
    """Every event of stack ``ref`` (``name/id``; a deleted stack's too), oldest first."""
    resp = conn.orchestration.get("/stacks/%s/events" % ref, params={
        "sort_keys": "event_time", "sort_dir": "asc"})
    return _json(resp).get("events") or []


def group_history(conn, group, physical_id, max_stacks=MAX_HISTORY_STACKS):
    """What Heat's events say of ``physical_id`` in ``group`` (group_members' group).

    Reads the group stack's events, then those of each member nested stack it ever had
    (a replaced one is deleted but Heat still shows its events by id), newest first, at
    most ``max_stacks``; the verdict is selection.member_history's.
    """
    events = list_events(conn, group["ref"])
    stacks, seen = [], set()
    for event in reversed(events):
        pid = event.get("physical_resource_id")
        if pid and pid not in seen and event.get("resource_name") != group["name"] \
                and event.get("resource_type") not in SERVER_TYPES:
            seen.add(pid)
            stacks.append(pid)
    member_events, unread = {}, 0
    direct = any(e.get("physical_resource_id") == physical_id for e in events)
    for stack_id in [] if direct else stacks[:max_stacks]:
        try:
            body = get_stack(conn, stack_id)
        except StackNotFound:
            # A name (Heat's id of a nested stack before it is created) or a member of
            # another type; a uuid Heat does not show now may be a member stack whose
            # record we cannot read: then "never a member" cannot be proven.
            unread += bool(selection.UUID_RE.match(stack_id))
            continue
        member_events[stack_id] = list_events(conn, stack_ref(body))
        if any(e.get("physical_resource_id") == physical_id for e in member_events[stack_id]):
            break
    return selection.member_history(physical_id, group["name"], events, member_events,
                                    complete=len(stacks) <= max_stacks and not unread)


def mark_unhealthy(conn, ref, resource, reason=None):
    """Mark ``resource`` of stack ``ref`` CHECK_FAILED so the next update replaces it."""
    body = {"mark_unhealthy": True, "resource_status_reason": reason or "marked by ha-actions"}
    resp = conn.orchestration.patch(
        "/stacks/%s/resources/%s" % (ref, parse.quote(resource, safe="")), json=body
    )
    sdk_exceptions.raise_from_response(resp)


class MarkError(OperatorError):
    """Heat refused to mark a member unhealthy."""


def mark_members(conn, ref, members, reason=None):
    """mark_unhealthy each of ``members`` of stack ``ref``, in turn; MarkError says which
    were marked before Heat refused one. Returns the names marked."""
    marked = []
    for member in members:
        try:
            mark_unhealthy(conn, ref, member, reason)
        except sdk_exceptions.SDKException as exc:
            raise MarkError("Marked unhealthy: %s; marking %s failed: %s"
                            % (", ".join(marked) or "none", member, exc)) from None
        marked.append(member)
    return marked


def mark_healthy(conn, ref, resource):
    """Clear Heat's unhealthy mark of ``resource`` (it shows CHECK_COMPLETE), so the next
    stack update leaves the member, recovered in place, as it is."""
    resp = conn.orchestration.patch(
        "/stacks/%s/resources/%s" % (ref, parse.quote(resource, safe="")),
        json={"mark_unhealthy": False, "resource_status_reason": "recovered by ha-actions"})
    sdk_exceptions.raise_from_response(resp)


def update_existing(conn, stack, parameters=None, unless_busy_since=None):
    """PATCH a stack (existing=true) with only ``parameters`` ({} or None: no change).

    Heat converges it again: replaces the resources marked unhealthy, applies the new
    parameter values. Returns the stack's ``ref`` and its ``updated_time`` before the
    PATCH ('' if none) for ``stack_progress``'s previous_updated_time. With
    ``unless_busy_since`` (an updated_time the caller looked at), a stack Heat already
    updates is not PATCHed over: that update is returned as this one, waited on from then
    (a try of the caller lost with its executor after its PATCH sent it).
    """
    before = get_stack(conn, stack)
    ref = stack_ref(before)
    answer = {"stack": ref, "parameters": parameters or {},
              "previous_updated_time": before.get("updated_time") or ""}
    if unless_busy_since is not None and stack_summary(before)["in_progress"]:
        return dict(answer, previous_updated_time=unless_busy_since)
    body = {"parameters": parameters} if parameters else {}
    resp = conn.orchestration.patch("/stacks/%s" % ref, json=body)
    sdk_exceptions.raise_from_response(resp)
    return answer


def servers_in_progress(conn, ref, nested_depth=MEMBER_DEPTH + 1):
    """Nova ids of the servers Heat is still creating or updating in stack ``ref`` or its
    nested stacks (the resources an update waits on)."""
    return [r["physical_resource_id"] for r in list_resources(conn, ref, nested_depth)
            if r.get("resource_type") in SERVER_TYPES and r.get("physical_resource_id")
            and (r.get("resource_status") or "").endswith("_IN_PROGRESS")]


def newest_event_time(conn, ref, nested_depth=MEMBER_DEPTH + 1):
    """Time of the newest event of the stack or its nested stacks (Heat's format), or None."""
    resp = conn.orchestration.get("/stacks/%s/events" % ref, params={
        "nested_depth": nested_depth, "sort_keys": "event_time", "sort_dir": "desc",
        "limit": 1})
    events = _json(resp).get("events") or []
    return events[0].get("event_time") if events else None


def parse_time(value):
    """Heat's '2026-12-03T08:15:46Z' / '...46' as seconds since the epoch, or None."""
    if not value:
        return None
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def stalled_for(summary, newest_event, now):
    """Seconds an in-progress stack has shown no sign of progress (no event, no update
    start since), or 0 when it is not in progress or times cannot be read."""
    if not summary["in_progress"]:
        return 0
    times = [t for t in (parse_time(summary["updated_time"]), parse_time(newest_event)) if t]
    return max(0, int(now - max(times))) if times else 0


def dead_traversal(conn, ref, quiet_s, now):
    """traversal_dead on what Heat shows in progress (leaf resources, nested stacks
    included) and what Nova shows of those servers."""
    leaves = [{"type": r.get("resource_type"), "physical_id": r.get("physical_resource_id"),
               "action": (r.get("resource_status") or "").split("_", 1)[0]}
              for r in list_resources(conn, ref, MEMBER_DEPTH + 1)
              if (r.get("resource_status") or "").endswith("IN_PROGRESS")
              and not link_stack(r, "nested")]
    servers = {}
    for leaf in leaves:
        if leaf["type"] in SERVER_TYPES and leaf["physical_id"]:
            resp = conn.compute.get("/servers/%s" % leaf["physical_id"])
            if resp.status_code == 404:
                servers[leaf["physical_id"]] = ("NOT_FOUND", None)
                continue
            server = _json(resp)["server"]
            servers[leaf["physical_id"]] = (server["status"], parse_time(server.get("updated")))
    return traversal_dead(leaves, servers, quiet_s, now)


# Heat stores a resource's new state, then writes its event: events read again this long
# after the resource listing show any progress made while the listing was read.
EVENT_SETTLE_S = 1.0


def stack_progress(conn, stack, previous_updated_time=None, stall_timeout=None, now=None,
                   sleep=time.sleep):
    """``stack_summary`` plus ``stalled``: Heat has shown no progress on the update for
    ``stall_timeout`` seconds (no event in the stack or its nested stacks), or for
    DEAD_AFTER_S with nothing left that a live heat-engine would still wait on
    (``dead_traversal``). A convergence stack stays *_IN_PROGRESS for ever when the
    heat-engine working on it died; a new PATCH resumes it. Events are read only once
    the update is older than the shorter of the two. A traversal that looks dead counts as
    stalled only when the events, read again EVENT_SETTLE_S after its resources, show no
    newer one: a live one that moved on between the reads is not taken for dead.
    ``superseded``: the update failed because Heat cancelled it for a newer one (a resume
    PATCH that came while the old traversal was still alive, only slow). ``transient``:
    it failed on a lost Nova message or a Heat database error (``failed_transiently``).
    """
    summary = stack_summary(get_stack(conn, stack), previous_updated_time)
    summary["stalled"] = False
    summary["superseded"] = (summary["status"].endswith("_FAILED")
                             and "cancelled" in (summary["status_reason"] or "").lower())
    summary["transient"] = failed_transiently(summary)
    if stall_timeout and summary["in_progress"]:
        now = time.time() if now is None else now
        started = parse_time(summary["updated_time"]) or now
        if now - started >= min(stall_timeout, DEAD_AFTER_S):
            newest = newest_event_time(conn, summary["ref"])
            quiet = stalled_for(summary, newest, now)
            summary["stalled"] = quiet >= stall_timeout or (
                quiet >= DEAD_AFTER_S and dead_traversal(conn, summary["ref"], quiet, now)
                and _no_newer_event(conn, summary["ref"], newest, sleep))
            summary["quiet_s"] = quiet
    return summary


def _no_newer_event(conn, ref, newest, sleep):
    sleep(EVENT_SETTLE_S)
    return newest_event_time(conn, ref) == newest


def wait_for_progress(conn, stack, previous_updated_time=None, stall_timeout=None, wait_s=0,
                      interval=LONG_POLL_INTERVAL, sleep=time.sleep, clock=time.monotonic):
    """``stack_progress``, looked at again (``long_poll``) for at most ``wait_s`` s while
    the update is pending and not stalled."""
    return long_poll(lambda: stack_progress(conn, stack, previous_updated_time, stall_timeout),
                     lambda summary: summary["pending"] and not summary["stalled"],
                     wait_s, interval, sleep, clock)


def _change(res):
    return {
        "name": res.get("resource_name"),
        "type": res.get("resource_type"),
        "physical_id": res.get("physical_resource_id") or "",
        "stack": res.get("stack_name"),
    }


def preview_update(conn, ref):
    """Heat's preview of a PATCH with no change, for the root stack; changes nothing.

    Not ``show_nested``: Heat 27's engine fails on it for groups (TypeError in
    preview_update_stack's nested_fmt_actions, answered as HTTP 400).
    """
    resp = conn.orchestration.patch("/stacks/%s/preview" % ref, json={})
    changes = _json(resp).get("resource_changes", {})
    return {
        kind: [_change(r) for r in changes.get(kind, ()) if r]
        for kind in ("replaced", "added", "deleted", "updated")
    }


class StackStatusAction(OpenStackAction):
    """Return a Heat stack's id, name, status, status reason and updated time.

    With previous_updated_time (the stack's updated_time before a PATCH),
    ``pending`` stays true until Heat has started and finished a newer update.
    With stall_timeout, ``stalled`` says the update has shown no progress for that long.
    With wait_s, it looks again every 0.25 s for up to wait_s s while the update is pending.
    With resumed (how many times update_stack PATCHed again), ``next_step`` and
    ``failure`` say what update_stack does next (stack_update.next_step).
    """

    def __init__(self, stack, previous_updated_time=None, stall_timeout=None, wait_s=0,
                 resumed=None, max_resumes=3, timeout=None):
        self.stack = stack
        self.previous_updated_time = previous_updated_time
        self.stall_timeout = stall_timeout
        self.wait_s = wait_s
        self.resumed = resumed
        self.max_resumes = max_resumes
        self.timeout = timeout

    def run(self, context):
        def look():
            summary = wait_for_progress(self.connect(context), self.stack,
                                        self.previous_updated_time, self.stall_timeout,
                                        self.wait_s)
            if self.resumed is not None:
                summary.update(next_step(summary, self.resumed, self.max_resumes,
                                         self.timeout))
            return summary

        return readable(look)


class GroupMembersAction(OpenStackAction):
    """Return a stack's scaling or resource group and its members (read only)."""

    def __init__(self, stack, group=None):
        self.stack = stack
        self.group = group

    def run(self, context):
        return readable(lambda: group_members(self.connect(context), self.stack, self.group))


class GroupHistoryAction(OpenStackAction):
    """Tell whether a physical id no member has now was a member once (Heat's events)."""

    def __init__(self, group, member):
        self.group = group
        self.member = member

    def run(self, context):
        return readable(lambda: group_history(self.connect(context), self.group, self.member))


class MarkUnhealthyAction(OpenStackAction):
    """Mark members of a group's nested stack (name/id) unhealthy (CHECK_FAILED)."""

    def __init__(self, stack, members, reason=None):
        self.stack = stack
        self.members = members
        self.reason = reason

    def run(self, context):
        return readable(lambda: {"stack": self.stack, "marked": mark_members(
            self.connect(context), self.stack, self.members, self.reason)})


class MarkHealthyAction(OpenStackAction):
    """Mark members of a group's nested stack healthy again (recovered by a rung)."""

    def __init__(self, stack, members):
        self.stack = stack
        self.members = members

    def run(self, context):
        def mark():
            conn = self.connect(context)
            for member in self.members:
                mark_healthy(conn, self.stack, member)
            return {"stack": self.stack, "marked_healthy": list(self.members)}

        return readable(mark)


class UpdateExistingAction(OpenStackAction):
    """PATCH a stack (existing=true) with only the given parameters, or no change, so Heat
    replaces unhealthy resources; returns the updated_time to wait past. ``patched``: the
    answer of that PATCH already sent by the caller (update_existing's), returned as it is."""

    def __init__(self, stack, parameters=None, patched=None):
        self.stack = stack
        self.parameters = parameters
        self.patched = patched

    def run(self, context):
        if self.patched:
            return self.patched
        return readable(lambda: update_existing(
            self.connect(context), self.stack, self.parameters))


class PreviewUpdateAction(OpenStackAction):
    """Heat's preview of a no-change PATCH of a stack (name/id), nested included."""

    def __init__(self, stack):
        self.stack = stack

    def run(self, context):
        return readable(lambda: preview_update(self.connect(context), self.stack))
