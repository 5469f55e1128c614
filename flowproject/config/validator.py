"""Checking one table of ``flowproject.toml`` against its fields: unknown keys (with a
"did you mean"), required keys, defaults, and every failure as one :class:`ConfigError`
line naming the file, the key path and what was expected."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from ..errors import ConfigError
from .fields import REQUIRED, string


def _did_you_mean(key: str, known: List[str]) -> str:
    import difflib  # only when a key is wrong: every process validates a good config

    close = difflib.get_close_matches(key, known, n=1)
    return " (did you mean '%s'?)" % close[0] if close else ""


class _Validator:
    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, key: str, expected: str, value: Any = REQUIRED) -> None:
        if value is REQUIRED:
            raise ConfigError(self.label, key, expected)
        raise ConfigError(self.label, key, "%s; got %s" % (expected, _show(value)))

    def table(self, raw: Any, prefix: str, fields: Mapping[str, tuple]) -> Dict[str, Any]:
        if not isinstance(raw, dict):
            self.fail(prefix, "expected a table", raw)
        out = {}
        for key in raw:
            if key not in fields:
                self.fail(
                    "%s.%s" % (prefix, key),
                    "unknown key%s; known keys: %s" % (_did_you_mean(key, list(fields)), ", ".join(fields)),
                )
        for key, (check, default) in fields.items():
            path = "%s.%s" % (prefix, key)
            # JSON null (how a resolved config writes "unset") counts as absent, and so
            # does "" in an optional key (the Outerbounds scaffold writes event_name = "").
            # Only where "" means something (data.key: the whole bucket) is it kept.
            value = raw.get(key)
            if value == "" and default is not REQUIRED and check is not string:
                value = None
            if value is not None:
                out[key] = check(value, lambda exp, p=path, v=value: self.fail(p, exp, v))
            elif default is REQUIRED:
                self.fail(path, "required key is missing")
            else:
                out[key] = list(default) if isinstance(default, list) else default
        return out


def _show(value: Any) -> str:
    text = repr(value)
    # Keep the error on one readable line even for a big or multi-line value.
    text = text.replace("\n", "\\n")
    return text if len(text) <= 80 else text[:77] + "..."
