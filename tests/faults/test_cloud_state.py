"""The cloud is not as the heal expects when it starts, or changes under it: each ends
healed, or failed with a reason and the cloud as it was."""

import configparser
import os
import re
import time

import openstack
import pytest
import yaml
from devcloud_fixtures import MEMBER, STATE, MistralAPI
from faultlib import FAILED_WITH_REASON, HEALED, devcloud_command
from groups import changed, example, members, patch_and_wait, server_status, stack
from scenarios import FAILOVER, REPLACE, BrokenGroup, Pair, wait_stack_status

# Someone else's update: long enough to see that the heal waits it out, never PATCHes over.
SLOW_UPDATE_S = 30
# ... and long enough for a TOKEN_S token to expire while the heal waits.
TOKEN_S = 30
SLOWER_THAN_A_TOKEN_S = 55


def slow_group_template(seconds):
    """examples/asg_of_servers.yaml plus an OS::Heat::TestResource whose update takes
    ``seconds``: 'someone else's update' that the heal must wait out."""
    text, files = example("asg_of_servers.yaml", "member_server.yaml")
    template = yaml.safe_load(text)
    template["heat_template_version"] = str(template["heat_template_version"])
    template["parameters"]["slow_value"] = {"type": "string", "default": "a"}
    template["resources"]["slow"] = {"type": "OS::Heat::TestResource", "properties": {
        "value": {"get_param": "slow_value"},
        "action_wait_secs": {"create": 0, "update": seconds, "delete": 0}}}
    return yaml.safe_dump(template), files


class SlowGroup(BrokenGroup):
    def __init__(self, conn, admin_conn, stacks, seconds=SLOW_UPDATE_S):
        self.conn = conn
        text, files = slow_group_template(seconds)
        self.body = stacks.create(text, parameters={"size": 3}, files=files)
        self.stack_id, self.name, self.min_size = self.body["id"], self.body["stack_name"], 1
        self.before = members(conn, self.stack_id)
        self.victim = sorted(self.before)[0]
        self.server = self.before[self.victim]["servers"][0]
        admin_conn.compute.reset_server_state(self.server, "error")

    def start_someone_elses_update(self):
        url = "/stacks/%s/%s" % (self.name, self.stack_id)
        resp = self.conn.orchestration.patch(url, json={"parameters": {"slow_value": "b"}})
        assert resp.status_code == 202, resp.text
        wait_stack_status(self.conn, self.stack_id, ("UPDATE_IN_PROGRESS",))


# A flavor asking for a resource no compute host has: Nova's scheduler finds no valid host
# for a server built with it, and only for that test's servers (the compute hosts stay
# enabled for the tests beside it). Servers built before the spec was set keep running.
NO_ROOM = {"resources:VGPU": "1"}


class NoRoomFlavor:
    """A flavor of the test's own (ha.tiny's size) whose new servers may be refused a host."""

    def __init__(self, admin_conn):
        self.admin_conn = admin_conn
        self.flavor = admin_conn.compute.create_flavor(
            name="ft-noroom-%s" % os.urandom(4).hex(), ram=64, vcpus=1, disk=1, is_public=True)
        self.name = self.flavor.name

    def __call__(self, room=False):
        """No host has room for a new server of this flavor (or, room=True, again they do)."""
        if room:
            for key in NO_ROOM:
                self.admin_conn.compute.delete_flavor_extra_specs_property(self.flavor, key)
        else:
            self.admin_conn.compute.create_flavor_extra_specs(self.flavor, NO_ROOM)

    def delete(self):
        self.admin_conn.compute.delete_flavor(self.flavor)


@pytest.fixture
def no_compute_room(admin_conn):
    """A flavor for the test's group whose next servers find no compute host; deleted after
    the test (Nova keeps a flavor's copy in every server built with it)."""
    flavor = NoRoomFlavor(admin_conn)
    yield flavor
    flavor.delete()


# --- replace_member -----------------------------------------------------------------------

@pytest.mark.long(seconds=50)
@pytest.mark.beside
def test_stack_updated_by_someone_else_when_the_heal_starts(fault, conn, admin_conn, stacks):
    group = SlowGroup(conn, admin_conn, stacks)
    with fault("stack UPDATE_IN_PROGRESS by someone else when the heal starts", HEALED) as run:
        run.watch(groups=[group.watched()])
        run.inject("before the heal starts", group.start_someone_elses_update)
        ex = run.start(REPLACE, group.inputs())
        execution, report = run.finish(ex)
        group.assert_healed(report)
        assert stack(conn, group.stack_id)["parameters"]["slow_value"] == "b"
        assert report["duration_s"] >= SLOW_UPDATE_S - 5  # it waited, it did not PATCH over


