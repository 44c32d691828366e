"""Which other runs of a workflow are working on the same stack: the concurrency guard.

Pure decisions, no I/O, shared by ``ha.v1.replace_member`` and ``ha.v1.failover_volume``.
The workflow hands over what Mistral knows (``execution()``, and the RUNNING executions
of the same workflow, listed over Mistral's API by ``ha.running_runs``) as plain dicts::

    me:      {"id", "name", "created_at", "dry_run", "member", "not_a_member"}
    running: [{"id", "name", "created_at", "stack", "dry_run", "member", "not_a_member"}, ...]
    members: the group's members as this run found them ({"name", "physical_id",
             "server_ids"}), or None (failover_volume: no members)

``created_at`` is Mistral's ``'2026-12-03 08:15:46'`` (UTC, whole seconds).

The rule: an older RUNNING execution of the same workflow for the same stack wins (ties:
the lower id), and this one changes nothing. A run that changes nothing neither blocks
nor is blocked: a dry run, and an alarm's run about a server of no member of the group
(``not_a_member: ignore``: it ends 'ignored'; in a project where one alarm fires for every
stack's servers, a host failure starts one for each stack and broken server, and such a
run must not make the stack's real heal end 'skipped'). An execution that has made no progress (no
task created or updated, sub-workflows included) for ``stale_after`` seconds is not alive:
Mistral lost it (an engine died with the message that was to start its next task, and
nothing in Mistral restarts it). It no longer blocks: the caller ends it and says so, so
one lost execution cannot switch healing off for the stack.

Two runs started at once on two engines may miss each other: an execution is visible
when its engine commits it, not at its ``created_at``. Of two such runs the younger can
only miss the older when the older looks later, and then the older sees the younger. So
a run also checks each *younger* rival it sees: what that rival's own guard was handed
(its recorded input, ``counts_me_as_older``). One that did count this run yields, and this
run goes on. One that did not may still yield to a run older than itself in its own list,
which may yield to this one (three runs started at once: none would go on), so this run
waits for that rival's answer (``went_on``) and yields only to one that went on. Exactly
one of them changes the stack, with no pause when there is no rival: a run that goes on
has no older run in its list, and every older run that missed it waited for its answer.

Reading the progress or the guard input of another execution is I/O: ``needs_progress``
and ``younger_rivals`` say for which runs it is worth it, the caller reads it
(``ha_actions.workflow``) and hands it to ``concurrent_runs``.
"""

import datetime

from ha_actions.errors import OperatorError

DEFAULT_STALE_AFTER = 600


class GuardError(OperatorError, ValueError):
    """The guard's input is not what the workflow should hand over."""


def parse_created_at(value):
    """Mistral's created_at (``'2026-12-03 08:15:46'``, maybe ISO with T/Z) as UTC."""
    try:
        when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise GuardError("created_at %r is not a time Mistral gives." % (value,)) from None
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def _before(run, me):
    """True when ``run`` started before ``me`` (same second: the lower id first)."""
    ran, mine = parse_created_at(run["created_at"]), parse_created_at(me["created_at"])
    return ran < mine or (ran == mine and run["id"] < me["id"])


def check_stale_after(stale_after):
    if not isinstance(stale_after, (int, float)) or isinstance(stale_after, bool) \
            or stale_after <= 0:
        raise GuardError("stale_after must be a number of seconds > 0, not %r." % (stale_after,))


def _now(now):
    return now or datetime.datetime.now(datetime.timezone.utc)


def member_refs(members):
    """Every name the group's members go by (name, physical id, server ids); None when
    the run has no members to compare with."""
    if members is None:
        return None
    return {ref for member in members
            for ref in (member.get("name"), member.get("physical_id"),
                        *(member.get("server_ids") or ())) if ref}


def changes_nothing(run, refs):
    """True for a dry run, and for an alarm's run about a server of no member (``refs``:
    member_refs; it ends 'ignored')."""
    if run.get("dry_run"):
        return True
    return (refs is not None and run.get("not_a_member") == "ignore"
            and run.get("member") is not None and run["member"] not in refs)


def _same_stack(me, running, stack_refs, members=None):
    """The other runs of ``me``'s workflow on the same stack that may change it."""
    refs = member_refs(members)
    if changes_nothing(me, refs):
        return []
    stacks = {ref for ref in stack_refs if ref}
    return [run for run in running or ()
            if run["id"] != me["id"] and run.get("name") == me["name"]
            and run.get("stack") in stacks and not changes_nothing(run, refs)]


def _rivals(me, running, stack_refs, members=None):
    """The runs that would block ``me``: same workflow, same stack, older, changing it."""
    return [run for run in _same_stack(me, running, stack_refs, members) if _before(run, me)]


