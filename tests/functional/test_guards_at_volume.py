"""The guards on a busy Mistral: with 2,000 ended executions of the pack's workflow in the
window (runs of this stack that changed nothing, other stacks' runs), 1,000 of them ended
after this stack's heal, and 100 RUNNING executions of another workflow that name this
stack, the concurrency guard, the cooldown and the flapping limit decide exactly as on an
empty project.

The 2,100 executions are copies, in Mistral's own database, of a real execution of this
stack (a run that changed nothing), made in a second (mistral_seed.py): through the engine
they would cost the suite minutes. Mistral's API serves them like any other; they are
deleted afterwards. tools/benchmark's case busy measures a heal's time with the same load.
"""

import concurrent.futures

import pytest
from groups import changed, example, members
from mistral_seed import Seeds

pytestmark = pytest.mark.functional
WORKFLOW = "ha.v1.replace_member"


@pytest.fixture
def seeded():
    """Seeds (mistral_seed.py); every copy deleted after the test."""
    seeds = Seeds()
    yield seeds
    seeds.delete()


def run(mistral_api, **inputs):
    """replace_member to its end; (execution, report)."""
    execution, output = mistral_api.wait(mistral_api.start(WORKFLOW, inputs), timeout=600)
    return execution, (output or {}).get("report") or {}


def test_guards_decide_as_on_an_empty_project_among_2000_ended_and_100_running(
        conn, admin_conn, mistral_api, stacks, pack_workflows, seeded):
    template, files = example("asg_of_servers.yaml", "member_server.yaml")
    body = stacks.create(template, parameters={"size": 3}, files=files)
    stack_id = body["id"]
    before = members(conn, stack_id)
    victim, other = sorted(before)[:2]

    # A run of this stack that changes nothing (no failed member): the copies' model.
    model, report = run(mistral_api, stack=stack_id, strategy="failed")
    assert report["status"] == "already_healed", report
    seeded(model["id"], 500, updated_at="UTC_TIMESTAMP() - INTERVAL seq SECOND")
    seeded(model["id"], 500, updated_at="UTC_TIMESTAMP() - INTERVAL seq SECOND",
           stack="CONCAT('ft-other-', seq)")
    seeded(model["id"], 100, updated_at="UTC_TIMESTAMP() - INTERVAL 3 HOUR", state="RUNNING",
           workflow="ft.other_workflow")

    # Two heals at once: exactly one replaces, the other is skipped naming it.
    admin_conn.compute.reset_server_state(before[victim]["servers"][0], "error")
    inputs = dict(stack=stack_id, strategy="specific", member=victim, cooldown=600)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: run(mistral_api, **inputs), range(2)))
    statuses = sorted(report["status"] for _, report in results)
    assert statuses == ["replaced", "skipped"], results
    heal = [report for _, report in results if report["status"] == "replaced"][0]
    skipped = [report for _, report in results if report["status"] == "skipped"][0]
    assert skipped["running_executions"] == [heal["execution_id"]], skipped
    assert changed(before, members(conn, stack_id)) == [victim]

    # 1,000 more runs end after the heal (the newest, before the heal in every listing).
    seeded(model["id"], 500, updated_at="UTC_TIMESTAMP()")
    seeded(model["id"], 500, updated_at="UTC_TIMESTAMP()", stack="CONCAT('ft-other-', seq)")

    assert (seeded.count("SUCCESS"), seeded.count("RUNNING")) == (2000, 100)

    # The cooldown sees the heal behind them; the flapping limit counts it.
    execution, held = run(mistral_api, stack=stack_id, strategy="specific", member=other,
                          cooldown=600)
    assert held["status"] == "cooldown", held
    assert held["last_heal"]["id"] == heal["execution_id"], held
    execution, held = run(mistral_api, stack=stack_id, strategy="specific", member=victim,
                          cooldown=0, max_heals=1)
    assert held["status"] == "flapping", held
    assert held["heals_in_window"] == {victim: [heal["execution_id"]]}, held
    after = members(conn, stack_id)
    assert changed(before, after) == [victim]

    # The other workflow's RUNNING executions were never taken for this stack's runs.
    running = mistral_api.get("/executions", workflow_name="ft.other_workflow",
                              state="RUNNING", limit=1000)["executions"]
    assert len(running) == 100
