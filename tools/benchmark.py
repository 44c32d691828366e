"""How much time the pack adds to a heal: ha-actions against the raw API path, on the devcloud.

Side by side in one run, alternating approaches on the same stacks, median of --rounds:

replace   raw: what Aodh's autohealer does (aodh/notifier/heat.py), by REST as a member
          user: find the member by its server's uuid (resources nested_depth=3 filtered
          on physical_resource_id), mark it unhealthy, PATCH the stack (existing), poll
          Heat every 0.25 s until UPDATE_COMPLETE. ha: one ha.v1.replace_member execution
          (strategy specific, member = the server's uuid) started with python-mistralclient's
          API, polled every 0.25 s. Group sizes --sizes.
failover  raw: stop the active server, poll SHUTOFF, detach its volume, poll available,
          attach it to the standby, poll in-use, PATCH the 'active' parameter, poll
          UPDATE_COMPLETE. ha: one ha.v1.failover_volume execution. examples/failover_pair.yaml.
parallel  --parallel groups of 3 failing at once, against one group alone (replace).
loop      ha.v1.reconcile on healthy stacks (groups of --sizes, a pair): seconds per look
          (start to SUCCESS, polled every 0.25 s) and the API calls its report counts;
          every look must end 'healthy' and start nothing.
busy      replace_member on a group of 3 with Mistral quiet and busy, alternating round by
          round on the same stack: busy = 2,000 ended replace_member executions of other
          stacks and 100 RUNNING executions of another workflow naming this one, copied
          in Mistral's database (tests/functional/mistral_seed.py) and deleted after the
          round. The guards page through all of them; ha/raw must not grow by over 10 %.
recovery  a group of 3, the oldest member's server put in ERROR (admin reset-state), healed
          by ha.v1.replace_member (strategy specific) with recovery replace, reboot and
          ladder in turn (the order reversed every round): healed_s is its server ACTIVE
          again (reboot) or the member replaced (serving_again); the rung's point is to
          be much faster than replace when the cheap rung works.
alarm     ha.v1.on_alarm from a real Aodh event alarm (examples/asg_with_alarm.yaml, the
          server put in ERROR): alarm to execution start, to healed, to reported.

healed_s: one detector for both, independent of the pack's report: Heat polled every
0.25 s until the root stack shows a newer UPDATE_COMPLETE and the broken server is no
member any more (failover: the parameter names the standby). reported_s: the execution
ended SUCCESS with its report. Every execution gets cooldown 0 and max_heals 1000 (the
history guard would refuse the repeated rounds); --ha-input adds inputs (e.g. poll_delay).

API calls per heal: the caller is a user of its own (bench-caller, member of demo), so the
services' request logs (heat-api, nova-api, cinder-api; see bench_cloud.RequestLogs) tell
its requests, and those of the executions it starts, from the functional tests'. raw
counts its own requests; ha = its log lines minus those heat-engine and Nova made with the
caller's token for the same change (the raw round's log lines minus raw's own calls).
Mistral's API logs no requests: the pack's calls to Mistral are not counted.

Run by tools/benchmark in the devcloud venv; writes the table to --results.
"""

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import bench_cloud as bc
import openstack

sys.path.insert(0, os.path.join(bc.REPO, "tests", "functional"))
import mistral_seed  # noqa: E402 - tests/functional's seeding, shared with its volume test

HISTORY_OFF = {"cooldown": 0, "max_heals": 1000}


