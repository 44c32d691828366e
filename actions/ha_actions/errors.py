"""The pack's error for what an operator can act on: pure code raises it, with no I/O
imported (``connection.readable`` turns it into the action's error result)."""


class OperatorError(Exception):
    """An error the operator can act on: its message says what was wrong and what to do."""
