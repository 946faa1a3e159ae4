"""The one exception family the CLI turns into a one-line message.

Library code raises these with a message that names the offending input and
what would be right; the CLI prints ``omniwheel: error: <message>`` and exits
with ``exit_code``. An ``OSError`` (a full disk, a directory the user may not
write) gets one line too, its reason and file; anything else escaping is a bug and
gets a traceback.
"""


class OmniwheelError(Exception):
    """A user-facing failure with a one-line explanation."""

    exit_code = 1


class UsageError(OmniwheelError):
    """Bad input on the command line or to the API (an unknown platform, say)."""

    exit_code = 2