class Bench:
    """The connections, the caller's request counting, and the stacks to delete."""

    def __init__(self, extra_inputs):
        self.watcher = openstack.connect(cloud="devcloud")  # deploys, detects, cleans up
        self.admin = openstack.connect(cloud="devcloud-admin")
        self.caller, caller_id = bc.make_caller(self.admin)
        self.counter = bc.Counter(self.caller)
        self.mistral = bc.mistral_api(self.caller)
        self.logs = bc.RequestLogs(caller_id)
        self.inputs = dict(HISTORY_OFF, **extra_inputs)
        self.stacks = []

    def create(self, create, *args, conn=None):
        bodies = create(conn or self.watcher, *args)
        self.stacks += [(conn or self.watcher, b) for b in
                        (bodies if isinstance(bodies, list) else [bodies])]
        return bodies

    def cleanup(self, conn_bodies=None):
        for conn, body in list(conn_bodies or self.stacks):
            bc.delete_stacks(conn, [body])
            self.stacks.remove((conn, body))

    def measure(self, trigger, detect, count_calls=True):
        """One heal: timed, with the caller's requests in its window."""
        self.logs.mark()
        row = bc.timed(trigger, detect)
        if count_calls:
            row["log"] = sum(self.logs.count(*row["window"]).values())
            row["heat_log"] = self.logs.count(*row["window"])["heat-api"]
        if "state" in row and (row["state"] != "SUCCESS" or not row.get("output")):
            print("benchmark: execution %s ended %s" % (row.get("execution"), row["state"]))
        return row

    # ----------------------------------------------------------- one heal each

    def replace_trigger(self, approach, body, group, server_id):
        if approach == "raw":
            return lambda: bc.raw_replace(self.caller, self.counter, body, group, server_id)
        return lambda: bc.run_execution(self.mistral, "ha.v1.replace_member", dict(
            self.inputs, stack=body["stack_name"], strategy="specific", member=server_id))

    def heal_member(self, approach, body, group, count_calls=True):
        server_id = bc.oldest_server(self.watcher, body)
        detect = bc.healed_detector(self.watcher, body,
                                    bc.member_gone(self.watcher, body, server_id))
        return self.measure(self.replace_trigger(approach, body, group, server_id), detect,
                            count_calls)

    def fail_over(self, approach, body):
        active, servers, volume_ids = bc.pair_state(self.watcher, body)
        for server_id in servers.values():
            bc.start_server(self.watcher, server_id)
        new = next(n for n in sorted(servers) if n != active)
        detect = bc.healed_detector(self.watcher, body, bc.parameter_is("active", new))
        if approach == "raw":
            trigger = lambda: bc.raw_failover(  # noqa: E731
                self.caller, self.counter, body, servers[active], (new, servers[new]),
                volume_ids)
        else:
            trigger = lambda: bc.run_execution(  # noqa: E731
                self.mistral, "ha.v1.failover_volume", dict(self.inputs, stack=body["stack_name"]))
        return self.measure(trigger, detect)


def alternating(rounds):
    """(round, approach) pairs: raw first in odd rounds, ha first in even ones."""
    for index in range(rounds):
        for approach in (("raw", "ha") if index % 2 == 0 else ("ha", "raw")):
            yield index + 1, approach


def run_rounds(case, rounds, heal):
    rows = {"raw": [], "ha": []}
    for index, approach in alternating(rounds):
        row = heal(approach)
        rows[approach].append(row)
        print("benchmark: %s round %d %s: healed %.1f s%s" % (
            case, index, approach, row["healed_s"],
            ", reported %.1f s" % row["reported_s"] if "reported_s" in row else ""), flush=True)
    return rows


def replace_case(bench, size, rounds):
    body = bench.create(bc.create_groups, ["bench-replace-%d" % size], size)[0]
    group = bc.group_stack(bench.watcher, body)
    rows = run_rounds("replace size %d" % size, rounds,
                      lambda approach: bench.heal_member(approach, body, group))
    bench.cleanup()
    return rows


BUSY = "replace size 3, busy Mistral"
QUIET = "replace size 3, quiet Mistral"


def newest_heal():
    """The newest ended replace_member execution in Mistral (the model of the copies)."""
    return mistral_seed.mistral_sql(
        "SELECT id FROM workflow_executions_v2 WHERE workflow_name = 'ha.v1.replace_member' "
        "AND state = 'SUCCESS' ORDER BY updated_at DESC LIMIT 1").split()[-1]


def busy_case(bench, rounds):
    """[(QUIET, rows), (BUSY, rows)]: each round heals quiet, then busy (see the module
    docstring), on the same stack."""
    body = bench.create(bc.create_groups, ["bench-busy"], 3)[0]
    group = bc.group_stack(bench.watcher, body)
    quiet, busy = {"raw": [], "ha": []}, {"raw": [], "ha": []}
    for index in range(rounds):
        for approach, row in zip(("raw", "ha"), (bench.heal_member(a, body, group)
                                                 for a in ("raw", "ha"))):
            quiet[approach].append(row)
        seeds = mistral_seed.Seeds()
        try:
            mistral_seed.busy_project(seeds, newest_heal())
            for approach in ("raw", "ha"):
                busy[approach].append(bench.heal_member(approach, body, group))
        finally:
            seeds.delete()
        print("benchmark: busy round %d: ha healed %.1f s quiet, %.1f s busy" % (
            index, quiet["ha"][-1]["healed_s"], busy["ha"][-1]["healed_s"]), flush=True)
    bench.cleanup()
    return [(QUIET, quiet), (BUSY, busy)]


