"""ha_actions.selection: which members to replace, batching, verification. Plain dicts."""

import json

import pytest
from mistral_lib import actions

from ha_actions import decisions
from ha_actions import selection as sel
from ha_actions.errors import OperatorError

SERVER_A = "11111111-1111-4111-8111-111111111111"
SERVER_B = "22222222-2222-4222-8222-222222222222"
SERVER_C = "33333333-3333-4333-8333-333333333333"


def member(name, created, status="CREATE_COMPLETE", servers=(), physical=None, inner=()):
    return {
        "name": name,
        "physical_id": physical or "stack-" + name,
        "status": status,
        "status_reason": "",
        "creation_time": created,
        "type": "OS::Heat::Stack",
        "server_ids": list(servers),
        "resource_ids": list(servers) + list(inner),
    }


@pytest.fixture
def members():
    return [
        member("bbb", "2026-01-02T00:00:00Z", servers=[SERVER_B]),
        member("aaa", "2026-01-01T00:00:00Z", servers=[SERVER_A], inner=["port-a"]),
        member("ccc", "2026-01-03T00:00:00Z", servers=[SERVER_C]),
    ]


def names(result):
    return [m["name"] for m in result["selected"]]


class TestCheckRequest:
    def test_plan(self):
        assert sel.check_request("failed", timeout=900, poll_delay=5) == {
            "poll_delay": 5,
            "wait_s": 0,
            "polls": 180,
            "rungs": [],
            "replaces": True,
            "hold": True,
        }

    def test_polls_round_up(self):
        assert sel.check_request("oldest", timeout=7, poll_delay=5)["polls"] == 2

    def test_bad_strategy(self):
        with pytest.raises(sel.SelectionError, match="Unknown strategy 'random'.*failed, oldest"):
            sel.check_request("random")

    def test_specific_needs_member(self):
        with pytest.raises(sel.SelectionError, match="needs 'member'"):
            sel.check_request("specific")

    def test_member_without_specific(self):
        with pytest.raises(sel.SelectionError, match="only used with strategy 'specific'"):
            sel.check_request("failed", member="aaa")

    @pytest.mark.parametrize("field", ["count", "max_unavailable"])
    @pytest.mark.parametrize("value", [0, -1, "2", 1.5, True, None])
    def test_counts_must_be_positive_ints(self, field, value):
        with pytest.raises(sel.SelectionError, match=field):
            sel.check_request("oldest", **{field: value})

    def test_specific_replaces_one(self):
        with pytest.raises(sel.SelectionError, match="count must be 1"):
            sel.check_request("specific", member="aaa", count=2)

    @pytest.mark.parametrize("field", ["timeout", "poll_delay", "stall_timeout", "stale_after"])
    @pytest.mark.parametrize("value", [0, -5, "900", None, True])
    def test_seconds(self, field, value):
        with pytest.raises(OperatorError, match="%s must be a number of seconds > 0" % field):
            sel.check_request("failed", **{field: value})


class TestSelect:
    def test_failed_by_heat_status_oldest_first(self, members):
        members[2]["status"] = "CHECK_FAILED"
        members[0]["status"] = "UPDATE_FAILED"
        result = sel.select_members(members, "failed", count=5 - 2)
        assert result["status"] == "selected"
        assert names(result) == ["bbb", "ccc"]
        assert result["remaining_failed"] == 0

    def test_failed_by_nova_error(self, members):
        result = sel.select_members(members, "failed", failed_server_ids=[SERVER_C])
        assert names(result) == ["ccc"]

    def test_failed_respects_count(self, members):
        for m in members:
            m["status"] = "CREATE_FAILED"
        result = sel.select_members(members, "failed", count=1)
        assert names(result) == ["aaa"]
        assert result["remaining_failed"] == 2

    def test_no_failed_member_is_already_healed(self, members):
        result = sel.select_members(members, "failed", failed_server_ids=["some-other-server"])
        assert result["status"] == "already_healed"
        assert result["selected"] == []
        assert "No failed member" in result["message"]

    def test_in_progress_is_not_failed(self, members):
        members[0]["status"] = "UPDATE_IN_PROGRESS"
        assert sel.select_members(members, "failed")["status"] == "already_healed"

    def test_oldest_and_newest(self, members):
        assert names(sel.select_members(members, "oldest", count=2)) == ["aaa", "bbb"]
        assert names(sel.select_members(members, "newest", count=2)) == ["ccc", "bbb"]

    def test_age_ties_broken_by_name(self, members):
        for m in members:
            m["creation_time"] = "2026-01-01T00:00:00Z"
        assert names(sel.select_members(members, "oldest")) == ["aaa"]
        assert names(sel.select_members(members, "newest")) == ["ccc"]

    def test_count_larger_than_group(self, members):
        with pytest.raises(
            sel.SelectionError, match="count=4 is larger than the group, which has 3"
        ):
            sel.select_members(members, "oldest", count=4)

    def test_count_larger_than_group_also_for_failed(self, members):
        with pytest.raises(sel.SelectionError, match="larger than the group"):
            sel.select_members(members, "failed", count=4)

    @pytest.mark.parametrize("ref", ["bbb", "stack-bbb", SERVER_B, SERVER_B.upper().lower()])
    def test_specific_by_name_physical_id_or_server(self, members, ref):
        result = sel.select_members(members, "specific", member=ref)
        assert names(result) == ["bbb"]

    def test_specific_by_inner_resource(self, members):
        assert names(sel.select_members(members, "specific", member="port-a")) == ["aaa"]

    def test_specific_name_wins_over_physical_id(self, members):
        members[0]["physical_id"] = "aaa"  # pathological, but names come first
        assert names(sel.select_members(members, "specific", member="aaa")) == ["aaa"]

    def test_specific_unknown_name_is_an_error(self, members):
        with pytest.raises(
            sel.SelectionError, match="'web-9' is not in the group. Members: aaa, bbb, ccc"
        ):
            sel.select_members(members, "specific", member="web-9")

    def test_specific_gone_uuid_is_not_found_for_the_history_to_tell(self, members):
        gone = "44444444-4444-4444-8444-444444444444"
        result = sel.select_members(members, "specific", member=gone)
        assert result["status"] == "not_found"
        assert result["selected"] == []
        assert gone in result["message"] and "aaa, bbb, ccc" in result["message"]

    def test_bad_request_raises_before_selecting(self, members):
        with pytest.raises(sel.SelectionError):
            sel.select_members(members, "specific")

    def test_inputs_not_modified(self, members):
        before = json.dumps(members, sort_keys=True)
        sel.select_members(members, "newest", count=3)
        assert json.dumps(members, sort_keys=True) == before


