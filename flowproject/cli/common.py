"""What several command groups share: the ``--branch`` of the local loop, JSON arguments."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

from ..errors import FlowprojectError

BRANCH_HELP = "Metaflow branch: prod, test.<name> or user.<name> (default: user.<you>)"


def metaflow_branch(given: Optional[str]) -> str:
    from ..events.launcher import current_user_branch
    from ..events.triggers import branch_flags

    if given:
        branch_flags(given)  # refuses anything but prod, test.<x>, user.<x>
        return given
    return current_user_branch()


def json_arg(text: str, option: str) -> object:
    # `@FILE` / `@-` (as curl's -d): one command-line argument holds at most 128 KiB on
    # Linux, and JSON never starts with "@".
    if text.startswith("@"):
        try:
            text = sys.stdin.read() if text == "@-" else Path(text[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise FlowprojectError(msg="%s: cannot read %s: %s" % (option, text[1:], e)) from None
    try:
        return json.loads(text)
    except ValueError as e:
        raise FlowprojectError(msg="%s: not JSON (%s): %r" % (option, e, text[:80])) from None
