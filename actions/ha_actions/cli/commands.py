"""``openstack ha member replace``, ``volume failover``, ``execution show|list``: start the
pack's workflows through Mistral's API and follow them (--wait)."""

import sys
import time

from osc_lib import exceptions
from osc_lib.command import command

from ha_actions.cli import report

REPLACE, FAILOVER = "ha.v1.replace_member", "ha.v1.failover_volume"
REATTACH = "openstack ha execution show %s --wait"


class _Execution(command.ShowOne):
    """A command that ends in one execution's report, optionally waiting for it."""

    poll_s = 2.0

    def add_wait_arguments(self, parser):
        parser.add_argument("--wait", action="store_true",
                            help="follow the execution (the task running now) until it "
                                 "ends; exit non-zero when it failed or was skipped")
        parser.add_argument("--allow-skipped", action="store_true",
                            help="with --wait: exit 0 also when the report status is "
                                 "skipped, cooldown, flapping, held or paused (nothing was done)")
        parser.add_argument("--timeout", type=float, default=None, metavar="<seconds>",
                            help="seconds: the workflow's timeout input (each wait) when "
                                 "starting one; --wait stops following after 3 times as "
                                 "long (the execution goes on)")
        return parser

    def follow(self, client, execution, parsed_args):
        """Poll until the execution ends, showing progress on stderr; Ctrl-C detaches."""
        progress = report.Progress(sys.stderr)
        started = time.time()
        limit = 3 * parsed_args.timeout if parsed_args.timeout else None
        try:
            while execution["state"] not in report.TERMINAL:
                task = report.running_task(client.tasks(execution["id"]))
                progress.update(execution["id"], execution["state"], task,
                                time.time() - started)
                if limit and time.time() - started > limit:
                    progress.done()
                    raise exceptions.CommandError(
                        "execution %s still %s after %d s; it goes on in Mistral: %s"
                        % (execution["id"], execution["state"], limit,
                           REATTACH % execution["id"]))
                time.sleep(self.poll_s)
                execution = client.execution(execution["id"])
        except KeyboardInterrupt:
            progress.done()
            sys.stderr.write("Detached; execution %s goes on in Mistral (not cancelled). "
                             "Follow it again: %s\n" % (execution["id"],
                                                        REATTACH % execution["id"]))
            raise SystemExit(130) from None
        progress.update(execution["id"], execution["state"], None, time.time() - started)
        progress.done()
        return execution

    def show(self, client, execution, parsed_args):
        """The report table; with --wait, after following, and the exit code set."""
        if parsed_args.wait:
            execution = self.follow(client, execution, parsed_args)
            self.exit_code = report.exit_code(execution, parsed_args.allow_skipped)
        return report.report_table(execution)

    def run(self, parsed_args):
        code = super().run(parsed_args)
        return code or getattr(self, "exit_code", 0)

    def start(self, workflow, inputs, parsed_args):
        client = self.app.client_manager.ha
        if parsed_args.timeout is not None:
            inputs["timeout"] = parsed_args.timeout
        execution = client.start(workflow, {k: v for k, v in inputs.items() if v is not None},
                                 description="openstack ha")
        if not parsed_args.wait:
            sys.stderr.write("Started execution %s; follow it: %s\n"
                             % (execution["id"], REATTACH % execution["id"]))
        return self.show(client, execution, parsed_args)


def add_recovery_arguments(parser):
    """--recovery and --rung-timeout: how ha.v1.replace_member heals a member."""
    parser.add_argument("--recovery", choices=("replace", "reboot", "rebuild", "ladder"),
                        help="replace (default: Heat builds a new member), reboot or rebuild "
                             "(Nova, same server), ladder (reboot, rebuild, then replace)")
    parser.add_argument("--rung-timeout", type=int, metavar="<seconds>",
                        help="seconds a reboot or rebuild may take (default 120, >= 10)")
    return parser


