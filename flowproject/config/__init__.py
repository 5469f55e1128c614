"""``flowproject.toml``: finding it, parsing TOML or JSON, the schema and its defaults,
``[environments.<name>]`` overlays, ``[flows.<Flow>]`` options, launch-time hooks, the
SQL template rule and the checks against the project's own files (flow files, templates).

Imports only the ground floor (``flowproject.errors``); everything else builds on it.
"""

from typing import TYPE_CHECKING

from .._lazy import exports

__getattr__, __dir__ = exports(__name__)

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILENAME",
    "FlowprojectDeprecationWarning",
    "RUN_HINT",
    "VALUE_LABEL",
    "chosen_file",
    "display_path",
    "find_config",
    "flowconfig_parser",
    "load",
    "locate",
    "parse_text",
    "read_text",
    "validate",
]

if TYPE_CHECKING:
    from .loader import (
        CONFIG_ENV,
        RUN_HINT,
        VALUE_LABEL,
        chosen_file,
        find_config,
        flowconfig_parser,
        load,
        locate,
        parse_text,
        read_text,
    )
    from .paths import CONFIG_FILENAME, display_path
    from .schema import FlowprojectDeprecationWarning, validate
