"""Heat (orchestration) calls and the Mistral actions built on them.

Raw REST through the openstacksdk proxy: the SDK's ``update_stack`` always
PUTs a whole template and its ``preview`` performs a real update, and its
resource objects drop ``nested_depth`` and fields such as ``parent_resource``.
Functions take a Connection and plain values and return plain dicts.
"""

from openstack import exceptions as sdk_exceptions

from ha_actions.connection import OpenStackAction


class StackNotFound(Exception):
    """The stack named by the caller does not exist for this project."""


def _json(resp):
    sdk_exceptions.raise_from_response(resp)
    return resp.json() if resp.content else {}


def get_stack(conn, stack):
    """The stack (name or id) as Heat shows it; StackNotFound if there is none."""
    resp = conn.orchestration.get("/stacks/%s" % stack)
    if resp.status_code == 404:
        raise StackNotFound(
            "Stack %r not found in project %s. Check the name or id with "
            "'openstack stack list'." % (stack, conn.current_project_id)
        )
    return _json(resp)["stack"]


def stack_summary(stack):
    """The fields of a stack an operator reads: id, name, status and when it changed."""
    return {
        "id": stack["id"],
        "name": stack["stack_name"],
        "status": stack["stack_status"],
        "status_reason": stack.get("stack_status_reason"),
        "updated_time": stack.get("updated_time"),
    }


class StackStatusAction(OpenStackAction):
    """Return a Heat stack's id, name, status, status reason and updated time."""

    def __init__(self, stack):
        self.stack = stack

    def run(self, context):
        return stack_summary(get_stack(self.connect(context), self.stack))
