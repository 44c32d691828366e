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
from devcloud_fixtures import DEVCLOUD, MEMBER, REPO, STATE

# Fernet tokens (and Keystone receipts) start with the version byte 0x80: "gAAAAA".
TOKEN_PATTERN = re.compile(r"gAAAAA[0-9A-Za-z_=-]{40,}")
HEALED = "healed"
FAILED_WITH_REASON = "failed-with-reason"
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
        from groups import members, volume_servers

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
                    found = members(self.conn, stack_id, group)
                    healthy = sum(1 for m in found.values() if m["servers"] and all(
                        self._server_status(s) == "ACTIVE" for s in m["servers"]))
                except Exception:  # noqa: BLE001 - Heat or Nova down during the fault
                    self.unobserved += 1
                    continue
                if len(found) < min_size:
                    self.violations.append("group %s had %d members, min_size %d"
                                           % (group, len(found), min_size))
                if healthy < min_healthy:
                    self.violations.append("group %s had %d healthy members, at least %d "
                                           "allowed" % (group, healthy, min_healthy))
            self.polls += 1
            self._stop.wait(self.interval)

    def _server_status(self, server_id):
        resp = self.conn.compute.get("/servers/%s" % server_id)
        if resp.status_code == 404:
            return "NOT_FOUND"
        resp.raise_for_status()
        return resp.json()["server"]["status"]

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)
        return sorted(set(self.violations))


class FaultRun:
    """One fault test: what it injects, when, what came of it, which invariants held."""

    def __init__(self, api, conn, name, expect, table):
        self.api, self.conn, self.name, self.expect, self.table = api, conn, name, expect, table
        self.t0 = time.time()
        self.since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.t0 - 1))
        self.injected, self.outcome, self.seconds = "-", None, None
        self.executions, self.stack_ids, self.volume_ids = [], [], []
        self.watcher = None
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

    def finish_or_run_again(self, execution_id, start_again, stale_after=30, first_wait=150):
        """Wait for the execution, which a Mistral process died under. Mistral may lose it
        two ways (README, Known limits): it stays RUNNING without progress (an engine died
        with the message that was to start its next task), or the lost action is run again
        without the caller's token and the run fails saying so. Either way the same
        operation is started again, as a re-fired alarm or the operator would (with a short
        stale_after), and that run must finish the work: the lost one ended by it, saying
        so. Returns (execution, report) of the run that finished."""
        try:
            execution, report = self.finish(execution_id, timeout=first_wait)
        except AssertionError:  # still RUNNING: lost by Mistral
            time.sleep(stale_after + 2)
            execution, report = self._run_again(start_again(stale_after))
            lost = self.api.execution(execution_id)
            assert lost["state"] == "ERROR", lost["state"]
            assert "Mistral lost this execution" in (lost.get("state_info") or "")
            assert [s["id"] for s in report.get("stale_executions") or []] == [execution_id]
            self.injected += "; lost by Mistral (RUNNING), taken over by a second run"
            return execution, report
        if execution["state"] == "ERROR" and LOST_TOKEN in (execution.get("state_info") or ""):
            execution, report = self._run_again(start_again(stale_after))
            self.injected += "; the retry lost the caller's token, a second run finished"
        return execution, report

    def _run_again(self, workflow_and_inputs):
        execution, report = self.finish(self.start(*workflow_and_inputs))
        if execution["state"] == "SUCCESS" and report.get("status") in DONE_ALREADY:
            self.outcome = HEALED  # the first run's update went through: nothing left to do
        return execution, report

    def note(self, outcome):
        """Set the row's outcome by hand (storms: a summary of many executions)."""
        self.outcome = outcome
        self.seconds = time.time() - self.t0

    # --- what the harness checks at the end --------------------------------------------

    def __enter__(self):
        for name in MISTRAL_LOGS:
            path = os.path.join(STATE, "logs", "%s.log" % name)
            self._log_offsets[path] = os.path.getsize(path) if os.path.exists(path) else 0
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.watcher is not None:
            self.problems += self.watcher.stop()
        try:
            self.problems += self._end_checks()
        except Exception as err:  # noqa: BLE001 - reported in the row and raised below
            self.problems.append("end checks failed: %r" % err)
        held = not self.problems
        test_failed = exc_type is not None
        self.table.append({
            "fault": self.name,
            "injected": self.injected,
            "expected": self.expect,
            "outcome": self.outcome or ("test error" if test_failed else "-"),
            "seconds": self.seconds,
            "invariants": "held" if held else "; ".join(self.problems),
            "ok": held and not test_failed and self.outcome == self.expect,
        })
        if not test_failed:
            assert held, "invariants broken: %s" % "; ".join(self.problems)
            assert self.outcome == self.expect, "outcome %s, expected %s" % (
                self.outcome, self.expect)
        return False

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

    def _all_finished(self, timeout=240):
        """Every execution created during the test ends (bounded); names those that don't."""
        deadline = time.time() + timeout
        while True:
            running = [e["id"] for e in self._created_since("executions")
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


def format_table(rows):
    """The results table: one line per fault."""
    header = ("fault", "injected", "expected", "outcome", "s", "invariants")
    lines = [[r["fault"], r["injected"], r["expected"], r["outcome"],
              "-" if r["seconds"] is None else "%.0f" % r["seconds"], r["invariants"]]
             for r in rows]
    limits = (80, 120, 20, 20, 5, 400)  # what broke (the last column) is kept nearly whole
    widths = [min(max(len(str(x)) for x in col), limit)
              for col, limit in zip(zip(header, *lines), limits)]

    def fmt(row):
        return "  ".join(str(x)[:w].ljust(w) for x, w in zip(row, widths)).rstrip()

    out = [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in lines]
    bad = [r for r in rows if not r["ok"]]
    out.append("")
    out.append("%d fault(s), %d as expected, %d not%s" % (
        len(rows), len(rows) - len(bad), len(bad), "" if not bad else ": " + ", ".join(
            r["fault"] for r in bad)))
    return "\n".join(out)


def write_results(rows, path=RESULTS_FILE):
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "unknown"
    head = "ha-actions fault suite, %s, revision %s, Mistral %s, machine %s (%d cores)\n\n" % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), rev,
        mistral_mode(), os.uname().nodename, os.cpu_count() or 0)
    text = head + format_table(rows) + "\n"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
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