@pytest.mark.long(seconds=110)
@pytest.mark.beside
def test_stack_already_update_failed(fault, conn, admin_conn, stacks, no_compute_room):
    group = BrokenGroup(conn, admin_conn, stacks, flavor=no_compute_room.name)
    failed = []

    def fail_a_scale_out():
        """An earlier scale-out fails for want of a compute host: the stack is
        UPDATE_FAILED with a failed fourth member."""
        no_compute_room()
        body = stack(conn, group.stack_id)
        resp = conn.orchestration.patch("/stacks/%s/%s" % (body["stack_name"], body["id"]),
                                        json={"parameters": {"size": 4}})
        assert resp.status_code == 202, resp.text
        time.sleep(2)
        assert wait_stack_status(conn, group.stack_id,
                                 ("UPDATE_FAILED", "UPDATE_COMPLETE")) == "UPDATE_FAILED"
        no_compute_room(room=True)
        failed.extend(n for n in members(conn, group.stack_id) if n not in group.before)
        assert len(failed) == 1

    with fault("stack already UPDATE_FAILED when the heal starts", HEALED) as run:
        run.watch(groups=[group.watched()])
        run.inject("before the heal starts: a scale-out failed (no compute host had room)",
                   fail_a_scale_out)
        mid = members(conn, group.stack_id)
        execution, report = run.finish(run.start(REPLACE, group.inputs()))
        after = members(conn, group.stack_id)
        assert changed(group.before, after) == [group.victim]
        assert [r["name"] for r in report["replaced"]] == [group.victim]
        # Whether Heat rebuilt the failed member in the same update (seen here from Heat's
        # own resources), the report says exactly that.
        rebuilt = [n for n in failed if (mid[n]["physical_id"], mid[n]["servers"]) !=
                   (after[n]["physical_id"], after[n]["servers"])]
        assert [r["name"] for r in report["also_replaced"]] == rebuilt, (mid, after)
        assert ("Heat also replaced" in report["message"]) == bool(rebuilt)
        assert stack(conn, group.stack_id)["stack_status"] == "UPDATE_COMPLETE"


@pytest.mark.beside
def test_member_deleted_outside_heat(fault, conn, admin_conn, stacks):
    group = BrokenGroup(conn, admin_conn, stacks, break_one=False)
    with fault("a member's server deleted outside Heat (strategy failed)", HEALED) as run:
        run.watch(groups=[group.watched()])
        run.inject("before the heal starts", lambda: conn.compute.delete_server(group.server))
        conn.compute.wait_for_delete(conn.compute.get_server(group.server), wait=60)
        execution, report = run.finish(run.start(REPLACE, dict(
            group.inputs(), strategy="failed", member=None)))
        group.assert_healed(report)


@pytest.mark.long(seconds=100)
@pytest.mark.beside
def test_the_replacement_server_goes_to_error(fault, conn, admin_conn, stacks, no_compute_room):
    group = BrokenGroup(conn, admin_conn, stacks, flavor=no_compute_room.name)
    with fault("the replacement server goes to ERROR (Heat's update fails)",
               FAILED_WITH_REASON) as run:
        run.watch(groups=[group.watched()])
        run.inject("before the heal starts (no compute host has room)", no_compute_room)
        # Heat retries the failed create with a backoff of up to ~32 s without an event:
        # a stall_timeout below that would count Heat's own retries as a stall.
        execution, report = run.finish(run.start(REPLACE, group.inputs(stall_timeout=60)))
        assert "ended UPDATE_FAILED" in execution["state_info"]
        assert "members marked unhealthy: %s" % group.victim in execution["state_info"]
        assert report["replaced"] == []
        assert stack(conn, group.stack_id)["stack_status"] == "UPDATE_FAILED"
        # The healthy members are untouched; the broken one is still there.
        after = members(conn, group.stack_id)
        assert sorted(after) == sorted(group.before)
        assert [n for n in changed(group.before, after) if n != group.victim] == []


@pytest.mark.beside
def test_group_at_min_size(fault, conn, admin_conn, stacks):
    group = BrokenGroup(conn, admin_conn, stacks, size=2, min_size=2, break_one=False)
    with fault("a member of a group at min_size fails", HEALED) as run:
        run.watch(groups=[group.watched()])
        run.inject("before the heal starts: a member's server put in ERROR",
                   lambda: admin_conn.compute.reset_server_state(group.server, "error"))
        execution, report = run.finish(run.start(REPLACE, group.inputs()))
        group.assert_healed(report)


