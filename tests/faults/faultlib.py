"""The fault suite's harness: inject one fault at a named moment, watch the invariants
from the APIs while it plays out, and record one row of the results table.

A test says which fault it injects and what it expects (``healed`` or
``failed-with-reason``, or for storms what every execution ends as), starts a real
operation through Mistral's API, waits for a named task to start (read from the
execution's task list, never a sleep), injects the fault, and asserts the end state
as the operator would check it. The harness adds, for every test:

* a watcher thread that polls Cinder, Heat and Nova (not our reports) and records any
  moment a volume is attached to two servers, or a group has fewer members than its
  ``min_size`` or fewer healthy members than allowed;
* at the end: every execution the test started is finished (none RUNNING for ever), the
  stacks are not ``*_IN_PROGRESS``, every volume is attached to one server or available,
  and no token or password of the devcloud's users appears in any execution output,
  action output, task published variable or the Mistral logs written meanwhile.
"""

import datetime
import json
import os
import re
import subprocess
import threading
import time

import openstack
from devcloud_fixtures import DEVCLOUD, MEMBER, REPO, STATE, mistral_since

from ha_actions.cli import watch

# Fernet tokens (and Keystone receipts) start with the version byte 0x80: "gAAAAA".
TOKEN_PATTERN = re.compile(r"gAAAAA[0-9A-Za-z_=-]{40,}")
HEALED = "healed"
FAILED_WITH_REASON = "failed-with-reason"
# A heal Mistral lost that the pack's reconcile loop (a cron trigger on the stack, as
# `openstack ha watch` makes) finished on its own: no run started by the test.
HEALED_BY_LOOP = "healed by the reconcile loop"
# A lost run whose stack update Heat finished all the same: the loop's next look found the
# stack whole and ended the run if it was left RUNNING.
WHOLE_AFTER_LOSS = "healed by the lost run's update (the loop found it whole)"
LOOP_STARTED = "Started by ha.v1.reconcile "
LOOP_EVERY_S = 20  # the rows' loops look as `openstack ha watch --every 20` does
# What a newer run's concurrency guard writes on a run Mistral lost (workflow.py).
ENDED_AS_LOST = "Mistral lost this execution"
# The two named ways Mistral loses a run (doc/source/admin/survives.rst, Known limits).
LOST_RUNNING = "left RUNNING with no task moving"
LOST_THE_TOKEN = "its retried action lost the caller's token"
HELD = "held"
# What an action says when Mistral ran it again without the caller's token (connection.py).
LOST_TOKEN = "without the caller's token: Mistral lost it"
DONE_ALREADY = ("already_healed", "already_active")
RESULTS_FILE = os.environ.get("HA_FAULT_RESULTS") or os.path.join(STATE, "fault-results.txt")
MISTRAL_LOGS = ("mistral", "mistral-api", "mistral-engine", "mistral-engine-2",
                "mistral-executor", "mistral-executor-2", "mistral-notifier")


