"""ha_actions.orchestration against a mocked Heat API (requests-mock).

The Connection is real openstacksdk on a keystoneauth session built from a
V3Token fixture with a catalog, the same path the actions take in Mistral.
Response bodies follow heat/api/openstack/v1 (resources.format_resource,
stacks) and heat/engine/api.py (preview items).
"""

import json

import pytest
import requests_mock
from mistral_lib import actions

import fake_cloud
from ha_actions import orchestration as orch
from ha_actions import stack_update

TOKEN = "gAAAAAB-orchestration-test-token"
PROJECT = "p-1234"
HEAT = "https://heat.example.com:8004/v1/" + PROJECT
NOVA = "https://nova.example.com:8774/v2.1"
ROOT = ("web", "11111111-aaaa-4aaa-8aaa-000000000001")
NESTED = ("web-asg-x7yq3kdz6d4a", "22222222-bbbb-4bbb-8bbb-000000000002")
SERVER_1 = "33333333-cccc-4ccc-8ccc-000000000001"
SERVER_2 = "33333333-cccc-4ccc-8ccc-000000000002"


def make_connection():
    return fake_cloud.connection(TOKEN, PROJECT, {"orchestration": HEAT, "compute": NOVA})


@pytest.fixture
def conn():
    return make_connection()


@pytest.fixture
def heat():
    with requests_mock.Mocker() as mocker:
        yield mocker


def stack_body(
    name=ROOT[0],
    sid=ROOT[1],
    status="CREATE_COMPLETE",
    reason="Stack CREATE completed",
    updated=None,
):
    return {
        "stack": {
            "id": sid,
            "stack_name": name,
            "stack_status": status,
            "stack_status_reason": reason,
            "creation_time": "2026-01-01T00:00:00Z",
            "updated_time": updated,
            "links": [{"href": "%s/stacks/%s/%s" % (HEAT, name, sid), "rel": "self"}],
        }
    }


def resource(
    name,
    rtype,
    stack,
    physical="",
    status="CREATE_COMPLETE",
    nested=None,
    created="2026-01-01T00:00:00Z",
    parent=None,
):
    """A resource as GET .../resources lists it (format_resource)."""
    links = [
        {"href": "%s/stacks/%s/%s/resources/%s" % (HEAT, stack[0], stack[1], name), "rel": "self"},
        {"href": "%s/stacks/%s/%s" % (HEAT, stack[0], stack[1]), "rel": "stack"},
    ]
    if nested:
        links.append({"href": "%s/stacks/%s/%s" % (HEAT, nested[0], nested[1]), "rel": "nested"})
    res = {
        "resource_name": name,
        "logical_resource_id": name,
        "physical_resource_id": physical,
        "resource_status": status,
        "resource_status_reason": "state changed",
        "resource_type": rtype,
        "creation_time": created,
        "updated_time": created,
        "required_by": [],
        "links": links,
    }
    if parent:
        res["parent_resource"] = parent
    return res


def mock_root(heat, status="CREATE_COMPLETE", updated=None, resources=None, template=None):
    """GET /stacks/web answers 302 to /stacks/web/<id>, as Heat does."""
    heat.get(
        "%s/stacks/%s" % (HEAT, ROOT[0]),
        status_code=302,
        headers={"Location": "%s/stacks/%s/%s" % (HEAT, ROOT[0], ROOT[1])},
    )
    heat.get(
        "%s/stacks/%s/%s" % (HEAT, ROOT[0], ROOT[1]),
        json=stack_body(status=status, updated=updated),
    )
    if resources is None:
        resources = [
            resource("asg", "OS::Heat::AutoScalingGroup", ROOT, NESTED[1], nested=NESTED),
            resource("lb", "OS::Octavia::LoadBalancer", ROOT, "lb-1"),
        ]
    heat.get("%s/stacks/%s/%s/resources" % (HEAT, ROOT[0], ROOT[1]), json={"resources": resources})
    if template is None:
        template = {
            "heat_template_version": "2018-08-31",
            "resources": {
                "asg": {
                    "type": "OS::Heat::AutoScalingGroup",
                    "properties": {"desired_capacity": 2, "max_size": 5},
                }
            },
        }
    heat.get("%s/stacks/%s/%s/template" % (HEAT, ROOT[0], ROOT[1]), json=template)


