"""Services that fail while a heal or a failover runs: each ends healed, or failed with a
reason that says what was done, and the cloud consistent.

Each fault is injected once a named task of the execution has started (read from
Mistral's API). Services are always running again after the test (conftest).
"""

import signal
import time

import pytest
from faultlib import (
    FAILED_WITH_REASON,
    HEALED,
    HEALED_BY_LOOP,
    WHOLE_AFTER_LOSS,
    devcloud_command,
    executor_of,
    purge_queue,
    running_pack_actions,
    signal_service,
    wait_for,
)
from groups import (
    COMPUTE_SERVICES,
    members,
    server_host,
    server_status,
    wait_compute_service,
)
from scenarios import FAILOVER, REPLACE, BrokenGroup, Pair

pytestmark = pytest.mark.restarts

MISTRAL_SERVICES = ("mistral", "mistral-api", "mistral-engine", "mistral-engine-2",
                    "mistral-executor", "mistral-executor-2", "mistral-notifier",
                    "mistral-periodic")


def heal(fault, name, group, task, inject, expect=HEALED, mistral_fault=False, **inputs):
    """Start replace_member for the broken member, inject ``inject`` once ``task``
    started, and return the report (the outcome is computed by the harness). A fault in
    Mistral itself may lose the run in one of two known ways (faultlib.FaultRun
    .finish_or_lost): the stack is watched by the reconcile loop (as `openstack ha watch`
    does, once the run started), which must then finish the heal on its own
    (HEALED_BY_LOOP); the test starts no second run."""
    if mistral_fault:
        expect = (HEALED, HEALED_BY_LOOP, WHOLE_AFTER_LOSS)
    with fault(name, expect) as run:
        run.watch(groups=[group.watched()])
        ex = run.start(REPLACE, group.inputs(**inputs))
        if mistral_fault:
            run.loop_on(group.stack_id)
        run.wait_task(ex, task)
        run.inject("after task %s started" % task, inject)
        if mistral_fault:
            execution, report, loss = run.finish_or_lost(ex)
            if loss:
                execution, report = run.healed_by_the_loop(ex, loss, REPLACE, group.stack_id)
        else:
            execution, report = run.finish(ex)
        if expect != FAILED_WITH_REASON:
            group.assert_healed(report)
        return execution, report


def fail_over(fault, name, pair, task, inject, expect=HEALED, **inputs):
    with fault(name, expect) as run:
        run.watch(volumes=pair.volume_ids)
        run.stacks(pair.stack_id)
        ex = run.start(FAILOVER, pair.inputs(**inputs))
        run.wait_task(ex, task)
        run.inject("after task %s started" % task, inject)
        execution, report = run.finish(ex)
        if expect == HEALED:
            pair.assert_failed_over(report)
        return execution, report


def restart(service):
    return lambda: devcloud_command("restart", service)


def down_for(service, seconds):
    def fault():
        devcloud_command("stop", service)
        try:
            time.sleep(seconds)
        finally:
            devcloud_command("start", service)
    return fault


# --- replace_member ----------------------------------------------------------------------

def test_heat_engine_restarted_during_the_update(fault, conn, admin_conn, stacks, capsys):
    """With the default stall_timeout (300 s): a traversal whose heat-engine died is told
    from a slow one by what Nova shows (the servers Heat waits on settled a minute ago,
    or nothing left in progress) and PATCHed again then, not after the stall_timeout."""
    group = BrokenGroup(conn, admin_conn, stacks)
    restarted = []

    def restart_engine():
        restarted.append(time.time())
        devcloud_command("restart", "heat-engine")

    execution, report = heal(fault, "heat-engine restarted during the stack update "
                             "(stall_timeout 300 s)", group, "wait", restart_engine,
                             stall_timeout=300)
    healed_after = time.time() - restarted[0]
    with capsys.disabled():
        print("\nheat-engine restart to healed: %.0f s" % healed_after)
    assert execution["state"] == "SUCCESS"
    assert healed_after < 300, "waited for the stall_timeout: %d s" % healed_after


def test_heat_api_down_for_30_s_while_polling(fault, conn, admin_conn, stacks):
    group = BrokenGroup(conn, admin_conn, stacks)
    heal(fault, "heat-api down 30 s while the update is polled", group, "wait",
         down_for("heat-api", 30))


