"""The pure decision modules import no I/O: no cloud client, no Mistral library, not the
pack's connection module. Each is imported alone in a fresh interpreter."""

import subprocess
import sys

import pytest

PURE = ("errors", "names", "guard", "alarm", "inputs", "selection", "reconcile", "pair", "recovery",
        "stack_update", "report")
IO = ("ha_actions.connection", "keystoneauth1", "openstack", "mistral_lib", "requests")

CHECK = """
import sys
import ha_actions.{module}
io = sorted({{m for m in sys.modules for top in {io!r}
             if m == top or m.startswith(top + ".")}})
print(",".join(io))
"""


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_imports_no_io(module):
    out = subprocess.run([sys.executable, "-c", CHECK.format(module=module, io=IO)],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", "ha_actions.%s imports %s" % (module, out)


def test_the_check_sees_an_io_import():
    out = subprocess.run([sys.executable, "-c", CHECK.format(module="decisions", io=IO)],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert "mistral_lib" in out and "ha_actions.connection" in out
