"""Errors a user can cause: the CLI prints their one-sentence message and exits with code 2."""


class UserError(Exception):
    """A problem in the user's input (a wrong name, a missing or malformed file, a length mismatch).

    The message is one plain sentence that names the problem and the fix.
    """


class MetricUnavailable(Exception):
    """A metric cannot run here (its model or judge is missing); the result records it as skipped."""
