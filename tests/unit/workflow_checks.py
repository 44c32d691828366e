"""Checks on the pack's workflow files that Mistral's parser does not make.

``mistral.lang.parser.get_workflow_list_spec_from_yaml(text, validate=True)``
checks the DSL (keys, YAQL syntax, transitions) but not that actions exist or
that their inputs fit, nor which sub-workflows exist. Mistral finds both only
when a task runs. These helpers find them when the tests run.

Actions are the ones Mistral 23 loads through its legacy action provider: the
entry points of group ``mistral.actions``. For this pack they are read from
``setup.cfg`` (the source; ``test_action_serialization`` checks that the
installed package declares the same), and for Mistral's ``std.*`` actions from
the installed ``mistral`` distribution. The input of an action is checked with
mistral-lib's own ``PythonActionDescriptor.check_parameters``, the call the
engine makes before it schedules the action.

A ``workflow:`` task must name a workflow defined in the pack's files, unless
the task is tagged ``external`` (a workflow the operator provides).
"""

import configparser
import importlib.metadata
import re
from pathlib import Path
from unittest import mock

import jsonschema
import yaml
from mistral.lang import base as base_spec
from mistral.lang import parser
from mistral_lib import exceptions as ml_exc
from mistral_lib import utils as ml_utils
from mistral_lib.actions.providers.python import PythonActionDescriptor

PACK_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = PACK_ROOT / "workflows"
SETUP_CFG = PACK_ROOT / "setup.cfg"

ACTION_GROUP = "mistral.actions"
WORKFLOW_PREFIX = "ha.v1."
PACK_TAG = "ha-actions"
EXTERNAL_TAG = "external"
# A sub-workflow task whose name and input a pure action decides (on_alarm's heal:
# ha.alarm_plan); test_workflows checks what that action may pass against the inputs.
PLANNED_TAG = "planned"


def workflow_files(directory=WORKFLOW_DIR):
    """The workflow files of the pack, sorted: ``*.yaml`` and ``*.yml``."""
    directory = Path(directory)
    return sorted(list(directory.glob("*.yaml")) + list(directory.glob("*.yml")))


def pack_entry_points(setup_cfg=SETUP_CFG):
    """{action name: 'module:Class'} from setup.cfg's [entry_points] mistral.actions."""
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(setup_cfg)
    raw = cfg.get("entry_points", ACTION_GROUP, fallback="")
    entries = {}
    for line in raw.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        entries[name.strip()] = value.strip()
    return entries


def std_entry_points():
    """{action name: 'module:Class'} of the actions the installed Mistral ships."""
    dist = importlib.metadata.distribution("mistral")
    return {ep.name: ep.value for ep in dist.entry_points if ep.group == ACTION_GROUP}


def load_entry_point(name, value):
    """The class an entry point names, loaded as stevedore would load it."""
    return importlib.metadata.EntryPoint(name=name, value=value, group=ACTION_GROUP).load()


def known_actions(pack=None, std=None):
    """{action name: class} of every action a pack workflow may call."""
    pack = pack_entry_points() if pack is None else pack
    std = std_entry_points() if std is None else std
    entries = dict(std)
    entries.update(pack)
    return {name: load_entry_point(name, value) for name, value in entries.items()}


class _SchemaCheckedOnce:
    """Stands in for the ``jsonschema`` module inside ``mistral.lang.base`` while parsing.

    ``jsonschema.validate`` checks the schema itself against the metaschema on
    every call, before validating the data: for Mistral that is ~0.15 s per
    task, nearly all of a parse. Mistral's schemas are static (cached on each
    spec class), so here each is checked once; the data is validated exactly as
    ``jsonschema.validate`` does it, and the same errors come out.
    """

    ValidationError = jsonschema.ValidationError

    def __init__(self):
        self._checked = {}

    def validate(self, instance, schema):
        cls = jsonschema.validators.validator_for(schema)
        if self._checked.get(id(schema)) is not schema:
            cls.check_schema(schema)
            self._checked[id(schema)] = schema
        error = jsonschema.exceptions.best_match(cls(schema).iter_errors(instance))
        if error is not None:
            raise error

    def __getattr__(self, name):
        return getattr(jsonschema, name)


_JSONSCHEMA = _SchemaCheckedOnce()


def parse(text):
    """Mistral's own parse and validation; raises Mistral's DSL exceptions."""
    with mock.patch.object(base_spec, "jsonschema", _JSONSCHEMA):
        return parser.get_workflow_list_spec_from_yaml(text, validate=True).get_workflows()


def pack_workflows(files=None, skip_invalid=False):
    """{workflow name: WorkflowSpec} over all the pack's files.

    With ``skip_invalid`` a file Mistral rejects is left out (its own parse
    test reports it) so that it does not hide the other files' problems.
    """
    specs = {}
    for path in workflow_files() if files is None else files:
        try:
            parsed = parse(Path(path).read_text())
        except Exception:
            if not skip_invalid:
                raise
            continue
        for wf in parsed:
            specs[wf.get_name()] = wf
    return specs


_INLINE_ARG = re.compile(r"(?:^|\s)([-_\w]+)=")


