"""Every workflows/*.yaml: accepted by Mistral 23's parser, and the pack checks.

The pack checks (see workflow_checks.py) are proven able to fail on small bad
snippets at the end of this module.
"""

import textwrap

import pytest
import yaml
from mistral import exceptions as mistral_exc
from mistral.lang import parser
from mistral_lib import actions as ml_actions

import workflow_checks as wc

FILES = wc.workflow_files()


@pytest.fixture(scope="module")
def actions():
    return wc.known_actions()


@pytest.fixture(scope="module")
def workflows():
    return wc.pack_workflows(skip_invalid=True)


# --- the pack's files ---------------------------------------------------------------


def test_pack_has_workflow_files():
    assert FILES, f"no workflow file in {wc.WORKFLOW_DIR}: the pack ships none"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_mistral_parser_accepts(path):
    specs = wc.parse(path.read_text())
    assert specs, f"{path.name} defines no workflow"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_pack_checks(path, actions, workflows):
    assert wc.check_text(path.read_text(), actions, workflows) == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_workflow_runs_a_lost_action_again(path):
    """An action lost with its executor ends with Mistral's 'Heartbeat ...' error: every
    workflow's task-defaults retry exactly that (the pack's actions are idempotent) and
    nothing else."""
    doc = yaml.safe_load(path.read_text())
    for name, body in doc.items():
        if name == "version":
            continue
        retry = (body.get("task-defaults") or {}).get("retry") or {}
        assert retry.get("count", 0) >= 1, f"{name}: no task-defaults retry"
        assert "startsWith('Heartbeat')" in str(retry.get("break-on")), name


def test_workflow_names_are_unique_across_files():
    assert wc.duplicate_names(FILES) == {}


def test_every_pack_entry_point_is_a_known_action(actions):
    pack = wc.pack_entry_points()
    assert pack, f"setup.cfg declares no {wc.ACTION_GROUP} entry point"
    assert set(pack) <= set(actions)
    assert {"std.echo", "std.http", "std.noop", "std.fail"} <= set(actions)


# --- the checks themselves, on snippets ------------------------------------------------


def wf(tasks, name="ha.v1.snippet", tags="[ha-actions]", wf_input=None, extra=""):
    """A one-workflow YAML document with ``tasks`` (YAML text, unindented)."""
    return textwrap.dedent(
        """\
        ---
        version: '2.0'
        {name}:
          tags: {tags}
          {wf_input}
          tasks:
        {tasks}
        {extra}
        """
    ).format(
        name=name,
        tags=tags,
        wf_input=f"input: {wf_input}" if wf_input else "",
        tasks=textwrap.indent(textwrap.dedent(tasks), "    "),
        extra=textwrap.dedent(extra),
    )


SUB = """\
ha.v1.sub:
  tags: [ha-actions]
  input:
    - stack
    - reason: null
  tasks:
    noop:
      action: std.noop
"""


def problems(text, actions=None):
    # No pack workflows: the snippet is checked against itself only.
    return wc.check_text(text, actions=actions, workflows={})


class Kw(ml_actions.Action):
    """Takes anything."""

    def __init__(self, stack, **kwargs):
        self.stack = stack

    def run(self, context):
        return None


class BadDefault(ml_actions.Action):
    """A default Mistral cannot serialise: the argument vanishes."""

    def __init__(self, stack, client=object()):  # noqa: B008 - on purpose
        self.stack = stack

    def run(self, context):
        return None


def test_good_snippet_passes():
    text = wf(
        """\
        hello:
          action: std.echo
          input:
            output: <% $ %>
          on-success: [fetch]
        fetch:
          action: std.http url="https://example.com" method="GET"
          on-success: [sub]
        sub:
          workflow: ha.v1.sub stack='web'
        """,
        extra=SUB,
    )
    assert problems(text) == []


