"""``openstack ha pack install`` and ``openstack ha pack show``: the pack's workflows
(shipped in the installed package) in Mistral, tagged with the pack's version."""

import json
import os
import re
from importlib import metadata

import yaml
from osc_lib import exceptions
from osc_lib.command import command

import ha_actions
from ha_actions import version

TAG_PREFIX = "ha-actions-"
DATA_DIR = ("share", "ha-actions", "workflows")
# A read-only action that only decides (no cloud call), run once on an executor.
PROBE_ACTION = "ha.parse_alarm"
PROBE_INPUT = {"alarm_id": "ha-pack-install-probe", "alarm_name": "probe", "severity": "low",
               "previous": "alarm", "current": "ok", "reason": "probe",
               "reason_data": {"type": "threshold"}}


def _editable_root(dist):
    """The source tree of an editable install (which installs no data files: its package
    is the tree's actions/ha_actions), or None for a regular install."""
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        direct = {}
    editable = direct.get("dir_info", {}).get("editable") or any(
        p.name.startswith("__editable__") for p in dist.files or ())
    if not editable:
        return None
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(ha_actions.__file__))))


def workflow_dir(dist=None):
    """The directory holding the installed package's workflows: setup.cfg's data_files
    (share/ha-actions/workflows, listed in the package's RECORD) or, for an editable
    install, workflows/ of the tree it was installed from."""
    dist = dist or metadata.distribution(version.DIST)
    for path in dist.files or ():
        if path.parts[-4:-1] == DATA_DIR and path.name.endswith(".yaml"):
            return os.path.dirname(os.path.realpath(dist.locate_file(path)))
    root = _editable_root(dist)
    if root and os.path.isdir(os.path.join(root, "workflows")):
        return os.path.join(root, "workflows")
    raise exceptions.CommandError(
        "the installed ha-actions package holds no workflows (%s): reinstall it "
        "(pip install --force-reinstall 'ha-actions[cli]')" % os.path.join(*DATA_DIR))


def workflow_files():
    """{file name: text} of the installed workflows."""
    wf_dir = workflow_dir()
    found = {}
    for name in sorted(os.listdir(wf_dir)):
        if name.endswith(".yaml"):
            with open(os.path.join(wf_dir, name)) as f:
                found[name] = f.read()
    return found


def workflow_names(text):
    """Names of the workflows a definition file holds."""
    return [k for k in yaml.safe_load(text) if k != "version"]


def version_tag(pack_version):
    return TAG_PREFIX + pack_version


def tagged(text, pack_version):
    """The definition with the version tag added to each workflow's tags (the text is
    edited, not re-dumped, so comments stay); checked by parsing it again."""
    tag = version_tag(pack_version)
    out = re.sub(r"(?m)^(  tags: \[ha-actions\b[^\]\n]*)\]", r"\1, %s]" % tag, text)
    doc = yaml.safe_load(out)
    missing = [n for n in workflow_names(text) if tag not in (doc[n].get("tags") or ())]
    if missing:
        raise exceptions.CommandError("cannot tag workflows %s with %s: their 'tags:' line is "
                                      "not '  tags: [ha-actions, ...]'" % (missing, tag))
    return out


def version_key(text):
    return tuple(int(p) for p in version.release(text).split("."))


def tag_version(tags):
    """The pack version a workflow's tags carry (ha-actions-1.0.0 -> '1.0.0'), or None."""
    for tag in tags or ():
        if tag.startswith(TAG_PREFIX) and re.match(r"\d", tag[len(TAG_PREFIX):]):
            return tag[len(TAG_PREFIX):]
    return None


def newer_in_mistral(workflows, installed):
    """{workflow name: version} of the workflows tagged with a version newer than
    ``installed``."""
    return {name: v for name, v in ((n, tag_version(w.get("tags")))
                                    for n, w in workflows.items())
            if v and version_key(v) > version_key(installed)}


class PackShow(command.Lister):
    """The pack's workflows: installed version vs the version in Mistral."""

    def take_action(self, parsed_args):
        client = self.app.client_manager.ha
        installed = version.pack_version()
        names = [n for text in workflow_files().values() for n in workflow_names(text)]
        in_mistral = client.workflows(names)
        rows = []
        for name in names:
            wf = in_mistral.get(name)
            rows.append((name, installed, (tag_version(wf["tags"]) or "untagged") if wf
                         else "not installed", wf["updated_at"] or wf["created_at"] if wf
                         else None))
        return ("Workflow", "Installed", "In Mistral", "Updated at"), rows


class PackInstall(command.Lister):
    """Upload the installed pack's workflows to Mistral, tagged with its version."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--update", action="store_true",
                            help="replace workflows that are in Mistral already")
        return parser

    def check_actions(self, client):
        """Refuse when Mistral lacks any ha.* action of the installed package."""
        dist = metadata.distribution(version.DIST)
        wanted = {ep.name for ep in dist.entry_points if ep.group == "mistral.actions"}
        missing = sorted(wanted - client.action_names("ha."))
        if not missing:
            state, output = client.run_action(PROBE_ACTION, PROBE_INPUT)
            if state == "SUCCESS":
                return
            problem = "a probe run of %s on an executor ended %s: %s" % (
                PROBE_ACTION, state, str(output.get("result"))[:300])
        else:
            problem = "Mistral lists no action %s" % ", ".join(missing)
        raise exceptions.CommandError(
            "%s. Install the same ha-actions (%s) into the venv of every Mistral engine, "
            "executor and API process (pip install ha-actions==%s) and restart them, then "
            "run this again." % (problem, version.build_version(), version.build_version()))

    def take_action(self, parsed_args):
        client = self.app.client_manager.ha
        installed = version.pack_version()
        files = workflow_files()
        names = {n: f for f, text in files.items() for n in workflow_names(text)}
        in_mistral = client.workflows(names)
        newer = newer_in_mistral(in_mistral, installed)
        if newer:
            raise exceptions.CommandError(
                "Mistral holds newer ha-actions workflows than this package (%s): %s. "
                "Nothing was uploaded. Install that ha-actions release here "
                "(pip install -U 'ha-actions[cli]') and run this again; to go back to %s "
                "delete them first (openstack workflow delete NAME)." % (
                    installed, ", ".join("%s %s" % kv for kv in sorted(newer.items())),
                    installed))
        if in_mistral and not parsed_args.update:
            raise exceptions.CommandError(
                "workflows %s are in Mistral already: pass --update to replace them"
                % ", ".join(sorted(in_mistral)))
        self.check_actions(client)
        rows = []
        for fname, text in files.items():
            file_names = workflow_names(text)
            update = any(n in in_mistral for n in file_names)
            client.upload_workflows(tagged(text, installed), update=update)
            rows += [(n, fname, version_tag(installed), "updated" if update else "created")
                     for n in file_names]
        return ("Workflow", "File", "Tag", "Result"), rows
