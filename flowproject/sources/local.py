"""``type = "local"``: a file's size or modified time, or a folder's files."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from .errors import SourceError
from .listing import ListingDigest, iso_utc
from .observation import Observation


def _mtime(st: os.stat_result) -> datetime:
    # Nanoseconds, not the float st_mtime: a float loses the sub-microsecond part.
    return datetime.fromtimestamp(st.st_mtime_ns // 1000 / 1e6, tz=timezone.utc)


def observe(data: Mapping[str, Any]) -> Observation:
    """Observe ``data["path"]`` (absolute, as config validation resolves it) per check_mode.

    - ``file_size``: ``{"exists": true, "size": N}``; ignores rewrites of the same size.
    - ``file_modified_ts``: ``{"exists": true, "modified": ISO}``; ignores anything that
      keeps the modified time (a chmod, a copy that preserves times).
    - ``files_metadata``: the folder's files, recursively, as a ListingDigest value.
    A missing path gives ``exists: false``; a folder where a file is expected (or the
    reverse for files_metadata on a file) is an error.
    """
    path = Path(data["path"])
    mode = data.get("check_mode", "files_metadata")
    if mode == "files_metadata":
        return _files_metadata(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        return Observation.of({"exists": False}, "%s: missing" % path)
    except OSError as e:
        raise SourceError(msg="data.path: %s: cannot be read: %s" % (path, e.strerror or e)) from None
    if path.is_dir():
        raise SourceError(
            msg="data.path: %s is a folder; check_mode '%s' watches one file (use files_metadata for a folder)"
            % (path, mode)
        )
    if mode == "file_size":
        return Observation.of({"exists": True, "size": st.st_size}, "%s: %d bytes" % (path, st.st_size))
    if mode == "file_modified_ts":
        modified = iso_utc(_mtime(st))
        return Observation.of({"exists": True, "modified": modified}, "%s: modified %s" % (path, modified))
    raise SourceError(msg="data.check_mode: unknown mode %r for a local source" % (mode,))


def _files_metadata(root: Path) -> Observation:
    if not root.exists():
        return Observation.of(ListingDigest().value(exists=False), "%s: missing" % root)
    if not root.is_dir():
        raise SourceError(msg="data.path: %s is a file; files_metadata watches a folder" % root)
    entries = []
    # os.walk's onerror: an unreadable subfolder must fail loudly, not look "unchanged".
    def fail(err: OSError) -> None:
        raise SourceError(msg="data.path: %s: cannot be listed: %s" % (err.filename, err.strerror or err))

    for folder, dirs, files in os.walk(root, onerror=fail):
        for name in files:
            full = os.path.join(folder, name)
            try:
                st = os.stat(full)
            except FileNotFoundError:
                # Removed (or a dangling symlink) between listing and stat: the file is
                # not there, which is what this observation should record.
                continue
            entries.append((Path(full).relative_to(root).as_posix(), st.st_size, _mtime(st)))
    digest = ListingDigest()
    for rel, size, modified in sorted(entries):
        digest.add(rel, size, modified)
    return Observation.of(digest.value(exists=True), digest.summary(str(root)))
