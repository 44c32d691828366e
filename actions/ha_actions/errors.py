"""The pack's error for what an operator can act on: pure code raises it, with no I/O
imported (``connection.readable`` turns it into the action's error result); and how an
error reads in a report (``text``, ``unwrap_error``)."""


class OperatorError(Exception):
    """An error the operator can act on: its message says what was wrong and what to do."""


class ReportError(OperatorError, ValueError):
    """The report cannot be built from what the workflow handed over (a pack bug)."""


def text(value):
    """``value`` as YAQL's ``str()`` writes it (null, true, false), so a message reads
    the same as when the workflows built it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def unwrap_error(result):
    """A failed task's error as text. A sub-workflow's is its output-on-error with
    Mistral's ``result`` (the message it failed with) added: that message; an action's
    is the text itself."""
    if isinstance(result, dict) and result.get("result") is not None:
        return text(result["result"])
    return text(result)
