"""``type = "s3"``: one object's size or modified time (one HEAD), or a prefix's objects.

boto3 is imported inside the calls: ``import flowproject`` must stay light, and only
flows that watch S3 need it (the ``s3`` extra). boto3 reads ``AWS_ENDPOINT_URL`` itself,
which is how S3-compatible stores (and the tests' moto server) are reached.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping, NoReturn, Optional
from urllib.parse import urlsplit

from ..secrets import ambiguous_userinfo, mask_urls
from .errors import S3AccessDeniedError, S3Error, S3NoSuchBucketError, S3ThrottledError
from .listing import ListingDigest, iso_utc
from .observation import Observation

# Error codes S3 (and STS) use for "slow down"; a HEAD has no body, so it only has 503.
THROTTLING_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "503"}
)
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)
# Names the session in CloudTrail, so an auditor sees who assumed the role and why.
ROLE_SESSION_NAME = "flowproject-sensor"


def s3_url(bucket: str, key: Optional[str] = None) -> str:
    return "s3://%s/%s" % (bucket, key or "")


# Endpoints a team may configure with credentials inside (a MinIO user:pass@, a signed
# query); botocore quotes the endpoint in some errors ("... was not a valid URI").
ENDPOINT_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS", "METAFLOW_S3_ENDPOINT_URL")
# botocore reads these from the environment while it builds a client, where a bad value
# is a ValueError traceback ("invalid literal for int()") or a message naming no variable.
INTEGER_ENV = ("AWS_MAX_ATTEMPTS", "AWS_METADATA_SERVICE_NUM_ATTEMPTS", "AWS_METADATA_SERVICE_TIMEOUT")
REGION_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION")
REGION_RE = re.compile(r"[a-z0-9][a-z0-9-]*[a-z0-9]")


def settings_problem(env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """What is wrong with the S3 client settings in ``env`` (``os.environ``), or None."""
    env = os.environ if env is None else env
    for name in REGION_ENV:
        value = env.get(name)
        if value is not None and value != "" and not REGION_RE.fullmatch(value):
            return "%s=%r is not an AWS region name (such as eu-west-1)" % (name, value)
    for name in INTEGER_ENV:
        value = env.get(name)
        if value is not None and value != "" and not value.strip().isdigit():
            return "%s=%r is not a whole number" % (name, value)
    for name in ENDPOINT_ENV:
        value = env.get(name)
        if not value:
            continue
        masked = mask_urls(value, [value])
        if ambiguous_userinfo(value):
            return "%s (%s) has an unencoded '/', '?' or '#' in its user info: percent-encode them" % (name, masked)
        parts = urlsplit(value) if "[" not in value or "]" in value else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            return "%s (%s) is not an http(s)://host[:port] URL" % (name, masked)
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is no number
        except ValueError:
            return "%s (%s) has a port that is not a number from 0 to 65535" % (name, masked)
    return None


def client(role: Optional[str] = None):
    """An S3 client; with ``role``, one using that role's temporary STS credentials."""
    problem = settings_problem()
    if problem:
        raise S3Error(msg="S3 client settings: %s" % problem)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if not role:
            return boto3.client("s3")
        creds = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName=ROLE_SESSION_NAME)["Credentials"]
    except ClientError as e:
        _raise(e, "assume role %s" % role, "AssumeRole")
    except (BotoCoreError, ValueError) as e:
        # A setting botocore rejects that settings_problem() does not know of.
        raise S3Error(msg="S3 client settings%s: %s" % (" (assume role %s)" % role if role else "", e)) from None
    try:
        return boto3.client(
            "s3",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
    except (BotoCoreError, ValueError) as e:
        raise S3Error(msg="S3 client settings: %s" % e) from None


def _raise(err: Any, where: str, operation: str) -> NoReturn:
    """Turn a botocore ClientError into one of our one-line errors."""
    info = err.response.get("Error", {})
    code = str(info.get("Code", ""))
    status = _status(err)
    detail = "%s %s" % (operation, code or status)
    if code == "NoSuchBucket":
        raise S3NoSuchBucketError(msg="%s: no such bucket (%s)" % (where, detail)) from None
    if code in ACCESS_DENIED_CODES or status == 403:
        raise S3AccessDeniedError(
            msg="%s: access denied (%s); check the credentials, data.role and the bucket policy" % (where, detail)
        ) from None
    if code in THROTTLING_CODES or status in (429, 503):
        raise S3ThrottledError(
            msg="%s: throttled by S3 (%s); retry later or observe less often" % (where, detail)
        ) from None
    message = info.get("Message") or ""
    raise S3Error(msg="%s: %s%s" % (where, detail, ": %s" % message if message else "")) from None


def observe(data: Mapping[str, Any]) -> Observation:
    """Observe ``s3://bucket/key`` per check_mode (see ``_observe``); every error message
    has the secrets of any endpoint URL masked."""
    try:
        return _observe(data)
    except S3Error as e:
        masked = mask_urls(e.message, [os.environ.get(name) for name in ENDPOINT_ENV])
        if masked == e.message:
            raise
        raise type(e)(msg=masked) from None


def _observe(data: Mapping[str, Any]) -> Observation:
    """Observe ``s3://bucket/key`` per check_mode.

    - ``file_size`` / ``file_modified_ts``: one HEAD request; ``{"exists": true, "size": N}``
      or ``{"exists": true, "modified": ISO}``; a missing object is ``{"exists": false}``.
    - ``files_metadata``: every object under the prefix ``key`` (recursive, all pages) as
      a ListingDigest value; an empty prefix is ``count: 0`` with ``exists: false``.
    Raises S3NoSuchBucketError, S3AccessDeniedError, S3ThrottledError or S3Error.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = data["bucket"]
    key = data.get("key") or ""
    mode = data.get("check_mode", "files_metadata")
    s3 = client(data.get("role"))
    try:
        if mode == "files_metadata":
            return _prefix(s3, bucket, key)
        if mode in ("file_size", "file_modified_ts"):
            return _object(s3, bucket, key, mode)
    except ClientError as e:
        _raise(e, s3_url(bucket, key), _operation(e))
    except BotoCoreError as e:
        # No credentials, unreachable endpoint, ...: botocore's text already says which.
        raise S3Error(msg="%s: %s" % (s3_url(bucket, key), e)) from None
    raise S3Error(msg="data.check_mode: unknown mode %r for an s3 source" % (mode,))


def _status(err: Any) -> Optional[int]:
    return err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _operation(err: Any) -> str:
    return getattr(err, "operation_name", None) or "request"


def _object(s3: Any, bucket: str, key: str, mode: str) -> Observation:
    from botocore.exceptions import ClientError

    url = s3_url(bucket, key)
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        if _status(e) != 404:
            raise
        # A HEAD has no error body: a missing bucket and a missing key are both a bare
        # 404. Only on this path is the extra request worth making to tell them apart.
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as bucket_err:
            if _status(bucket_err) == 404:
                raise S3NoSuchBucketError(msg="%s: no such bucket (HeadBucket 404)" % url) from None
            raise
        return Observation.of({"exists": False}, "%s: missing" % url)
    if mode == "file_size":
        size = head["ContentLength"]
        return Observation.of({"exists": True, "size": size}, "%s: %d bytes" % (url, size))
    modified = iso_utc(head["LastModified"])
    return Observation.of({"exists": True, "modified": modified}, "%s: modified %s" % (url, modified))


def _prefix(s3: Any, bucket: str, prefix: str) -> Observation:
    digest = ListingDigest()
    cut = len(prefix)
    # S3 lists keys in UTF-8 binary order, so folding pages as they arrive is
    # deterministic and no page outlives its loop iteration.
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            digest.add(obj["Key"][cut:], obj["Size"], obj["LastModified"])
    return Observation.of(digest.value(exists=digest.count > 0), digest.summary(s3_url(bucket, prefix)))
