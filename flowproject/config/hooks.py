"""Launch-time hooks: a config value computed by a function when a run or deploy starts.

A value written as ``{ hook = "package.module:function", args = [...], kwargs = {...} }``
is replaced by ``function(*args, **kwargs)``. This happens while Metaflow parses the
config in the launching process; Metaflow then snapshots the parsed config, so task
processes and pods read the value and never call the function again.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from ..errors import ConfigError

HOOK_KEYS = frozenset({"hook", "args", "kwargs"})


def is_hook(value: Any) -> bool:
    """True for a table that names a hook (``hook`` is the one required key)."""
    return isinstance(value, Mapping) and "hook" in value


def _load(target: str, base_dir: Optional[Path]) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    # Hooks usually live in the project itself, next to flowproject.toml, which is not
    # on sys.path when the flow file sits in flows/.
    added = base_dir is not None and str(base_dir) not in sys.path
    if added:
        sys.path.insert(0, str(base_dir))
    try:
        module = importlib.import_module(module_name)
    finally:
        if added:
            sys.path.remove(str(base_dir))
    func = getattr(module, attr, None)
    if not callable(func):
        raise AttributeError("module %r has no function %r" % (module_name, attr))
    return func


def call(spec: Mapping[str, Any], label: str, key: str, base_dir: Optional[Path] = None) -> Any:
    """The value of the hook ``spec`` found at ``key``; ConfigError (one line) on any failure."""
    target = spec.get("hook")
    unknown = sorted(set(spec) - HOOK_KEYS)
    if unknown:
        raise ConfigError(
            label, "%s.%s" % (key, unknown[0]), "unknown key in a hook table; known keys: hook, args, kwargs"
        )
    if not isinstance(target, str) or ":" not in target or target.startswith(":") or target.endswith(":"):
        raise ConfigError(label, "%s.hook" % key, "expected 'package.module:function'; got %r" % (target,))
    args = spec.get("args", [])
    kwargs = spec.get("kwargs", {})
    if not isinstance(args, list):
        raise ConfigError(label, "%s.args" % key, "expected an array; got %r" % (args,))
    if not isinstance(kwargs, Mapping):
        raise ConfigError(label, "%s.kwargs" % key, "expected a table; got %r" % (kwargs,))
    try:
        func = _load(target, base_dir)
    except Exception as e:  # noqa: BLE001 - any import failure is the user's hook, reported in one line
        raise ConfigError(
            label, key, "hook %s cannot be imported: %s: %s" % (target, type(e).__name__, _one_line(e))
        ) from None
    try:
        return func(*args, **dict(kwargs))
    except Exception as e:  # noqa: BLE001 - same: the hook's own error, named with its key
        raise ConfigError(label, key, "hook %s raised %s: %s" % (target, type(e).__name__, _one_line(e))) from None


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 200 else text[:197] + "..."


def resolve_table(table: Any, label: str, prefix: str, base_dir: Optional[Path] = None) -> Any:
    """``table`` with each hook value (one level deep) replaced by its result."""
    if not isinstance(table, Mapping):
        return table  # the schema reports the wrong shape
    return {k: call(v, label, "%s.%s" % (prefix, k), base_dir) if is_hook(v) else v for k, v in table.items()}
