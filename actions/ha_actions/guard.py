"""Which other runs of a workflow are working on the same stack: the concurrency guard.

Pure decisions, no I/O, shared by ``ha.v1.replace_member`` and ``ha.v1.failover_volume``.
The workflow hands over what Mistral knows (``execution()`` and the project's RUNNING
executions, read by YAQL's ``executions()``), trimmed to plain dicts::

    me:      {"id", "name", "created_at", "dry_run"}
    running: [{"id", "name", "created_at", "stack", "dry_run"}, ...]

``created_at`` is Mistral's ``'2026-12-03 08:15:46'`` (UTC, whole seconds).

The rule: an older RUNNING execution of the same workflow for the same stack wins (ties:
the lower id), and this one changes nothing. An execution that has made no progress (no
task created or updated, sub-workflows included) for ``stale_after`` seconds is not alive:
Mistral lost it (an engine died with the message that was to start its next task, and
nothing in Mistral restarts it). It no longer blocks: the caller ends it and says so, so
one lost execution cannot switch healing off for the stack.

Reading the progress of another execution is I/O: ``needs_progress`` says for which runs
it is worth it (the ones old enough to be stale), the caller reads it
(``ha_actions.workflow``) and hands it to ``concurrent_runs``.
"""

import datetime

from ha_actions.connection import OperatorError

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


def _check_stale_after(stale_after):
    if not isinstance(stale_after, (int, float)) or isinstance(stale_after, bool) \
            or stale_after <= 0:
        raise GuardError("stale_after must be a number of seconds > 0, not %r." % (stale_after,))


def _now(now):
    return now or datetime.datetime.now(datetime.timezone.utc)


def _rivals(me, running, stack_refs):
    """The runs that would block ``me``: same workflow, same stack, older, not dry runs."""
    if me.get("dry_run"):
        return []
    refs = {ref for ref in stack_refs if ref}
    return [run for run in running or ()
            if run["id"] != me["id"] and run.get("name") == me["name"]
            and run.get("stack") in refs and not run.get("dry_run") and _before(run, me)]


def _age(value, now):
    return int((now - parse_created_at(value)).total_seconds())


def needs_progress(me, running, stack_refs, stale_after=DEFAULT_STALE_AFTER, now=None):
    """Ids of the blocking runs old enough to be stale: only theirs is worth reading."""
    _check_stale_after(stale_after)
    now = _now(now)
    return [run["id"] for run in _rivals(me, running, stack_refs)
            if _age(run["created_at"], now) > stale_after]


def concurrent_runs(me, running, stack_refs, stale_after=DEFAULT_STALE_AFTER, now=None,
                    progress=None):
    """The older runs that block ``me``, and the stale ones that no longer do.

    ``stack_refs``: every way the stack may have been named (name, id, name/id, the
    caller's own input). Dry runs (``dry_run`` true) change nothing, so they neither
    block nor are blocked. ``progress``: {execution id: time of its newest task change}
    for the runs ``needs_progress`` named (a run not in it has made progress). Returns
    ``{"older": [ids], "stale": [{"id", "created_at", "quiet_s"}], "message": str}``.
    """
    _check_stale_after(stale_after)
    now = _now(now)
    progress = progress or {}
    older, stale = [], []
    for run in _rivals(me, running, stack_refs):
        last = progress.get(run["id"])
        quiet = _age(last, now) if last else 0
        if _age(run["created_at"], now) > stale_after and quiet > stale_after:
            stale.append({"id": run["id"], "created_at": run["created_at"], "quiet_s": quiet})
        else:
            older.append(run["id"])
    message = ""
    if older:
        message = ("Skipped, nothing changed: the older execution(s) %s of %s already work "
                   "on this stack. See its report." % (", ".join(older), me["name"]))
    if stale:
        message = (message + " " if message else "") + (
            "Execution(s) %s made no progress for over %d s (stale_after): Mistral lost "
            "them (a Mistral engine died under them); they were ended (state ERROR) and "
            "this run goes on in their place." % (", ".join(s["id"] for s in stale),
                                                  stale_after))
    return {"older": older, "stale": stale, "message": message}