def test_an_expression_cut_by_a_flow_mapping_comma_fails():
    text = wf(
        """\
        hello:
          action: std.noop
          publish: {wait_s: <% max(0, $.x) %>, ok: <% $.y %>}
          on-success:
            - fail(msg=<% $.error %>): <% $.x > 1 %>
        """,
    )
    got = problems(text)
    assert len(got) == 2 and all("split expression" in p for p in got), got
    assert "'<% max(0'" in got[0] and "key '$.x) %>'" in got[1], got


def test_unknown_action_fails():
    text = wf(
        """\
        t:
          action: ha.no_such_action
        """
    )
    [problem] = problems(text)
    assert "'ha.no_such_action' does not exist" in problem


def test_action_name_expression_fails():
    text = wf(
        """\
        t:
          action: <% $.which %>
        """
    )
    [problem] = problems(text)
    assert "expression" in problem


def test_unknown_input_key_fails():
    text = wf(
        """\
        t:
          action: std.http
          input:
            url: https://example.com
            methd: GET
        """
    )
    [problem] = problems(text)
    assert "unexpected=['methd']" in problem
    assert "missing" not in problem


def test_missing_required_input_fails():
    text = wf(
        """\
        t:
          action: std.http
          input:
            method: GET
        """
    )
    [problem] = problems(text)
    assert "missing=['url']" in problem


def test_required_input_given_inline_passes():
    text = wf(
        """\
        t:
          action: std.http url=<% $.url %> method="POST"
        """,
        wf_input="[url]",
    )
    assert problems(text) == []


def test_unquoted_inline_word_is_flagged():
    """Mistral drops ``method=POST`` (a bare word) without a word: say so."""
    text = wf(
        """\
        t:
          action: std.http url="https://example.com" method=POST timeout=5
        """
    )
    [problem] = problems(text)
    assert "['method'] are ignored by Mistral" in problem


def test_inline_and_mapping_input_both_count():
    text = wf(
        """\
        t:
          action: std.http url="https://example.com"
          input:
            bogus: 1
        """
    )
    [problem] = problems(text)
    assert "unexpected=['bogus']" in problem


def test_input_as_expression_fails():
    text = wf(
        """\
        t:
          action: std.http
          input: <% $.params %>
        """
    )
    [problem] = problems(text)
    assert "write it as a mapping" in problem


def test_kwargs_action_accepts_any_key():
    acts = {"x.kw": Kw}
    text = wf(
        """\
        t:
          action: x.kw stack="web"
          input:
            anything: 1
        """
    )
    assert problems(text, actions=acts) == []
    missing = wf(
        """\
        t:
          action: x.kw
        """
    )
    # Mistral skips all input checks when __init__ takes **kwargs.
    assert problems(missing, actions=acts) == []


def test_non_json_default_makes_the_argument_unknown():
    acts = {"x.bad": BadDefault}
    text = wf(
        """\
        t:
          action: x.bad stack="web" client="c"
        """
    )
    [problem] = problems(text, actions=acts)
    assert "unexpected=['client']" in problem


def test_unknown_subworkflow_fails():
    text = wf(
        """\
        t:
          workflow: ha.v1.nowhere
        """
    )
    [problem] = problems(text)
    assert "'ha.v1.nowhere' is not defined" in problem


def test_external_subworkflow_tagged_passes():
    text = wf(
        """\
        t:
          workflow: operator.notify
          tags: [external]
        """
    )
    assert problems(text) == []


def test_subworkflow_input_checked():
    text = wf(
        """\
        t:
          workflow: ha.v1.sub reason="test" stak="web"
        """,
        extra=SUB,
    )
    found = problems(text)
    assert len(found) == 2
    assert "missing=['stack']" in found[0]
    assert "unexpected=['stak']" in found[1]


def test_subworkflow_from_another_pack_file_is_found(tmp_path):
    (tmp_path / "sub.yaml").write_text("---\nversion: '2.0'\n" + SUB)
    pack = wc.pack_workflows(wc.workflow_files(tmp_path))
    text = wf(
        """\
        t:
          workflow: ha.v1.sub stack="web"
        """
    )
    assert wc.check_text(text, workflows=pack) == []