def failover_case(bench, rounds):
    body = bench.create(bc.create_pair, "bench-pair")
    rows = run_rounds("failover", rounds, lambda approach: bench.fail_over(approach, body))
    bench.cleanup()
    return rows


def parallel_case(bench, count, rounds):
    """``count`` groups of 3 healed at once; each round's figure is the slowest group's."""
    bodies = bench.create(bc.create_groups, ["bench-par-%d" % i for i in range(count)], 3)
    groups = [bc.group_stack(bench.watcher, b) for b in bodies]

    def heal_all(approach):
        with ThreadPoolExecutor(count) as pool:
            rows = list(pool.map(lambda bg: bench.heal_member(approach, *bg, count_calls=False),
                                 zip(bodies, groups)))
        first = min(r["window"][0] for r in rows)
        slowest = {"healed_s": max(r["window"][0] + r["healed_s"] for r in rows) - first}
        if approach == "ha":
            slowest["reported_s"] = max(r["window"][0] + r["reported_s"] for r in rows) - first
        return slowest
    rows = run_rounds("%d groups at once" % count, rounds, heal_all)
    bench.cleanup()
    return rows


def loop_case(bench, sizes, rounds):
    """``rounds`` looks of the reconcile loop at each healthy stack: [(stack, rows)]."""
    bodies = [bench.create(bc.create_groups, ["bench-loop-%d" % size], size)[0]
              for size in sizes] + [bench.create(bc.create_pair, "bench-loop-pair")]
    results = []
    for body, what in zip(bodies, ["group of %d" % s for s in sizes] + ["pair"]):
        rows = []
        for _ in range(rounds):
            got = bc.run_execution(bench.mistral, "ha.v1.reconcile", {"stack": body["id"]})
            report = (got.get("output") or {})
            report = (json.loads(report) if isinstance(report, str) else report).get("report")
            assert got.get("state") == "SUCCESS" and report["status"] == "healthy", got
            rows.append({"seconds": got["reported_at"] - got["started_at"],
                         "calls": report["api_calls"]})
        print("benchmark: loop on a healthy %s: %.2f s, %d calls" % (
            what, median(rows, "seconds"), median(rows, "calls")), flush=True)
        results.append((what, rows))
    bench.cleanup()
    return results


def alarm_case(bench, rounds):
    """Real Aodh: put a member's server in ERROR; in the admin project, so that neither
    the functional tests' project-wide alarms (demo) nor their on_alarm counts see it."""
    admin, mistral = bench.admin, bc.mistral_api(bench.admin)
    body = bench.create(bc.create_groups, ["bench-alarm"], 3, "asg_with_alarm.yaml",
                        {"heal_options": json.dumps(HISTORY_OFF), "reconcile_minutes": 0},
                        conn=admin)[0]
    rows = []
    for index in range(rounds):
        server_id = bc.oldest_server(admin, body)
        detect = bc.healed_detector(admin, body, bc.member_gone(admin, body, server_id))
        row = bc.timed(lambda s=server_id: alarm_fired(admin, mistral, s), detect)
        rows.append(row)
        print("benchmark: alarm round %d: started %.1f s, healed %.1f s, reported %.1f s"
              % (index + 1, row["started_s"], row["healed_s"], row["reported_s"]), flush=True)
    bench.cleanup()
    return rows