def younger_rivals(me, running, stack_refs, members=None):
    """Ids of the younger runs on the same stack: each may have missed ``me``."""
    return [run["id"] for run in _same_stack(me, running, stack_refs, members)
            if not _before(run, me)]


def counts_me_as_older(me_id, recorded):
    """True when a rival's guard, handed ``recorded`` (its ``me``, ``running``,
    ``stack_refs`` and ``members``), found ``me_id`` older than itself and so yields to it."""
    try:
        ids = [run["id"] for run in _rivals(recorded["me"], recorded["running"],
                                            recorded["stack_refs"], recorded.get("members"))]
    except (KeyError, TypeError):
        raise GuardError("A rival's recorded guard input is not ha.concurrent_runs' "
                         "input: %r." % (recorded,)) from None
    return me_id in ids


def went_on(result):
    """Whether a rival's guard let it go on, read from its guard action's answer
    (``result``: concurrent_runs' answer, or a dict with it as ``guard``): True or False;
    None while it has not answered, or answered no guard (its action failed)."""
    answer = result.get("guard", result) if isinstance(result, dict) else None
    if not isinstance(answer, dict) or "blocking" not in answer:
        return None
    return not answer["blocking"]


def younger_verdict(me_id, recorded, result=None):
    """What a younger rival's guard, handed ``recorded`` and answering ``result``, means
    for ``me_id``: True, it counted me as older and yields to me; None, it missed me but
    yielded itself (a run older than it in its own list blocked it), so it blocks no one;
    False, it missed me and went on, or has not answered yet: I yield to it."""
    if counts_me_as_older(me_id, recorded):
        return True
    return None if went_on(result) is False else False


def _age(value, now):
    return int((now - parse_created_at(value)).total_seconds())


def needs_progress(me, running, stack_refs, stale_after=DEFAULT_STALE_AFTER, now=None,
                   members=None):
    """Ids of the blocking runs old enough to be stale: only theirs is worth reading."""
    check_stale_after(stale_after)
    now = _now(now)
    return [run["id"] for run in _rivals(me, running, stack_refs, members)
            if _age(run["created_at"], now) > stale_after]


def concurrent_runs(me, running, stack_refs, stale_after=DEFAULT_STALE_AFTER, now=None,
                    progress=None, seen_me=None, members=None):
    """The runs that block ``me``, and the stale ones that no longer do.

    ``stack_refs``: every way the stack may have been named (name, id, name/id, the
    caller's own input). Runs that change nothing (``changes_nothing``: dry runs, alarm
    runs about a server of none of ``members``) neither block nor are blocked.
    ``progress``: {execution id: time of its newest task change} for the runs
    ``needs_progress`` named (a run not in it has made progress).
    ``seen_me``: {younger rival's id: younger_verdict}; only False (it missed ``me`` and
    went on) blocks; a rival not in it has not looked yet and will see ``me``. Returns
    ``{"older": [ids], "younger": [ids that went on without seeing me], "blocking":
    older + younger, "stale": [{"id", "created_at", "quiet_s"}], "message": str}``.
    """
    check_stale_after(stale_after)
    now = _now(now)
    progress = progress or {}
    older, stale = [], []
    for run in _rivals(me, running, stack_refs, members):
        last = progress.get(run["id"])
        quiet = _age(last, now) if last else 0
        if _age(run["created_at"], now) > stale_after and quiet > stale_after:
            stale.append({"id": run["id"], "created_at": run["created_at"], "quiet_s": quiet})
        else:
            older.append(run["id"])
    younger = [] if older else [ex_id for ex_id, saw in (seen_me or {}).items()
                                if saw is False]
    message = ""
    if older:
        message = ("Skipped, nothing changed: the older execution(s) %s of %s already work "
                   "on this stack. See its report." % (", ".join(older), me["name"]))
    elif younger:
        message = ("Skipped, nothing changed: execution(s) %s of %s, started at the same "
                   "time, did not see this one and work on this stack. See its report."
                   % (", ".join(younger), me["name"]))
    if stale:
        message = (message + " " if message else "") + (
            "Execution(s) %s made no progress for over %d s (stale_after): Mistral lost "
            "them (a Mistral engine died under them); they were ended (state ERROR) and "
            "this run goes on in their place." % (", ".join(s["id"] for s in stale),
                                                  stale_after))
    return {"older": older, "younger": younger, "blocking": older + younger,
            "stale": stale, "message": message}


# --- Cooldown and flapping limit -------------------------------------------------------
# Senlin and Masakari stop healing what keeps failing; Aodh's autohealer replaces for
# ever. The history is Mistral's own: the ended executions of the same workflow for the
# same stack, each handed over as {"id", "state", "updated_at", "stack", "report"}.
# A heal is a run whose report says it changed something: replace_member's verified
# 'replaced' (+ 'also_replaced') members, failover_volume's 'failed_over'. A run that
# failed before replacing anything (a lost run, a fault) is no heal: its retry is not
# held back.