def template_members():
    """Two members that are templates holding a server, plus a port one level deeper."""
    m1 = ("web-asg-x7yq3kdz6d4a-aaaa-1", "44444444-0000-4000-8000-000000000001")
    m2 = ("web-asg-x7yq3kdz6d4a-bbbb-2", "44444444-0000-4000-8000-000000000002")
    inner = ("web-asg-x7yq3kdz6d4a-aaaa-1-net-3", "55555555-0000-4000-8000-000000000003")
    return [
        resource(
            "bbbb",
            "member.yaml",
            NESTED,
            m2[1],
            nested=m2,
            created="2026-01-02T00:00:00Z",
            parent="asg",
        ),
        resource(
            "aaaa", "member.yaml", NESTED, m1[1], nested=m1, status="CHECK_FAILED", parent="asg"
        ),
        resource("server", "OS::Nova::Server", m1, SERVER_1, parent="aaaa"),
        resource("net", "OS::Heat::Stack", m1, inner[1], nested=inner, parent="aaaa"),
        resource("port", "OS::Neutron::Port", inner, "port-1", parent="net"),
        resource("server", "OS::Nova::Server", m2, SERVER_2, parent="bbbb"),
    ]


def mock_nested(heat, resources):
    heat.get(
        "%s/stacks/%s/%s/resources" % (HEAT, NESTED[0], NESTED[1]), json={"resources": resources}
    )


def heat_error(code, title, message):
    return {
        "status_code": code,
        "json": {
            "code": code,
            "title": title,
            "explanation": "",
            "error": {"message": message, "type": "X", "traceback": None},
        },
    }


def assert_no_token(obj):
    assert TOKEN not in json.dumps(obj, default=str)


class TestGetStack:
    def test_follows_redirect(self, conn, heat):
        mock_root(heat)
        stack = orch.get_stack(conn, "web")
        assert stack["id"] == ROOT[1]
        assert [r.path.rsplit("/", 1)[-1] for r in heat.request_history] == ["web", ROOT[1]]

    def test_unknown_stack(self, conn, heat):
        heat.get(
            "%s/stacks/nope" % HEAT,
            **heat_error(404, "Not Found", "The Stack (nope) could not be found."),
        )
        with pytest.raises(orch.StackNotFound, match="Stack 'nope' not found in project p-1234"):
            orch.get_stack(conn, "nope")

    def test_summary(self):
        stack = stack_body(status="UPDATE_IN_PROGRESS", updated="2026-01-05T00:00:00Z")["stack"]
        summary = orch.stack_summary(stack)
        assert summary["ref"] == "web/" + ROOT[1]
        assert summary["in_progress"] and summary["pending"]

    @pytest.mark.parametrize(
        "status, updated, previous, pending",
        [
            ("UPDATE_COMPLETE", "2026-01-05T00:00:00Z", None, False),
            # The PATCH was accepted but Heat shows the old update still: not started.
            ("UPDATE_COMPLETE", "2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z", True),
            ("UPDATE_COMPLETE", "2026-01-06T00:00:00Z", "2026-01-05T00:00:00Z", False),
            # Never updated before: '' stands for "no updated_time".
            ("CREATE_COMPLETE", None, "", True),
            ("UPDATE_FAILED", "2026-01-06T00:00:00Z", "", False),
        ],
    )
    def test_pending(self, status, updated, previous, pending):
        stack = stack_body(status=status, updated=updated)["stack"]
        assert orch.stack_summary(stack, previous)["pending"] is pending


class TestFindGroup:
    resources = [
        resource("asg", "OS::Heat::AutoScalingGroup", ROOT, "n1"),
        resource("rg", "OS::Heat::ResourceGroup", ROOT, "n2"),
        resource("lb", "OS::Octavia::LoadBalancer", ROOT, "lb-1"),
    ]

    def test_named(self):
        assert orch.find_group(self.resources, "rg")["resource_name"] == "rg"

    def test_ambiguous(self):
        with pytest.raises(
            orch.GroupError, match=r"has 2 groups.*asg \(OS::Heat::AutoScalingGroup\), rg"
        ):
            orch.find_group(self.resources)

    def test_only_one(self):
        assert orch.find_group(self.resources[1:])["resource_name"] == "rg"

    def test_none(self):
        with pytest.raises(orch.GroupError, match="has 0 groups.*Groups: none"):
            orch.find_group(self.resources[2:])

    def test_missing(self):
        with pytest.raises(orch.GroupError, match="no resource 'web'. Groups: asg"):
            orch.find_group(self.resources, "web")

    def test_not_a_group(self):
        with pytest.raises(
            orch.GroupError, match="'lb' is a OS::Octavia::LoadBalancer, not a group"
        ):
            orch.find_group(self.resources, "lb")


