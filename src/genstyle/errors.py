"""The one exception type the command-line tools turn into a clean message and exit code."""


class GenstyleError(Exception):
    """A problem the user can fix: bad config, missing data, wrong checkpoint.

    The message is shown as-is (no traceback), so it must say what was wrong and how to fix it.
    """


def require(condition: bool, message: str) -> None:
    """Raise a GenstyleError with `message` unless `condition` holds."""
    if not condition:
        raise GenstyleError(message)
