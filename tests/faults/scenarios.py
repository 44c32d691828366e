"""The applications the faults hit, set up as an operator would find them, and the
checks an operator would make afterwards."""

import time

from groups import changed, create_pair, example, members, server_status, volume_servers

REPLACE = "ha.v1.replace_member"
FAILOVER = "ha.v1.failover_volume"
ON_ALARM = "ha.v1.on_alarm"
# Fast polls and a short stall timeout (above the pause a RabbitMQ restart puts in
# Heat's events): fake-driver servers build in a second or two.
FAST = {"poll_delay": 1, "timeout": 300, "stall_timeout": 40}


class BrokenGroup:
    """An ASG of servers with one member's server put in ERROR, as an alarm reports it."""

    def __init__(self, conn, admin_conn, stacks, size=3, min_size=1, template="asg_of_servers",
                 break_one=True, flavor=None):
        text, files = example("%s.yaml" % template, "member_server.yaml")
        if min_size != 1:
            text = text.replace("min_size: 1", "min_size: %d" % min_size)
        self.conn = conn
        parameters = dict({"size": size}, **({"flavor": flavor} if flavor else {}))
        self.body = stacks.create(text, parameters=parameters, files=files)
        self.stack_id, self.name, self.min_size = self.body["id"], self.body["stack_name"], min_size
        self.before = members(conn, self.stack_id)
        self.victim = sorted(self.before)[0]
        self.server = self.before[self.victim]["servers"][0]
        if break_one:
            admin_conn.compute.reset_server_state(self.server, "error")

    def inputs(self, **extra):
        """replace_member's input as an alarm would send it: the failed server's uuid."""
        return dict({"stack": self.name, "strategy": "specific", "member": self.server},
                    **dict(FAST, **extra))

    def watched(self):
        """(stack, group, min_size, min_healthy) for the watcher: no healthy member lost."""
        return (self.stack_id, "group", self.min_size, len(self.before) - 1)

    def assert_healed(self, report, also=()):
        """Exactly the broken member replaced, by a server that runs; the report says so."""
        after = members(self.conn, self.stack_id)
        assert changed(self.before, after) == sorted([self.victim, *also]), (self.before, after)
        assert len(after) == len(self.before)
        assert server_status(self.conn, after[self.victim]["servers"][0]) == "ACTIVE"
        if report.get("status") in ("already_healed", "healthy"):  # the loop after a loss
            return after
        assert [r["name"] for r in report["replaced"]] == [self.victim], report
        assert report["replaced"][0]["old_server_ids"] == [self.server], report
        assert report["replaced"][0]["new_server_ids"] == after[self.victim]["servers"], report
        return after

    def assert_unchanged(self):
        assert changed(self.before, members(self.conn, self.stack_id)) == []


class Pair:
    """An active/passive pair (examples/failover_pair.yaml) with its volume on server_a."""

    def __init__(self, conn, stacks, volume_count=1):
        self.conn = conn
        self.body, self.servers, self.volume_ids = create_pair(conn, stacks, volume_count)
        self.stack_id, self.name = self.body["id"], self.body["stack_name"]
        self.a, self.b = self.servers["server_a"], self.servers["server_b"]

    def inputs(self, **extra):
        return dict({"stack": self.name, "fence_timeout": 30}, **dict(FAST, **extra))

    def where(self):
        return {vid: volume_servers(self.conn, vid) for vid in self.volume_ids}

    def recorded_active(self):
        resp = self.conn.orchestration.get("/stacks/%s" % self.stack_id)
        return resp.json()["stack"]["parameters"]["active"]

    def assert_failed_over(self, report):
        """Every volume on server_b only, the stack records it, the report says so."""
        assert self.where() == {v: ("in-use", [self.b]) for v in self.volume_ids}
        assert self.recorded_active() == "server_b"
        if report.get("status") in ("already_active", "healthy"):  # the loop after a loss
            return
        assert report["new_active"] == {"name": "server_b", "id": self.b}
        assert report["volumes"] == {v: [self.b] for v in self.volume_ids}

    def assert_not_moved(self, report=None):
        assert self.where() == {v: ("in-use", [self.a]) for v in self.volume_ids}
        assert self.recorded_active() == "server_a"
        if report is not None and report.get("volumes"):
            assert report["volumes"] == {v: [self.a] for v in self.volume_ids}


def wait_stack_status(conn, stack_id, statuses, timeout=300):
    deadline = time.time() + timeout
    while True:
        status = conn.orchestration.get("/stacks/%s" % stack_id).json()["stack"]["stack_status"]
        if status in statuses:
            return status
        assert time.time() < deadline, "stack %s is %s, not %s" % (stack_id, status, statuses)
        time.sleep(0.5)
