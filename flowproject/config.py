"""Find and parse ``flowproject.toml``; the schema itself lives in ``flowproject.schema``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from . import overlays as _overlays
from .errors import ConfigError
from .schema import CONFIG_FILENAME, FlowprojectDeprecationWarning, validate

__all__ = [
    "CONFIG_ENV", "CONFIG_FILENAME", "VALUE_LABEL", "ConfigError", "FlowprojectDeprecationWarning",
    "chosen_file", "display_path", "find_config", "flowconfig_parser", "load", "locate",
    "parse_text", "remember_default", "validate",
]

CONFIG_ENV = "FLOWPROJECT_CONFIG"
# The label used in errors when the config arrives as a value (Runner(config_value=...)).
VALUE_LABEL = "<flowconfig value>"


# -- parsing ------------------------------------------------------------------------------


def parse_text(
    text: str,
    label: str = CONFIG_FILENAME,
    base_dir: Optional[Path] = None,
    *,
    environment: Optional[str] = None,
    flow: Optional[str] = None,
    call_hooks: bool = True,
) -> Dict[str, Any]:
    """Parse TOML or JSON text (JSON is what ``Runner(config_value=...)`` passes).

    The environment overlay and hooks are resolved here (see ``flowproject.overlays``).
    """
    if text.lstrip().startswith("{"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(label, "(syntax)", "invalid JSON: %s" % e) from None
    else:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(label, "(syntax)", "invalid TOML: %s" % e) from None
    return _overlays.resolve(raw, label, base_dir, environment=environment, flow=flow, call_hooks=call_hooks)


def load(path: Union[str, Path], *, environment: Optional[str] = None, call_hooks: bool = True) -> Dict[str, Any]:
    """Read and validate a config file (``environment``: force that overlay)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(display_path(path), "(file)", "cannot be read: %s" % (e.strerror or e)) from None
    return parse_text(
        text, display_path(path), path.resolve().parent, environment=environment, call_hooks=call_hooks
    )


def display_path(path: Union[str, Path]) -> str:
    """A path as the user would type it: relative to the cwd when below it."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- locating -------------------------------------------------------------------------------


def find_config(start: Union[str, Path]) -> Optional[Path]:
    """The nearest ``flowproject.toml`` in ``start`` or any folder above it."""
    here = Path(start).resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
    return None


def locate(start: Union[str, Path, None] = None) -> Path:
    """The config file to use: ``$FLOWPROJECT_CONFIG``, else the nearest one above ``start``.

    ``start`` is a flow file or folder (the cwd when None). Raises ConfigError when
    there is none.
    """
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(env, "(file)", "%s points to a file that does not exist" % CONFIG_ENV)
        return path.resolve()
    origin = Path(start).resolve() if start is not None else Path.cwd()
    if origin.is_file():
        origin = origin.parent
    found = find_config(origin)
    if found is None:
        raise ConfigError(
            CONFIG_FILENAME,
            "(file)",
            "not found in %s or any folder above it; create one, set %s, or pass "
            "--config flowconfig PATH" % (origin, CONFIG_ENV),
        )
    return found


# -- the Metaflow Config hooks ------------------------------------------------------------
#
# Metaflow hands the Config parser only the file's text. To name the file in errors and
# resolve data.path next to it, we remember which file was chosen: the default hook
# records it, and an explicit `--config flowconfig FILE` is read back from argv/env.

_chosen_file: Optional[Path] = None


def remember_default(path: Path) -> None:
    global _chosen_file
    _chosen_file = path


def _explicit_file(config_name: str) -> Optional[Path]:
    argv = sys.argv
    for i, arg in enumerate(argv[:-2]):
        if arg == "--config" and argv[i + 1] == config_name:
            return Path(argv[i + 2])
    env = os.environ.get("METAFLOW_FLOW_CONFIG")
    if env:
        try:
            value = json.loads(env).get(config_name)
        except (ValueError, AttributeError):
            value = None
        if isinstance(value, str):
            return Path(value)
    return None


def chosen_file() -> Optional[Path]:
    """The config file this process chose (``--config flowconfig FILE`` or the default),
    if it chose one: task processes get values, not files."""
    return _explicit_file("flowconfig") or _chosen_file


def flowconfig_parser(text: str) -> Dict[str, Any]:
    """The ``parser=`` of BaseFlow's ``flowconfig``: TOML or JSON in, validated dict out."""
    flow = _launching_flow()
    if text.lstrip().startswith("{"):
        return parse_text(text, VALUE_LABEL, None, flow=flow)
    source = chosen_file()
    if source is None:
        return parse_text(text, flow=flow)
    return parse_text(text, display_path(source), source.resolve().parent, flow=flow)


def _launching_flow() -> Optional[str]:
    # Metaflow parses the config before `current.flow_name` is set; the flow being
    # launched is the FlowSpec subclass defined in the script Metaflow runs (__main__).
    # Only its [flows.<Name>.parameters] hooks are called.
    # A class under a FlowMutator (@scheduled) is bound to the mutator, which holds it.
    from metaflow import FlowMutator, FlowSpec

    main = sys.modules.get("__main__")
    found = []
    for value in vars(main).values() if main is not None else ():
        cls = getattr(value, "_flow_cls", None) if isinstance(value, FlowMutator) else value
        if isinstance(cls, type) and issubclass(cls, FlowSpec) and cls.__module__ == "__main__":
            found.append(cls.__name__)
    return found[-1] if found else None
