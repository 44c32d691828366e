"""What ha.v1.update_stack does after each look at the stack update: wait, PATCH again
(resume), fail with the operator's message, or end. Pure: it is handed what
``orchestration.stack_progress`` saw (the summary, and what Nova shows of the servers
Heat waits on) and decides; the workflow only follows ``next_step``.

An update is PATCHed again when it stalled (a convergence stack whose heat-engine died
stays *_IN_PROGRESS for ever: ``traversal_dead`` tells that from a slow one within a
minute), when a resume came while the old traversal was only slow and Heat cancelled it
(superseded), or when it failed on something that was not the member's fault
(``failed_transiently``), each within ``max_resumes``.
"""

SERVER_TYPES = ("OS::Nova::Server", "AWS::EC2::Instance")

# Failures that are not the member's, so an update that failed on one is worth another
# PATCH: what Nova writes in the fault of a server one of its own calls left in ERROR
# unanswered (oslo.messaging's MessagingTimeout: RabbitMQ restarted, nova-scheduler down),
# and Heat's own database errors (a convergence race: a nested stack's cleanup deleting a
# template a resource still points at fails with pymysql's IntegrityError 1451).
TRANSIENT_FAILURES = ("MessagingTimeout", "Timed out waiting for a reply", "(pymysql.err.",
                      "DBDeadlock", "DBConnectionError")


def failed_transiently(summary):
    """True when the stack's update failed on one of TRANSIENT_FAILURES (Heat's reason)."""
    reason = summary["status_reason"] or ""
    return summary["status"].endswith("_FAILED") and any(t in reason for t in TRANSIENT_FAILURES)


# A live heat-engine polls Nova every second or two and records a server's end within
# seconds; one that died never does. After this long without a Heat event, a traversal
# that waits only on servers Nova settled this long ago (or on nothing) is dead.
DEAD_AFTER_S = 60
SETTLED = ("ACTIVE", "ERROR", "SHUTOFF")


def traversal_dead(leaves, servers, quiet_s, now, dead_after=DEAD_AFTER_S):
    """True when no heat-engine works on the update any more (pure): no Heat event for
    ``dead_after`` s, and every resource in progress (``leaves``: {type, physical_id,
    action}) is a server Nova settled (``servers``: {id: (status, updated epoch)})
    ``dead_after`` s ago or more, or a deleted one, or one with no physical id yet (the
    engine died in the call that creates it: a nested stack or a server a live engine
    gets an id for in seconds), or nothing is in progress at all. A resource of another
    kind with an id (its own wait) or a server Nova is still building keeps the update
    live: only ``stall_timeout`` then ends the wait."""
    if quiet_s < dead_after:
        return False
    for leaf in leaves:
        if not leaf["physical_id"]:
            continue
        status, updated = servers.get(leaf["physical_id"], (None, None)) \
            if leaf["type"] in SERVER_TYPES else (None, None)
        if status == "NOT_FOUND" and leaf["action"] == "DELETE":
            continue
        if status not in SETTLED or updated is None or now - updated < dead_after:
            return False
    return True


def next_step(summary, resumed, max_resumes, timeout):
    """``{"next_step": "wait" | "resume" | "done" | "fail", "failure": message or None}``
    after a look at the update (``summary``: ``stack_progress``'s, with ``pending``,
    ``stalled``, ``superseded``, ``transient``). ``wait`` carries the timeout's message:
    the workflow fails with it when its polls run out while the update is pending."""
    name, status = summary["name"], summary["status"]
    can_resume = resumed < max_resumes
    if summary["stalled"]:
        if can_resume:
            return _step("resume")
        return _step("fail", "Heat made no progress on stack %s (%s, no event for %s s) even "
                     "after %d resume(s): a heat-engine may be down (openstack orchestration "
                     "service list, as admin)." % (name, status, summary.get("quiet_s"),
                                                   resumed))
    if can_resume and (summary["superseded"] and resumed > 0 or summary["transient"]):
        return _step("resume")
    if summary["pending"]:
        return _step("wait", "Timeout: stack %s is still %s after %s s; Heat goes on with the "
                     "update. See openstack stack event list --nested-depth 3 %s."
                     % (name, status, timeout, name))
    if status != "UPDATE_COMPLETE":
        return _step("fail", "Stack %s ended %s: %s" % (name, status, summary["status_reason"]))
    return _step("done")


def _step(step, failure=None):
    return {"next_step": step, "failure": failure}
