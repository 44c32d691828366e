"""Fixtures of the fault suite (tests/faults): the devcloud's fixtures, the results table,
and a devcloud made whole again after every test.

Run with the devcloud up (tools/devcloud up --mistral-scale for the Mistral faults):
``tox -e faults``. The table is printed at the end and written to
$DEVCLOUD_HOME/fault-results.txt (or $HA_FAULT_RESULTS).
"""

import os
import sys

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "functional"))
sys.path.insert(0, os.path.join(TESTS, "unit"))  # fuzz_strategies

from devcloud_fixtures import *  # noqa: E402,F401,F403
from devcloud_fixtures import MistralAPI  # noqa: E402
from faultlib import FaultRun, devcloud_command, mistral_mode, write_results  # noqa: E402

ROWS = []


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.faults)


@pytest.fixture
def fault(conn, pack_workflows):
    """fault(name, expect) -> a FaultRun context manager that records one table row."""
    api = MistralAPI(conn)

    def make(name, expect):
        return FaultRun(api, conn, name, expect, ROWS)

    return make


@pytest.fixture(autouse=True)
def devcloud_whole_again():
    """After each test every service runs again, whatever the test stopped or killed."""
    yield
    if devcloud_command("status", check=False).returncode != 0:
        devcloud_command("up")


@pytest.fixture
def scaled_mistral():
    if mistral_mode() != "scaled":
        pytest.fail("this fault needs the scaled-out Mistral: tools/devcloud up --mistral-scale")


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    text = write_results(ROWS)
    terminalreporter.write_sep("=", "fault suite results")
    terminalreporter.write_line(text)


def pytest_sessionfinish(session, exitstatus):
    if any(not row["ok"] for row in ROWS) and session.exitstatus == 0:
        session.exitstatus = 1

