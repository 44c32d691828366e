"""``openstack ha watch`` / ``unwatch``: the reconcile loop of a stack as a Mistral cron
trigger that runs ha.v1.reconcile (the trigger's trust runs it, no caller needed);
``openstack ha pause`` / ``resume``: a Mistral environment named for the stack that every
run of the pack reads (the alarm's, the loop's, an operator's) and ends ``paused``."""

import time

from osc_lib import exceptions
from osc_lib.command import command

from ha_actions.cli.commands import add_recovery_arguments
from ha_actions.names import pause_name, watch_name

RECONCILE = "ha.v1.reconcile"
COLUMNS = ("name", "stack", "every_s", "pattern", "stale_after", "options",
           "next_execution_time")


SUB_MINUTE = (10, 15, 20, 30)  # seconds that divide a minute: croniter's seconds field


def pattern_for(every_s):
    """The cron pattern of a look every ``every_s`` seconds: 10, 15, 20 or 30 (a sixth,
    seconds field, which Mistral's croniter reads), or whole minutes up to an hour."""
    if every_s in SUB_MINUTE:
        return "* * * * * */%d" % every_s
    if every_s < 60 or every_s > 3600 or every_s % 60:
        raise exceptions.CommandError(
            "--every must be 10, 15, 20 or 30 seconds, or whole minutes between 60 and 3600 "
            "seconds, not %s. Nothing was changed." % every_s)
    minutes = every_s // 60
    return "* * * * *" if minutes == 1 else ("0 * * * *" if minutes == 60
                                             else "*/%d * * * *" % minutes)


def every_of(pattern):
    """Seconds between looks of a pattern pattern_for made (None for another one)."""
    fields = (pattern or "").split()
    if len(fields) == 6 and fields[:5] == ["*"] * 5 and fields[5][2:].isdigit() \
            and fields[5].startswith("*/") and int(fields[5][2:]) in SUB_MINUTE:
        return int(fields[5][2:])
    if len(fields) != 5:
        return None
    if pattern == "* * * * *":
        return 60
    if fields[0].startswith("*/") and fields[0][2:].isdigit() and fields[1:] == ["*"] * 4:
        return int(fields[0][2:]) * 60
    return 3600 if pattern == "0 * * * *" else None


def trigger_row(trigger):
    inputs = trigger["workflow_input"]
    return (trigger["name"], inputs.get("stack"), every_of(trigger.get("pattern")),
            trigger.get("pattern"), inputs.get("stale_after", 120), inputs.get("options") or {},
            trigger.get("next_execution_time"))


def stack_argument(parser):
    parser.add_argument("stack", metavar="<stack>", help="stack name or id")
    return parser


def heat_get(app, path):
    """GET ``path`` of Heat's API on the OSC session (the caller's token); the response."""
    cm = app.client_manager
    endpoint = cm.get_endpoint_for_service_type("orchestration", region_name=cm.region_name,
                                                interface=cm.interface)
    return cm.session.get(endpoint.rstrip("/") + path, raise_exc=False)


def find_stack(app, stack):
    """``{"id", "name"}`` of a stack Heat shows the caller; CommandError when none."""
    resp = heat_get(app, "/stacks/%s" % stack)
    if resp.status_code == 404:
        raise exceptions.CommandError("Stack %s not found (openstack stack list shows yours). "
                                      "Nothing was changed." % stack)
    if resp.status_code != 200:
        raise exceptions.CommandError("Heat could not show stack %s (HTTP %d). Nothing was "
                                      "changed." % (stack, resp.status_code))
    body = resp.json()["stack"]
    return {"id": body["id"], "name": body["stack_name"],
            "parameters": body.get("parameters") or {}}


def check_watchable(app, stack):
    """CommandError unless the stack has a group or looks like a failover pair (the same
    rule the loop applies: ha_actions.reconcile.check_watchable)."""
    from ha_actions import reconcile
    from ha_actions.orchestration import GROUP_TYPES, SERVER_TYPES

    resources = heat_get(app, "/stacks/%s/%s/resources" % (stack["name"], stack["id"])
                         ).json()["resources"]
    groups = [r for r in resources if r["resource_type"] in GROUP_TYPES]
    servers = [r for r in resources if r["resource_type"] in SERVER_TYPES]
    pair = "active" in stack["parameters"] and len(servers) >= 2
    try:
        reconcile.check_watchable(stack["name"], groups, pair, then=" Nothing was changed.")
    except reconcile.NothingToWatch as exc:
        raise exceptions.CommandError(str(exc)) from None


