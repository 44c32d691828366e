"""ha_actions.pair: the failover decision on what Heat, Nova and Cinder showed, no cloud."""

import pytest

from ha_actions import pair

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
