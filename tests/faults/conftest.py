"""Fixtures of the fault suite (tests/faults): the devcloud's fixtures, the results table,
and a check before every test that the devcloud is whole.

Run with the devcloud up (tools/devcloud up --mistral-scale for the Mistral faults):
``tox -e faults``. The tables are printed at the end and written to
$DEVCLOUD_HOME/fault-results.txt (or $HA_FAULT_RESULTS).
"""

import json
import os
import sys

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "functional"))
sys.path.insert(0, os.path.join(TESTS, "unit"))  # fuzz_strategies

from devcloud_fixtures import *  # noqa: E402,F401,F403
from devcloud_fixtures import MistralAPI, await_deletes  # noqa: E402
from faultlib import (  # noqa: E402
    FaultRun,
    LoadRun,
    devcloud_command,
    mistral_mode,
    write_results,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = []
# A fault test that hangs (a wait that never ends) fails with its name after this long;
# the rest of the suite goes on.
FAULT_TIMEOUT_S = 900


def pytest_collection_modifyitems(items):
    for item in items:
        if str(item.fspath).startswith(HERE):
            item.add_marker(pytest.mark.faults)
            if item.get_closest_marker("beside") is None:
                item.add_marker(pytest.mark.alone)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(FAULT_TIMEOUT_S))


@pytest.fixture
def fault(conn, pack_workflows):
    """fault(name, expect) -> a FaultRun context manager that records one table row."""
    api = MistralAPI(conn)

    def make(name, expect):
        return FaultRun(api, conn, name, expect, ROWS)

    return make


@pytest.fixture
def load(conn, pack_workflows):
    """load(name, replaced, **kw) -> a LoadRun: one row of the load table."""
    api = MistralAPI(conn)

    def make(name, replaced, **kw):
        return LoadRun(api, conn, name, ROWS, replaced, **kw)

    return make


@pytest.fixture(autouse=True)
def devcloud_whole(request, conn):
    """Before each test every service runs: a test restores what it stopped or killed,
    and one that did not fails the next test loudly here (nothing is repaired). Before a
    test that restarts or kills a service (marked ``restarts``) the stacks of the tests
    before are deleted first (checked DELETE_COMPLETE), so that no fault hits a delete;
    the others let them go on beside them (all are checked at the session's end)."""
    if request.node.get_closest_marker("restarts"):
        await_deletes(conn)
    proc = devcloud_command("status", check=False)
    if proc.returncode != 0:
        down = [line.split()[0] for line in proc.stdout.splitlines()[1:]
                if len(line.split()) > 1 and line.split()[1] != "running"]
        pytest.fail("the devcloud is not whole before this test (the test before left "
                    "%s not running): tools/devcloud up" % ", ".join(down or ["?"]))


@pytest.fixture
def scaled_mistral():
    if mistral_mode() != "scaled":
        pytest.fail("this fault needs the scaled-out Mistral: tools/devcloud up --mistral-scale")


def pytest_terminal_summary(terminalreporter):
    if not ROWS or hasattr(terminalreporter.config, "workeroutput"):
        return
    text = write_results(ROWS)
    terminalreporter.write_sep("=", "fault suite results")
    terminalreporter.write_line(text)


def pytest_testnodedown(node, error):
    """A parallel pytest worker (pytest-xdist) ended: its rows join the table printed here."""
    ROWS.extend(json.loads(getattr(node, "workeroutput", {}).get("fault_rows", "[]")))


def pytest_sessionfinish(session, exitstatus):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller prints the rows
        workeroutput["fault_rows"] = json.dumps(ROWS)
        return
    if any(not row["ok"] for row in ROWS) and session.exitstatus == 0:
        session.exitstatus = 1
