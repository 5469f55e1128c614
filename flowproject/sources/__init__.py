"""Observe what ``[data]`` points at: ``observe(data)`` returns an :class:`Observation`.

Each ``type`` lives in its own module (``local``, ``s3``, ``snowflake``), imported only
when used, so ``import flowproject`` never pulls in boto3 or the Snowflake connector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Union

from .errors import (
    S3AccessDeniedError,
    S3Error,
    S3NoSuchBucketError,
    S3ThrottledError,
    SnowflakeCredentialsError,
    SnowflakeError,
    SourceError,
    SqlTemplateError,
)
from .observation import Observation, canonical_json, fingerprint

__all__ = [
    "Observation",
    "S3AccessDeniedError",
    "S3Error",
    "S3NoSuchBucketError",
    "S3ThrottledError",
    "SnowflakeCredentialsError",
    "SnowflakeError",
    "SourceError",
    "SqlTemplateError",
    "canonical_json",
    "fingerprint",
    "observe",
    "observe_config",
]


def observe(
    data: Mapping[str, Any], *, run_pathspec: Optional[str] = None, project_dir: Optional[Path] = None
) -> Observation:
    """Observe the source a validated ``[data]`` table describes.

    ``run_pathspec`` (``Flow/run/step/task``) tags the work where the source can carry a
    tag (Snowflake's ``QUERY_TAG``). ``project_dir`` is the folder of the flowproject.toml
    whose ``sql/`` holds the template; without it, the config in use decides
    (``flowproject.config.templates.sql_dir``). Raises a :class:`SourceError` subclass when
    the source cannot be read; a missing file, object or empty prefix is an observation.
    """
    kind = data.get("type", "local")
    if kind == "local":
        from . import local

        return local.observe(data)
    if kind == "s3":
        from . import s3

        return s3.observe(data)
    if kind == "snowflake":
        from . import snowflake

        return snowflake.observe(data, run_pathspec=run_pathspec, project_dir=project_dir)
    raise SourceError(msg="data.type: unknown source type %r; expected local, s3 or snowflake" % (kind,))


def observe_config(path: Union[str, Path, None] = None) -> Observation:
    """What the sensor would see right now for a config file (``flowproject check``).

    ``path`` None: ``$FLOWPROJECT_CONFIG`` or the nearest ``flowproject.toml`` above the cwd.
    """
    from ..config import loader as config

    path = Path(path) if path else config.locate()
    return observe(config.load(path)["data"], project_dir=path.resolve().parent)
