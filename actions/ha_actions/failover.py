"""ha.v1.failover_volume's checks before the fence, and its moves, in as few tasks as
their retries allow. A try lost with its executor is run again whole: the checks read,
the moves are idempotent (Nova's answer to a second stop, detach or attach is taken).

- ``check_request`` (``ha.failover_request``): the inputs, force_down's rights, the stack,
  and the RUNNING runs of the workflow, which the concurrency guard is then handed;
- ``inspect`` (``ha.failover_inspect``): the concurrency guard (its input is what rivals
  read back, ``workflow.recorded_guard_input``), then the pair and, for a failover that
  would fence, the heal limits (cooldown, flapping, pause), with the step that follows.

Then each move (``fence``, ``detach``, ``attach``) starts and looks for its end for a
bounded ``wait_s`` in the same action; its wait task runs only when the end has not come.
Once it sees its end, it starts the next move too (the detach, the attach, the record's
PATCH): the next step's task then only looks for that move's end (its ``started``), and
no move waits on Mistral scheduling the task that follows.
"""

from mistral_lib import actions

from ha_actions import block_storage, compute, guard, inputs, orchestration, pair, workflow
from ha_actions.connection import CallAction, head_start


def failover_request(connect, stack, workflow_name, **request):
    """The polling plan of a valid request (inputs.check_failover_request), once
    force_down is allowed to the caller (compute.check_force_down_allowed), with the
    stack as Heat shows it, the references a run may name it by, and the RUNNING runs of
    ``workflow_name`` (guard's ``running``). ``connect()`` gives the connection: a bad
    input is refused before any call."""
    plan = inputs.check_failover_request(**request)
    if request.get("dead_host_policy") == "force_down":
        compute.check_force_down_allowed(connect(), request.get("fencing_hook"))
    info = orchestration.wait_for_progress(connect(), stack)
    return {"plan": plan, "stack": info,
            "stack_refs": [info["id"], info["name"], info["ref"], stack],
            "running": workflow.running_runs(connect(), workflow_name)}


def failover_inspect(connect, stack, standby, parameter, me, running, stack_refs,
                     stale_after=guard.DEFAULT_STALE_AFTER, **limits):
    """The concurrency guard first (workflow.concurrent_runs: an older run on the stack
    blocks this one, whose next step is then the report); then the pair
    (block_storage.failover_state); when it is ready to fail over, the heal limits too
    (workflow.heal_history, with ``limits``: cooldown, max_heals, heal_window, force);
    and ``next``, the step that follows (pair.next_step). ``connect()`` gives the
    connection. One action before the fence, not two: one Mistral task less."""
    concurrency = workflow.concurrent_runs(connect, me, running, stack_refs, stale_after)
    if concurrency["blocking"]:
        return {"guard": concurrency, "state": None, "where": None, "limits": None,
                "next": "report"}
    state = block_storage.failover_state(connect(), stack, standby, parameter)
    held = (workflow.heal_history(connect(), me, stack_refs, **limits)
            if state["status"] == "ready" else None)
    return {"guard": concurrency, "state": state, "where": state.get("where"),
            "limits": held, "next": pair.next_step(state, held)}


def _move(start, look, ended, wait_s, started=None, then=None):
    """One move: its start (``started``, the answer of the start the move before made
    for it, else ``start()``), then ``state``: ``look()``, a bounded wait for its end
    (wait_s s; no look when wait_s is None or the start was refused); once
    ``ended(state)``, ``then()`` starts the next move at once (``next_started``, see
    head_start), while Mistral schedules the task that follows it."""
    done = started or start()
    if wait_s is None or isinstance(done, actions.Result):
        return done
    state = look()
    return dict(done, state=state,
                next_started=head_start(then) if then and ended(state) else None)


def stop(connect, server_id, wait_s=None, then_detach=None):
    """compute.stop_server; then its status, looked at for up to wait_s s until SHUTOFF;
    once SHUTOFF, the detach of ``then_detach`` (volume ids) started."""
    return _move(lambda: compute.stop_server(connect(), server_id),
                 lambda: compute.wait_for_status(connect(), server_id, "SHUTOFF", wait_s),
                 lambda state: state["status"] == "SHUTOFF", wait_s,
                 then=then_detach and (lambda: _detach(connect, server_id, then_detach)))