def alarm_fired(admin, mistral, server_id):
    """Server to ERROR; the on_alarm execution its alarm starts, followed to its end."""
    broken_at = time.time()
    admin.compute.reset_server_state(server_id, "error")

    def mine():
        found = [e for e in mistral.executions.list(
            workflow_name="ha.v1.on_alarm", sort_keys="created_at", sort_dirs="desc", limit=5)
            if server_id in (mistral.executions.get(e.id).input or "")]
        return found and found[0]
    try:
        ex = bc.poll(mine, "the alarm's execution", timeout=300)
        started_at = time.time()
        ex = bc.poll(lambda: (lambda e: e.state not in ("RUNNING", "IDLE") and e)(
            mistral.executions.get(ex.id)), "execution %s" % ex.id)
    except SystemExit as exc:
        return {"error": str(exc)}
    return {"broken_at": broken_at, "started_at": started_at, "reported_at": time.time(),
            "state": ex.state}


# ----------------------------------------------------------------- the table


RECOVERIES = ("replace", "reboot", "ladder")


def recovery_case(bench, rounds):
    """{recovery: [rows]}: one heal of each recovery per round, on one group of 3."""
    body = bench.create(bc.create_groups, ["bench-recovery"], 3)[0]
    rows = {recovery: [] for recovery in RECOVERIES}
    for index in range(rounds):
        for recovery in RECOVERIES if index % 2 == 0 else reversed(RECOVERIES):
            server_id = bc.oldest_server(bench.watcher, body)
            bench.admin.compute.reset_server_state(server_id, "error")
            inputs = dict(bench.inputs, stack=body["stack_name"], strategy="specific",
                          member=server_id, recovery=recovery)
            trigger = functools.partial(bc.run_execution, bench.mistral,
                                        "ha.v1.replace_member", inputs)
            row = bench.measure(trigger, bc.serving_again(bench.watcher, body, server_id),
                                count_calls=False)
            output = json.loads(row.get("output") or "{}")
            status = (output.get("report") or {}).get("status")
            if status != ("replaced" if recovery == "replace" else "recovered"):
                raise SystemExit("benchmark: recovery %s ended %s" % (recovery, status))
            rows[recovery].append(row)
            print("benchmark: recovery round %d %s: healed %.1f s, reported %.1f s" % (
                index + 1, recovery, row["healed_s"], row["reported_s"]), flush=True)
    bench.cleanup()
    return rows


def recovery_lines(rows):
    replace = median(rows["replace"], "healed_s")
    return ["", "recovery of a member in ERROR, group of 3 (healed: serving again), median of "
            "%d rounds:" % len(rows["replace"])] + [
        "  %-8s healed %5.1f s  reported %5.1f s  healed / replace %.2f" % (
            recovery, median(rows[recovery], "healed_s"), median(rows[recovery], "reported_s"),
            median(rows[recovery], "healed_s") / replace) for recovery in RECOVERIES]


def median(rows, key):
    values = [r[key] for r in rows if key in r]
    return statistics.median(values) if values else None


def fmt(value, spec="%.1f"):
    return "-" if value is None else spec % value


def table_row(case, rows):
    raw, ha = median(rows["raw"], "healed_s"), median(rows["ha"], "healed_s")
    reported = median(rows["ha"], "reported_s")
    raw_calls, ha_calls = median(rows["raw"], "calls"), None
    if raw_calls is not None and median(rows["ha"], "log") is not None:
        by_services = median(rows["raw"], "log") - raw_calls  # heat-engine's, Nova's
        ha_calls = median(rows["ha"], "log") - by_services
    return "%-26s %3d %7s %7s %9s %8s %9s %6s %6s %6s" % (
        case, len(rows["ha"]), fmt(raw), fmt(ha), fmt(reported), fmt(ha / raw, "%.2f"),
        fmt(reported / raw, "%.2f"), fmt(raw_calls, "%d"), fmt(ha_calls, "%d"),
        fmt(median(rows["ha"], "heat_log"), "%d"))


HEAD = ("%-26s %3s %7s %7s %9s %8s %9s %6s %6s %6s" % (
    "case", "n", "raw", "ha", "ha", "healed", "reported", "calls", "calls", "heat")
    + "\n" + "%-26s %3s %7s %7s %9s %8s %9s %6s %6s %6s" % (
        "", "", "healed", "healed", "reported", "ha/raw", "ha/raw", "raw", "ha", "ha"))


