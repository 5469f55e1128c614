"""The compact value of a folder or prefix: a digest folded one file at a time.

Local folders and S3 prefixes share this shape, so a sensor compares them the same way:
``{"exists", "count", "total_bytes", "newest_modified", "listing_sha256"}``. The listing
itself is never kept: each entry goes into a running sha256 as it arrives, so memory
does not grow with the number of files and the stored value stays a few hundred bytes.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
# Files written together share their second: formatting it once per second, not once
# per file, is much of what makes a large local listing cheap.
_SECONDS: Dict[int, bytes] = {}
_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
# One file: path NUL size NUL modified time. NUL cannot occur in a path or a number, so
# entries cannot run into each other.
_LINE = b"%s\0%d\0%s%06dZ\n"


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: one spelling per instant, so values compare as text."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_utc_us(micros: int) -> str:
    """``iso_utc`` of a time given as microseconds since the epoch (the same text)."""
    seconds, fraction = divmod(micros, 1_000_000)
    return "%s%06dZ" % ((_SECONDS.get(seconds) or _second(seconds)).decode("ascii"), fraction)


def _second(seconds: int) -> bytes:
    if len(_SECONDS) > 4096:
        _SECONDS.clear()
    head = _SECONDS[seconds] = b"%04d-%02d-%02dT%02d:%02d:%02d." % time.gmtime(seconds)[:6]
    return head


class ListingDigest:
    """Fold (relative path, size, modified time) entries, in a deterministic order."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.count = 0
        self.total_bytes = 0
        self.links = 0
        self._newest: Optional[int] = None  # microseconds since the epoch
        # Entries wait here in small batches: one sha256 update per batch, not per file.
        self._pending: List[bytes] = []

    def add(self, path: str, size: int, modified: datetime) -> None:
        micros = (modified.astimezone(timezone.utc) - _EPOCH) // _MICROSECOND
        self._line(path.encode("utf-8"), size, micros)
        self._flush_if_full()

    def add_stats(self, prefix: bytes, files: List[Tuple[str, os.stat_result]]) -> None:
        """``add`` for a local folder's files: names as ``os.scandir`` gives them, and their stat.

        One loop for a run of files, not a call per file: on 100k files the per-file Python
        overhead is what separates this from ``find``. A name that is not valid UTF-8 goes
        in as its own bytes (the file system's surrogateescape), so it is kept, not an error.
        """
        pending, second, encoding, errors = self._pending, _SECONDS.get, _FS_ENCODING, _FS_ERRORS
        total, newest = 0, self._newest
        for name, st in files:
            size, micros = st.st_size, st.st_mtime_ns // 1000
            seconds, fraction = divmod(micros, 1_000_000)
            path = prefix + name.encode(encoding, errors)
            pending.append(_LINE % (path, size, second(seconds) or _second(seconds), fraction))
            total += size
            if newest is None or micros > newest:
                newest = micros
        self.count += len(files)
        self.total_bytes += total
        self._newest = newest
        self._flush_if_full()

    def _line(self, path: bytes, size: int, micros: int) -> None:
        seconds, fraction = divmod(micros, 1_000_000)
        self._pending.append(_LINE % (path, size, _SECONDS.get(seconds) or _second(seconds), fraction))
        self.count += 1
        self.total_bytes += size
        if self._newest is None or micros > self._newest:
            self._newest = micros

    def _flush_if_full(self) -> None:
        if len(self._pending) >= 512:
            self._flush()

    def add_link(self, path: bytes, kind: bytes, target: bytes) -> None:
        """A symbolic link that is not followed: its name, why, and the text it points to.

        Not a file (``count`` and ``total_bytes`` leave it out), but creating, removing or
        re-pointing it changes ``listing_sha256``. ``kind`` is never all digits, so such an
        entry cannot read as a file's ``path NUL size NUL time``.
        """
        self._pending.append(b"%s\0%s\0%s\n" % (path, kind, target))
        self.links += 1

    def _flush(self) -> None:
        self._sha.update(b"".join(self._pending))
        self._pending.clear()

    def value(self, exists: bool) -> Dict[str, Any]:
        self._flush()
        return {
            "exists": exists,
            "count": self.count,
            "total_bytes": self.total_bytes,
            "newest_modified": iso_utc_us(self._newest) if self._newest is not None else None,
            # Of the empty listing too: an emptied folder and a missing one stay distinct
            # through "exists", and every value has the same keys.
            "listing_sha256": self._sha.hexdigest(),
        }

    def summary(self, where: str) -> str:
        links = (
            ""
            if not self.links
            else "; %d link%s not followed (loop or dangling)"
            % (
                self.links,
                "" if self.links == 1 else "s",
            )
        )
        if not self.count:
            return "%s: no files%s" % (where, links)
        return "%s: %d file%s, %d bytes, newest %s%s" % (
            where,
            self.count,
            "" if self.count == 1 else "s",
            self.total_bytes,
            iso_utc_us(self._newest) if self._newest is not None else "-",
            links,
        )
