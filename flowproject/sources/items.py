"""The items of a folder or prefix: one line per file, in key order, and their sha256.

An item-level sensor keeps the *manifest* of what it has published: ``key NUL size NUL
version`` lines (``version`` is the modified time locally, the ETag on S3), sorted by key
bytes, which is the order both listings already arrive in. The sha256 of those bytes is
the manifest's address, so a tick that sees exactly the manifest it stored compares two
digests and is done: nothing is parsed, diffed or stored again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .errors import SourceError
from .listing import _FS_ENCODING, _FS_ERRORS, _SECONDS, _second, iso_utc

# path NUL size NUL version: NUL cannot occur in a key, a number or a version.
_LINE = b"%s\0%d\0%s\n"
_STAT_LINE = b"%s\0%d\0%s%06dZ\n"

ADDED, MODIFIED, REMOVED = "added", "modified", "removed"


class Listing:
    """A folder's or prefix's files as manifest lines; ``sha256`` is the manifest's address.

    It takes the calls ``ListingDigest`` takes from the local walk (``add_stats``,
    ``add_link``), so the walk is shared; links that are not followed are not files and
    are not items.
    """

    def __init__(self) -> None:
        self.lines: List[bytes] = []
        self.count = 0
        self.total_bytes = 0

    def add(self, key: str, size: int, version: str) -> None:
        self.lines.append(_LINE % (key.encode("utf-8"), size, version.encode("utf-8")))
        self.count += 1
        self.total_bytes += size

    def add_stats(self, prefix: bytes, files: List[Tuple[str, os.stat_result]]) -> None:
        # The local version is the modified time as the change-mode listing spells it.
        lines, second, encoding, errors = self.lines, _SECONDS.get, _FS_ENCODING, _FS_ERRORS
        total = 0
        for name, st in files:
            seconds, fraction = divmod(st.st_mtime_ns // 1000, 1_000_000)
            lines.append(
                _STAT_LINE
                % (prefix + name.encode(encoding, errors), st.st_size, second(seconds) or _second(seconds), fraction)
            )
            total += st.st_size
        self.count += len(files)
        self.total_bytes += total

    def add_link(self, path: bytes, kind: bytes, target: bytes) -> None:
        pass

    def body(self) -> bytes:
        return b"".join(self.lines)

    def sha256(self) -> str:
        return manifest_sha(self.lines)


def manifest_sha(lines: List[bytes]) -> str:
    sha = hashlib.sha256()
    for start in range(0, len(lines), 4096):  # one update per block, not per line
        sha.update(b"".join(lines[start : start + 4096]))
    return sha.hexdigest()


def parse(body: bytes) -> Dict[bytes, bytes]:
    """A stored manifest as ``{key: line}``; a line that does not parse is an error."""
    out: Dict[bytes, bytes] = {}
    for line in body.splitlines(keepends=True):
        key, sep, _ = line.partition(b"\0")
        if not sep or not line.endswith(b"\n"):
            raise ValueError("a manifest line without key, size and version")
        out[key] = line
    return out


def item_of(line: bytes, change: str) -> Dict[str, Any]:
    """One manifest line as a payload item (without ``dedupe_key``)."""
    key, size, version = line[:-1].split(b"\0", 2)
    return {
        # A file name that is not UTF-8 is shown with \\x escapes; the payload is JSON text.
        "key": key.decode("utf-8", "backslashreplace"),
        "change": change,
        "size": int(size),
        "version": version.decode("utf-8", "backslashreplace"),
    }


@dataclass
class Changes:
    """What differs between a stored manifest and a listing."""

    changed: List[Tuple[bytes, str]]  # (line, added|modified), in key order
    removed: List[bytes]  # the stored lines of removed keys, in key order

    def ordered(self, emit_removed: bool) -> List[Tuple[bytes, str]]:
        """(line, change) in order of observation: key order, removals after."""
        return self.changed + [(line, REMOVED) for line in self.removed] if emit_removed else self.changed


def diff(previous: Dict[bytes, bytes], listing: Listing) -> Changes:
    changed: List[Tuple[bytes, str]] = []
    seen = set()
    for line in listing.lines:
        key = line[: line.index(b"\0")]
        seen.add(key)
        old = previous.get(key)
        if old is None:
            changed.append((line, ADDED))
        elif old != line:
            changed.append((line, MODIFIED))
    removed = [line for key, line in sorted(previous.items()) if key not in seen]
    return Changes(changed, removed)


def apply(previous: Dict[bytes, bytes], published: List[Tuple[bytes, str]]) -> List[bytes]:
    """The manifest after ``published``: the stored one with those items taken in, sorted."""
    manifest = dict(previous)
    for line, change in published:
        key = line[: line.index(b"\0")]
        if change == REMOVED:
            manifest.pop(key, None)
        else:
            manifest[key] = line
    return [manifest[key] for key in sorted(manifest)]


def observe_listing(data: Mapping[str, Any]) -> Listing:
    """The files of a ``local`` folder or ``s3`` prefix as a :class:`Listing`.

    A missing folder or empty prefix is an empty listing; errors are the sources' own.
    """
    kind = data.get("type", "local")
    if kind == "local":
        return _local(data["path"])
    if kind == "s3":
        return _s3(data)
    raise SourceError(msg="data.type: %r has no file items; expected local or s3 (snowflake uses a cursor)" % kind)


def _local(path: str) -> Listing:
    import errno

    from . import local

    where = os.fsencode(path)
    listing = Listing()
    try:
        fd = os.open(where, local._DIR_FLAGS)
    except OSError as e:
        if e.errno == errno.ENOTDIR and os.path.exists(where):
            raise SourceError(msg='data.path: %s is a file; emit = "items" watches a folder' % path) from None
        if e.errno in local._GONE:
            return listing
        raise local._failed(where, "cannot be listed", e) from None
    local._walk(fd, where, listing)
    return listing


def _s3(data: Mapping[str, Any]) -> Listing:
    from ..secrets import mask_urls
    from . import s3

    try:
        return _s3_listing(data)
    except s3.S3Error as e:
        masked = mask_urls(e.message, [os.environ.get(name) for name in s3.ENDPOINT_ENV])
        if masked == e.message:
            raise
        raise type(e)(msg=masked) from None


def _s3_listing(data: Mapping[str, Any]) -> Listing:
    from botocore.exceptions import BotoCoreError, ClientError

    from . import s3

    bucket, prefix = data["bucket"], data.get("key") or ""
    listing = Listing()
    cut = len(prefix)
    try:
        client = s3.client(data.get("role"))
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", ()):
                # The ETag changes with the content; a multipart one is still one per version.
                version = (obj.get("ETag") or "").strip('"') or iso_utc(obj["LastModified"])
                listing.add(obj["Key"][cut:], obj["Size"], version)
    except ClientError as e:
        s3._raise(e, s3.s3_url(bucket, prefix), s3._operation(e))
    except BotoCoreError as e:
        raise s3.S3Error(msg="%s: %s" % (s3.s3_url(bucket, prefix), e)) from None
    return listing


def summary(where: str, listing: Listing, pending: Optional[int] = None) -> str:
    head = "%s: %d file%s, %d bytes" % (where, listing.count, "" if listing.count == 1 else "s", listing.total_bytes)
    return head if pending is None else "%s, %d pending" % (head, pending)
