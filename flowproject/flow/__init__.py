"""BaseFlow and what it carries into every run: the ``@project`` wiring, ``test_mode``,
``[flows.<Flow>]`` options, provenance tags, the local user, the step decorators
(``@snowflake``, ``@requires_source``) and ``@scheduled``.

Builds on config, sources, getters and events; the sensor, deploy and the CLI build on it.
"""

from typing import TYPE_CHECKING

from .._lazy import exports

__getattr__, __dir__ = exports(__name__)

__all__ = ["BaseFlow", "requires_extra", "requires_source", "scheduled", "snowflake"]

if TYPE_CHECKING:
    from .base import BaseFlow, scheduled
    from .decorators import requires_extra, requires_source, snowflake
