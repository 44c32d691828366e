"""What every pytest run here prints at the end: the wall-clock time of each test
directory it ran (tools/run-tests shows them as the functional and faults phases); and
the order it runs them in: tests marked ``long(seconds=N)`` first, longest first (the
workers of a pytest-xdist run then end close together, not one of them on a long test
alone)."""

import os
import time

SPANS = {}  # directory -> [first test started, last test ended]


def pytest_collection_modifyitems(items):
    def expected_s(item):
        mark = item.get_closest_marker("long")
        return mark.kwargs.get("seconds", 60) if mark else 0
    items.sort(key=lambda item: -expected_s(item))


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
