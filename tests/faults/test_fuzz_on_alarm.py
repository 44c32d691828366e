"""Fuzzed Aodh bodies sent to the real ha.v1.on_alarm: each ends with a clear error or
ignored (or already_healed: the alarm names nothing broken), and the group is unchanged.

The bodies are a fixed sample (derandomized) of the strategies the property tests use
(tests/unit/fuzz_strategies.py), so a failure here is reproducible.
"""

import concurrent.futures
import json

from faultlib import FAILED_WITH_REASON
from hypothesis import HealthCheck, Phase, given, settings
from scenarios import ON_ALARM, BrokenGroup

from fuzz_strategies import BODIES, NEAR_BODIES

SAMPLE = 16
QUIET = ("ignored", "already_healed")


def sample_bodies(count=SAMPLE):
    """``count`` distinct JSON bodies, half of them anything (BODIES), half Aodh-like
    with a fuzzed reason_data (NEAR_BODIES): the same ones on every run."""
    return _sample(BODIES, count // 2) + _sample(NEAR_BODIES, count - count // 2)


def _sample(strategy, count):
    found = {}

    @settings(max_examples=count * 4, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck), deadline=None)
    @given(strategy)
    def collect(body):
        if len(found) < count:
            found.setdefault(json.dumps(body, sort_keys=True), body)

    collect()
    return list(found.values())


def clear_error(execution, output):
    """A failed run says what was wrong in its state_info and in its report."""
    info = execution.get("state_info") or ""
    report = (output or {}).get("report") or {}
    return bool(info.strip()) and "Traceback" not in info and (
        not report or report.get("status") == "failed")


def test_fuzzed_aodh_bodies_to_the_real_on_alarm(fault, conn, admin_conn, stacks, mistral_api):
    group = BrokenGroup(conn, admin_conn, stacks, size=2, break_one=False)
    bodies = sample_bodies()
    assert len(bodies) == SAMPLE
    with fault("%d fuzzed Aodh bodies sent to the real ha.v1.on_alarm" % SAMPLE,
               FAILED_WITH_REASON) as run:
        run.watch(groups=[(group.stack_id, "group", 1, len(group.before))])
        run.stacks(group.stack_id)
        run.inject("%d starts at once on a healthy group" % SAMPLE, lambda: None)
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            ids = list(pool.map(lambda body: run.start(
                ON_ALARM, dict(body, stack=group.name)), bodies))
        errors, quiet = 0, 0
        for body, ex_id in zip(bodies, ids):
            execution, output = mistral_api.wait(ex_id, timeout=300)
            status = ((output or {}).get("report") or {}).get("status")
            if execution["state"] == "ERROR":
                assert clear_error(execution, output), (body, execution, output)
                errors += 1
            else:
                assert execution["state"] == "SUCCESS" and status in QUIET, (body, output)
                quiet += 1
        group.assert_unchanged()
        run.note(FAILED_WITH_REASON)  # each refused with a reason or ignored
        run.injected += "; %d clear errors, %d ignored or already_healed" % (errors, quiet)
        assert quiet, "the sample should reach the decision too: %s" % bodies
