"""What a workflow says when it ends: its report for every status, the operator's
messages, and a sub-workflow's error unwrapped. Pure: it is handed what the run found
and did (the workflow's published values, as ``facts``) and the run's own input
(``request``) and returns the report; the workflow's one ``report`` task calls it
through ``ha.report`` (``workflow.ReportAction``), on success and on failure alike.

``REPORTS`` names the builder of each workflow.
"""

import datetime

from ha_actions.errors import OperatorError
from ha_actions.guard import parse_created_at


class ReportError(OperatorError, ValueError):
    """The report cannot be built from what the workflow handed over (a pack bug)."""


def text(value):
    """``value`` as YAQL's ``str()`` writes it (null, true, false), so a message reads
    the same as when the workflows built it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def unwrap_error(result):
    """A failed task's error as text. A sub-workflow's is its output-on-error with
    Mistral's ``result`` (the message it failed with) added: that message; an action's
    is the text itself."""
    if isinstance(result, dict) and result.get("result") is not None:
        return text(result["result"])
    return text(result)


def duration_s(started_at, now=None):
    """Whole seconds since ``started_at`` (Mistral's created_at, UTC)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return int((now - parse_created_at(started_at)).total_seconds())


def held_or(facts, status):
    """The heal limits' status (paused, cooldown, flapping) when they held the run back,
    else ``status``."""
    held = (facts.get("limits") or {}).get("status")
    return held if held not in (None, "ok") else status


def names(rows):
    """'a, b': the names of report rows ({name, ...}) or of plain names."""
    return ", ".join(row["name"] if isinstance(row, dict) else row for row in rows)


def busy_message(before, timeout, with_group=True):
    """The stack (or its group) is still *_IN_PROGRESS after the wait: why nothing
    was changed."""
    stack = before["stack"]
    group = (" (group %s: %s)" % (before["group"]["name"], text(before["group"]["status"]))
             if with_group else "")
    return ("Stack %s is still %s%s after %s s: not updating over a running operation.%s"
            % (stack["name"], stack["status"], group, text(timeout),
               " Try again later." if with_group else ""))


# --- ha.v1.replace_member ---------------------------------------------------------------
# facts: {reason, before (ha.group_members), guard (ha.concurrent_runs), selection
# (ha.select_members), history (ha.group_history: a physical id no member has now),
# limits (ha.heal_history), heat_preview, replaced, also_replaced, lost_builds,
# group_size, failed_batch (index of the batch that failed), error (the failed task's
# result)}; each null (or []) until the run got there.

def selected(facts):
    """The selection, with what Heat's events said of a member no one has now: its
    status (already_healed | not_a_member), former_member, and its message first."""
    selection, history = facts.get("selection") or {}, facts.get("history")
    if not history:
        return selection
    return dict(selection, status=history["status"], former_member=history["former_member"],
                message=history["message"] + " " + selection["message"])


def replace_member_failure(request, facts):
    """The error text when the run failed, else None."""
    selection, before = selected(facts), facts.get("before")
    if facts.get("error") is not None:
        error = unwrap_error(facts["error"])
        if facts.get("failed_batch") is None:
            return error
        index, batches = facts["failed_batch"], selection["batches"]
        done = facts.get("replaced") or []
        return "Batch %d of %d (%s): %s%s" % (
            index + 1, len(batches), names(batches[index]), error,
            " Already replaced: %s." % names(done) if done else "")
    if before and before.get("busy"):
        return busy_message(before, request["timeout"])
    if selection.get("status") == "not_a_member" and request["not_a_member"] != "ignore":
        return facts["history"]["message"]
    return None


def replace_member_status(request, facts):
    """The report status, by the first that holds: failed, skipped (an older run works
    on the stack), already_healed, ignored (not a member, not_a_member: ignore), held
    (too much of the group failed at once), dry_run, the heal limits' status when not ok
    (paused, cooldown, flapping), replaced, recovered (by rungs alone)."""
    if replace_member_failure(request, facts) is not None:
        return "failed"
    guard, selection = facts.get("guard") or {}, selected(facts)
    if guard.get("blocking"):
        return "skipped"
    if not selection:
        raise ReportError("replace_member ended with neither an error nor a selection.")
    if selection["status"] == "already_healed":
        return "already_healed"
    if selection["status"] == "not_a_member":
        return "ignored"
    if selection["status"] == "held":
        return "held"
    if request["dry_run"]:
        return "dry_run"
    if facts.get("recovered") and not facts.get("replaced"):
        return held_or(facts, "recovered")
    return held_or(facts, "replaced")


def replace_member_base(request, facts, execution_id):
    """The fields every report has: the request as the stack lookup resolved it, or
    as given when the run failed before (then without reason, size and warnings)."""
    before, guard = facts.get("before"), facts.get("guard")
    if not before:
        return {"stack": request["stack"], "group": request["group"],
                "strategy": request["strategy"], "member": request["member"],
                "count": request["count"], "execution_id": execution_id}
    base = {"stack": {"id": before["stack"]["id"], "name": before["stack"]["name"]},
            "group": before["group"]["name"], "strategy": request["strategy"],
            "member": request["member"], "count": request["count"],
            "reason": facts.get("reason"), "execution_id": execution_id,
            "group_size_before": before["size"], "warnings": before["warnings"],
            "recovery": request.get("recovery", "replace"), "replaced": []}
    if guard is not None:
        base["stale_executions"] = guard["stale"]
    return base


def replaced_message(request, facts):
    """What a run that replaced says: which members, in how many batches, and what
    else happened on the way (Heat's own replacements, lost builds, stale runs ended,
    force)."""
    selection, guard = facts["selection"], facts.get("guard") or {}
    parts = [rungs_message(facts)] if facts.get("rungs") else []
    if facts["replaced"]:
        parts.append("Replaced %s in %d batch(es). " % (
            names(facts["replaced"]), len(selection["batches"])))
    parts.append(selection["message"])
    if facts.get("also_replaced"):
        parts.append(" Heat also replaced %s (already failed)." % names(facts["also_replaced"]))
    if facts.get("lost_builds"):
        parts.append(" Deleted server(s) %s whose build Nova had lost; Heat built them "
                     "again." % ", ".join(facts["lost_builds"]))
    if guard.get("stale"):
        parts.append(" " + guard["message"])
    if request["force"]:
        parts.append(" " + (facts.get("limits") or {}).get("message", ""))
    return "".join(parts)


def rungs_message(facts):
    """What the recovery ladder's rungs did: who recovered on which rung (same server,
    same physical id), and which rung failed for whom and why."""
    done = ["%s recovered by %s (same server and physical id)" % (row["member"], row["rung"])
            if row["outcome"] == "recovered" else
            "%s: %s failed (%s)" % (row["member"], row["rung"], row["reason"])
            for row in facts["rungs"]]
    return "Rungs: %s. " % "; ".join(done)


def held_fields(selection):
    """What a held run says: the members that look failed and what they share."""
    hold = selection["hold"]
    return {"message": hold["message"], "failed_members": hold["failed"],
            "causes": hold["causes"],
            "would_replace": [n for batch in selection["batches"] for n in batch]}


def dry_run_message(selection, recovery="replace"):
    first = {"reboot": "hard reboot (nothing replaced)", "rebuild": "rebuild (nothing replaced)",
             "ladder": "reboot, then rebuild, then replace what they leave"}.get(recovery)
    return ("Dry run, nothing changed. %s Would %s, in batches: %s. "
            "heat_preview is what a no-change update would do now; members are marked "
            "unhealthy only in a real run, so it lists them only if Heat already shows "
            "them failed." % (selection["message"], first or "mark unhealthy and replace",
                              " | ".join(", ".join(batch) for batch in selection["batches"])))


def tried_rungs(facts):
    """Every rung the run tried, the failed batch's too (its error carries them): the
    flapping limit counts them, so a member no rung recovers is not rebooted for ever."""
    failed = facts.get("error")
    return (facts.get("rungs") or []) + (
        failed.get("rungs") or [] if isinstance(failed, dict) else [])


def replace_member_fields(status, request, facts):
    """The fields of ``status`` beyond the base."""
    selection, guard = selected(facts), facts.get("guard") or {}
    limits = facts.get("limits") or {}
    if status == "failed":
        error = replace_member_failure(request, facts)
        return {"error": error, "message": error, "replaced": facts.get("replaced") or [],
                "also_replaced": facts.get("also_replaced") or [],
                "recovered": facts.get("recovered") or [], "rungs": tried_rungs(facts)}
    if status == "skipped":
        return {"running_executions": guard["blocking"], "message": guard["message"]}
    if status == "already_healed":
        return {"message": selection["message"],
                "former_member": selection.get("former_member")}
    if status == "ignored":
        return {"message": selection["message"]}
    if status == "held":
        return held_fields(selection)
    if status == "dry_run":
        return {"would_replace": selection["selected"], "batches": selection["batches"],
                "remaining_failed": selection["remaining_failed"],
                "heat_preview": facts.get("heat_preview"),
                "message": dry_run_message(selection, request.get("recovery", "replace"))}
    if status == limits.get("status"):
        return {"message": limits["message"],
                "would_replace": [n for batch in selection["batches"] for n in batch],
                "last_heal": limits["last_heal"], "heals_in_window": limits["heals_in_window"]}
    return {"replaced": facts["replaced"], "also_replaced": facts.get("also_replaced") or [],
            "batches": selection["batches"], "group_size": facts.get("group_size"),
            "remaining_failed": selection["remaining_failed"],
            "lost_builds": facts.get("lost_builds") or [],
            "recovered": facts.get("recovered") or [], "rungs": facts.get("rungs") or [],
            "message": replaced_message(request, facts)}


def replace_member_report(request, facts, execution_id, started_at, now=None):
    """ha.v1.replace_member's report (see the header of workflows/replace_member.yaml).
    ``request``: the run's input, defaults included (``execution().input``)."""
    status = replace_member_status(request, facts)
    report = replace_member_base(request, facts, execution_id)
    report["status"] = status
    report.update(replace_member_fields(status, request, facts))
    report["duration_s"] = duration_s(started_at, now)
    return report


def unrecovered_message(request, recovery):
    """A recovery without replacement (reboot or rebuild) that left members unrecovered."""
    failed = [row for row in recovery["rungs"] if row["member"] in recovery["left"]]
    return ("Not recovered by %s: %s.%s Nothing was replaced: recovery ladder (or replace) "
            "would replace them." % (
                " then ".join(request["rungs"]),
                "; ".join("%s: %s" % (row["member"], row["reason"]) for row in failed),
                " Recovered: %s." % ", ".join(recovery["recovered"])
                if recovery.get("recovered") else ""))


def replace_member_batch_report(request, facts, execution_id=None, started_at=None,
                                now=None):
    """How one batch (ha.v1.replace_member_batch) failed: ``{"status": "failed",
    "error"}``; the error says the members are marked unhealthy when the update
    (``facts["failed_step"]``) failed. The parent's report puts it in its batch's words."""
    before, recovery = facts.get("before"), facts.get("recovery")
    if facts.get("error") is None and before and before.get("busy"):
        error = busy_message(before, request["timeout"], with_group=False)
    elif facts.get("error") is None and recovery and recovery.get("left"):
        error = unrecovered_message(request, recovery)
    elif facts.get("error") is None:
        raise ReportError("replace_member_batch reports only a failure; it had no error.")
    else:
        error = unwrap_error(facts["error"])
        if facts.get("failed_step") == "update":
            error += " (members marked unhealthy: %s)" % ", ".join(request["members"])
    return {"status": "failed", "error": error}


# --- ha.v1.failover_volume --------------------------------------------------------------
# facts: {stack_info (ha.failover_request's stack), guard, state (ha.failover_state), limits
# (ha.heal_history, when the pair was ready), where (where each volume is, as last seen),
# old_state (ha.server_state of the old active), fence_failed (the stop was not
# confirmed), restore_state (ha.server_state after the restore's delete), after
# (ha.failover_state after the restore), failed_step (the step whose failure has its own
# words), error (the failed task's result), located / locate_error (where the volumes are
# after a failure mid-move, or why that could not be read)}.
# tasks: the run's own task records in Mistral (workflow.task_records), each {name,
# state, published, created_at, finished_at}: the steps and the fencing are read from
# them (each task publishes only what it saw, and this module says it).

NOT_NEEDED = {"method": "none", "result": "not needed"}
NOT_STARTED = {"method": "none", "result": "not started"}
DONE = ("SUCCESS", "ERROR")


def since(mark, now=None):
    """Seconds (with fraction) since ``mark``, as a step record's duration_s."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (now - parse_created_at(mark)).total_seconds()


def hook_result(hook, task):
    """A quiesce or activate hook's step: best effort, its failure only reported."""
    if task["state"] == "SUCCESS":
        return "SUCCESS (%s)" % hook
    return "FAILED, ignored (%s): %s" % (hook, text(task["published"].get("hook_error")))


def shutoff_result(request, old_state):
    """What the stop's wait saw of the old active."""
    if old_state["status"] == "SHUTOFF":
        return "SHUTOFF"
    return "not confirmed - still %s (task_state %s, host %s) after %s s" % (
        old_state["status"], text(old_state.get("task_state")),
        text(old_state.get("host_state")), text(request["fence_timeout"]))


def deleted_result(old_state):
    """What the delete's wait saw of the old active."""
    if old_state["status"] == "NOT_FOUND":
        return "deleted"
    return "not confirmed - still " + old_state["status"]


def fencing_after(request, task, fencing):
    """The fencing as it stands after ``task`` (a task record; most leave it as it was):
    {method, result}."""
    name, ok, seen = task["name"], task["state"] == "SUCCESS", task["published"]
    policy = request["dead_host_policy"]
    state = seen.get("state") or {}
    if name == "inspect" and ok and state.get("status") == "attach_only":
        return {"method": "stop", "result": "already %s (an earlier failover)"
                % state["active"]["status"]}
    if name == "fence" and not ok:
        return {"method": "stop", "result": "stop refused - " + text(seen.get("fence_error"))}
    if name == "wait_shutoff" or (name == "fence" and ok and stopped(seen)):
        return {"method": "stop", "result": shutoff_result(request, seen["old_state"]) if ok
                else "state unknown - " + text(seen.get("fence_error"))}
    if name == "fence_host" and not ok:
        return {"method": "force_down",
                "result": "fencing hook failed - " + text(seen.get("error"))}
    if name == "force_down":
        return {"method": "force_down", "result": seen["forced"]["result"] if ok
                else "not forced down - " + text(seen.get("error"))}
    if name == "delete_old":
        return {"method": policy, "result": seen["deleted"]["result"] if ok
                else "delete refused - " + text(seen.get("error"))}
    if name == "wait_deleted" and ok:
        return {"method": policy, "result": deleted_result(seen["old_state"])}
    return fencing


def new_server(state, after):
    """The server Heat made under the old active's name (``after``: ha.failover_state
    once the restore's update ended), or {}."""
    return next((server for server in after.get("servers") or ()
                 if server["name"] == state["active"]["name"]), {})


def restored(facts):
    """restore: the old active's resource and the server Heat made for it, once read."""
    if not facts.get("after"):
        return None
    old, new = facts["state"]["active"], new_server(facts["state"], facts["after"])
    return {"name": old["name"], "old_id": old["id"], "new_id": new.get("id"),
            "status": new.get("status")}


def stopped(seen):
    """A fence or wait_shutoff task published the old active SHUTOFF."""
    return (seen.get("old_state") or {}).get("status") == "SHUTOFF"


def step_of(request, facts, task, fencing):
    """(step name, result) that ``task`` (a task record) ends, or None."""
    name, ok, seen = task["name"], task["state"] == "SUCCESS", task["published"]
    state = facts.get("state") or {}
    if name in ("quiesce", "activate"):
        return name, hook_result(request[name], task)
    if name == "fence_failed":
        return "fence", fencing["result"]
    if not ok:
        return None
    if name == "inspect":  # the guard blocked: no look at the pair, no step
        return ("inspect", seen["state"]["message"]) if seen.get("state") else None
    if name in ("fence", "wait_shutoff") and stopped(seen):
        return "fence", "stopped: SHUTOFF"
    if name == "fence_host":
        return "fence_host", "%s: %s" % (request["fencing_hook"], text(seen["hook_output"]))
    if name == "force_down":
        return "force_down", "nova-compute on %s: %s" % (seen["forced"]["host"],
                                                         seen["forced"]["result"])
    if name == "wait_deleted":
        return "delete_server", "deleted (dead_host_policy %s): %s" % (
            request["dead_host_policy"], seen["old_state"]["status"])
    if name in ("detach", "attach") and seen.get("moved"):  # the move saw its end itself
        return step_of(request, facts, dict(task, name="wait_" + name + "ed"), fencing)
    if name == "wait_detached":
        return "detach", ("available" if seen.get("failed_step") is None
                          else "not detached: " + text(seen.get("where")))
    if name == "wait_attached":
        return "attach", ("in-use on " + state["standby"]["name"]
                          if seen.get("failed_step") is None
                          else "not attached: " + text(seen.get("where")))
    if name == "record":
        return "record", seen["final"]["status"]
    if name == "restore_read":
        return "restore", "new %s: %s" % (state["active"]["name"],
                                          text(new_server(state, seen["after"]).get("id")))
    return None


# The tasks that end a step or change the fencing, in the workflow's order: it breaks
# ties between records created in the same second (Mistral keeps whole seconds).
STEP_TASKS = ("inspect", "quiesce", "fence", "wait_shutoff", "fence_failed", "fence_host",
              "force_down", "delete_old", "wait_deleted", "detach", "wait_detached", "attach",
              "wait_attached", "activate", "record", "restore_read")


def ordered(tasks):
    """The ended records of STEP_TASKS, oldest first. A task retried is one record; one
    run again (a loop) is one record per run, each in its place."""
    return sorted((t for t in tasks if t["name"] in STEP_TASKS and t["state"] in DONE),
                  key=lambda t: (parse_created_at(t["created_at"]),
                                 STEP_TASKS.index(t["name"])))


def failover_steps(request, facts, tasks, started_at):
    """{steps, fencing, mark} from the run's task records: each step {name, result,
    duration_s}, its duration from the end of the one before (of the first: from the
    run's start) to the end of the task that ends it; the fencing as the last task that
    changed it left it; mark: when the last step ended."""
    steps, fencing, mark = [], NOT_STARTED, started_at
    for task in ordered(tasks):
        fencing = fencing_after(request, task, fencing)
        step = step_of(request, facts, task, fencing)
        if step is not None:
            end = task["finished_at"]
            steps.append({"name": step[0], "result": step[1],
                          "duration_s": since(mark, parse_created_at(end))})
            mark = end
    return {"steps": steps, "fencing": fencing, "mark": mark}


def fence_failed_message(request, state, fencing):
    """The old active could not be stopped: nothing moved; what the operator can do."""
    active, standby = state["active"], state["standby"]
    return (
        "Fencing failed: could not stop the old active %s (%s): %s. The volumes were NOT "
        "moved (still on %s). If its compute host is down (Nova accepts the stop but cannot "
        "carry it out), make sure the server is really off (power off the host; an admin "
        "can then mark its nova-compute service forced_down), then run again with "
        "dead_host_policy=delete_server: it deletes %s (Nova deletes it locally and "
        "releases its volumes) and moves the volumes to %s. An admin can run with "
        "dead_host_policy=force_down and a fencing_hook, which powers the host off and has "
        "it forced down first." % (active["name"], active["id"], text(fencing["result"]),
                                   active["name"], active["name"], standby["name"]))


def restore_error(request, facts):
    """Why restoring the old active failed: the step's error, or its delete not done."""
    if facts.get("error") is not None:
        return unwrap_error(facts["error"])
    return "server %s was not deleted within %s s (still %s)" % (
        facts["state"]["active"]["id"], text(request["timeout"]),
        facts["restore_state"]["status"])


def failed_step(request, facts):
    """The step whose failure has its own words: ``failed_step``, or the fence when it
    was not confirmed and dead_host_policy is fail (other policies go on)."""
    if facts.get("failed_step"):
        return facts["failed_step"]
    if facts.get("fence_failed") and request["dead_host_policy"] == "fail":
        return "fence"
    return None


def failover_step_error(request, facts):
    """The words of the step that failed (``failed_step``), or the error itself."""
    step, state = failed_step(request, facts), facts.get("state") or {}
    error = text(None) if facts.get("error") is None else unwrap_error(facts["error"])
    active, standby = state.get("active") or {}, state.get("standby") or {}
    if step == "fence":
        return fence_failed_message(request, state, facts["fencing"])
    if step in ("locate_host", "force_down"):
        return "Fencing failed: %s%s" % (
            error, " The volumes were NOT moved." if step == "locate_host" else "")
    if step == "fence_host":
        return ("Fencing failed: the fencing hook %s failed or took longer than hook_timeout "
                "(%s s) for host %s: %s. The compute service was not forced down and the "
                "volumes were NOT moved (still on %s)." % (
                    request["fencing_hook"], text(request["hook_timeout"]),
                    text((facts.get("old_state") or {}).get("host")), error, active["name"]))
    if step == "delete_old":
        return ("Fencing failed: stop and delete of %s were refused: %s. The volumes were NOT "
                "moved." % (active["name"], error))
    if step == "wait_deleted" and facts.get("error") is None:
        return ("Fencing failed: %s was not deleted within %s s. The volumes were NOT moved."
                % (active["name"], text(request["fence_timeout"])))
    if step in ("detach", "attach"):
        return "%s %s failed: %s" % ("Detaching from" if step == "detach" else "Attaching to",
                                     (active if step == "detach" else standby)["name"], error)
    if step == "wait_detached" and facts.get("error") is None:
        return "Volumes did not become available after detaching from %s (%s s): %s" % (
            active["name"], text(request["timeout"]), text(facts.get("where")))
    if step == "wait_attached" and facts.get("error") is None:
        return "Volumes were not attached to %s after %s s: %s" % (
            standby["name"], text(request["timeout"]), text(facts.get("where")))
    if step == "record":
        return ("The volumes are on %s but recording it in the stack parameter %s failed: %s "
                "Set it yourself: openstack stack update --existing --parameter %s=%s %s" % (
                    standby["name"], request["parameter"], error, request["parameter"],
                    standby["name"], state["stack"]["name"]))
    if step == "restore":
        return ("Failed over: the volumes are on %s (%s) and the stack records it, but "
                "restoring %s failed: %s. Replace it yourself: openstack stack resource mark "
                "unhealthy %s %s && openstack stack update --existing %s" % (
                    standby["name"], standby["id"], active["name"],
                    restore_error(request, facts), state["stack"]["name"], active["name"],
                    state["stack"]["name"]))
    return error


def failover_error(request, facts):
    """The error text of a failed failover, with where the volumes are when a failure
    mid-move had them read."""
    error = failover_step_error(request, facts)
    if facts.get("located") is not None:
        return error + " Volumes now (volume: servers or status): " + text(facts["located"])
    if facts.get("locate_error") is not None:
        return error + " Could not read where the volumes are: " + unwrap_error(
            facts["locate_error"])
    return error


def failover_status(request, facts):
    """failed (an error, or a step that failed in its own words), skipped, the state's
    already_active, recorded (the volumes were on the standby already), the heal
    limits' status when not ok, failed_over."""
    if facts.get("error") is not None or failed_step(request, facts):
        return "failed"
    if (facts.get("guard") or {}).get("blocking"):
        return "skipped"
    state = facts.get("state")
    if not state:
        raise ReportError("failover_volume ended with neither an error nor a state.")
    if state["status"] == "already_active":
        return "already_active"
    if state["status"] == "record_only":
        return "recorded"
    return held_or(facts, "failed_over")


def failover_base(request, facts, execution_id):
    """The fields every report has once the pair was read; before that the request's."""
    state = facts.get("state")
    if not state:
        return {"stack": request["stack"], "execution_id": execution_id}
    pick = state.get("standby") or state["active"]
    return {"stack": {"id": state["stack"]["id"], "name": state["stack"]["name"]},
            "old_active": {"name": state["active"]["name"], "id": state["active"]["id"]},
            "new_active": {"name": pick["name"], "id": pick["id"]},
            "execution_id": execution_id,
            "stale_executions": (facts.get("guard") or {}).get("stale", [])}


def failover_fields(status, request, facts, now=None):
    """The fields of ``status`` beyond the base."""
    state, steps = facts.get("state") or {}, list(facts.get("steps") or [])
    limits = facts.get("limits") or {}
    held = {"volumes": facts.get("where"), "fencing": NOT_NEEDED, "steps": steps}
    if status == "failed":
        error = failover_error(request, facts)
        if facts.get("failed_step") == "restore":
            steps.append({"name": "restore", "result": "FAILED: " + restore_error(request, facts),
                          "duration_s": since(facts["mark"], now)})
        located = facts.get("located")
        return {"error": error, "message": error,
                "volumes": facts.get("where") if located is None else located,
                "fencing": facts.get("fencing"), "steps": steps}
    if status == "already_active":
        return dict(held, message=state["message"])
    if status == "recorded":
        return dict(held, message="%s Stack parameter %s = %s now." % (
            state["message"], request["parameter"], state["standby"]["name"]))
    if status == limits.get("status"):
        return dict(held, message=limits["message"], last_heal=limits["last_heal"],
                    heals_in_window=limits["heals_in_window"])
    return {"volumes": facts.get("where"), "fencing": facts.get("fencing"),
            "restored": facts.get("restored"), "steps": steps,
            "message": "Failed over %d volume(s) from %s to %s; stack parameter %s = %s." % (
                len(state["volume_ids"]), state["active"]["name"], state["standby"]["name"],
                request["parameter"], state["standby"]["name"])}


def failover_volume_report(request, facts, execution_id, started_at, now=None, tasks=(),
                           unread=None):
    """ha.v1.failover_volume's report (see the header of workflows/failover_volume.yaml),
    its steps and fencing read from the run's task records (``tasks``); ``unread``: why
    they could not be read (then no steps, and the fencing says so). A run an older one
    blocks (skipped) reports the stack as found, before the pair was read."""
    facts = dict(facts, restored=restored(facts),
                 **failover_steps(request, facts, tasks or (), started_at))
    if unread is not None:
        facts["fencing"] = {"method": "unknown", "result": "task records not read: " + unread}
    status = failover_status(request, facts)
    if status == "skipped":
        guard, info = facts["guard"], facts["stack_info"]
        report = {"stack": {"id": info["id"], "name": info["name"]}, "status": status,
                  "execution_id": execution_id, "running_executions": guard["blocking"],
                  "volumes": None, "fencing": NOT_NEEDED, "steps": facts["steps"],
                  "message": guard["message"]}
    else:
        report = failover_base(request, facts, execution_id)
        report["status"] = status
        report.update(failover_fields(status, request, facts, now))
    if unread is not None:
        report["steps_error"] = unread
    report["duration_s"] = duration_s(started_at, now)
    return report


# --- ha.v1.on_alarm's report ------------------------------------------------------------
# facts: {plan (alarm_plan's), pair (ha.failover_state's, when check_active read it),
# result (the called workflow's report), error (the failed task's result: ha.alarm_plan's
# message, or the called workflow's error)}; each null until the run got there.

def on_alarm_report(request, facts, execution_id=None, started_at=None, now=None):
    """ha.v1.on_alarm's report (see the header of workflows/on_alarm.yaml): the plan's
    (ignored), with the pair's word when the alarm's server is not the active one, with
    the called workflow's status and report, or failed with the error. ``request``: the
    run's input (``execution().input``); the other arguments are ha.report's, unused."""
    plan, pair, error = facts.get("plan"), facts.get("pair"), facts.get("error")
    if plan is None:
        if error is None:
            raise ReportError("on_alarm ended with neither an error nor a plan.")
        report = {"alarm": {key: request[name] for key, name in (
                      ("id", "alarm_id"), ("name", "alarm_name"), ("previous", "previous"),
                      ("current", "current"))},
                  "operation": request["operation"], "why": None, "member": request["member"],
                  "stack": None}
        return dict(report, status="failed", result=None, error=text(error),
                    message=text(error))
    report = dict(plan["report"])
    if error is not None:
        result = error.get("report") if isinstance(error, dict) else None
        message = "%s failed: %s" % (plan["workflow"], unwrap_error(error))
        return dict(report, status="failed", result=result, error=message, message=message)
    if plan["next"] == "ignore":
        return report
    if pair is not None and pair.get("status") == "not_active":
        return dict(report, why=report["why"] + " " + pair["message"])
    result = facts.get("result")
    if result is None:
        raise ReportError("on_alarm ran %s but has neither its report nor its error."
                          % plan["workflow"])
    return dict(report, status=result["status"], result=result)


# --- ha.v1.attach_pair's report ---------------------------------------------------------
# facts: {plan (ha.initial_attach_plan's), where (each volume's servers or [status], as
# last seen), attached (the wait ended with every volume in-use on the server), error
# (the failed task's result)}; each null until the run got there.

def attach_pair_report(request, facts, execution_id=None, started_at=None, now=None):
    """ha.v1.attach_pair's report (see the header of workflows/attach_pair.yaml):
    attached, already_attached (the plan's word), or failed with the error: a failed
    step's, or the volumes not in-use on the server when the wait ended. ``request``: the
    run's input (``execution().input``)."""
    plan, error = facts.get("plan"), facts.get("error")
    report = {"server": request["server"], "volumes": facts.get("where"),
              "execution_id": execution_id}
    if error is None and plan is None:
        raise ReportError("attach_pair ended with neither an error nor a plan.")
    if error is None and not facts.get("attached"):
        error = "Volumes not in-use on %s after %s s: %s" % (
            request["server"], text(request["timeout"]), facts.get("where"))
    if error is not None:
        return dict(report, status="failed", message=text(error), error=text(error))
    status = "attached" if plan["status"] == "attach" else "already_attached"
    return dict(report, status=status, message=plan["message"])


REPORTS = {"replace_member": replace_member_report,
           "replace_member_batch": replace_member_batch_report,
           "failover_volume": failover_volume_report,
           "on_alarm": on_alarm_report,
           "attach_pair": attach_pair_report}
# The workflows whose report reads the run's task records (ha.report reads them first).
FROM_TASKS = ("failover_volume",)


def report(workflow, request, facts, execution_id=None, started_at=None, now=None,
           tasks=None, unread=None):
    """The report of ``workflow`` (a key of REPORTS) from its run's ``request`` and
    ``facts`` (and, for FROM_TASKS, its task records ``tasks`` or why they are
    ``unread``)."""
    if workflow not in REPORTS:
        raise ReportError("No report for workflow %r: one of %s." % (
            workflow, ", ".join(sorted(REPORTS))))
    records = dict(tasks=tasks, unread=unread) if workflow in FROM_TASKS else {}
    return REPORTS[workflow](request, dict(facts or {}), execution_id, started_at, now,
                             **records)
