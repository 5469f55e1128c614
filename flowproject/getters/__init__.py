"""Reading other runs: the latest successful run of a branch (through an index in the
run's own datastore), ``get_artifact``, pins (``[getters.<Flow>] run_id``) and tags.

Builds on ``flowproject.config``; the sensor and BaseFlow build on it.
"""

from typing import TYPE_CHECKING

from .._lazy import exports

__getattr__, __dir__ = exports(__name__)

__all__ = [
    "PRODUCTION_BRANCH",
    "CacheFolderError",
    "GetterError",
    "clear_cache",
    "client_cache_dir",
    "get_artifact",
    "latest_successful_run",
    "resolve_run_id",
    "use_private_cache",
]

if TYPE_CHECKING:
    from .artifacts import (
        PRODUCTION_BRANCH,
        GetterError,
        clear_cache,
        client_cache_dir,
        get_artifact,
        latest_successful_run,
        resolve_run_id,
    )
    from .cache import CacheFolderError, use_private_cache
