"""The one error family flowproject raises for bad input."""

from __future__ import annotations

import re
import sys
from typing import Set

from metaflow.exception import MetaflowException


class FlowprojectError(MetaflowException):
    """Base class: Metaflow prints these as a headline and a message, no traceback."""

    headline = "flowproject error"


class ConfigError(FlowprojectError):
    """A problem with a flowproject.toml: always one line naming file, key and expectation.

    ``str(err)`` is ``"<file>: <key>: <expected>; got <value>"`` (or without the ``got``
    part when there is no single offending value).
    """

    # Not the file's name: the message starts with it, and it may be another file.
    headline = "Configuration error"

    def __init__(self, file: str, key: str, message: str) -> None:
        file, key, message = one_line(file), one_line(key), one_line(message)
        self.file = file
        self.key = key
        self.detail = message
        super().__init__(msg="%s: %s: %s" % (file, key, message) if key else "%s: %s" % (file, message))

    def __str__(self) -> str:
        return self.message


# C0/C1 controls and the Unicode line and paragraph separators: a TOML key or file name
# holding one would split the error or repaint the terminal (ESC sequences).
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with control characters shown escaped (``\\n``, ``\\x1b``), so it stays one line."""
    return _CONTROL_RE.sub(lambda m: repr(m.group(0))[1:-1], str(text))


_warned: Set[str] = set()


def warn(message: str) -> None:
    """Print ``warning: <message>`` on stderr, once per process.

    Not ``warnings.warn``: Metaflow ignores every Python warning while it runs a flow
    (``warnings.filterwarnings("ignore")`` in its CLI), and Python's format echoes the
    library's own source line. These are about the user's config file, named in the
    message, and must show at the start of a run as in ``flowproject validate``.
    """
    if message not in _warned:
        _warned.add(message)
        print("warning: %s" % message, file=sys.stderr, flush=True)
