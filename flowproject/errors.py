"""The one error family flowproject raises for bad input."""

from __future__ import annotations

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
        self.file = file
        self.key = key
        self.detail = message
        super().__init__(msg="%s: %s: %s" % (file, key, message) if key else "%s: %s" % (file, message))

    def __str__(self) -> str:
        return self.message


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
