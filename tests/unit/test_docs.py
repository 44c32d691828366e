"""The docs' inputs tables (doc/source/inputs/*.csv) match the workflows' input lists.

Every workflow in workflows/*.yaml that is not tagged internal, and ha.v1.update_stack,
has a table doc/source/inputs/<name without ha.v1.>.csv (shown in doc/source/user/workflows.rst)
with one row per input: its name, and its default as a YAML value in ``literal`` quotes,
or "(required)". An input added to (or removed from, or given another default in) a
workflow fails here until the table says so. The end of this module proves the check
fails on such drift.
"""

import copy
import csv
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / "workflows"
DOC_DIR = ROOT / "doc" / "source"
TABLE_DIR = DOC_DIR / "inputs"
REQUIRED = "(required)"
# Internal workflows documented all the same.
DOCUMENTED_INTERNAL = {"ha.v1.update_stack"}
_MISSING = object()


def load_workflows():
    """{workflow name: its definition} from every workflows/*.yaml."""
    found = {}
    for path in sorted(WORKFLOW_DIR.glob("*.yaml")):
        for name, spec in yaml.safe_load(path.read_text()).items():
            if name in ("version", "name", "description") or not isinstance(spec, dict):
                continue
            found[name] = spec
    return found


def documented_workflows(workflows):
    return sorted(
        name for name, spec in workflows.items()
        if "internal" not in (spec.get("tags") or []) or name in DOCUMENTED_INTERNAL
    )


def yaml_inputs(spec):
    """[(name, default or _MISSING)] of a workflow's input list, in order."""
    inputs = []
    for item in spec.get("input") or []:
        if isinstance(item, dict):
            ((name, default),) = item.items()
            inputs.append((name, default))
        else:
            inputs.append((item, _MISSING))
    return inputs


def table_path(workflow):
    return TABLE_DIR / (workflow.split(".")[-1] + ".csv")


def parse_default(cell):
    cell = cell.strip()
    if cell == REQUIRED:
        return _MISSING
    match = re.fullmatch(r"``(.*)``", cell)
    if not match:
        raise ValueError("default %r is neither %s nor a ``literal``" % (cell, REQUIRED))
    return yaml.safe_load(match.group(1))


def table_inputs(text):
    """[(name, default or _MISSING)] of one CSV table (header row first)."""
    rows = list(csv.reader(text.splitlines()))
    header, body = rows[0], [r for r in rows[1:] if r]
    assert header[:2] == ["Input", "Default"], header
    return [(row[0].strip(), parse_default(row[1])) for row in body]


def drift(workflow, spec, table_text):
    """Problems between a workflow's input list and its docs table (empty: in step)."""
    want = yaml_inputs(spec)
    have = table_inputs(table_text)
    problems = []
    want_names = [n for n, _ in want]
    have_names = [n for n, _ in have]
    for dup in sorted({n for n in have_names if have_names.count(n) > 1}):
        problems.append("%s: input %r documented twice" % (workflow, dup))
    have_map = dict(have)
    for name, default in want:
        if name not in have_map:
            problems.append("%s: input %r is not documented" % (workflow, name))
        elif not same(have_map[name], default):
            problems.append("%s: input %r has default %s in the YAML, %s in the docs" % (
                workflow, name, show(default), show(have_map[name])))
    for name in have_names:
        if name not in want_names:
            problems.append("%s: documented input %r is not in the YAML" % (workflow, name))
    return problems


def same(a, b):
    # type too: YAML's false and 0 are different defaults, Python's == would not tell.
    return a is b or (type(a) is type(b) and a == b)


def show(default):
    return REQUIRED if default is _MISSING else repr(default)


WORKFLOWS = load_workflows()
DOCUMENTED = documented_workflows(WORKFLOWS)


def test_public_workflows_are_found():
    for name in ("ha.v1.replace_member", "ha.v1.failover_volume", "ha.v1.on_alarm"):
        assert name in DOCUMENTED


@pytest.mark.parametrize("workflow", DOCUMENTED)
def test_inputs_table_matches_yaml(workflow):
    path = table_path(workflow)
    assert path.is_file(), "%s has no inputs table %s" % (workflow, path)
    assert drift(workflow, WORKFLOWS[workflow], path.read_text()) == []


def shown_tables():
    """The CSV files the pages show (``:file:`` of a csv-table, relative to its page)."""
    shown = set()
    for page in DOC_DIR.rglob("*.rst"):
        for rel in re.findall(r"^\s*:file:\s*(\S+)\s*$", page.read_text(), re.M):
            path = DOC_DIR / rel.lstrip("/") if rel.startswith("/") else page.parent / rel
            shown.add(path.resolve())
    return shown


SHOWN = shown_tables()


@pytest.mark.parametrize("workflow", DOCUMENTED)
def test_inputs_table_is_shown(workflow):
    assert table_path(workflow).resolve() in SHOWN


# --- the check can fail --------------------------------------------------------------


def _replace_member():
    return copy.deepcopy(WORKFLOWS["ha.v1.replace_member"]), \
        table_path("ha.v1.replace_member").read_text()


def test_drift_reports_an_undocumented_input():
    spec, text = _replace_member()
    spec["input"].append({"fake_input": 7})
    assert drift("w", spec, text) == ["w: input 'fake_input' is not documented"]


def test_drift_reports_an_undocumented_required_input():
    spec, text = _replace_member()
    spec["input"].append("fake_required")
    assert drift("w", spec, text) == ["w: input 'fake_required' is not documented"]


def test_drift_reports_a_changed_default():
    spec, text = _replace_member()
    spec["input"] = [{"count": 2} if isinstance(i, dict) and "count" in i else i
                     for i in spec["input"]]
    assert drift("w", spec, text) == [
        "w: input 'count' has default 2 in the YAML, 1 in the docs"]


def test_drift_reports_a_documented_input_the_yaml_lacks():
    spec, text = _replace_member()
    spec["input"] = [i for i in spec["input"]
                     if not (isinstance(i, dict) and "dry_run" in i)]
    assert drift("w", spec, text) == ["w: documented input 'dry_run' is not in the YAML"]


def test_drift_tells_null_from_false_and_required():
    spec = {"input": ["a", {"b": None}, {"c": False}]}
    text = '"Input","Default","What"\n"a","``null``","x"\n"b","``false``","x"\n' \
           '"c","(required)","x"\n'
    assert drift("w", spec, text) == [
        "w: input 'a' has default (required) in the YAML, None in the docs",
        "w: input 'b' has default None in the YAML, False in the docs",
        "w: input 'c' has default False in the YAML, (required) in the docs",
    ]
