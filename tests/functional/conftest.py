"""Fixtures for functional tests on the devcloud: see devcloud_fixtures.py (shared with
tests/faults)."""

import os

import pytest
from devcloud_fixtures import *  # noqa: F401,F403

HERE = os.path.dirname(os.path.abspath(__file__))
# A functional test that hangs fails with its name after this long; the rest goes on.
FUNCTIONAL_TIMEOUT_S = 600


def pytest_collection_modifyitems(items):
    for item in items:
        if str(item.fspath).startswith(HERE) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(FUNCTIONAL_TIMEOUT_S))
