"""One line, not a traceback, for a flow decorator that BaseFlow already applies.

Flows written for the Outerbounds scaffold repeat ``@project(name=config_expr(...))`` on
every subclass, and a flow may put ``@schedule`` next to ``@scheduled``. Metaflow refuses
a second flow decorator of a kind with ``DuplicateFlowDecoratorException`` while the flow
file's class statement runs, that is before Metaflow's CLI (which prints its errors
cleanly) exists, so Python prints a ten-line traceback. This hook replaces exactly that
traceback with one line naming the file, the class and what to remove; every other
exception goes to the previous hook unchanged.
"""

from __future__ import annotations

import os
import re
import sys
from types import TracebackType
from typing import Optional, Tuple, Type, cast

from metaflow.decorators import DuplicateFlowDecoratorException

ADVICE = {
    "project": "BaseFlow already applies @project, named by project_name in flowproject.toml; remove @project from %s",
    "schedule": "the flow already has a @schedule (from @scheduled or a base class); "
    "keep one: remove @schedule or @scheduled from %s",
}
# Frames in these packages are the machinery; the user's decorator line is outside them.
# Both are regular packages, so both have a __file__.
_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(cast(str, sys.modules[name].__file__))) + os.sep
    for name in ("metaflow", "flowproject")
)


def _origin(tb: Optional[TracebackType]) -> Tuple[str, str]:
    """(``file:line`` of the decorator in the user's file, the decorated class's name)."""
    where, cls_name = "", "the flow class"
    while tb is not None:
        frame = tb.tb_frame
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_LIBRARY_DIRS):
            where = "%s:%d" % (
                os.path.relpath(filename) if filename.startswith(os.getcwd()) else filename,
                tb.tb_lineno,
            )
        else:
            cls = frame.f_locals.get("cls")
            if isinstance(cls, type):
                cls_name = cls.__name__
        tb = tb.tb_next
    return where, cls_name


def message(exc: BaseException, tb: Optional[TracebackType]) -> str:
    """The one line shown for a duplicate flow decorator."""
    found = re.search(r"decorator '(\w+)'", getattr(exc, "message", None) or "")
    name = found.group(1) if found else "?"
    where, cls_name = _origin(tb)
    advice = ADVICE.get(name, "the flow already has @%s; remove one of them from %%s" % name) % cls_name
    return "error: %s%s" % ("%s: " % where if where else "", advice)


_previous = sys.excepthook


def _hook(exc_type: Type[BaseException], exc: BaseException, tb: Optional[TracebackType]) -> None:
    if isinstance(exc, DuplicateFlowDecoratorException):
        print(message(exc, tb), file=sys.stderr)
        return
    _previous(exc_type, exc, tb)


def _one_line(exc: BaseException) -> str:
    # Under Runner/Deployer the flow file is imported in the caller's process, so the
    # exception reaches the caller's code, never sys.excepthook: its text is the same line.
    return message(exc, exc.__traceback__)[len("error: ") :]


def install() -> None:
    """Install the hook once (importing flowproject does it), and give the exception the
    same one-line text for the callers that catch it."""
    global _previous
    DuplicateFlowDecoratorException.__str__ = _one_line  # type: ignore[method-assign]
    if sys.excepthook is not _hook:
        _previous = sys.excepthook
        sys.excepthook = _hook
