"""Find and parse ``flowproject.toml``; the schema itself lives in ``flowproject.config.schema``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from .._lazy import exports
from ..errors import ConfigError
from .paths import CONFIG_FILENAME, display_path

# Parsing and validating happen in the process that launches a run; its task processes
# get the parsed value from Metaflow, so they never load the TOML parser or the schema.
__getattr__, __dir__ = exports(__name__)
if TYPE_CHECKING:
    from .schema import FlowprojectDeprecationWarning, validate

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILENAME",
    "VALUE_LABEL",
    "ConfigError",
    "FlowprojectDeprecationWarning",
    "chosen_file",
    "display_path",
    "find_config",
    "flowconfig_parser",
    "load",
    "locate",
    "parse_text",
    "remember_default",
    "validate",
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

    The environment overlay and hooks are resolved here (see ``flowproject.config.environments``),
    then the result is checked against the project's files (``flowproject.config.checks``).
    """
    from . import environments as _overlays

    raw = _parse_raw(text, label)
    cfg = _overlays.resolve(raw, label, base_dir, environment=environment, flow=flow, call_hooks=call_hooks)
    from . import checks as projectfiles  # late: it reaches into sources/, which imports this module

    projectfiles.check(cfg, label, base_dir)
    return cfg


def _parse_raw(text: str, label: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    # A value (--config-value) may be any JSON; validate() then says it is not a table.
    as_json = text.lstrip().startswith("{") or label == VALUE_LABEL
    try:
        if as_json:
            try:
                return json.loads(text)
            except json.JSONDecodeError as e:
                if text.lstrip().startswith("{"):
                    raise ConfigError(label, "(syntax)", "invalid JSON: %s" % e) from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            what = "neither JSON nor TOML" if as_json else "invalid TOML"
            raise ConfigError(label, "(syntax)", "%s: %s" % (what, e)) from None
    except RecursionError:
        # tomllib and json recurse once per level of [[...]] / {...}.
        raise ConfigError(label, "(syntax)", "nested too deeply to parse") from None


def load(path: Union[str, Path], *, environment: Optional[str] = None, call_hooks: bool = True) -> Dict[str, Any]:
    """Read and validate a config file (``environment``: force that overlay)."""
    path = Path(path)
    return parse_text(
        read_text(path), display_path(path), path.resolve().parent, environment=environment, call_hooks=call_hooks
    )


def read_text(path: Union[str, Path]) -> str:
    """A config file's text; ConfigError (one line) when it is unreadable or not UTF-8."""
    path = Path(path)
    label = display_path(path)
    if path.is_dir():
        raise ConfigError(label, "(file)", "is a folder; expected a %s file" % CONFIG_FILENAME)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(label, "(file)", "cannot be read: %s" % (e.strerror or e)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(
            label,
            "(file)",
            "is not UTF-8 text (byte 0x%02x on line %d); TOML files must be UTF-8" % (data[e.start], line),
        ) from None


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


# How a flow run names a config file; commands pass their own way (`validate PATH`).
RUN_HINT = "pass --config flowconfig PATH"


def locate(start: Union[str, Path, None] = None, hint: str = RUN_HINT) -> Path:
    """The config file to use: ``$FLOWPROJECT_CONFIG``, else the nearest one above ``start``.

    ``start`` is a flow file or folder (the cwd when None). Raises ConfigError when
    there is none; its message ends with ``hint``, how the caller's command names a file.
    """
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env).expanduser()
        if path.is_dir():
            raise ConfigError(
                env, "(file)", "%s names a folder; expected the path of a %s file" % (CONFIG_ENV, CONFIG_FILENAME)
            )
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
            "not found in %s or any folder above it; create one, set %s, or %s" % (origin, CONFIG_ENV, hint),
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


def _explicit_value(config_name: str) -> bool:
    # `--config-value flowconfig VALUE` (or Metaflow's env form) hands the parser a value
    # that no file holds: its errors must name the value, not flowproject.toml.
    argv = sys.argv
    if any(a == "--config-value" and argv[i + 1] == config_name for i, a in enumerate(argv[:-1])):
        return True
    env = os.environ.get("METAFLOW_FLOW_CONFIG_VALUE")
    if env:
        try:
            return config_name in json.loads(env)
        except (ValueError, TypeError):
            return False
    return False


def chosen_file() -> Optional[Path]:
    """The config file this process chose (``--config flowconfig FILE`` or the default),
    if it chose one: task processes get values, not files."""
    return _explicit_file("flowconfig") or _chosen_file


def flowconfig_parser(text: str) -> Dict[str, Any]:
    """The ``parser=`` of BaseFlow's ``flowconfig``: TOML or JSON in, validated dict out."""
    flow = _launching_flow()
    if text.lstrip().startswith("{") or _explicit_value("flowconfig"):
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
