"""tests/conftest.py: the order of a run (long tests first) and the check that a
``--dist loadgroup`` worker keeps the tests marked ``xdist_group`` in their group."""

import importlib.util
import os
import types

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("suite_conftest",
                                               os.path.join(TESTS, "conftest.py"))
suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite)


class Item:
    def __init__(self, nodeid, **marks):
        self.nodeid, self.marks, self.stash = nodeid, marks, pytest.Stash()

    def get_closest_marker(self, name):
        return self.marks.get(name)


def run(items, loadgroup):
    deselected = []
    config = types.SimpleNamespace(
        option=types.SimpleNamespace(loadgroup=loadgroup),
        hook=types.SimpleNamespace(pytest_deselected=lambda items: deselected.extend(items)))
    suite.pytest_collection_modifyitems(config, items)
    return deselected


GROUP = pytest.mark.xdist_group("cli").mark
LONG = pytest.mark.long(seconds=100).mark


def test_long_tests_first_and_a_named_group_passes():
    items = [Item("a.py::t1"), Item("cli.py::t1@cli", xdist_group=GROUP),
             Item("b.py::t1", long=LONG), Item("cli.py::t[x@y]@cli", xdist_group=GROUP)]
    assert run(items, loadgroup=True) == []
    assert [i.nodeid for i in items] == ["b.py::t1", "a.py::t1", "cli.py::t1@cli",
                                         "cli.py::t[x@y]@cli"]
    for item in items:
        suite.pytest_runtest_setup(item)


def test_a_group_pytest_xdist_could_not_name_fails_at_once_with_the_reason():
    cli = [Item("cli.py::t1", xdist_group=GROUP), Item("cli.py::t[x@y]", xdist_group=GROUP)]
    other = Item("b.py::t1", long=LONG)
    items = [other] + cli
    assert run(items, loadgroup=True) == [other]
    assert items == cli
    with pytest.raises(pytest.fail.Exception, match="pytest-xdist#1386"):
        suite.pytest_runtest_setup(cli[0])


def test_without_loadgroup_nothing_is_checked():
    items = [Item("cli.py::t1", xdist_group=GROUP)]
    assert run(items, loadgroup=False) == [] and len(items) == 1
    suite.pytest_runtest_setup(items[0])
