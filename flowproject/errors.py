"""The one error family flowproject raises for bad input."""

from __future__ import annotations

from metaflow.exception import MetaflowException


class FlowprojectError(MetaflowException):
    """Base class: Metaflow prints these as a headline and a message, no traceback."""

    headline = "flowproject error"


class ConfigError(FlowprojectError):
    """A problem with a flowproject.toml: always one line naming file, key and expectation.

    ``str(err)`` is ``"<file>: <key>: <expected>; got <value>"`` (or without the ``got``
    part when there is no single offending value).
    """

    headline = "flowproject.toml error"

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.detail = message
        super().__init__(msg="%s: %s: %s" % (file, key, message) if key else "%s: %s" % (file, message))

    def __str__(self) -> str:
        return self.message