class TestBatches:
    @pytest.mark.parametrize(
        "size, expected",
        [
            (1, [["a"], ["b"], ["c"]]),
            (2, [["a", "b"], ["c"]]),
            (3, [["a", "b", "c"]]),
            (9, [["a", "b", "c"]]),
        ],
    )
    def test_batches(self, size, expected):
        assert sel.batches(["a", "b", "c"], size) == expected

    def test_empty(self):
        assert sel.batches([], 1) == []

    def test_zero(self):
        with pytest.raises(sel.SelectionError):
            sel.batches(["a"], 0)


class TestVerify:
    def after(self, members, **changes):
        result = []
        for m in members:
            m = dict(m)
            if m["name"] in changes:
                m.update(changes[m["name"]])
            result.append(m)
        return result

    def test_replaced(self, members):
        after = self.after(
            members,
            bbb={
                "physical_id": "stack-bbb-2",
                "server_ids": ["new-b"],
                "status": "UPDATE_COMPLETE",
            },
        )
        assert sel.verify_replacement(members, after, ["bbb"]) == {"replaced": [
            {
                "name": "bbb",
                "old_physical_id": "stack-bbb",
                "new_physical_id": "stack-bbb-2",
                "old_server_ids": [SERVER_B],
                "new_server_ids": ["new-b"],
            }
        ], "also_replaced": []}

    def test_members_heat_replaced_unasked_are_reported(self, members):
        after = self.after(
            members,
            bbb={"physical_id": "stack-bbb-2", "server_ids": ["new-b"]},
            ccc={"physical_id": "stack-ccc-2", "server_ids": ["new-c"]},
        )
        got = sel.verify_replacement(members, after, ["bbb"])
        assert [r["name"] for r in got["replaced"]] == ["bbb"]
        assert got["also_replaced"] == [{
            "name": "ccc", "old_physical_id": "stack-ccc", "new_physical_id": "stack-ccc-2",
            "old_server_ids": [SERVER_C], "new_server_ids": ["new-c"]}]

    def test_a_failed_member_whose_server_heat_rebuilt_inside_is_reported(self, members):
        after = self.after(
            members,
            bbb={"physical_id": "stack-bbb-2", "server_ids": ["new-b"]},
            ccc={"server_ids": ["new-c"]},
        )
        got = sel.verify_replacement(members, after, ["bbb"])
        assert [(r["name"], r["old_physical_id"], r["new_physical_id"], r["new_server_ids"])
                for r in got["also_replaced"]] == [("ccc", "stack-ccc", "stack-ccc", ["new-c"])]

    def test_same_physical_id(self, members):
        with pytest.raises(sel.SelectionError, match="bbb still has physical id stack-bbb"):
            sel.verify_replacement(members, members, ["bbb"])

    def test_same_server(self, members):
        after = self.after(members, bbb={"physical_id": "stack-bbb-2"})
        with pytest.raises(sel.SelectionError, match="bbb still has server"):
            sel.verify_replacement(members, after, ["bbb"])

    def test_new_member_failed(self, members):
        after = self.after(
            members,
            bbb={
                "physical_id": "x",
                "server_ids": ["y"],
                "status": "CREATE_FAILED",
                "status_reason": "No valid host",
            },
        )
        with pytest.raises(sel.SelectionError, match="bbb is CREATE_FAILED: No valid host"):
            sel.verify_replacement(members, after, ["bbb"])

    def test_removed_and_group_shrank(self, members):
        after = [m for m in members if m["name"] != "bbb"]
        with pytest.raises(sel.SelectionError) as err:
            sel.verify_replacement(members, after, ["bbb"])
        assert "bbb was removed from the group instead of being replaced" in str(err.value)
        assert "had 3 member(s) and now has 2" in str(err.value)

    def test_unknown_name(self, members):
        with pytest.raises(sel.SelectionError, match="zzz was not a member"):
            sel.verify_replacement(members, members, ["zzz"])