def _detach(connect, server_id, volume_ids):
    """compute.detach_volumes, a detach already under way (Cinder's view) taken as such."""
    return compute.detach_volumes(connect(), server_id, volume_ids, under_way=lambda vid: (
        block_storage.detach_under_way(connect(), server_id, vid)))


def detach(connect, server_id, volume_ids, wait_s=None, started=None, then_attach=None):
    """compute.detach_volumes (unless the fence ``started`` it); then the volumes, looked
    at for up to wait_s s until available; once they all are, their attach to
    ``then_attach`` (the standby) started."""
    return _move(lambda: _detach(connect, server_id, volume_ids),
                 lambda: block_storage.wait_for_volumes(connect(), volume_ids, "available",
                                                        wait_s=wait_s),
                 lambda state: state["done"], wait_s, started,
                 then_attach and (lambda: compute.attach_volumes(
                     connect(), then_attach, volume_ids)))


def attach(connect, server_id, volume_ids, wait_s=None, started=None, stack=None,
           record=None):
    """compute.attach_volumes (unless the detach ``started`` it); then the volumes, looked
    at for up to wait_s s until in-use on ``server_id``; once they all are, ``stack``
    PATCHed with ``record`` (parameters; orchestration.update_existing), which
    ha.v1.update_stack then only waits on."""
    return _move(lambda: compute.attach_volumes(connect(), server_id, volume_ids),
                 lambda: block_storage.wait_for_volumes(connect(), volume_ids, "in-use",
                                                        server_id, wait_s),
                 lambda state: state["done"], wait_s, started,
                 record and (lambda: orchestration.update_existing(connect(), stack, record)))


class StopServerAction(CallAction):
    """Ask Nova to stop a server (fencing); with wait_s, its state until SHUTOFF; with
    ``then_detach``, once SHUTOFF, start detaching those volumes."""

    call = stop

    def __init__(self, server_id, wait_s=None, then_detach=None):
        self.args = dict(server_id=server_id, wait_s=wait_s, then_detach=then_detach)


class DetachVolumesAction(CallAction):
    """Start detaching volumes from a server (unless ``started``); with wait_s, the
    volumes until available; with ``then_attach``, then start attaching them there."""

    call = detach

    def __init__(self, server_id, volume_ids, wait_s=None, started=None, then_attach=None):
        self.args = dict(server_id=server_id, volume_ids=volume_ids, wait_s=wait_s,
                         started=started, then_attach=then_attach)


class AttachVolumesAction(CallAction):
    """Start attaching volumes to a server (unless ``started``); with wait_s, the volumes
    until in-use there; with ``record``, then the stack's PATCH recording the new active."""

    call = attach

    def __init__(self, server_id, volume_ids, wait_s=None, started=None, stack=None,
                 record=None):
        self.args = dict(server_id=server_id, volume_ids=volume_ids, wait_s=wait_s,
                         started=started, stack=stack, record=record)


class FailoverRequestAction(CallAction):
    """Check a failover request before anything changes: its inputs, force_down's rights,
    the stack; list the RUNNING runs of ``workflow`` for the concurrency guard."""

    call = failover_request

    def __init__(self, stack, workflow, dead_host_policy="fail", fencing_hook="none",
                 timeout=300, poll_delay=2, long_poll=0, fence_timeout=120,
                 stall_timeout=300, stale_after=600, cooldown=60, max_heals=3,
                 heal_window=3600, force=False):
        # The inputs of inputs.check_failover_request, each by name (Mistral checks them).
        request = {name: value for name, value in locals().items()
                   if name not in ("self", "stack", "workflow")}
        self.args = dict(request, stack=stack, workflow_name=workflow)


class FailoverInspectAction(CallAction):
    """The concurrency guard (``me``, ``running``, ``stack_refs``, ``stale_after``: what
    rivals read back from this task's input), then the pair (who holds the volumes, who
    takes over, is the standby ACTIVE) and, when it is ready to fail over, whether the
    heal limits let it; say the next step."""

    call = failover_inspect

    def __init__(self, stack, me, running, stack_refs, stale_after=guard.DEFAULT_STALE_AFTER,
                 standby=None, parameter="active", cooldown=60, max_heals=3, heal_window=3600,
                 force=False):
        self.args = dict(stack=stack, standby=standby, parameter=parameter, me=me,
                         running=running, stack_refs=stack_refs, stale_after=stale_after,
                         cooldown=cooldown, max_heals=max_heals, heal_window=heal_window,
                         force=force)
