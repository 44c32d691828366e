"""What every pytest run here prints at the end: the wall-clock time of each test
directory it ran (tools/run-tests shows them as the functional and faults phases)."""

import os
import time

SPANS = {}  # directory -> [first test started, last test ended]


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