def watching(client, stack):
    """The project's reconcile triggers for ``stack`` (``{"id", "name"}``)."""
    return [t for t in client.cron_triggers(RECONCILE)
            if t["workflow_input"].get("stack") in (stack["id"], stack["name"])
            or t["name"] == watch_name(stack["name"])]


class Watch(command.ShowOne):
    """Run the reconcile loop on a stack: a cron trigger starting ha.v1.reconcile (a stack
    already watched is watched again with these options)."""

    def get_parser(self, prog_name):
        parser = stack_argument(super().get_parser(prog_name))
        parser.add_argument("--every", type=int, default=60, metavar="<seconds>",
                            help="seconds between looks: 10, 15, 20, 30 or whole minutes "
                                 "(default 60)")
        parser.add_argument("--stale-after", type=int, default=None, metavar="<seconds>",
                            help="a run of the pack without progress this long is lost "
                                 "(default 120)")
        return add_recovery_arguments(parser)

    def take_action(self, parsed_args):
        pattern = pattern_for(parsed_args.every)
        if parsed_args.stale_after is not None and parsed_args.stale_after <= 0:
            raise exceptions.CommandError("--stale-after must be > 0 seconds, not %d. Nothing "
                                          "was changed." % parsed_args.stale_after)
        client = self.app.client_manager.ha
        stack = find_stack(self.app, parsed_args.stack)
        check_watchable(self.app, stack)
        inputs = {"stack": stack["id"]}
        if parsed_args.stale_after is not None:
            inputs["stale_after"] = parsed_args.stale_after
        options = {key: value for key, value in (("recovery", parsed_args.recovery),
                                                  ("rung_timeout", parsed_args.rung_timeout))
                   if value is not None}
        if options:
            inputs["options"] = options  # handed to the heals the loop starts
        for old in watching(client, stack):
            client.delete_cron_trigger(old["name"])
        trigger = client.create_cron_trigger(watch_name(stack["name"]), RECONCILE, inputs,
                                             pattern)
        return COLUMNS, trigger_row(trigger)


class Unwatch(command.Command):
    """Stop the reconcile loop of a stack (delete its cron trigger)."""

    def get_parser(self, prog_name):
        return stack_argument(super().get_parser(prog_name))

    def take_action(self, parsed_args):
        client = self.app.client_manager.ha
        given = parsed_args.stack
        try:
            stack = find_stack(self.app, given)
        except exceptions.CommandError:
            stack = {"id": given, "name": given}  # a deleted stack's trigger goes too
        found = watching(client, stack)
        if not found:
            raise exceptions.CommandError("Stack %s is not watched (openstack ha watch list "
                                          "shows what is)." % given)
        for trigger in found:
            client.delete_cron_trigger(trigger["name"])


class WatchList(command.Lister):
    """The stacks the reconcile loop watches, and how often."""

    def take_action(self, parsed_args):
        client = self.app.client_manager.ha
        return COLUMNS, [trigger_row(t) for t in client.cron_triggers(RECONCILE)]


class Pause(command.ShowOne):
    """Pause healing a stack for maintenance: every run of the pack for it (alarm, loop,
    by hand without force) ends 'paused' and changes nothing, until openstack ha resume."""

    def get_parser(self, prog_name):
        parser = stack_argument(super().get_parser(prog_name))
        parser.add_argument("--reason", help="why (shown in every paused run's message)")
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.ha
        stack = find_stack(self.app, parsed_args.stack)
        name = pause_name(stack["id"])
        pause = client.environment(name)
        if pause is not None:
            raise exceptions.CommandError("Stack %s is paused already (since %s UTC). Nothing "
                                          "was changed." % (stack["name"],
                                                            pause["variables"].get("paused_at")))
        pause = {"stack": stack["name"], "reason": parsed_args.reason,
                 "paused_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
        client.create_environment(name, pause, "openstack ha pause %s" % stack["name"])
        return ("stack", "paused_at", "reason"), (stack["name"], pause["paused_at"],
                                                  pause["reason"])


class Resume(command.Command):
    """Resume healing a paused stack (the loop heals what broke meanwhile)."""

    def get_parser(self, prog_name):
        return stack_argument(super().get_parser(prog_name))

    def take_action(self, parsed_args):
        client = self.app.client_manager.ha
        stack = find_stack(self.app, parsed_args.stack)
        if client.environment(pause_name(stack["id"])) is None:
            raise exceptions.CommandError("Stack %s is not paused. Nothing was changed."
                                          % stack["name"])
        client.delete_environment(pause_name(stack["id"]))
