"""Pure parts of the CLI: the running task, the progress line, the report table, the exit
code. No I/O but the Progress writer's stream."""

import json

from cliff import columns

TERMINAL = ("SUCCESS", "ERROR", "CANCELLED")
ACTIVE_TASK_STATES = ("RUNNING", "RUNNING_DELAYED", "WAITING")
# Report statuses in which nothing was done because another run or the guard was in the
# way: a non-zero exit unless --allow-skipped.
SKIPPED = ("skipped", "cooldown", "flapping", "held", "paused")
FIRST_FIELDS = ("status", "message", "error", "stack", "group", "strategy", "member",
                "replaced", "also_replaced", "would_replace", "old_active", "new_active",
                "volumes", "duration_s", "execution_id")


class Value(columns.FormattableColumn):
    """A report value: compact JSON in a table, the value itself for -f json/yaml."""

    def human_readable(self):
        if isinstance(self._value, (dict, list)):
            return json.dumps(self._value, sort_keys=True)
        return "" if self._value is None else str(self._value)

    def machine_readable(self):
        return self._value


def running_task(tasks):
    """The task running now: the newest active one (sub-workflows' tasks included). A task
    of type WORKFLOW only waits for its sub-workflow, so an active action task wins over it
    (Mistral's created_at has whole seconds: a parent and its child's tasks can tie)."""
    active = [t for t in tasks if t.get("state") in ACTIVE_TASK_STATES]
    if not active:
        return None
    return max(active, key=lambda t: (t.get("type") != "WORKFLOW", t.get("created_at") or "",
                                      t.get("id") or ""))


def task_label(task):
    """'workflow.task' of a task execution dict, or '' for none."""
    if not task:
        return ""
    return "%s.%s" % (task.get("workflow_name") or "?", task.get("name") or "?")


def progress_line(execution_id, state, task, elapsed_s):
    """The one line --wait shows: execution, state, seconds, the task running now."""
    line = "%s %s %ds" % (execution_id, state, elapsed_s)
    label = task_label(task)
    return "%s: %s" % (line, label) if label else line


def report_of(execution):
    """The execution's report (output 'report'), or {} when it has none (yet)."""
    report = (execution.get("output") or {}).get("report")
    return report if isinstance(report, dict) else {}


def report_table(execution):
    """(columns, values) for a ShowOne: the execution's state, then the report's fields,
    the important ones first."""
    report = report_of(execution)
    keys = [k for k in FIRST_FIELDS if k in report]
    keys += sorted(k for k in report if k not in keys)
    cols = ["execution_id", "workflow", "execution_state"] + [k for k in keys
                                                              if k != "execution_id"]
    values = {"execution_id": execution.get("id"), "workflow": execution.get("workflow_name"),
              "execution_state": execution.get("state"), **report}
    if not report and execution.get("state_info"):
        cols.append("state_info")
        values["state_info"] = execution["state_info"]
    return tuple(cols), tuple(Value(values.get(c)) for c in cols)


LIST_COLUMNS = ("ID", "Workflow", "Stack", "State", "Status", "Created at", "Message")


def list_row(execution):
    """One row of ``openstack ha execution list``."""
    report = report_of(execution)
    stack = (execution.get("input") or {}).get("stack")
    message = report.get("message") or report.get("error") or execution.get("state_info")
    return (execution.get("id"), execution.get("workflow_name"), stack, execution.get("state"),
            report.get("status"), execution.get("created_at"), (message or "")[:120])


def exit_code(execution, allow_skipped=False):
    """What the command exits with once the execution ended: 1 when it ended in ERROR or
    CANCELLED or its report says failed (or skipped/cooldown/flapping/held/paused, unless
    allow_skipped), else 0."""
    if execution.get("state") != "SUCCESS":
        return 1
    status = report_of(execution).get("status")
    if status == "failed" or (status in SKIPPED and not allow_skipped):
        return 1
    return 0


class Progress:
    """Writes the progress line: on a TTY one line rewritten in place (\\r), else a plain
    line each time the running task changes."""

    def __init__(self, stream, tty=None):
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.last_key, self.width = None, 0

    def update(self, execution_id, state, task, elapsed_s):
        line = progress_line(execution_id, state, task, elapsed_s)
        if self.tty:
            self.stream.write("\r" + line.ljust(self.width))
            self.width = max(self.width, len(line))
        else:
            key = (state, task_label(task))
            if key == self.last_key:
                return
            self.last_key = key
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self):
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()
