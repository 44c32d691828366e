"""The pack's version: setup.cfg's ``version`` (pbr), read from the installed distribution.

Standard library only: Mistral's executors import ha_actions.* and need nothing more.
"""

import re
from importlib import metadata

DIST = "ha-actions"


def build_version():
    """The installed distribution's full version, e.g. '1.0.0' or '1.0.0.dev43' (pbr adds
    .devN to an untagged checkout's version)."""
    try:
        return metadata.version(DIST)
    except metadata.PackageNotFoundError as exc:
        raise RuntimeError("ha-actions is not installed (pip install ha-actions): "
                           "its version is read from the installed package") from exc


def release(version):
    """'1.0.0' of '1.0.0', '1.0.0.dev43' or '1.0.0rc1': the release a build belongs to."""
    match = re.match(r"\d+(\.\d+)*", version or "")
    if not match:
        raise ValueError("%r is not a version (expected e.g. 1.0.0)" % (version,))
    return match.group(0)


def pack_version():
    """The release of the installed pack: what tags the workflows in Mistral."""
    return release(build_version())