def test_keystone_restarted_while_polling(fault, conn, admin_conn, stacks):
    group = BrokenGroup(conn, admin_conn, stacks)
    heal(fault, "Keystone restarted (tokens cannot be validated for a while)", group, "wait",
         restart("keystone"))


def test_rabbitmq_restarted_during_the_heal(fault, conn, admin_conn, stacks):
    """RabbitMQ carries Mistral's own messages too: while it restarts (about 20 s here) a
    running action can send neither heartbeats nor its result. Mistral's heartbeat limit
    (60 s, configs.py) is above that, so the run heals. Nova's messages lost in the
    restart are the next two tests' faults (a lost build, a lost scheduler answer). A
    longer outage, or a Mistral message lost in the restart, ends as a dead executor's
    does (Known limits in doc/source/admin/survives.rst): the run fails saying so and the
    reconcile loop finds the heal done or finishes it."""
    group = BrokenGroup(conn, admin_conn, stacks)
    heal(fault, "RabbitMQ restarted during the heal", group, "wait", restart("rabbitmq"),
         mistral_fault=True)


def test_the_alarm_never_arrives(fault, conn, admin_conn, stacks):
    """examples/asg_with_alarm.yaml as deployed (its alarm and its reconcile loop, every
    minute): Aodh's notifier is stopped when a member's server goes to ERROR, and the
    notification it would have sent is dropped (its queue purged) before it starts
    again. No alarm run comes; the example's own loop replaces the member."""
    group = BrokenGroup(conn, admin_conn, stacks, size=2, template="asg_with_alarm",
                        break_one=False)
    with fault("the alarm never arrives (aodh-notifier stopped, its message dropped)",
               HEALED_BY_LOOP) as run:
        run.watch(groups=[group.watched()])
        run.stacks(group.stack_id)
        devcloud_command("stop", "aodh-notifier")
        try:
            run.inject("the server put in ERROR with aodh-notifier stopped", lambda:
                       admin_conn.compute.reset_server_state(group.server, "error"))
            execution, report = run.healed_by_the_loop(None, "no alarm run came", REPLACE,
                                                       group.stack_id)
        finally:
            purge_queue("alarming.sample")
            devcloud_command("start", "aodh-notifier")
        group.assert_healed(report)


def servers_in(group, status):
    """The replacement servers Nova shows ``status`` (not the broken one)."""
    def look():
        resp = group.conn.compute.get("/servers/detail", params={"status": status})
        return [s for s in resp.json()["servers"] if s["id"] != group.server]
    return look


def builds_failed_on(group, text):
    """Heat's events of a server build that failed with ``text`` in its reason (Heat
    deletes such a server at once and builds it again, so Nova shows it ERROR for well
    under a second: Heat's record is what stays)."""
    def look():
        url = "/stacks/%s/%s/events" % (group.name, group.stack_id)
        resp = group.conn.orchestration.get(url, params={"nested_depth": 3})
        return [e for e in resp.json()["events"] if e["resource_status"] == "CREATE_FAILED"
                and text in (e.get("resource_status_reason") or "")]
    return look


def heal_losing_a_nova_message(fault, name, group, service, seen, when, **inputs):
    """replace_member with ``service`` (nova-conductor or nova-scheduler) stopped; once
    ``seen()`` finds the replacement server ``when`` says, the service's queue is purged
    (its message lost, as a RabbitMQ restart can lose one) and the service started again.
    Returns the report and what ``seen()`` found then."""
    found = []

    def lose_the_message():
        found.extend(wait_for("the replacement server %s" % when, seen, timeout=150))
        purge_queue(service.split("-", 1)[1])

    with fault(name, HEALED) as run:
        run.watch(groups=[group.watched()])
        devcloud_command("stop", service)
        try:
            ex = run.start(REPLACE, group.inputs(**inputs))
            run.inject("%s stopped before the heal; its queue purged once the replacement "
                       "%s" % (service, when), lose_the_message)
        finally:
            devcloud_command("start", service)
        execution, report = run.finish(ex)
        group.assert_healed(report)
    return report, found