def test_workflow_name_prefix_and_tag_required():
    text = wf(
        """\
        t:
          action: std.noop
        """,
        name="replace_member",
        tags="[other]",
    )
    found = problems(text)
    assert any("must start with 'ha.v1.'" in p for p in found)
    assert any("must include 'ha-actions'" in p for p in found)


BAD_DSL = [
    pytest.param(wf("t:\n  action: std.noop\n  retry:\n    count: 3\n"), id="retry-no-delay"),
    pytest.param(wf("t:\n  action: std.noop\n  on-sucess: [t]\n"), id="unknown-key"),
    pytest.param(wf("t:\n  action: std.noop\n  on-success: [nowhere]\n"), id="bad-transition"),
    pytest.param(wf("t:\n  action: std.echo output=<% $.x +* %>\n"), id="bad-yaql"),
    pytest.param("version: '2.0'\nha.v1.x: [unclosed\n", id="bad-yaml"),
]


@pytest.mark.parametrize("text", BAD_DSL)
def test_mistral_parser_rejects(text):
    with pytest.raises(mistral_exc.MistralException):
        wc.parse(text)


@pytest.mark.parametrize("text", BAD_DSL)
def test_fast_parse_fails_as_mistral_does(text):
    """wc.parse checks each schema once; the errors are Mistral's own, unchanged."""
    with pytest.raises(mistral_exc.MistralException) as fast:
        wc.parse(text)
    with pytest.raises(mistral_exc.MistralException) as plain:
        parser.get_workflow_list_spec_from_yaml(text, validate=True)
    assert type(fast.value) is type(plain.value)
    assert str(fast.value) == str(plain.value)


def test_workflow_files_lists_yaml_only(tmp_path):
    assert wc.workflow_files(tmp_path) == []
    (tmp_path / "a.yaml").write_text("")
    (tmp_path / "b.yml").write_text("")
    (tmp_path / "README.md").write_text("")
    assert [p.name for p in wc.workflow_files(tmp_path)] == ["a.yaml", "b.yml"]


def test_pack_entry_points_parses_setup_cfg(tmp_path):
    cfg = tmp_path / "setup.cfg"
    cfg.write_text(
        "[entry_points]\n"
        "console_scripts =\n    x = y:z\n"
        "mistral.actions =\n"
        "    ha.one = ha_actions.orchestration:StackStatusAction\n"
        "    ha.two=ha_actions.orchestration:StackStatusAction\n"
    )
    assert wc.pack_entry_points(cfg) == {
        "ha.one": "ha_actions.orchestration:StackStatusAction",
        "ha.two": "ha_actions.orchestration:StackStatusAction",
    }


# --- on_alarm hands options on; the called workflows keep their own defaults ----------

# Inputs of the called workflows that ha.alarm_plan sets itself, not options.
SET_BY_THE_PLAN = {"ha.v1.replace_member": {"stack", "group", "strategy", "member",
                                            "not_a_member"},
                   "ha.v1.failover_volume": {"stack"}}


def test_on_alarm_options_are_inputs_of_the_called_workflows():
    """alarm.OPTIONS names only inputs of the called workflow, and with what the plan
    sets itself every input (a new input forgotten in OPTIONS fails here)."""
    from ha_actions.alarm import OPTIONS

    specs = {wf.get_name(): wf for path in FILES for wf in wc.parse(path.read_text())}
    for operation, options in OPTIONS.items():
        called = "ha.v1." + operation
        inputs = set(specs[called].get_input())
        assert set(options) <= inputs, (called, set(options) - inputs)
        assert inputs == set(options) | SET_BY_THE_PLAN[called], (
            called, inputs - set(options) - SET_BY_THE_PLAN[called])