def machine():
    rev = subprocess.run(["git", "-C", bc.REPO, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    return "%s UTC, %s %s, %d CPUs, git %s" % (
        time.strftime("%Y-%m-%d %H:%M", time.gmtime()), platform.node(), platform.release(),
        os.cpu_count(), rev)


def report(results, alarm, args, loop=(), recovery=None):
    lines = ["tools/benchmark %s" % " ".join(args.argv), machine(),
             "seconds, median of the rounds (n); calls: API requests per heal"]
    if results:
        lines += ["", HEAD] + [table_row(case, rows) for case, rows in results]
    singles = dict(results)
    for case, rows in results:
        if case.endswith("at once") and "replace_member size 3" in singles:
            alone = singles["replace_member size 3"]
            lines.append("%s / one alone: raw %.2f, ha healed %.2f, ha reported %.2f" % (
                case, *(median(rows[a], k) / median(alone[a], k) for a, k in (
                    ("raw", "healed_s"), ("ha", "healed_s"), ("ha", "reported_s")))))
    if BUSY in singles:
        busy, quiet = singles[BUSY], singles[QUIET]
        lines.append(
            "busy Mistral / quiet (same stack, alternating): ha healed %.2f, ha reported "
            "%.2f; raw healed %.2f (raw never reads Mistral: its change is the machine's "
            "noise); ha/raw healed %.2f -> %.2f" % (
                median(busy["ha"], "healed_s") / median(quiet["ha"], "healed_s"),
                median(busy["ha"], "reported_s") / median(quiet["ha"], "reported_s"),
                median(busy["raw"], "healed_s") / median(quiet["raw"], "healed_s"),
                median(quiet["ha"], "healed_s") / median(quiet["raw"], "healed_s"),
                median(busy["ha"], "healed_s") / median(busy["raw"], "healed_s")))
    if loop:
        lines += ["", "ha.v1.reconcile on a healthy stack (start to SUCCESS; API calls the "
                  "look made, Mistral's included), median of %d looks:" % args.rounds]
        lines += ["  %-12s %5.2f s %4d calls" % (what, median(rows, "seconds"),
                                                median(rows, "calls")) for what, rows in loop]
    if recovery:
        lines += recovery_lines(recovery)
    if alarm:
        lines += ["", "on_alarm, real Aodh event alarm (server to ERROR), n=%d: alarm to "
                  "execution start %.1f s, to healed %.1f s, to reported %.1f s" % (
                      len(alarm), median(alarm, "started_s"), median(alarm, "healed_s"),
                      median(alarm, "reported_s"))]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="3,10,30", help="replace_member group sizes")
    parser.add_argument("--parallel", type=int, default=10, help="groups failing at once")
    parser.add_argument("--cases", default="replace,failover,parallel,loop,recovery,alarm")
    parser.add_argument("--ha-input", default="{}", help="JSON: more inputs for the pack")
    parser.add_argument("--results", default=os.path.join(bc.REPO, "doc", "benchmarks",
                                                          "results.txt"))
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    chosen = args.cases.split(",")
    bench = Bench(json.loads(args.ha_input))
    results, alarm, loop, recovery = [], [], [], None
    cases = [("replace_member size %d" % size, replace_case, (size,))
             for size in (int(s) for s in args.sizes.split(",")) if "replace" in chosen]
    if "failover" in chosen:
        cases.append(("failover_volume", failover_case, ()))
    if "parallel" in chosen and args.parallel > 1:
        cases.append(("replace %d groups at once" % args.parallel, parallel_case,
                      (args.parallel,)))
    try:
        for name, case, case_args in cases:
            try:
                results.append((name, case(bench, *case_args, args.rounds)))
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - the other cases still run
                print("benchmark: %s failed: %s" % (name, exc), flush=True)
                bench.cleanup()
        if "busy" in chosen:
            results += busy_case(bench, args.rounds)
        if "loop" in chosen:
            loop = loop_case(bench, [int(s) for s in args.sizes.split(",")], args.rounds)
        if "recovery" in chosen:
            recovery = recovery_case(bench, args.rounds)
        if "alarm" in chosen:
            alarm = alarm_case(bench, args.rounds)
    finally:
        bench.cleanup()
        bench.admin.identity.delete_user(bench.admin.identity.find_user(bc.CALLER))
    report(results, alarm, args, loop, recovery)


if __name__ == "__main__":
    main()