def test_the_message_scheduling_the_replacement_lost(fault, conn, admin_conn, stacks):
    """The message that was to schedule the replacement server is lost: Nova shows the
    server BUILD / scheduling for ever and Heat's engine waits on it, so a plain resume
    waits too. The stalled update's resume deletes that lost build; Heat builds the member
    again and the heal ends healed, the report saying which server it deleted."""
    group = BrokenGroup(conn, admin_conn, stacks)
    report, servers = heal_losing_a_nova_message(
        fault, "the message scheduling the replacement server lost", group, "nova-conductor",
        servers_in(group, "BUILD"), "is BUILD")
    lost = [server["id"] for server in servers]
    assert report["lost_builds"] == lost, report
    assert "Deleted server(s) %s whose build Nova had lost" % lost[0] in report["message"]
    assert conn.compute.get("/servers/%s" % lost[0]).status_code == 404
    assert lost[0] not in sum((m["servers"] for m in members(conn, group.stack_id).values()), [])


def test_the_scheduler_answer_for_the_replacement_lost(fault, conn, admin_conn, stacks):
    """nova-scheduler's answer for the replacement server is lost: after
    rpc_response_timeout (60 s) nova-conductor puts the server in ERROR (fault
    MessagingTimeout) and Heat's update fails on it. That failure is not the member's: the
    update is PATCHed again, Heat builds the member again, and the heal ends healed.
    (stall_timeout above the 60 s so that only the failure starts the second PATCH.)"""
    group = BrokenGroup(conn, admin_conn, stacks)
    report, failed = heal_losing_a_nova_message(
        fault, "nova-scheduler's answer for the replacement server lost", group,
        "nova-scheduler", builds_failed_on(group, "MessagingTimeout"),
        "failed on MessagingTimeout", stall_timeout=150)
    assert failed and failed[0]["resource_name"] == "server", failed
    assert failed[0]["physical_resource_id"] not in sum(
        (m["servers"] for m in members(conn, group.stack_id).values()), [])


def test_one_mistral_engine_killed_mid_execution(fault, conn, admin_conn, stacks,
                                                 scaled_mistral):
    group = BrokenGroup(conn, admin_conn, stacks)
    try:
        heal(fault, "one Mistral engine killed (SIGKILL) mid-execution", group, "update",
             lambda: devcloud_command("kill", "mistral-engine"), mistral_fault=True)
    finally:
        devcloud_command("start", "mistral-engine")


def test_the_executor_running_a_pack_action_killed(fault, conn, admin_conn, stacks,
                                                   scaled_mistral, mistral_api):
    """heat-api is frozen (SIGSTOP) so that the running ha.stack_status call hangs in its
    executor; that executor, the one whose log says it started the action Mistral lists
    as RUNNING, is killed. Mistral's heartbeat checker fails the lost try after 70 s and
    the task's retry runs it again; that retry may get no caller's token (Known limits in
    doc/source/admin/survives.rst): the execution then fails saying so, and the reconcile
    loop finishes the heal. Either way exactly the broken member is replaced."""
    group = BrokenGroup(conn, admin_conn, stacks)
    killed = []

    def kill_the_busy_executor():
        signal_service("heat-api", signal.SIGSTOP)
        try:
            def busy_executor():
                return sorted({executor_of(a) for a in running_pack_actions(mistral_api)} - {None})
            killed[:] = wait_for("an executor running a pack action", busy_executor,
                                 timeout=60)[:1]
            devcloud_command("kill", killed[0])
        finally:
            signal_service("heat-api", signal.SIGCONT)

    try:
        heal(fault, "the Mistral executor running a pack action killed (SIGKILL)", group,
             "wait", kill_the_busy_executor, mistral_fault=True)
    finally:
        for name in killed:
            devcloud_command("start", name)


def test_all_of_mistral_restarted_in_the_first_second(fault, conn, admin_conn, stacks):
    """DEVELOPERS.md's bad day: it used to leave the execution RUNNING for ever, and the
    concurrency guard then skipped every later heal of that stack."""
    group = BrokenGroup(conn, admin_conn, stacks)

    def restart_mistral():
        for name in MISTRAL_SERVICES:
            devcloud_command("stop", name, check=False)
        devcloud_command("up")

    # No run is left RUNNING to block later heals: the harness checks that every execution
    # of the test ended, and the loop's look finds the stack whole or heals it.
    heal(fault, "all of Mistral restarted in the heal's first second", group, "check_request",
         restart_mistral, mistral_fault=True)


# --- failover_volume ----------------------------------------------------------------------

