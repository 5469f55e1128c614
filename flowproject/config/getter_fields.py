"""The ``[getters]`` section of ``flowproject.toml``: pins and the branch getters read.

``[getters.<Flow>]`` tables name a *producer* flow: ``run_id`` pins the run its getters
read, ``read_branch`` the branch they read it from (a pin wins). ``[getters] read_branch``
applies to every other producer (see ``flowproject.getters.read_branch``).
"""

from __future__ import annotations

from typing import Any, Dict

from .fields import nonempty_str, project_branch
from .validator import _did_you_mean

GETTER_FIELDS = {
    # A table needs one of them (checked below); a pin wins over read_branch.
    "run_id": (nonempty_str, None),
    # The producer flow's branch its getters read (flowproject.getters.read_branch).
    "read_branch": (project_branch, None),
}
# Keys of [getters] itself, beside the [getters.<Flow>] tables: for every producer flow.
GETTERS_FIELDS = {
    "read_branch": (project_branch, None),
}


def validate_getters(raw: Any, v: Any) -> Dict[str, Any]:
    """``[getters]`` checked by the schema's validator ``v`` (``fail``, ``table``).

    Keys are kept only when set (a JSON null, a resolved config's "unset", is absent), so
    ``getters`` maps flow names to tables holding ``run_id`` and/or ``read_branch``, plus
    ``read_branch`` itself when the user sets it.
    """
    if not isinstance(raw, dict):
        v.fail("getters", "expected a table of [getters.<FlowName>] tables", raw)
    out: Dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key in GETTERS_FIELDS and not isinstance(value, dict):
            check = GETTERS_FIELDS[key][0]

            def fail(expected: str, path: str = "getters.%s" % key, bad: Any = value) -> None:
                v.fail(path, expected, bad)

            out[key] = check(value, fail)
            continue
        if not isinstance(value, dict):
            v.fail(
                "getters.%s" % key,
                "expected a [getters.<FlowName>] table, or one of: %s%s"
                % (", ".join(GETTERS_FIELDS), _did_you_mean(key, list(GETTERS_FIELDS))),
                value,
            )
        table = v.table(value, "getters.%s" % key, GETTER_FIELDS)
        if table["run_id"] is None and table["read_branch"] is None:
            v.fail("getters.%s" % key, "expected run_id (a pin) or read_branch (the branch to read)")
        # Only what is set: a pin table stays {"run_id": ...}, as before read_branch existed.
        out[key] = {k: val for k, val in table.items() if val is not None}
    return out
