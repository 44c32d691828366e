"""Names the pack gives what it keeps in Mistral for a stack, shared by the actions and
the CLI (no imports: the CLI loads it without the action's dependencies)."""

PAUSE_PREFIX = "ha-paused-"
WATCH_PREFIX = "ha-watch-"


def pause_name(stack_id):
    """The Mistral environment whose presence pauses the stack (openstack ha pause)."""
    return PAUSE_PREFIX + stack_id


def watch_name(stack_name):
    """The cron trigger running the reconcile loop on the stack (openstack ha watch)."""
    return WATCH_PREFIX + stack_name
