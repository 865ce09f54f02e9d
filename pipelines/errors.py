"""Errors a stage raises to stop a run with a message that says what to do next."""


class StageError(RuntimeError):
    """A stage refused to proceed (failed gate, missing input); the message names the fix or report."""