def devcloud_command(*args, check=True):
    """Run tools/devcloud (stop/start/restart/kill SERVICE, status...)."""
    proc = subprocess.run([DEVCLOUD, *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError("tools/devcloud %s failed: %s" % (" ".join(args),
                                                               proc.stderr[-1500:]))
    return proc


def mistral_mode():
    try:
        with open(os.path.join(STATE, "mistral-mode")) as f:
            return f.read().strip() or "all"
    except OSError:
        return "all"


def outcome_of(execution, report):
    """What an execution ended as, in the table's words."""
    report = report or {}
    status = report.get("status")
    if execution["state"] == "SUCCESS":
        if status in ("replaced", "failed_over", "recorded"):
            return HEALED
        return status or "success-without-report"
    if execution["state"] == "ERROR":
        message = report.get("message") or ""
        if status == "failed" and message.strip() and (execution.get("state_info") or "").strip():
            return FAILED_WITH_REASON
        return "error-without-reason"
    return "still-" + execution["state"]


def _secrets():
    """Every password the devcloud knows (its users', its services', its database's)."""
    import yaml

    found = set()
    with open(os.path.join(STATE, "clouds.yaml")) as f:
        for cloud in yaml.safe_load(f)["clouds"].values():
            found.add(cloud["auth"]["password"])
    with open(os.path.join(STATE, "secrets.json")) as f:
        found.update(json.load(f).values())
    return {s for s in found if s}


def leaks(text, secrets):
    """The kinds of secret found in ``text`` (never the secret itself)."""
    found = []
    if TOKEN_PATTERN.search(text):
        found.append("a Keystone token")
    if any(s in text for s in secrets):
        found.append("a password")
    return found


def group_health(conn, stack_ref, group):
    """(members, healthy members) of a group, from one nested resource listing of its stack
    (``name/id``) and one listing of the project's servers: a member is healthy when it
    has servers and Nova shows each ACTIVE. Cheap enough to poll twice a second beside
    a fault (members() reads each member's nested stack, a dozen calls)."""
    resp = conn.orchestration.get("/stacks/%s/resources" % stack_ref,
                                  params={"nested_depth": 2})
    resp.raise_for_status()
    resources = resp.json()["resources"]
    names = {r["resource_name"] for r in resources if r.get("parent_resource") == group}
    servers = {}
    for res in resources:
        if res["resource_type"] == "OS::Nova::Server" and res.get("physical_resource_id"):
            owner = res["resource_name"] if res["resource_name"] in names and \
                res.get("parent_resource") == group else res.get("parent_resource")
            if owner in names:
                servers.setdefault(owner, []).append(res["physical_resource_id"])
    resp = conn.compute.get("/servers/detail")
    resp.raise_for_status()
    status = {s["id"]: s["status"] for s in resp.json()["servers"]}
    healthy = sum(1 for name in names if servers.get(name) and
                  all(status.get(sid) == "ACTIVE" for sid in servers[name]))
    return len(names), healthy


class Watcher:
    """Polls the APIs in a thread and records every moment an invariant does not hold.

    ``volumes``: volume ids never to be attached to two servers. ``groups``: (stack id,
    group name, min_size, min_healthy) whose member count must stay >= min_size and
    whose ACTIVE members must stay >= min_healthy. Polls that fail (a service the
    fault took down) are counted, not violations.
    """

    def __init__(self, volumes=(), groups=(), interval=0.5):
        self.conn = openstack.connect(cloud=MEMBER)
        self.volumes, self.groups, self.interval = list(volumes), list(groups), interval
        self.violations, self.polls, self.unobserved = [], 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from groups import stack, volume_servers

        refs = {}
        while not self._stop.is_set():
            for volume_id in self.volumes:
                try:
                    status, servers = volume_servers(self.conn, volume_id)
                except Exception:  # noqa: BLE001 - the fault may have taken Cinder away
                    self.unobserved += 1
                    continue
                if len(servers) > 1:
                    self.violations.append("volume %s attached to %d servers (%s)"
                                           % (volume_id, len(servers), status))
            for stack_id, group, min_size, min_healthy in self.groups:
                try:
                    if stack_id not in refs:
                        body = stack(self.conn, stack_id)
                        refs[stack_id] = "%s/%s" % (body["stack_name"], body["id"])
                    count, healthy = group_health(self.conn, refs[stack_id], group)
                except Exception:  # noqa: BLE001 - Heat or Nova down during the fault
                    self.unobserved += 1
                    continue
                if count < min_size:
                    self.violations.append("group %s had %d members, min_size %d"
                                           % (group, count, min_size))
                if healthy < min_healthy:
                    self.violations.append("group %s had %d healthy members, at least %d "
                                           "allowed" % (group, healthy, min_healthy))
            self.polls += 1
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)
        return sorted(set(self.violations))


class FaultRun:
    """One fault test: what it injects, when, what came of it, which invariants held."""

    def __init__(self, api, conn, name, expect, table):
        """``expect``: the outcome expected, or a tuple of the outcomes that may come
        (a Mistral fault may lose the run, or not)."""
        self.api, self.conn, self.name, self.table = api, conn, name, table
        self.expect = (expect,) if isinstance(expect, str) else tuple(expect)
        self.t0 = time.time()
        self.since = mistral_since(self.t0)
        self.injected, self.outcome, self.seconds = "-", None, None
        self.executions, self.stack_ids, self.volume_ids = [], [], []
        self.watcher = None
        self.loop = None
        self.problems = []
        self._log_offsets = {}

    # --- what the test does ----------------------------------------------------------

    def watch(self, volumes=(), groups=()):
        """Start the invariant watcher (call before starting the operation)."""
        self.volume_ids += list(volumes)
        self.stack_ids += [g[0] for g in groups]
        self.watcher = Watcher(volumes, groups)
        self.watcher.start()

    def stacks(self, *stack_ids):
        """Stacks that must not be left *_IN_PROGRESS."""
        self.stack_ids += list(stack_ids)

    def loop_on(self, stack_id, stale_after=90):
        """Watch the stack with the reconcile loop, as ``openstack ha watch STACK --every
        20 --stale-after`` does (a cron trigger every 20 s); unwatched when the test ends."""
        self.loop = "ha-watch-ft-%s" % stack_id
        resp = self.api._call("post", "/cron_triggers", json={
            "name": self.loop, "workflow_name": "ha.v1.reconcile",
            "pattern": watch.pattern_for(LOOP_EVERY_S),
            "workflow_input": json.dumps({"stack": stack_id, "stale_after": stale_after})})
        assert resp.status_code == 201, resp.text

    def start(self, workflow, inputs):
        execution_id = self.api.start(workflow, inputs)
        self.executions.append(execution_id)
        return execution_id

    def wait_task(self, execution_id, task_name, timeout=180, states=None):
        """Wait until a task named ``task_name`` has started in the execution or one of its
        sub-workflows (as Mistral's API lists them); return the task."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for task in self.api.tasks(execution_id):
                if task["name"] == task_name and (states is None or task["state"] in states):
                    return task
            ex = self.api.execution(execution_id)
            if ex["state"] in self.api.TERMINAL:
                raise AssertionError("execution %s ended %s before task %s started: %s" % (
                    execution_id, ex["state"], task_name, ex.get("state_info")))
            time.sleep(0.3)
        raise AssertionError("task %s did not start within %d s" % (task_name, timeout))

    def inject(self, when, fault):
        """Inject ``fault()`` now; ``when`` says at which moment, for the table."""
        self.injected = "%s (+%.0f s)" % (when, time.time() - self.t0)
        fault()

    def finish(self, execution_id, timeout=600):
        """Wait for the execution to end; return (execution, report); records the outcome."""
        execution, output = self.api.wait(execution_id, timeout=timeout)
        report = (output or {}).get("report") or {}
        self.outcome = outcome_of(execution, report)
        self.seconds = time.time() - self.t0
        return execution, report

    def finish_or_lost(self, execution_id, first_wait=150, still_for=30):
        """Wait for an execution a Mistral process died under. Returns (execution, report,
        loss): ``loss`` is None when the run ended by itself (the outcome is its own), or
        names which of the two known ways Mistral lost it, after asserting the state that
        loss leaves: RUNNING with no task changed for ``still_for`` seconds, or ERROR with
        the lost-token message. Anything else is the run's own outcome."""
        execution = self.api.wait_ended(execution_id, timeout=first_wait)
        self.seconds = time.time() - self.t0
        if execution["state"] not in self.api.TERMINAL:
            still = self.api.seconds_without_progress(execution_id)
            assert still >= still_for, (
                "execution %s is still %s after %d s but a task moved %.0f s ago: slow, "
                "not lost" % (execution_id, execution["state"], first_wait, still))
            self.outcome = "lost by Mistral: %s" % LOST_RUNNING
            return execution, {}, LOST_RUNNING
        report = (execution["output"] or {}).get("report") or {}
        self.outcome = outcome_of(execution, report)
        info = execution.get("state_info") or ""
        if execution["state"] == "ERROR" and ENDED_AS_LOST in info:
            # Left RUNNING, then ended by the guard of the reconcile loop's heal.
            self.outcome = "lost by Mistral: %s" % LOST_RUNNING
            return execution, report, LOST_RUNNING
        if execution["state"] == "ERROR" and LOST_TOKEN in info:
            self.outcome = "lost by Mistral: %s" % LOST_THE_TOKEN
            return execution, report, LOST_THE_TOKEN
        return execution, report, None

    def healed_by_the_loop(self, lost_id, loss, workflow, stack_id, timeout=420):
        """After a lost run (``loss`` says how; ``lost_id`` None when no run came): wait
        for the reconcile loop to act on the stack, with no run started by the test: the
        heal it starts, followed to its end (HEALED_BY_LOOP when it finished the work or
        found it done), or a look that found the stack whole (WHOLE_AFTER_LOSS: Heat
        finished the lost run's update). A run left RUNNING must have been ended by the
        loop, saying so."""
        after = mistral_since()

        def of_stack(rows):
            return [r for r in rows if json.loads(r.get("input") or "{}").get("stack")
                    == stack_id]

        def loop_acted():
            heals = [r["id"] for r in of_stack(self._created_since("executions",
                                                                   workflow_name=workflow))
                     if (r.get("description") or "").startswith(LOOP_STARTED)]
            if heals:
                return "heal", heals[0]
            looks = of_stack(self.api.get("/executions", workflow_name="ha.v1.reconcile",
                                          created_at="gte:" + after, include_output="true",
                                          state="SUCCESS", limit=1000)["executions"])
            whole = [r for r in looks if json.loads(r.get("output") or "{}").get(
                "report", {}).get("status") == "healthy"]
            return whole and ("whole", whole[0])

        kind, found = wait_for("the reconcile loop acting on stack %s" % stack_id,
                               loop_acted, timeout=timeout, interval=2)
        if kind == "heal":
            self.executions.append(found)
            execution, report = self.finish(found)
            self.injected += "; %s: the loop started %s" % (loss, found)
            if self.outcome == HEALED or (execution["state"] == "SUCCESS" and
                                          report.get("status") in DONE_ALREADY):
                self.outcome = HEALED_BY_LOOP
        else:
            execution = found
            report = json.loads(found["output"])["report"]
            self.injected += "; %s: the loop's run %s found the stack whole" % (loss,
                                                                                found["id"])
            self.outcome = WHOLE_AFTER_LOSS
            self.seconds = time.time() - self.t0
        if loss == LOST_RUNNING:
            lost = self.api.execution(lost_id)
            assert lost["state"] == "ERROR", lost["state"]
            assert ENDED_AS_LOST in (lost.get("state_info") or ""), lost
            assert "reconcile loop" in lost["state_info"] or \
                self.executions[-1] in lost["state_info"], lost["state_info"]
        return execution, report

    # --- what the harness checks at the end --------------------------------------------

    def __enter__(self):
        for name in MISTRAL_LOGS:
            path = os.path.join(STATE, "logs", "%s.log" % name)
            self._log_offsets[path] = os.path.getsize(path) if os.path.exists(path) else 0
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.watcher is not None:
            self.problems += self.watcher.stop()
        if self.loop is not None:
            self.api._call("delete", "/cron_triggers/%s" % self.loop)
        try:
            self._settle()
            self.problems += self._end_checks()
        except Exception as err:  # noqa: BLE001 - reported in the row and raised below
            self.problems.append("end checks failed: %r" % err)
        held = not self.problems
        test_failed = exc_type is not None
        if self.seconds is None:
            self.seconds = time.time() - self.t0
        row = self._row()
        outcome = self.outcome or "-"
        row.update({
            # A test that failed says so first: its last outcome is not the row's.
            "outcome": "test error (%s)" % outcome if test_failed else outcome,
            "seconds": self.seconds,
            "invariants": "held" if held else "; ".join(self.problems),
            "ok": held and not test_failed and self.outcome in self.expect,
        })
        self.table.append(row)
        if not test_failed:
            assert held, "invariants broken: %s" % "; ".join(self.problems)
            assert self.outcome in self.expect, "outcome %s, expected %s" % (
                self.outcome, " or ".join(self.expect))
        return False

    def _settle(self):
        """Hook for what a row computes once the test's body is done."""

    def _row(self):
        return {"kind": "fault", "fault": self.name, "injected": self.injected,
                "expected": " or ".join(self.expect)}

    def _end_checks(self):
        problems = []
        problems += self._all_finished()
        for stack_id in dict.fromkeys(self.stack_ids):
            status = _settled_stack_status(self.conn, stack_id)
            if status.endswith("_IN_PROGRESS"):
                problems.append("stack %s left %s" % (stack_id, status))
        from groups import volume_servers

        for volume_id in self.volume_ids:
            status, servers = volume_servers(self.conn, volume_id)
            if not ((status == "in-use" and len(servers) == 1) or
                    (status == "available" and not servers)):
                problems.append("volume %s lost: %s on %s" % (volume_id, status, servers))
        problems += self._no_secrets()
        return problems

    def _created_since(self, what, **params):
        return self.api.get("/%s" % what, created_at="gte:%s" % self.since, limit=1000,
                            **params)[what]

    def _refs(self):
        """Every name of the row's stacks (ids and names): how its executions name them."""
        from groups import stack

        refs = set(self.stack_ids)
        for stack_id in self.stack_ids:
            refs.add(stack(self.conn, stack_id)["stack_name"])
        return refs

    def _mine(self, executions, refs):
        """The row's executions among ``executions``: those it started, those whose input
        names one of its stacks, and the workflows they run under (an alarm's on_alarm
        under the example's workflow). Tests beside this one start their own."""
        mine = {e["id"] for e in executions if e["id"] in self.executions or any(
            ref in (e.get("input") or "") for ref in refs)}
        mine |= {e["root_execution_id"] for e in executions
                 if e["id"] in mine and e.get("root_execution_id")}
        return [e for e in executions if e["id"] in mine]

    def _all_finished(self, timeout=240):
        """Every execution of the row created during the test ends (bounded); names those
        that don't."""
        deadline = time.time() + timeout
        refs = self._refs()
        while True:
            running = [e["id"] for e in self._mine(self._created_since("executions"), refs)
                       if e["state"] not in self.api.TERMINAL]
            if not running or time.time() > deadline:
                break
            time.sleep(2)
        return ["execution %s still RUNNING %d s after the test" % (ex_id, timeout)
                for ex_id in running]

    def _no_secrets(self):
        secrets = _secrets()
        problems = []
        texts = []
        for ex in self._created_since("executions", include_output="true"):
            texts.append(("execution %s" % ex["id"], json.dumps(ex)))
        for task in self._created_since("tasks"):
            texts.append(("task %s published" % task["name"], str(task.get("published"))))
        for action in self._created_since("action_executions", include_output="true"):
            texts.append(("action %s output" % action["name"], json.dumps(action)))
        for path, offset in self._log_offsets.items():
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    f.seek(offset)
                    texts.append((os.path.basename(path), f.read()))
        for where, text in texts:
            for kind in leaks(text, secrets):
                problems.append("%s in %s" % (kind, where))
        return sorted(set(problems))


QUIET = ("skipped", "already_healed", "already_active", "ignored")


class LoadRun(FaultRun):
    """A load, storm or bad-input scenario (no fault injected): many runs at once. Its
    outcome is computed from what every run ended as (Mistral's record): ``held`` when
    exactly ``replaced`` of them replaced (or failed over), the others ended with one of
    the ``quiet`` statuses (skipped, already done, ignored) or, where ``refusals``
    allows, failed with a clear reason, and nothing else; the row lists those figures."""

    def __init__(self, api, conn, name, table, replaced, refusals=False, quiet=QUIET):
        super().__init__(api, conn, name, HELD, table)
        self.want_replaced, self.refusals, self.quiet = replaced, refusals, quiet
        self.requests, self.tracked, self.figures, self._ended = None, [], {}, {}

    def load(self, what, requests):
        """Say what load the test puts on the pack: ``requests`` runs asked for."""
        self.injected, self.requests = what, requests

    def track(self, execution_ids):
        """Executions the test did not start itself (Heat started them for an alarm)."""
        self.tracked += [e for e in execution_ids if e not in self.tracked]

    def results(self, timeout=600):
        """{execution id: (execution, output)} of every run, once each has ended (a run
        seen ended is not read again)."""
        for ex_id in dict.fromkeys(self.executions + self.tracked):
            if ex_id not in self._ended:
                self._ended[ex_id] = self.api.wait(ex_id, timeout=timeout)
        return dict(self._ended)

    def _settle(self):
        results = self.results()
        counts = {"replaced": 0, "quiet": 0, "refused": 0, "other": 0}
        for execution, output in results.values():
            report = (output or {}).get("report") or {}
            counts[kind_of_end(execution, report, self.quiet)] += 1
        self.figures = dict(counts, started=self.requests or len(self.executions),
                            accepted=len(results))
        self.seconds = self.seconds or time.time() - self.t0
        wrong = []
        if counts["replaced"] != self.want_replaced:
            wrong.append("%d replaced, %d expected" % (counts["replaced"], self.want_replaced))
        if counts["refused"] and not self.refusals:
            wrong.append("%d refused" % counts["refused"])
        if counts["other"]:
            wrong.append("%d ended neither replaced, quiet nor refused" % counts["other"])
        self.outcome = HELD if not wrong else "not held: " + ", ".join(wrong)

    def _row(self):
        return dict(self.figures, kind="load", fault=self.name, injected=self.injected,
                    expected=HELD)


def kind_of_end(execution, report, quiet=QUIET):
    """replaced | quiet (one of the ``quiet`` statuses) | refused (ERROR with a clear
    reason) | other."""
    status = report.get("status")
    if execution["state"] == "SUCCESS":
        if status in ("replaced", "failed_over", "recorded"):
            return "replaced"
        return "quiet" if status in quiet else "other"
    return "refused" if clear_error(execution, report) else "other"


def clear_error(execution, report):
    """A refusal an operator can act on: ERROR, a state_info without a traceback, and a
    report with status 'failed' and a message."""
    info = (execution.get("state_info") or "").strip()
    message = str(report.get("message") or "").strip()
    return (execution["state"] == "ERROR" and bool(info) and "Traceback" not in info and
            report.get("status") == "failed" and message not in ("", "None"))


def _settled_stack_status(conn, stack_id, timeout=120):
    """The stack's status once it leaves *_IN_PROGRESS (or after ``timeout``)."""
    deadline = time.time() + timeout
    while True:
        resp = conn.orchestration.get("/stacks/%s" % stack_id)
        if resp.status_code == 404:
            return "DELETED"
        status = resp.json()["stack"]["stack_status"]
        if not status.endswith("_IN_PROGRESS") or time.time() > deadline:
            return status
        time.sleep(1)


FAULT_COLUMNS = (("fault", "fault", 80), ("injected", "injected", 120),
                 ("expected", "expected", 40), ("outcome", "outcome", 45), ("s", "seconds", 5),
                 ("invariants", "invariants", 400))
LOAD_COLUMNS = (("load or bad input", "fault", 70), ("what", "injected", 60),
                ("runs asked", "started", 10), ("accepted", "accepted", 8),
                ("replaced", "replaced", 8), ("skipped/done", "quiet", 12),
                ("refused with a reason", "refused", 21), ("other", "other", 5),
                ("outcome", "outcome", 40), ("s", "seconds", 5),
                ("invariants", "invariants", 400))


def _table(rows, columns):
    def cell(row, key):
        value = row.get(key)
        if key == "seconds":
            return "-" if value is None else "%.0f" % value
        return "-" if value is None else str(value)

    header = [title for title, _, _ in columns]
    lines = [[cell(r, key) for _, key, _ in columns] for r in rows]
    widths = [min(max(len(x) for x in col), limit)
              for col, limit in zip(zip(header, *lines), [c[2] for c in columns])]

    def fmt(row):
        return "  ".join(x[:w].ljust(w) for x, w in zip(row, widths)).rstrip()

    return [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in lines]


def format_table(rows):
    """Two tables: the faults survived, then the load and bad input held; and a summary."""
    faults = [r for r in rows if r.get("kind") != "load"]
    loads = [r for r in rows if r.get("kind") == "load"]
    out = []
    if faults:
        out += ["Faults survived"] + _table(faults, FAULT_COLUMNS) + [""]
    if loads:
        out += ["Load and bad input held"] + _table(loads, LOAD_COLUMNS) + [""]
    bad = [r for r in rows if not r["ok"]]
    out.append("%d fault(s), %d load row(s): %d as expected, %d not%s" % (
        len(faults), len(loads), len(rows) - len(bad), len(bad), "" if not bad else ": " +
        ", ".join(r["fault"] for r in bad)))
    return "\n".join(out)


def write_results(rows, path=RESULTS_FILE):
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "unknown"
    head = "ha-actions fault suite, %s, revision %s, Mistral %s, machine %s (%d cores)\n\n" % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), rev,
        mistral_mode(), os.uname().nodename, os.cpu_count() or 0)
    text = head + format_table(rows) + "\n"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:  # tools/run-tests' two pytest runs: both tables kept
        f.write(text + "\n")
    return text


