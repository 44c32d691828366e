"""ha_actions.pair: the failover decision on what Heat, Nova and Cinder showed, no cloud."""

import pytest

from ha_actions import pair
from ha_actions import report as rp

A = {"id": "a-id", "name": "server_a", "status": "ACTIVE"}
B = {"id": "b-id", "name": "server_b", "status": "ACTIVE"}


def vol(status="in-use", on=("a-id",), vid="v1"):
    return {"id": vid, "name": None, "status": status, "attached_to": list(on)}


def decide(servers=(A, B), volumes=None, recorded="server_a", **kw):
    volumes = [vol()] if volumes is None else list(volumes)
    return pair.decide("pair", recorded, list(servers), volumes, "where", **kw)


def test_the_holder_fails_over_to_the_only_other_server():
    got = decide()
    assert (got["status"], got["active"], got["standby"]) == ("ready", A, B)
    assert got["message"] == ("Fail over 1 volume(s) from server_a (a-id, ACTIVE) to "
                              "server_b (b-id).")


@pytest.mark.parametrize("kw, status, active, standby, says", [
    ({"standby": "server_a"}, "already_active", A, None, "already holds every volume"),
    ({"servers": (A, dict(B, status="SHUTOFF"))}, "already_active", A, None,
     "the other server server_b is SHUTOFF"),
    ({"recorded": "server_b"}, "record_only", B, A, "the stack records server_b as active"),
    ({"failed": "b-id"}, "not_active", A, None, "Server b-id is not the active server"),
    ({"volumes": (vol("available", on=()),), "servers": (dict(A, status="SHUTOFF"), B)},
     "attach_only", dict(A, status="SHUTOFF"), B, "did not attach them"),
])
def test_each_status_names_who_is_active_and_who_takes_over(kw, status, active, standby, says):
    got = decide(**kw)
    assert (got["status"], got["active"], got["standby"]) == (status, active, standby)
    assert says in got["message"]


@pytest.mark.parametrize("kw, says", [
    ({"volumes": (vol("detaching"),)}, r"v1 are not settled \(detaching\)"),
    ({"volumes": (vol(), vol(on=("b-id",), vid="v2"))}, "not all held by one server"),
    ({"volumes": (vol("available", on=()),)}, "not all held by one server"),
    ({"volumes": (vol(on=("x-id",)),)}, "attached to server x-id, which is not one"),
    ({"standby": "nope"}, "Standby 'nope' is not a server of stack pair"),
    ({"servers": (A, B, dict(B, id="c-id", name="server_c"))}, "name the standby"),
    ({"servers": (A, dict(B, status="ERROR"))}, r"Standby server_b \(b-id\) is ERROR, not ACTIVE"),
])
def test_what_cannot_fail_over_says_what_to_do(kw, says):
    with pytest.raises(pair.FailoverError, match=says):
        decide(**kw)


@pytest.mark.parametrize("params, servers, volume_ids, says", [
    ({}, [A, B], ["v1"], "no parameter 'active'"),
    ({"active": "server_a"}, [A], ["v1"], "has 1 server"),
    ({"active": "server_a"}, [A, B], [], "no OS::Cinder::Volume"),
])
def test_a_stack_that_is_no_pair_is_refused(params, servers, volume_ids, says):
    with pytest.raises(pair.FailoverError, match=says):
        pair.check_shape("pair", params, "active", servers, volume_ids)


# --- attach_pair_report: ha.v1.attach_pair's report for every end -------------------------

ATTACH_REQUEST = {"server": "a-id", "volumes": ["v1", "v2"], "timeout": 300, "poll_delay": 2}
WHERE = {"v1": ["a-id"], "v2": ["a-id"]}


def attach_report(**facts):
    return rp.attach_pair_report(ATTACH_REQUEST, facts, "ex-1")


@pytest.mark.parametrize("plan_status, status", [("attach", "attached"),
                                                 ("already_attached", "already_attached")])
def test_an_attach_reports_the_plan_word(plan_status, status):
    plan = {"status": plan_status, "to_attach": [], "message": "Attaching v1 to a-id."}
    assert attach_report(plan=plan, where=WHERE, attached=True) == {
        "status": status, "server": "a-id", "volumes": WHERE,
        "message": "Attaching v1 to a-id.", "execution_id": "ex-1"}


def test_volumes_not_in_use_after_the_wait_fail_the_run_saying_where_they_are():
    where = {"v1": ["a-id"], "v2": ["error"]}
    got = attach_report(plan={"status": "attach", "message": "m"}, where=where,
                        attached=False)
    says = "Volumes not in-use on a-id after 300 s: {'v1': ['a-id'], 'v2': ['error']}"
    assert got == {"status": "failed", "server": "a-id", "volumes": where, "message": says,
                   "error": says, "execution_id": "ex-1"}


def test_a_failed_step_fails_the_run_with_its_error():
    got = attach_report(error="Not attaching anything to a-id: volume(s) v2 ...")
    assert got == {"status": "failed", "server": "a-id", "volumes": None,
                   "message": "Not attaching anything to a-id: volume(s) v2 ...",
                   "error": "Not attaching anything to a-id: volume(s) v2 ...",
                   "execution_id": "ex-1"}


def test_an_end_with_neither_plan_nor_error_is_a_report_error():
    with pytest.raises(rp.ReportError, match="neither an error nor a plan"):
        attach_report()


def test_ha_report_builds_it():
    from ha_actions.workflow import ReportAction

    got = ReportAction("attach_pair", ATTACH_REQUEST, {"error": "boom"}, "ex-2").run(None)
    assert got["status"] == "failed" and got["execution_id"] == "ex-2"


@pytest.mark.parametrize("status, limits, step", [
    ("ready", {"status": "ok"}, "fence"),
    ("ready", {"status": "cooldown"}, "report"),
    ("ready", {"status": "paused"}, "report"),
    ("already_active", None, "report"),
    ("record_only", None, "record"),
    ("attach_only", None, "attach"),
])
def test_after_inspect_the_failover_goes_on_by_the_pairs_state(status, limits, step):
    assert pair.next_step({"status": status}, limits) == step
