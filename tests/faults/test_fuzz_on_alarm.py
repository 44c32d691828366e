"""Fuzzed Aodh bodies sent to the real ha.v1.on_alarm (a row of the load table): each ends
with a clear error (ERROR, a state_info and a report with status failed and a message) or
ignored (or already_healed: the alarm names nothing broken), and the group is unchanged.

The bodies are a fixed sample (derandomized) of the strategies the property tests use
(tests/unit/fuzz_strategies.py), so a failure here is reproducible.
"""

import concurrent.futures
import json

import pytest
from faultlib import kind_of_end
from hypothesis import HealthCheck, Phase, given, settings
from scenarios import ON_ALARM, BrokenGroup

from fuzz_strategies import BODIES, NEAR_BODIES

pytestmark = pytest.mark.beside  # bad input to its own stack's runs, nothing restarted
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


def test_fuzzed_aodh_bodies_to_the_real_on_alarm(load, conn, admin_conn, stacks):
    group = BrokenGroup(conn, admin_conn, stacks, size=2, break_one=False)
    bodies = sample_bodies()
    assert len(bodies) == SAMPLE
    with load("%d fuzzed Aodh bodies sent to the real ha.v1.on_alarm" % SAMPLE, replaced=0,
              refusals=True, quiet=QUIET) as run:
        run.watch(groups=[(group.stack_id, "group", 1, len(group.before))])
        run.stacks(group.stack_id)
        run.load("%d starts at once on a healthy group" % SAMPLE, SAMPLE)
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            ids = list(pool.map(lambda body: run.start(
                ON_ALARM, dict(body, stack=group.name)), bodies))
        results = run.results(timeout=300)
        ends = [kind_of_end(results[ex_id][0], (results[ex_id][1] or {}).get("report") or {},
                            QUIET) for ex_id in ids]
        for body, ex_id, end in zip(bodies, ids, ends):
            assert end in ("refused", "quiet"), (body, results[ex_id])
        group.assert_unchanged()
        assert "quiet" in ends, "the sample should reach the decision too: %s" % bodies
        assert "refused" in ends, "the sample should hold bad input too: %s" % bodies
