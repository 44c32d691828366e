"""Every action the pack registers (setup.cfg, group mistral.actions) as Mistral sees it.

Mistral 23 loads each entry point's class, describes it with mistral-lib's
``PythonActionDescriptor`` (parameters from ``__init__``, description from the
docstring), instantiates it with the task input, and sends the instance to the
executor through oslo.messaging with ``mistral.context.RpcContextSerializer``
(mistral-lib's polymorphic serializer: class path + ``vars(self)``, rebuilt
without calling ``__init__``). These tests do the same for each action, so a new
entry point is covered as soon as it is declared.
"""

import importlib.metadata
import inspect
import json

import pytest
from mistral import context as mistral_context
from mistral_lib import actions as ml_actions
from mistral_lib import serialization
from mistral_lib import utils as ml_utils
from mistral_lib.actions.providers.python import PythonActionDescriptor
from mistral_lib.utils import inspect_utils

import workflow_checks as wc

PACK_DIST = "ha-actions"
ENTRY_POINTS = sorted(wc.pack_entry_points().items())

# Input to build an action with when a placeholder string will not do
# ({action name: {argument: value}}).
SAMPLE_INPUT = {}


each_action = pytest.mark.parametrize(
    "name,value", ENTRY_POINTS, ids=[name for name, _ in ENTRY_POINTS]
)


def sample_input(name, cls):
    """Mistral's view of the arguments, with a placeholder for each required one."""
    spec = ml_utils.get_dict_from_string(inspect_utils.get_arg_list_as_str(cls.__init__))
    values = {
        arg: f"sample-{arg}" for arg, default in spec.items() if default is ml_utils.NotDefined
    }
    values.update(SAMPLE_INPUT.get(name, {}))
    return values


def test_pack_declares_actions():
    assert ENTRY_POINTS, f"setup.cfg declares no {wc.ACTION_GROUP} entry point"


def test_installed_entry_points_match_setup_cfg():
    """What Mistral loads (installed metadata) is what setup.cfg says."""
    try:
        dist = importlib.metadata.distribution(PACK_DIST)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{PACK_DIST} is not installed: pip install -e .")
    installed = {ep.name: ep.value for ep in dist.entry_points if ep.group == wc.ACTION_GROUP}
    assert installed == dict(ENTRY_POINTS), (
        "installed entry points are stale: reinstall the package (pip install -e .)"
    )


def test_action_names_are_namespaced():
    assert [n for n, _ in ENTRY_POINTS if not n.startswith("ha.")] == []


@each_action
def test_class_is_a_documented_mistral_action(name, value):
    cls = wc.load_entry_point(name, value)
    assert inspect.isclass(cls) and issubclass(cls, ml_actions.Action)
    assert not inspect.isabstract(cls), f"{value} does not implement run()"
    # Its own docstring: inspect.getdoc would fall back to the base class's.
    own_doc = (cls.__dict__.get("__doc__") or "").strip()
    assert own_doc, f"{value} has no docstring (it is the action's description)"


@each_action
def test_every_init_argument_reaches_mistral(name, value):
    """Mistral drops keyword-only arguments and any whose default is not JSON."""
    cls = wc.load_entry_point(name, value)
    signature = inspect.signature(cls.__init__)
    declared = [
        p.name
        for p in signature.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    for p in signature.parameters.values():
        if p.default is not p.empty:
            json.dumps(p.default)  # raises TypeError: not JSON-serialisable
    seen_by_mistral = ml_utils.get_dict_from_string(PythonActionDescriptor(name, cls).params_spec)
    assert sorted(k for k in seen_by_mistral if not k.startswith("**")) == sorted(declared)


@each_action
def test_class_attributes_are_json(name, value):
    cls = wc.load_entry_point(name, value)
    json.dumps(inspect_utils.get_public_fields(cls))


@each_action
def test_instance_round_trips_through_mistral_rpc_serializer(name, value):
    cls = wc.load_entry_point(name, value)
    desc = PythonActionDescriptor(name, cls)
    action_input = sample_input(name, cls)
    desc.check_parameters(action_input)
    action = desc.instantiate(action_input, wf_ctx=None)

    # State must be plain JSON: jsonutils would silently flatten other objects.
    state = json.loads(json.dumps(vars(action)))

    rpc = mistral_context.RpcContextSerializer()
    wire = rpc.serialize_entity(None, action)
    assert json.loads(wire)["__serial_key"] == "mistral_lib.actions.base.Action"
    restored = rpc.deserialize_entity(None, wire)

    assert type(restored).__module__ == cls.__module__
    assert type(restored).__qualname__ == cls.__qualname__
    assert isinstance(restored, cls)
    assert vars(restored) == state
    assert restored.is_sync() == action.is_sync()


def test_polymorphic_serializer_knows_actions():
    """Guard: the serializer the executor uses has mistral-lib's action serializer."""
    ser = serialization.get_polymorphic_serializer()
    assert ml_actions.Action.get_serialization_key() in ser.serializers