class MemberReplace(_Execution):
    """Replace members of a Heat group (ha.v1.replace_member)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("stack", metavar="<stack>", help="root stack name or id")
        parser.add_argument("--group", help="the group's resource name (when the stack "
                                            "has more than one group)")
        parser.add_argument("--strategy", choices=("failed", "oldest", "newest", "specific"),
                            help="which members (default failed)")
        parser.add_argument("--member", help="for --strategy specific: member name, its "
                                             "physical id or a server uuid inside it")
        parser.add_argument("--count", type=int, help="how many members (default 1)")
        parser.add_argument("--max-unavailable", type=int, help="batch size (default 1)")
        parser.add_argument("--reason", help="why (written on the marked members)")
        parser.add_argument("--dry-run", action="store_true",
                            help="Heat's preview only, nothing changes")
        parser.add_argument("--force", action="store_true",
                            help="ignore the cooldown, the flapping limit and the "
                                 "blast-radius hold")
        add_recovery_arguments(parser)
        parser.add_argument("--max-failed-fraction", type=float, metavar="<fraction>",
                            help="hold (replace nothing) when more than this share of the "
                                 "group looks failed at once (default 0.5; for --strategy "
                                 "failed)")
        return self.add_wait_arguments(parser)

    def take_action(self, parsed_args):
        a = parsed_args
        if a.member and a.strategy not in (None, "specific"):
            raise exceptions.CommandError("--member goes with --strategy specific, not %s"
                                          % a.strategy)
        strategy = a.strategy or ("specific" if a.member else None)
        return self.start(REPLACE, {
            "stack": a.stack, "group": a.group, "strategy": strategy, "member": a.member,
            "count": a.count, "max_unavailable": a.max_unavailable, "reason": a.reason,
            "dry_run": a.dry_run or None, "force": a.force or None,
            "recovery": a.recovery, "rung_timeout": a.rung_timeout,
            "max_failed_fraction": a.max_failed_fraction}, a)


class VolumeFailover(_Execution):
    """Fail the volumes of an active/standby pair over (ha.v1.failover_volume)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("stack", metavar="<stack>", help="the pair's stack name or id")
        parser.add_argument("--standby", help="server to make active (resource name or id)")
        parser.add_argument("--dead-host-policy", choices=("fail", "delete_server", "force_down"),
                            help="when the old active cannot be stopped (default fail; "
                                 "force_down: admin only, needs --fencing-hook)")
        parser.add_argument("--fencing-hook", metavar="<workflow>",
                            help="with force_down: workflow that powers the host off and "
                                 "returns fenced: true")
        parser.add_argument("--restore", action="store_true",
                            help="afterwards, let Heat create a new standby")
        parser.add_argument("--force", action="store_true",
                            help="ignore the cooldown and the flapping limit")
        return self.add_wait_arguments(parser)

    def take_action(self, parsed_args):
        a = parsed_args
        return self.start(FAILOVER, {
            "stack": a.stack, "standby": a.standby, "dead_host_policy": a.dead_host_policy,
            "fencing_hook": a.fencing_hook,
            "restore": a.restore or None, "force": a.force or None}, a)


class ExecutionShow(_Execution):
    """An execution's report (optionally waiting for it to end)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("id", metavar="<execution id>")
        return self.add_wait_arguments(parser)

    def take_action(self, parsed_args):
        client = self.app.client_manager.ha
        return self.show(client, client.execution(parsed_args.id), parsed_args)


class ExecutionList(command.Lister):
    """The newest executions of the pack's workflows and their report status."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--stack", help="only executions for this stack (as given)")
        parser.add_argument("--limit", type=int, default=50, help="how many (default 50)")
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.ha
        found = client.executions((REPLACE, FAILOVER, "ha.v1.on_alarm"),
                                  limit=parsed_args.limit)
        if parsed_args.stack:
            found = [e for e in found if (e.get("input") or {}).get("stack")
                     == parsed_args.stack]
        return report.LIST_COLUMNS, [report.list_row(e) for e in found]
