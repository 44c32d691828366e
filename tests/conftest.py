"""What every pytest run here prints at the end: the wall-clock time of each test
directory it ran (tools/run-tests shows them as the functional and faults phases); and
the order it runs them in: tests marked ``long(seconds=N)`` first, longest first (the
workers of a pytest-xdist run then end close together, not one of them on a long test
alone).

Under ``--dist loadgroup`` (tools/run-tests) a pytest-xdist worker also checks that every
test marked ``xdist_group`` carries its group: pytest 9.2 keeps node ids where
pytest-xdist 3.8 cannot append the group, and the tests of a group were then spread over
the workers without a word (pytest-dev/pytest-xdist#1386): test_cli.py's pack install
ran on one worker while another held a newer update_stack in Mistral."""

import os
import time

import pytest

GROUP_LOST = pytest.StashKey[str]()
SPANS = {}  # directory -> [first test started, last test ended]


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own hook has named the groups
def pytest_collection_modifyitems(config, items):
    def expected_s(item):
        mark = item.get_closest_marker("long")
        return mark.kwargs.get("seconds", 60) if mark else 0
    items.sort(key=lambda item: -expected_s(item))
    lost = ungrouped(items) if getattr(config.option, "loadgroup", False) else []
    if lost:
        # Every worker comes here alike (their collections stay the same): only these
        # run, each failing with the reason (a worker's collection error is not shown).
        why = ("--dist loadgroup would spread the tests marked xdist_group over the "
               "workers: pytest-xdist cannot name their group with this pytest (%s; "
               "pytest-dev/pytest-xdist#1386): install the pytest of test-requirements.txt"
               % pytest.__version__)
        kept = {id(item) for item in lost}
        config.hook.pytest_deselected(items=[i for i in items if id(i) not in kept])
        items[:] = lost
        for item in lost:
            item.stash[GROUP_LOST] = why


def ungrouped(items):
    """The items marked ``xdist_group`` that pytest-xdist left without the ``@group``
    suffix of their node id (its loadgroup scheduler groups tests by that suffix)."""
    return [item for item in items if item.get_closest_marker("xdist_group")
            and "@" not in item.nodeid.rsplit("]", 1)[-1]]


def pytest_runtest_setup(item):
    if GROUP_LOST in item.stash:
        pytest.fail(item.stash[GROUP_LOST], pytrace=False)


def pytest_runtest_logstart(nodeid, location):
    span = SPANS.setdefault(_directory(nodeid), [time.time(), None])
    span[1] = span[1] or span[0]


def pytest_runtest_logfinish(nodeid, location):
    SPANS[_directory(nodeid)][1] = time.time()


def _directory(nodeid):
    parts = nodeid.split("::")[0].split("/")
    return "/".join(parts[:-1]) or os.curdir


def pytest_terminal_summary(terminalreporter):
    for directory, (start, end) in SPANS.items():
        terminalreporter.write_line("run-tests: phase %s: %.0f s" % (
            os.path.basename(directory), end - start))
