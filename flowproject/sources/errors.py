"""Errors raised while observing a source: one class per cause a user acts on differently."""

from __future__ import annotations

from ..config.templates import SqlTemplateError  # noqa: F401  (re-exported: the template rule raises it)
from ..errors import FlowprojectError


class SourceError(FlowprojectError):
    """A source could not be observed; the message is one line naming what was asked for."""

    headline = "flowproject source error"


class S3Error(SourceError):
    headline = "S3 source error"


class S3AccessDeniedError(S3Error):
    headline = "S3 access denied"


class S3NoSuchBucketError(S3Error):
    headline = "S3 bucket not found"


class S3ThrottledError(S3Error):
    headline = "S3 throttled the request"


class SnowflakeError(SourceError):
    headline = "Snowflake source error"


class SnowflakeCredentialsError(SnowflakeError):
    headline = "Snowflake credentials missing"