class TestGroupMembers:
    def test_template_members(self, conn, heat):
        mock_root(heat)
        mock_nested(heat, template_members())
        result = orch.group_members(conn, "web")
        assert result["stack"]["name"] == "web"
        assert result["group"] == {
            "name": "asg",
            "type": "OS::Heat::AutoScalingGroup",
            "status": "CREATE_COMPLETE",
            "physical_id": NESTED[1],
            "ref": "%s/%s" % NESTED,
        }
        assert result["size"] == 2
        assert result["warnings"] == []
        assert result["busy"] is False
        aaaa, bbbb = result["members"]
        assert aaaa["name"] == "aaaa"
        assert aaaa["status"] == "CHECK_FAILED"
        assert aaaa["server_ids"] == [SERVER_1]
        assert sorted(aaaa["resource_ids"]) == sorted(
            [SERVER_1, "55555555-0000-4000-8000-000000000003", "port-1"]
        )
        assert bbbb["server_ids"] == [SERVER_2]
        assert bbbb["creation_time"] == "2026-01-02T00:00:00Z"
        nested_call = heat.request_history[-2]
        assert nested_call.qs == {"nested_depth": ["2"]}
        assert_no_token(result)

    def test_server_members(self, conn, heat):
        mock_root(heat)
        mock_nested(
            heat,
            [
                resource("m1", "OS::Nova::Server", NESTED, SERVER_1, parent="asg"),
                resource("m2", "OS::Nova::Server", NESTED, SERVER_2, parent="asg"),
            ],
        )
        members = orch.group_members(conn, "web", "asg")["members"]
        assert [
            (m["name"], m["physical_id"], m["server_ids"], m["resource_ids"]) for m in members
        ] == [("m1", SERVER_1, [SERVER_1], []), ("m2", SERVER_2, [SERVER_2], [])]

    def test_asg_without_desired_capacity_warns(self, conn, heat):
        mock_root(heat, template={"resources": {"asg": {"properties": {"min_size": 1}}}})
        mock_nested(heat, [])
        warnings = orch.group_members(conn, "web")["warnings"]
        assert len(warnings) == 1 and "sets no desired_capacity" in warnings[0]

    def test_resource_group_reads_no_template(self, conn, heat):
        mock_root(
            heat,
            resources=[resource("rg", "OS::Heat::ResourceGroup", ROOT, NESTED[1], nested=NESTED)],
        )
        mock_nested(heat, [resource("0", "OS::Nova::Server", NESTED, SERVER_1)])
        result = orch.group_members(conn, "web")
        assert [m["name"] for m in result["members"]] == ["0"]
        assert not any(r.path.endswith("/template") for r in heat.request_history)

    def test_busy(self, conn, heat):
        mock_root(heat, status="UPDATE_IN_PROGRESS")
        mock_nested(heat, [])
        result = orch.group_members(conn, "web")
        assert result["busy"] is True and result["stack"]["in_progress"] is True

    def test_group_busy_alone(self, conn, heat):
        mock_root(
            heat,
            resources=[
                resource(
                    "asg",
                    "OS::Heat::AutoScalingGroup",
                    ROOT,
                    NESTED[1],
                    nested=NESTED,
                    status="UPDATE_IN_PROGRESS",
                )
            ],
        )
        mock_nested(heat, [])
        assert orch.group_members(conn, "web")["busy"] is True

    def test_group_without_nested_stack(self, conn, heat):
        mock_root(
            heat,
            resources=[
                resource("asg", "OS::Heat::AutoScalingGroup", ROOT, "", status="CREATE_FAILED")
            ],
        )
        with pytest.raises(orch.GroupError, match="asg has no nested stack yet"):
            orch.group_members(conn, "web")

    def test_group_error_changes_nothing(self, conn, heat):
        mock_root(heat)
        with pytest.raises(orch.GroupError, match="Groups: asg"):
            orch.group_members(conn, "web", "lbx")
        assert {r.method for r in heat.request_history} == {"GET"}