def ignored_inline_args(task):
    """Inline ``key=value`` arguments that Mistral's parser silently drops.

    Mistral reads an inline value only when it is quoted, a YAQL/Jinja
    expression, a [list], a number, true, false or null: ``method=POST`` is
    ignored without a word, so the action never gets that argument.
    """
    raw = task.to_dict().get("action") or task.to_dict().get("workflow") or ""
    _, params = base_spec.BaseSpec._parse_cmd_and_input(raw)
    return [key for key in _INLINE_ARG.findall(raw) if key not in params]


def _is_expression(value):
    return isinstance(value, str) and ("<%" in value or "{{" in value)


def _compare(expected, actual):
    """(missing, unexpected) as Mistral computes them for workflow input."""
    missing = [k for k, v in expected.items() if v is ml_utils.NotDefined and k not in actual]
    unexpected = [k for k in actual if k not in expected]
    return missing, unexpected


def check_action_task(wf_name, task, actions):
    """Problems with a task that runs an action."""
    where = f"{wf_name}.{task.get_name()}"
    name = task.get_action_name()
    if _is_expression(name):
        return [f"{where}: action name {name!r} is an expression and cannot be checked"]
    if name not in actions:
        return [
            f"{where}: action {name!r} does not exist (not a std action nor an entry point "
            f"of setup.cfg [entry_points] {ACTION_GROUP})"
        ]
    task_input = task.get_input()
    if not isinstance(task_input, dict):
        return [
            f"{where}: input of action {name!r} is an expression; write it as a mapping so its "
            "keys can be checked"
        ]
    try:
        PythonActionDescriptor(name, actions[name]).check_parameters(task_input)
    except ml_exc.ActionException as exc:
        return [f"{where}: {exc}"]
    return []


def check_workflow_task(wf_name, task, workflows):
    """Problems with a task that calls a sub-workflow."""
    where = f"{wf_name}.{task.get_name()}"
    name = task.get_workflow_name()
    if {EXTERNAL_TAG, PLANNED_TAG} & set(task.get_tags() or []):
        return []
    if _is_expression(name) or name not in workflows:
        return [
            f"{where}: sub-workflow {name!r} is not defined in the pack's workflow files "
            f"(tag the task {EXTERNAL_TAG!r} if it is provided by the operator)"
        ]
    task_input = task.get_input()
    if not isinstance(task_input, dict):
        return [f"{where}: input of sub-workflow {name!r} is an expression"]
    missing, unexpected = _compare(workflows[name].get_input(), task_input)
    problems = []
    if missing:
        problems.append(f"{where}: sub-workflow {name!r} input missing={missing}")
    if unexpected:
        problems.append(f"{where}: sub-workflow {name!r} input unexpected={unexpected}")
    return problems


def check_workflow(wf, actions, workflows):
    """Problems with one parsed workflow: naming, tags, every task's call."""
    name = wf.get_name()
    problems = []
    if not name.startswith(WORKFLOW_PREFIX):
        problems.append(f"{name}: workflow name must start with {WORKFLOW_PREFIX!r}")
    if PACK_TAG not in (wf.get_tags() or []):
        problems.append(f"{name}: workflow tags must include {PACK_TAG!r}")
    for task in wf.get_tasks():
        ignored = ignored_inline_args(task)
        if ignored:
            problems.append(
                f"{name}.{task.get_name()}: inline arguments {ignored} are ignored by "
                "Mistral: quote their values"
            )
        if task.get_workflow_name():
            problems += check_workflow_task(name, task, workflows)
        else:
            problems += check_action_task(name, task, actions)
    return problems


def split_expressions(node, path=()):
    """Expressions YAML cut apart: in a flow mapping or list (``{a: <% f(x, y) %>}``) an
    unquoted comma ends the value, leaving ``'<% f(x'`` and a key ``'y) %>'``, which
    Mistral then fails on at run time. Keys may hold a whole one (``fail(msg=<% .. %>)``)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.count("<%") != key.count("%>"):
                found.append("%s: key %r is part of a split expression: quote it or use "
                             "block style" % ("/".join(path), key))
            found += split_expressions(value, path + (str(key),))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += split_expressions(value, path + (str(index),))
    elif isinstance(node, str) and node.count("<%") != node.count("%>"):
        found.append("%s: %r is part of a split expression: quote it or use block style"
                     % ("/".join(path), node))
    return found


def check_text(text, actions=None, workflows=None):
    """Parse ``text`` with Mistral and return the pack checks' problems (a list).

    ``workflows`` defaults to the pack's workflows plus the ones in ``text``.
    """
    actions = known_actions() if actions is None else actions
    split = split_expressions(yaml.safe_load(text))
    if split:
        return split
    specs = parse(text)
    if workflows is None:
        workflows = pack_workflows(skip_invalid=True)
    workflows = dict(workflows)
    workflows.update({wf.get_name(): wf for wf in specs})
    problems = []
    for wf in specs:
        problems += check_workflow(wf, actions, workflows)
    return problems


def duplicate_names(files):
    """{workflow name: [files]} for names defined in more than one file."""
    seen = {}
    for path in files:
        for wf in parse(Path(path).read_text()):
            seen.setdefault(wf.get_name(), []).append(Path(path).name)
    return {name: where for name, where in seen.items() if len(where) > 1}
