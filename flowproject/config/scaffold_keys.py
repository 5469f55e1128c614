"""The Outerbounds scaffold's ``[data]`` spellings, accepted so its own ``flowproject.toml``
validates as it is: renamed keys with one deprecation line each, its shipped placeholders
treated as unset, and its default template (the scaffold always ran ``sql/sensor.sql``)."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError, warn

# The Outerbounds scaffold's names and defaults, accepted so its own file validates.
SCAFFOLD_RENAMED_DATA = {"storage_type": "type"}
SCAFFOLD_PLACEHOLDERS = ("...", "\u2026")
SCAFFOLD_DEFAULT_TEMPLATE = "sensor"


def scaffold_data(raw: Any, label: str) -> Any:
    """[data] with the scaffold's renamed keys renamed and its placeholders dropped, one
    warning line each."""
    if not isinstance(raw, dict):
        return raw
    raw = dict(raw)
    for old, new in SCAFFOLD_RENAMED_DATA.items():
        if old in raw:
            if new in raw:
                raise ConfigError(label, "data.%s" % old, "also set as data.%s; keep only data.%s" % (new, new))
            raw[new] = raw.pop(old)
            warn("%s: data.%s is deprecated; call it data.%s (flowproject migrate does)" % (label, old, new))
    for key in ("role", "integration"):
        if isinstance(raw.get(key), str) and raw[key].strip() in SCAFFOLD_PLACEHOLDERS:
            warn("%s: data.%s = %r is the scaffold's placeholder; treated as unset" % (label, key, raw[key]))
            del raw[key]
    return raw
