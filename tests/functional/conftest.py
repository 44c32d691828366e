"""Fixtures for functional tests on the devcloud: see devcloud_fixtures.py (shared with
tests/faults)."""

from devcloud_fixtures import *  # noqa: F401,F403