class TestChanges:
    def test_mark_unhealthy(self, conn, heat):
        url = "%s/stacks/%s/%s/resources/aaaa" % (HEAT, NESTED[0], NESTED[1])
        heat.patch(url, status_code=200, json=None)
        orch.mark_unhealthy(conn, "%s/%s" % NESTED, "aaaa", "alarm 42")
        assert heat.last_request.json() == {
            "mark_unhealthy": True,
            "resource_status_reason": "alarm 42",
        }
        assert heat.last_request.headers["X-Auth-Token"] == TOKEN

    def test_mark_unhealthy_conflict(self, conn, heat):
        url = "%s/stacks/%s/%s/resources/aaaa" % (HEAT, NESTED[0], NESTED[1])
        heat.patch(
            url,
            **heat_error(
                409, "Conflict", "Stack web-asg already has an action (UPDATE) in progress."
            ),
        )
        with pytest.raises(orch.sdk_exceptions.ConflictException, match="already has an action"):
            orch.mark_unhealthy(conn, "%s/%s" % NESTED, "aaaa")

    def test_update_existing_sends_empty_patch(self, conn, heat):
        mock_root(heat, updated="2026-01-05T00:00:00Z")
        heat.patch("%s/stacks/%s/%s" % (HEAT, ROOT[0], ROOT[1]), status_code=202)
        result = orch.update_existing(conn, "web")
        assert heat.last_request.json() == {}
        assert result == {"stack": "%s/%s" % ROOT, "parameters": {},
                          "previous_updated_time": "2026-01-05T00:00:00Z"}

    def test_update_existing_patches_only_the_parameters(self, conn, heat):
        mock_root(heat)
        heat.patch("%s/stacks/%s/%s" % (HEAT, ROOT[0], ROOT[1]), status_code=202)
        result = orch.update_existing(conn, "%s/%s" % ROOT, {"active": "server_b"})
        assert heat.last_request.json() == {"parameters": {"active": "server_b"}}
        assert result["previous_updated_time"] == ""

    def test_an_update_heat_already_runs_is_waited_on_not_patched_over(self, conn, heat):
        """A try of the caller lost with its executor after its PATCH: the next try takes
        Heat's update in progress as its own, from the time the caller looked at."""
        mock_root(heat, status="UPDATE_IN_PROGRESS", updated="2026-12-07T09:00:05Z")
        result = orch.update_existing(conn, "web", unless_busy_since="2026-12-07T08:00:00Z")
        assert result == {"stack": "%s/%s" % ROOT, "parameters": {},
                          "previous_updated_time": "2026-12-07T08:00:00Z"}
        assert "PATCH" not in [r.method for r in heat.request_history]
        mock_root(heat, updated="2026-12-07T09:00:05Z")
        heat.patch("%s/stacks/%s/%s" % (HEAT, ROOT[0], ROOT[1]), status_code=202)
        assert orch.update_existing(conn, "web", unless_busy_since="2026-12-07T08:00:00Z")[
            "previous_updated_time"] == "2026-12-07T09:00:05Z"  # not busy: PATCHed
        assert heat.last_request.method == "PATCH"

    def events(self, heat, *times):
        heat.get("%s/stacks/%s/%s/events" % (HEAT, ROOT[0], ROOT[1]),
                 json={"events": [{"event_time": t} for t in times]})

    def test_an_update_without_events_for_the_stall_timeout_is_stalled(self, conn, heat):
        mock_root(heat, status="UPDATE_IN_PROGRESS", updated="2026-01-05T00:00:00Z")
        self.events(heat, "2026-01-05T00:00:10Z")
        now = orch.parse_time("2026-01-05T00:01:10Z")
        got = orch.stack_progress(conn, "web", "2026-01-04T00:00:00Z", 60, now=now)
        assert got["stalled"] is True and got["quiet_s"] == 60 and got["pending"] is True
        assert heat.last_request.qs == {"nested_depth": ["3"], "sort_keys": ["event_time"],
                                        "sort_dir": ["desc"], "limit": ["1"]}
        self.events(heat, "2026-01-05T00:00:20Z")
        got = orch.stack_progress(conn, "web", "2026-01-04T00:00:00Z", 60, now=now)
        assert got["stalled"] is False and got["quiet_s"] == 50

    def test_a_dead_traversal_is_stalled_after_a_minute_a_slow_live_one_is_not(self, conn,
                                                                             heat):
        """No event for 70 s of a 300 s stall_timeout: dead when the only leaf in progress
        is a server Nova finished 70 s ago (no heat-engine recorded it); live while Nova
        still builds it."""
        mock_root(heat, status="UPDATE_IN_PROGRESS", updated="2026-01-05T00:00:00Z")
        self.events(heat, "2026-01-05T00:00:10Z")
        heat.get("%s/stacks/%s/%s/resources" % (HEAT, ROOT[0], ROOT[1]), json={"resources": [
            {"resource_type": "member_server.yaml", "resource_status": "UPDATE_IN_PROGRESS",
             "links": [{"rel": "nested", "href": "%s/stacks/m/n-1" % HEAT}]},
            {"resource_type": "OS::Nova::Server", "resource_status": "CREATE_IN_PROGRESS",
             "physical_resource_id": "s-new"},
            {"resource_type": "OS::Nova::Server", "resource_status": "DELETE_COMPLETE",
             "physical_resource_id": "s-old"}]})
        now = orch.parse_time("2026-01-05T00:01:20Z")
        for status, updated, stalled in (("ACTIVE", "2026-01-05T00:00:10Z", True),
                                         ("BUILD", "2026-01-05T00:01:19Z", False)):
            heat.get("%s/servers/s-new" % NOVA, json={"server": {"status": status,
                                                                 "updated": updated}})
            got = orch.stack_progress(conn, "web", "2026-01-04T00:00:00Z", 300, now=now,
                                      sleep=lambda s: None)
            assert got["stalled"] is stalled and got["quiet_s"] == 70

    def test_a_traversal_that_moves_on_while_it_is_read_is_not_dead(self, conn, heat):
        """Seen in CI: the newest event read 150 s into a slow member's build, the build
        finished before the resources were listed (nothing left in progress but nested
        stacks): the events read again after a pause show the new one, so no resume."""
        mock_root(heat, status="UPDATE_IN_PROGRESS", updated="2026-01-05T00:00:00Z")
        heat.get("%s/stacks/%s/%s/events" % (HEAT, ROOT[0], ROOT[1]), [
            {"json": {"events": [{"event_time": "2026-01-05T00:00:10Z"}]}},
            {"json": {"events": [{"event_time": "2026-01-05T00:02:40Z"}]}}])
        heat.get("%s/stacks/%s/%s/resources" % (HEAT, ROOT[0], ROOT[1]), json={"resources": [
            {"resource_type": "member_server.yaml", "resource_status": "UPDATE_IN_PROGRESS",
             "links": [{"rel": "nested", "href": "%s/stacks/m/n-1" % HEAT}]}]})
        pauses = []
        got = orch.stack_progress(conn, "web", "2026-01-04T00:00:00Z", 300,
                                  now=orch.parse_time("2026-01-05T00:02:40Z"),
                                  sleep=pauses.append)
        assert got["stalled"] is False and got["quiet_s"] == 150
        assert pauses == [orch.EVENT_SETTLE_S]

    def test_only_servers_nova_settled_long_ago_make_a_traversal_dead(self):
        now = orch.parse_time("2026-01-05T00:01:20Z")
        ago = orch.parse_time("2026-01-05T00:00:10Z")

        dead = stack_update.traversal_dead

        def leaf(kind="OS::Nova::Server", pid="s", action="CREATE"):
            return {"type": kind, "physical_id": pid, "action": action}
        assert dead([leaf()], {"s": ("ACTIVE", ago)}, 70, now) is True
        assert dead([leaf()], {"s": ("ERROR", ago)}, 70, now) is True
        assert dead([leaf()], {"s": ("ACTIVE", now - 30)}, 70, now) is False
        assert dead([leaf()], {"s": ("BUILD", ago)}, 70, now) is False
        assert dead([leaf("OS::Heat::TestResource")], {}, 70, now) is False
        # the engine died in the call creating it (seen in CI: a member's nested stack)
        assert dead([leaf("member_server.yaml", pid="")], {}, 70, now) is True
        assert dead([leaf(pid=None)], {}, 70, now) is True
        assert dead([leaf(pid=None)], {}, 59, now) is False
        assert dead([leaf(action="DELETE")], {"s": ("NOT_FOUND", None)}, 70,
                                   now) is True
        assert dead([], {}, 70, now) is True
        assert dead([], {}, 59, now) is False

    def test_a_young_update_is_not_stalled_and_reads_no_events(self, conn, heat):
        mock_root(heat, status="UPDATE_IN_PROGRESS", updated="2026-01-05T00:00:00Z")
        now = orch.parse_time("2026-01-05T00:00:30Z")
        got = orch.stack_progress(conn, "web", "2026-01-04T00:00:00Z", 60, now=now)
        assert got["stalled"] is False and "events" not in heat.last_request.url

    @pytest.mark.parametrize("status,reason,superseded", [
        ("UPDATE_FAILED", "Resource UPDATE failed: resources.group: Resource UPDATE failed: "
         "resources.m1: Stack UPDATE cancelled", True),
        ("UPDATE_FAILED", "Resource CREATE failed: ResourceInError: went to ERROR", False),
        ("UPDATE_COMPLETE", "Stack UPDATE completed successfully", False)])
    def test_an_update_heat_cancelled_for_a_newer_one_is_superseded(self, conn, heat, status,
                                                                   reason, superseded):
        heat.get("%s/stacks/web" % HEAT, json={"stack": dict(stack_body(
            status=status, updated="2026-01-05T00:00:00Z")["stack"],
            stack_status_reason=reason)})
        got = orch.stack_progress(conn, "web", "2026-01-04T00:00:00Z", 60)
        assert got["superseded"] is superseded and got["stalled"] is False

    @pytest.mark.parametrize("status,reason,transient", [
        ("UPDATE_FAILED", 'Resource CREATE failed: ResourceInError: resources.server: Went to '
         'status ERROR due to "Message: MessagingTimeout, Code: 500"', True),
        ("UPDATE_FAILED", "Resource CREATE failed: Timed out waiting for a reply to message ID "
         "7f3a", True),
        ("UPDATE_FAILED", 'Resource CREATE failed: ResourceInError: resources.server: Went to '
         'status ERROR due to "Message: No valid host was found. , Code: 500"', False),
        ("UPDATE_FAILED", "Resource UPDATE failed: resources.m1: resources.group.(pymysql.err."
         "IntegrityError) (1451, 'Cannot delete or update a parent row: a foreign key "
         "constraint fails')", True),
        ("UPDATE_FAILED", "Resource UPDATE failed: DBDeadlock: (pymysql.err.OperationalError) "
         "(1213, 'Deadlock found')", True),
        ("UPDATE_FAILED", None, False),
        ("UPDATE_COMPLETE", "MessagingTimeout seen earlier", False)])
    def test_an_update_failed_on_a_lost_message_or_heats_database_is_transient(
            self, conn, heat, status, reason, transient):
        heat.get("%s/stacks/web" % HEAT, json={"stack": dict(stack_body(
            status=status, updated="2026-01-05T00:00:00Z")["stack"],
            stack_status_reason=reason)})
        got = orch.stack_progress(conn, "web", "2026-01-04T00:00:00Z", 60)
        assert got["transient"] is transient and got["superseded"] is False

    @pytest.mark.parametrize("status,timeout", [("UPDATE_COMPLETE", 60), ("UPDATE_IN_PROGRESS",
                                                                           None)])
    def test_finished_or_unwatched_updates_are_never_stalled(self, conn, heat, status, timeout):
        mock_root(heat, status=status, updated="2026-01-05T00:00:00Z")
        got = orch.stack_progress(conn, "web", None, timeout, now=orch.parse_time(
            "2026-01-06T00:00:00Z"))
        assert got["stalled"] is False

    def test_stalled_for_reads_what_heat_gives(self):
        summary = {"in_progress": True, "updated_time": None}
        assert orch.stalled_for(summary, None, 1000.0) == 0
        assert orch.stalled_for(dict(summary, in_progress=False), "2026-01-05T00:00:00Z",
                                orch.parse_time("2026-01-06T00:00:00Z")) == 0
        assert orch.parse_time("garbage") is None
        assert orch.parse_time("2026-01-05T00:00:00") == orch.parse_time(
            "2026-01-05T00:00:00Z")

    def test_preview(self, conn, heat):
        item = {
            "resource_name": "aaaa",
            "resource_type": "member.yaml",
            "physical_resource_id": "p1",
            "stack_name": NESTED[0],
            "resource_action": "CHECK",
            "resource_status": "FAILED",
        }
        heat.patch(
            "%s/stacks/%s/%s/preview" % (HEAT, ROOT[0], ROOT[1]),
            json={
                "resource_changes": {
                    "replaced": [item],
                    "unchanged": [item],
                    "updated": [],
                    "added": [],
                    "deleted": [],
                }
            },
        )
        result = orch.preview_update(conn, "%s/%s" % ROOT)
        assert result == {
            "replaced": [
                {"name": "aaaa", "type": "member.yaml", "physical_id": "p1", "stack": NESTED[0]}
            ],
            "added": [],
            "deleted": [],
            "updated": [],
        }
        assert heat.last_request.qs == {}
        assert heat.last_request.json() == {}