def test_cinder_volume_restarted_during_detach(fault, conn, stacks):
    pair = Pair(conn, stacks)
    fail_over(fault, "cinder-volume restarted during the detach", pair, "detach",
              restart("cinder-volume"))


def test_cinder_volume_restarted_during_attach(fault, conn, stacks):
    pair = Pair(conn, stacks)
    fail_over(fault, "cinder-volume restarted during the attach", pair, "attach",
              restart("cinder-volume"))


def test_heat_engine_restarted_while_recording_the_new_active(fault, conn, stacks):
    pair = Pair(conn, stacks)
    fail_over(fault, "heat-engine restarted while the new active is recorded", pair, "wait",
              restart("heat-engine"))


def test_nova_api_down_while_fencing(fault, conn, stacks):
    pair = Pair(conn, stacks)
    fail_over(fault, "nova-api down 20 s from the fence on", pair, "fence",
              down_for("nova-api", 20))


def test_one_mistral_engine_killed_during_failover(fault, conn, stacks, scaled_mistral):
    pair = Pair(conn, stacks)
    try:
        with fault("one Mistral engine killed (SIGKILL) during a failover",
                   (HEALED, HEALED_BY_LOOP, WHOLE_AFTER_LOSS)) as run:
            run.watch(volumes=pair.volume_ids)
            run.stacks(pair.stack_id)
            ex = run.start(FAILOVER, pair.inputs())
            run.loop_on(pair.stack_id)
            run.wait_task(ex, "detach")
            run.inject("after task detach started",
                       lambda: devcloud_command("kill", "mistral-engine-2"))
            execution, report, loss = run.finish_or_lost(ex)
            if loss:
                execution, report = run.healed_by_the_loop(ex, loss, FAILOVER, pair.stack_id)
            pair.assert_failed_over(report)
    finally:
        devcloud_command("start", "mistral-engine-2")


def test_the_active_hosts_nova_compute_stopped_during_failover(fault, conn, admin_conn,
                                                               stacks):
    """nova-compute is frozen the moment the failover starts (so Nova's stop can never be
    carried out), then stopped for good; Nova sees the host down after service_down_time.
    Two rows on the one lost host: dead_host_policy fail (nothing moves, the error says
    what to do), then delete_server (Nova deletes the old active locally, which releases
    its volume, and the volume moves)."""
    pair = Pair(conn, stacks)
    host = server_host(admin_conn, pair.a)
    service = COMPUTE_SERVICES[host]

    def lose_the_host():
        signal_service(service, signal.SIGSTOP)
        devcloud_command("stop", service)

    try:
        execution, report = fail_over(
            fault, "nova-compute of the active's host stopped during failover "
            "(dead_host_policy fail)", pair, "inspect", lose_the_host,
            expect=FAILED_WITH_REASON, dead_host_policy="fail", fence_timeout=40)
        info = execution["state_info"]
        assert "Fencing failed: could not stop the old active server_a" in info, info
        assert "NOT moved" in info and "dead_host_policy=delete_server" in info
        assert "forced_down" in info
        assert report["fencing"]["method"] == "stop"
        assert "not confirmed" in report["fencing"]["result"], report["fencing"]
        pair.assert_not_moved(report)
        assert server_status(conn, pair.a) == "ACTIVE"

        with fault("the same, then dead_host_policy delete_server", HEALED) as run:
            run.watch(volumes=pair.volume_ids)
            run.stacks(pair.stack_id)
            run.inject("the active's nova-compute still stopped, until Nova sees it down",
                       lambda: wait_compute_service(admin_conn, host, "down"))
            execution, report = run.finish(run.start(FAILOVER, pair.inputs(
                dead_host_policy="delete_server", fence_timeout=5)))
            pair.assert_failed_over(report)
            assert report["fencing"] == {"method": "delete_server", "result": "deleted"}
            steps = report["steps"]
            assert [st["name"] for st in steps] == ["inspect", "fence", "delete_server",
                                                    "detach", "attach", "record"], steps
            assert steps[1]["result"].startswith("not confirmed - still ACTIVE"), steps
            assert conn.compute.find_server(pair.a, ignore_missing=True) is None
            assert server_status(conn, pair.b) == "ACTIVE"
    finally:
        devcloud_command("start", service)
        wait_compute_service(admin_conn, host, "up")