# --- services ---------------------------------------------------------------------------

def service_pgid(name):
    """The process group of a devcloud service (its PID file), or None."""
    try:
        with open(os.path.join(STATE, "run", "%s.pid" % name)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def signal_service(name, sig):
    """Send ``sig`` to every process of a devcloud service (SIGSTOP freezes it)."""
    pgid = service_pgid(name)
    assert pgid, "%s is not running" % name
    os.killpg(pgid, sig)


def running_pack_actions(api):
    """Ids of the pack's action executions Mistral lists as RUNNING (this project's)."""
    found = api.get("/action_executions", state="RUNNING", limit=1000)["action_executions"]
    return [a["id"] for a in found if a["name"].startswith("ha.")]


def executor_of(action_ex_id):
    """The devcloud executor service that runs the action: an executor logs every action
    it starts ('report_running_actions [action_ex_ids=[...]]'), each in its own log."""
    for name in ("mistral-executor", "mistral-executor-2"):
        path = os.path.join(STATE, "logs", "%s.log" % name)
        try:
            with open(path, errors="replace") as f:
                if any(action_ex_id in line and "report_running_actions" in line for line in f):
                    return name
        except OSError:
            continue
    return None


def wait_for(what, check, timeout=120, interval=0.3):
    """Poll ``check()`` until it returns something true; return it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(interval)
    raise AssertionError("%s: not within %d s" % (what, timeout))


def purge_queue(name):
    """Drop the messages waiting in the devcloud RabbitMQ's queue ``name`` (rabbitmqctl
    with the node's own cookie): a message lost as a RabbitMQ restart can lose it."""
    with open(os.path.join(STATE, "data", "rabbitmq", ".erlang.cookie")) as f:
        cookie = f.read().strip()
    proc = subprocess.run(
        ["rabbitmqctl", "-n", "devcloud@localhost", "--erlang-cookie", cookie, "purge_queue",
         name], capture_output=True, text=True, timeout=60,
        env=dict(os.environ, ERL_EPMD_ADDRESS="127.0.0.1", ERL_EPMD_PORT="4369"))
    if proc.returncode != 0:
        raise AssertionError("rabbitmqctl purge_queue %s failed: %s" % (name, proc.stderr[-800:]))