class TestActions:
    """The thin action wrappers: JSON-only state, errors as Result(error=...)."""

    def test_select_action(self, members):
        action = decisions.SelectMembersAction(members, "oldest", count=3, max_unavailable=2)
        json.dumps(vars(action))
        result = action.run(None)
        assert result["batches"] == [["aaa", "bbb"], ["ccc"]]
        assert result["status"] == "selected"

    def test_select_action_error(self, members):
        result = decisions.SelectMembersAction(members, "bogus").run(None)
        assert isinstance(result, actions.Result)
        assert result.is_error()
        assert "Unknown strategy 'bogus'" in result.error

    def test_select_action_healed_has_no_batches(self, members):
        result = decisions.SelectMembersAction(members, "failed").run(None)
        assert result["status"] == "already_healed"
        assert result["batches"] == []

    def test_not_a_member_is_fail_or_ignore(self):
        assert sel.check_request("failed", not_a_member="ignore")["polls"] == 180
        with pytest.raises(sel.SelectionError, match="not_a_member must be fail or ignore"):
            sel.check_request("failed", not_a_member="skip")

    def test_check_action(self):
        assert decisions.CheckRequestAction("failed").run(None) == {
            "poll_delay": 5, "wait_s": 0, "polls": 180, "rungs": [], "replaces": True,
            "hold": True}
        assert decisions.CheckRequestAction("specific").run(None).is_error()

    def test_verify_action(self, members):
        result = decisions.VerifyReplacementAction(members, members, ["aaa"]).run(None)
        assert result.is_error()
        assert result.error.startswith("Replacement not verified: aaa still has")


OLD_SERVER = "55555555-5555-4555-8555-555555555555"
OLD_STACK = "66666666-6666-4666-8666-666666666666"


def event(name, pid, when, action="CREATE", status="COMPLETE", kind="member_server.yaml"):
    return {"resource_name": name, "physical_resource_id": pid, "event_time": when,
            "resource_action": action, "resource_status": status, "resource_type": kind}


class TestMemberHistory:
    GROUP_EVENTS = [
        event("group-stack", "", "2026-01-01T00:00:00Z", kind="OS::Heat::AutoScalingGroup"),
        event("aaa", OLD_STACK, "2026-01-01T00:00:05Z"),
        event("aaa", "77777777-7777-4777-8777-777777777777", "2026-01-02T00:00:00Z",
              "UPDATE"),
        event("aaa", OLD_STACK, "2026-01-02T00:00:09Z", "DELETE"),
    ]

    def test_a_server_inside_a_replaced_member_is_already_healed_naming_when(self):
        inside = [event("server", OLD_SERVER, "2026-01-01T00:00:04Z", kind="OS::Nova::Server")]
        got = sel.member_history(OLD_SERVER, "group", self.GROUP_EVENTS, {OLD_STACK: inside})
        assert got["status"] == "already_healed"
        assert (got["former_member"], got["last_seen"]) == ("aaa", "2026-01-02T00:00:09Z")
        assert "was in member aaa of group 'group' until 2026-01-02T00:00:09Z" in got["message"]

    def test_a_server_member_itself_is_found_in_the_group_events(self):
        events = [event("bbb", OLD_SERVER, "2026-01-03T00:00:00Z", kind="OS::Nova::Server")]
        assert sel.member_history(OLD_SERVER, "g", events, {})["former_member"] == "bbb"

    def test_a_stranger_is_not_a_member_when_the_whole_record_was_read(self):
        got = sel.member_history(OLD_SERVER, "group", self.GROUP_EVENTS, {OLD_STACK: []})
        assert got["status"] == "not_a_member"
        assert got["message"].startswith(
            "%s is not a member of group 'group' and never was" % OLD_SERVER)

    def test_a_physical_id_inside_a_stack_that_was_not_a_member_does_not_count(self):
        inside = [event("server", OLD_SERVER, "2026-01-01T00:00:04Z")]
        got = sel.member_history(OLD_SERVER, "group", self.GROUP_EVENTS, {"other": inside})
        assert got["status"] == "not_a_member"

    def test_an_incomplete_record_never_claims_a_stranger(self):
        got = sel.member_history(OLD_SERVER, "group", self.GROUP_EVENTS, {}, complete=False)
        assert got["status"] == "already_healed" and got["former_member"] is None
        assert "may have been replaced already" in got["message"]