DEFAULT_COOLDOWN = 60
DEFAULT_MAX_HEALS = 3
DEFAULT_HEAL_WINDOW = 3600
STACK_SLOT = "the stack"


def healed_slots(report):
    """What a past run healed, one slot per attempt: each member replaced, and each rung
    of the recovery ladder tried on a member (so the flapping limit counts rungs);
    [STACK_SLOT] for a failover, [] for none."""
    if not isinstance(report, dict):
        return []
    rows = [row.get("name") for key in ("replaced", "also_replaced")
            for row in report.get(key) or () if isinstance(row, dict)]
    rows += [row.get("member") for row in report.get("rungs") or () if isinstance(row, dict)]
    names = sorted(n for n in rows if n)
    if names:
        return names
    return [STACK_SLOT] if report.get("status") == "failed_over" else []


def _past_heals(me_id, runs, stack_refs):
    refs = {ref for ref in stack_refs if ref}
    heals = []
    for run in runs or ():
        slots = healed_slots(run.get("report"))
        if run["id"] != me_id and run.get("stack") in refs and slots:
            heals.append({"id": run["id"], "ended_at": run["updated_at"], "slots": slots})
    return sorted(heals, key=lambda h: parse_created_at(h["ended_at"]), reverse=True)


def paused_message(stack, pause):
    """What a run of a paused stack says (``pause``: {"paused_at", "reason"})."""
    return ("Paused, nothing changed: stack %s was paused at %s UTC%s (openstack ha pause). "
            "Resume it with 'openstack ha resume %s', or run again with force: true." % (
                stack, pause.get("paused_at") or "?",
                " (%s)" % pause["reason"] if pause.get("reason") else "", stack))


def heal_history(me_id, runs, stack_refs, slots=None, cooldown=DEFAULT_COOLDOWN,
                 max_heals=DEFAULT_MAX_HEALS, heal_window=DEFAULT_HEAL_WINDOW, force=False,
                 now=None, paused=None):
    """May this run heal now? A pause first, then the flapping limit, then the cooldown.

    ``slots``: the member names this run would replace (replace_member), or None for
    the stack as a whole (failover_volume). ``paused``: the stack's pause
    ({"paused_at", "reason"}) or None. Flapping: a slot was healed ``max_heals``
    times within the last ``heal_window`` s. Cooldown: the stack's last heal ended less
    than ``cooldown`` s ago. ``force`` applies none. Returns ``{"status": ok | paused |
    cooldown | flapping, "message", "last_heal": {id, ended_at, ago_s} or None,
    "heals_in_window": {slot: [execution ids]}}``.
    """
    now = _now(now)
    wanted = list(slots) if slots else [STACK_SLOT]
    heals = _past_heals(me_id, runs, stack_refs)
    recent = [h for h in heals if _age(h["ended_at"], now) <= heal_window]
    in_window = {slot: [h["id"] for h in recent if slots is None]
                 or [h["id"] for h in recent for healed in h["slots"] if healed == slot]
                 for slot in wanted}
    last = heals[0] if heals else None
    last_heal = last and {"id": last["id"], "ended_at": last["ended_at"],
                          "ago_s": _age(last["ended_at"], now)}
    result = {"status": "ok", "message": "", "last_heal": last_heal,
              "heals_in_window": in_window}
    if force:
        result["message"] = ("force: true: the pause, the cooldown and the flapping limit "
                             "were not applied.")
        return result
    if paused:
        result.update(status="paused", message=paused_message(stack_refs[-1], paused))
        return result
    flapping = sorted(slot for slot, ids in in_window.items() if len(ids) >= max_heals)
    if flapping:
        what = STACK_SLOT if slots is None else "member " + ", ".join(flapping)
        result["status"] = "flapping"
        result["message"] = (
            "Flapping, nothing changed: %s was healed %d times in the last %d s "
            "(executions %s; max_heals is %d per heal_window). Healing again is unlikely "
            "to help: look at the application (its logs, image, configuration, the host it "
            "runs on). To heal anyway, run again with force: true." % (
                what, len(in_window[flapping[0]]), heal_window,
                ", ".join(in_window[flapping[0]]), max_heals))
    elif last_heal and last_heal["ago_s"] < cooldown:
        result["status"] = "cooldown"
        result["message"] = (
            "Cooldown, nothing changed: execution %s healed this stack %d s ago (ended %s "
            "UTC) and the cooldown is %d s. Run again in %d s, or with force: true." % (
                last_heal["id"], last_heal["ago_s"], last_heal["ended_at"], cooldown,
                cooldown - last_heal["ago_s"]))
    return result
