"""The compact value of a folder or prefix: a digest folded one file at a time.

Local folders and S3 prefixes share this shape, so a sensor compares them the same way:
``{"exists", "count", "total_bytes", "newest_modified", "listing_sha256"}``. The listing
itself is never kept: each entry goes into a running sha256 as it arrives, so memory
does not grow with the number of files and the stored value stays a few hundred bytes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Dict, Optional


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: one spelling per instant, so values compare as text."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ListingDigest:
    """Fold (relative path, size, modified time) entries, in a deterministic order."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.count = 0
        self.total_bytes = 0
        self._newest: Optional[datetime] = None

    def add(self, path: str, size: int, modified: datetime) -> None:
        # NUL cannot occur in a path or a number, so entries cannot run into each other.
        self._sha.update(("%s\0%d\0%s\n" % (path, size, iso_utc(modified))).encode("utf-8"))
        self.count += 1
        self.total_bytes += size
        if self._newest is None or modified > self._newest:
            self._newest = modified

    def value(self, exists: bool) -> Dict[str, Any]:
        return {
            "exists": exists,
            "count": self.count,
            "total_bytes": self.total_bytes,
            "newest_modified": iso_utc(self._newest) if self._newest is not None else None,
            # Of the empty listing too: an emptied folder and a missing one stay distinct
            # through "exists", and every value has the same keys.
            "listing_sha256": self._sha.hexdigest(),
        }

    def summary(self, where: str) -> str:
        if not self.count:
            return "%s: no files" % where
        return "%s: %d file%s, %d bytes, newest %s" % (
            where,
            self.count,
            "" if self.count == 1 else "s",
            self.total_bytes,
            iso_utc(self._newest) if self._newest else "-",
        )