class TestActions:
    """Thin wrappers: JSON-only state, readable errors, no token in results."""

    @pytest.fixture(autouse=True)
    def patched_connect(self, monkeypatch):
        monkeypatch.setattr(orch.OpenStackAction, "connect", lambda self, ctx: make_connection())

    def test_state_is_json(self):
        for action in (
            orch.GroupMembersAction("web"),
            orch.MarkUnhealthyAction("a/b", ["x"]),
            orch.UpdateExistingAction("a/b"),
            orch.PreviewUpdateAction("a/b"),
            orch.StackStatusAction("web", ""),
        ):
            json.dumps(vars(action))

    def test_stack_status(self, heat):
        mock_root(heat, status="UPDATE_COMPLETE", updated="2026-01-06T00:00:00Z")
        result = orch.StackStatusAction("web", "2026-01-05T00:00:00Z").run(None)
        assert result["status"] == "UPDATE_COMPLETE" and result["pending"] is False
        assert "next_step" not in result

    def test_stack_status_given_resumed_says_what_update_stack_does_next(self, heat):
        mock_root(heat, status="UPDATE_COMPLETE", updated="2026-01-06T00:00:00Z")
        done = orch.StackStatusAction("web", "2026-01-05T00:00:00Z", resumed=0).run(None)
        assert (done["next_step"], done["failure"]) == ("done", None)
        mock_root(heat, status="UPDATE_FAILED", updated="2026-01-06T00:00:00Z")
        failed = orch.StackStatusAction("web", "2026-01-05T00:00:00Z", resumed=0).run(None)
        assert failed["next_step"] == "fail" and failed["failure"].startswith(
            "Stack web ended UPDATE_FAILED")

    def test_stack_status_waits_within_its_bound_for_the_update_to_end(self, heat):
        # Heat answers IN_PROGRESS twice, then COMPLETE: one action sees the end.
        url = "%s/stacks/%s/%s" % (HEAT, ROOT[0], ROOT[1])
        heat.get(url, [{"json": stack_body(status=st, updated="2026-01-06T00:00:00Z")}
                       for st in ("UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE")])
        clock = fake_cloud.Clock()
        got = orch.wait_for_progress(make_connection(), "%s/%s" % ROOT, "2026-01-05T00:00:00Z",
                                     wait_s=20, sleep=clock.sleep, clock=clock)
        assert got["status"] == "UPDATE_COMPLETE" and got["pending"] is False
        assert clock.sleeps == [orch.LONG_POLL_INTERVAL] * 2

    def test_stack_status_hands_back_pending_when_its_bound_is_over(self, heat):
        mock_root(heat, status="UPDATE_IN_PROGRESS", updated="2026-01-06T00:00:00Z")
        clock = fake_cloud.Clock()
        got = orch.wait_for_progress(make_connection(), "web", "2026-01-05T00:00:00Z",
                                     wait_s=2, sleep=clock.sleep, clock=clock)
        assert got["pending"] is True and got["stalled"] is False
        assert sum(clock.sleeps) <= 2
        # Without wait_s: one look, no pause (the workflow's retry polls).
        clock = fake_cloud.Clock()
        got = orch.wait_for_progress(make_connection(), "web", "2026-01-05T00:00:00Z",
                                     sleep=clock.sleep, clock=clock)
        assert got["pending"] is True and clock.sleeps == []

    def test_stack_status_ends_its_wait_when_heat_stops_answering(self, heat):
        # The second look meets a heat-api restart (503): the first answer is returned,
        # still pending, and the workflow's next try starts with a whole transient budget.
        url = "%s/stacks/%s/%s" % (HEAT, ROOT[0], ROOT[1])
        body = stack_body(status="UPDATE_IN_PROGRESS", updated="2026-01-06T00:00:00Z")
        heat.get(url, [{"json": body}, {"status_code": 503, "json": {}}])
        clock = fake_cloud.Clock()
        got = orch.wait_for_progress(make_connection(), "%s/%s" % ROOT, "2026-01-05T00:00:00Z",
                                     wait_s=20, sleep=clock.sleep, clock=clock)
        assert got["status"] == "UPDATE_IN_PROGRESS" and got["pending"] is True
        assert clock.sleeps == [orch.LONG_POLL_INTERVAL]

    def test_unknown_stack_is_a_readable_error(self, heat):
        heat.get("%s/stacks/nope" % HEAT, status_code=404, json={})
        result = orch.GroupMembersAction("nope").run(None)
        assert isinstance(result, actions.Result) and result.is_error()
        assert result.error.startswith("Stack 'nope' not found")

    def test_group_error_is_readable(self, heat):
        mock_root(heat)
        result = orch.GroupMembersAction("web", "nope").run(None)
        assert (
            result.error
            == "The stack has no resource 'nope'. Groups: asg (OS::Heat::AutoScalingGroup)."
        )

    def test_mark_reports_partial_progress(self, heat):
        base = "%s/stacks/%s/%s/resources/" % (HEAT, NESTED[0], NESTED[1])
        heat.patch(base + "aaaa", status_code=200)
        heat.patch(base + "bbbb", **heat_error(409, "Conflict", "resource locked"))
        result = orch.MarkUnhealthyAction("%s/%s" % NESTED, ["aaaa", "bbbb"], "r").run(None)
        assert result.is_error()
        assert "Marked unhealthy: aaaa" in result.error
        assert "bbbb failed" in result.error and "resource locked" in result.error
        assert TOKEN not in result.error

    def test_mark_ok(self, heat):
        heat.patch("%s/stacks/%s/%s/resources/aaaa" % (HEAT, NESTED[0], NESTED[1]))
        assert orch.MarkUnhealthyAction("%s/%s" % NESTED, ["aaaa"]).run(None) == {
            "stack": "%s/%s" % NESTED,
            "marked": ["aaaa"],
        }

    def test_update_refused(self, heat):
        mock_root(heat)
        heat.patch(
            "%s/stacks/%s/%s" % (HEAT, ROOT[0], ROOT[1]),
            **heat_error(409, "Conflict", "Stack web already has an action (UPDATE) in progress."),
        )
        result = orch.UpdateExistingAction("%s/%s" % ROOT).run(None)
        assert result.is_error() and "in progress" in result.error

    def test_a_patch_the_caller_sent_is_only_handed_back(self, heat):
        sent = {"stack": "%s/%s" % ROOT, "parameters": {"active": "b"},
                "previous_updated_time": "2026-12-07T05:00:00Z"}
        assert orch.UpdateExistingAction("web", {"active": "b"}, patched=sent).run(None) == sent
        assert heat.request_history == []

    def test_unexpected_errors_propagate(self, monkeypatch):
        monkeypatch.setattr(orch, "get_stack", lambda conn, stack: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            orch.StackStatusAction("web").run(None)


class TestGroupHistory:
    GROUP = {"name": "asg", "ref": "%s/%s" % NESTED}
    OLD_MEMBER = ("web-asg-x7yq3kdz6d4a-aaa-old", "44444444-dddd-4ddd-8ddd-000000000004")

    def mock(self, heat, inside):
        member = {"resource_name": "aaa", "resource_type": "member.yaml",
                  "event_time": "2026-01-02T00:00:00Z", "physical_resource_id": self.OLD_MEMBER[1]}
        heat.get("%s/stacks/%s/%s/events" % ((HEAT,) + NESTED), json={"events": [member]})
        heat.get("%s/stacks/%s" % (HEAT, self.OLD_MEMBER[1]),
                 json=stack_body(*self.OLD_MEMBER, status="DELETE_COMPLETE"))
        heat.get("%s/stacks/%s/%s/events" % ((HEAT,) + self.OLD_MEMBER), json={"events": [
            {"resource_name": "server", "resource_type": "OS::Nova::Server",
             "event_time": "2026-01-01T00:00:00Z", "physical_resource_id": inside}]})

    def test_a_server_of_a_deleted_member_stack_is_found_by_its_events(self, conn, heat):
        self.mock(heat, SERVER_1)
        got = orch.group_history(conn, self.GROUP, SERVER_1)
        assert (got["status"], got["former_member"]) == ("already_healed", "aaa")
        assert heat.request_history[0].qs == {"sort_keys": ["event_time"], "sort_dir": ["asc"]}

    def test_a_server_in_no_member_stack_is_not_a_member(self, conn, heat):
        self.mock(heat, SERVER_2)
        assert orch.group_history(conn, self.GROUP, SERVER_1)["status"] == "not_a_member"

    def test_too_many_former_members_to_read_never_claims_a_stranger(self, conn, heat):
        self.mock(heat, SERVER_2)
        got = orch.group_history(conn, self.GROUP, SERVER_1, max_stacks=0)
        assert got["status"] == "already_healed" and got["former_member"] is None

    def test_a_member_stack_heat_does_not_show_never_claims_a_stranger(self, conn, heat):
        self.mock(heat, SERVER_2)
        heat.get("%s/stacks/%s" % (HEAT, self.OLD_MEMBER[1]),
                 **heat_error(404, "Not Found", "The Stack could not be found."))
        got = orch.group_history(conn, self.GROUP, SERVER_1)
        assert got["status"] == "already_healed" and got["former_member"] is None
        assert "or one Heat does not show now" in got["message"]
