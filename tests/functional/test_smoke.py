"""The pack runs inside the real Mistral, as the member user, with the caller's token."""

import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "resources": {"word": {"type": "OS::Heat::RandomString", "properties": {"length": 8}}},
}


def looks_like_a_token(text):
    """Fernet tokens start with gAAAAA; no output should carry one or name one."""
    return "gAAAAA" in text or "auth_token" in text.lower() or "x-auth-token" in text.lower()


@pytest.mark.functional
def test_pack_action_reads_real_stack_with_callers_token(conn, mistral, stacks):
    stack = stacks.create(TEMPLATE)
    mistral.upload(os.path.join(HERE, "workflows", "smoke_stack_status.yaml"))

    execution, output = mistral.execute("ha.test.smoke_stack_status",
                                        {"stack": stack["stack_name"]}, timeout=120)

    assert execution["State"] == "SUCCESS", execution["State info"]
    real = conn.orchestration.get("/stacks/%s" % stack["id"]).json()["stack"]
    assert output["stack"]["id"] == real["id"]
    assert output["stack"]["name"] == real["stack_name"]
    assert output["stack"]["status"] == real["stack_status"] == "CREATE_COMPLETE"

    tasks = mistral.json("task-list", execution["ID"])
    assert [t["Name"] for t in tasks] == ["read_stack"]
    actions = mistral.json("action-execution-list", tasks[0]["ID"])
    assert len(actions) == 1
    action_output = mistral.run("action-execution-get-output", actions[0]["ID"]).stdout
    assert json.loads(action_output)["result"]["status"] == "CREATE_COMPLETE"
    for text in (json.dumps(output), action_output, json.dumps(execution)):
        assert not looks_like_a_token(text)


@pytest.mark.functional
def test_unknown_stack_fails_with_a_clear_message(mistral, pack_workflows):
    mistral.upload(os.path.join(HERE, "workflows", "smoke_stack_status.yaml"))
    execution, _ = mistral.execute("ha.test.smoke_stack_status", {"stack": "no-such-stack"},
                                   timeout=120)
    assert execution["State"] == "ERROR"
    assert "Stack 'no-such-stack' not found" in execution["State info"]
    assert not looks_like_a_token(execution["State info"])
