"""Unit tests run without pauses: a transient API error is answered at once.

The retry of transient errors itself is tested in test_connection.py with an
explicit budget and a fake clock.
"""

import pytest

from ha_actions import connection


@pytest.fixture(autouse=True)
def no_transient_retry(monkeypatch):
    monkeypatch.setattr(connection, "TRANSIENT_BUDGET", 0)
