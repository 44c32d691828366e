"""The workflows stay readable as their steps (the thin-workflows limits): each file
within its line budget (header comments included), and the YAQL in them short: at most
five expressions over 80 characters, none over 150. What is longer belongs in tested
Python (ha_actions.report, the decision modules)."""

import re
from pathlib import Path

import pytest

import workflow_checks as wc

MAX_LINES = {"failover_volume.yaml": 450, "replace_member.yaml": 300,
             "on_alarm.yaml": 170, "update_stack.yaml": 100}
EXPRESSION = re.compile(r"<%(.*?)%>", re.S)


def expressions(text):
    """Every YAQL expression of a workflow file, its whitespace folded as YAML folds it."""
    return [" ".join(found.split()) for found in EXPRESSION.findall(text)]


@pytest.mark.parametrize("name, limit", sorted(MAX_LINES.items()))
def test_a_workflow_file_stays_within_its_line_budget(name, limit):
    path = Path(wc.WORKFLOW_DIR) / name
    assert len(path.read_text().splitlines()) <= limit


def test_the_yaql_stays_short():
    found = [(len(expr), path.name, expr) for path in wc.workflow_files()
             for expr in expressions(path.read_text())]
    assert found, "no YAQL expression found: the pattern no longer matches"
    over_80 = sorted(row for row in found if row[0] > 80)
    assert len(over_80) <= 5, over_80
    assert all(length <= 150 for length, _, _ in over_80), over_80


def test_an_expression_is_read_across_lines():
    text = "a: <% $.x and\n   $.y %>\nb: '<% $.z %>'"
    assert expressions(text) == ["$.x and $.y", "$.z"]