@pytest.fixture
def short_tokens():
    """Keystone issues tokens valid for TOKEN_S while the test runs; 'up' restores its
    configuration (and restarts it) afterwards."""
    path = os.path.join(STATE, "etc", "keystone", "keystone.conf")
    conf = configparser.RawConfigParser()
    conf.read(path)
    conf.set("token", "expiration", str(TOKEN_S))
    with open(path, "w") as f:
        conf.write(f)
    devcloud_command("restart", "keystone")
    yield TOKEN_S
    devcloud_command("up")


@pytest.mark.restarts
def test_the_callers_token_expires_mid_run(fault, conn, admin_conn, stacks, short_tokens):
    group = SlowGroup(conn, admin_conn, stacks, seconds=SLOWER_THAN_A_TOKEN_S)
    short_lived = MistralAPI(openstack.connect(cloud=MEMBER))
    with fault("the caller's token expires mid-run (%d s tokens)" % short_tokens,
               FAILED_WITH_REASON) as run:
        run.watch(groups=[group.watched()])
        run.inject("before the heal starts (an update the heal waits for)",
                   group.start_someone_elses_update)
        ex = short_lived.start(REPLACE, group.inputs())
        run.executions.append(ex)
        execution, report = run.finish(ex)
        # Seen before the call (its expiry has passed) or refused by the service in the
        # second between that check and the call: the same message, either way of saying it.
        assert re.search(r"The token this execution runs with (expired at |was refused "
                         r"\(401: expired or revoked\))", execution["state_info"]), \
            execution["state_info"]
        assert "Start the workflow again" in execution["state_info"]
        group.assert_unchanged()
    # Heat finishes the other update on its own; the member was never marked.
    assert wait_stack_status(conn, group.stack_id, ("UPDATE_COMPLETE",)) == "UPDATE_COMPLETE"
    assert server_status(conn, group.server) == "ERROR"


# --- failover_volume ------------------------------------------------------------------------

@pytest.mark.beside
def test_the_standby_is_in_error_too(fault, conn, admin_conn, stacks):
    pair = Pair(conn, stacks)
    with fault("the standby in ERROR too", FAILED_WITH_REASON) as run:
        run.watch(volumes=pair.volume_ids)
        run.inject("before the failover starts",
                   lambda: admin_conn.compute.reset_server_state(pair.b, "error"))
        execution, report = run.finish(run.start(FAILOVER, pair.inputs()))
        assert "Standby server_b (%s) is ERROR, not ACTIVE" % pair.b in execution["state_info"]
        pair.assert_not_moved(report)
        assert server_status(conn, pair.a) == "ACTIVE"


@pytest.mark.beside
def test_a_volume_stuck_detaching(fault, conn, admin_conn, stacks):
    pair = Pair(conn, stacks)
    volume = pair.volume_ids[0]

    def reset(status):
        resp = admin_conn.block_storage.post("/volumes/%s/action" % volume,
                                             json={"os-reset_status": {"status": status}})
        assert resp.status_code == 202, resp.text

    with fault("a volume stuck 'detaching'", FAILED_WITH_REASON) as run:
        run.watch(volumes=pair.volume_ids)
        run.inject("before the failover starts", lambda: reset("detaching"))
        execution, report = run.finish(run.start(FAILOVER, pair.inputs()))
        assert "are not settled (detaching): not moving anything" in execution["state_info"]
        reset("in-use")
        pair.assert_not_moved()
        assert server_status(conn, pair.a) == "ACTIVE"


@pytest.mark.beside
def test_the_volume_is_already_on_the_standby(fault, conn, stacks):
    pair = Pair(conn, stacks)
    from groups import attach_and_wait, wait_volume

    def move_by_hand():
        for volume in pair.volume_ids:
            conn.compute.delete("/servers/%s/os-volume_attachments/%s" % (pair.a, volume))
            wait_volume(conn, volume, "available")
        attach_and_wait(conn, pair.b, pair.volume_ids)

    with fault("the volume already on the standby (not recorded)", HEALED) as run:
        run.watch(volumes=pair.volume_ids)
        run.inject("before the failover starts", move_by_hand)
        execution, report = run.finish(run.start(FAILOVER, pair.inputs()))
        assert report["status"] == "recorded"
        pair.assert_failed_over(report)
        assert "already all on server_b" in report["message"]
        assert server_status(conn, pair.a) == "ACTIVE"  # nothing fenced: nothing moved
    # The record is true: a no-change update moves nothing.
    patch_and_wait(conn, stack(conn, pair.stack_id), {})
    assert pair.where() == {v: ("in-use", [pair.b]) for v in pair.volume_ids}
