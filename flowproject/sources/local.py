"""``type = "local"``: a file's size or modified time, or a folder's files."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Protocol, Set, Tuple

from .errors import SourceError
from .listing import ListingDigest, iso_utc_us
from .observation import Observation


class _Digest(Protocol):
    """What the walk calls: ``ListingDigest`` and ``items.Listing`` both take it."""

    def add_stats(self, prefix: bytes, files: List[Tuple[str, os.stat_result]]) -> None: ...

    def add_link(self, path: bytes, kind: bytes, target: bytes) -> None: ...


# A path (or a link's target) that is not there, one way or another: nothing to record.
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


def _shown(path: bytes) -> str:
    # A name that is not UTF-8 is shown with \x escapes: the message stays one printable line.
    return path.decode("utf-8", "backslashreplace")


def _failed(path: bytes, what: str, err: OSError) -> SourceError:
    return SourceError(msg="data.path: %s: %s: %s" % (_shown(path), what, err.strerror or err))


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
        raise _failed(os.fsencode(path), "cannot be read", e) from None
    if stat.S_ISDIR(st.st_mode):
        raise SourceError(
            msg="data.path: %s is a folder; check_mode '%s' watches one file (use files_metadata for a folder)"
            % (path, mode)
        )
    if mode == "file_size":
        return Observation.of({"exists": True, "size": st.st_size}, "%s: %d bytes" % (path, st.st_size))
    if mode == "file_modified_ts":
        # Nanoseconds, not the float st_mtime: a float loses the sub-microsecond part.
        modified = iso_utc_us(st.st_mtime_ns // 1000)
        return Observation.of({"exists": True, "modified": modified}, "%s: modified %s" % (path, modified))
    raise SourceError(msg="data.check_mode: unknown mode %r for a local source" % (mode,))


def _files_metadata(root: Path) -> Observation:
    where = os.fsencode(root)
    try:
        fd = os.open(where, _DIR_FLAGS)
    except OSError as e:
        if e.errno == errno.ENOTDIR and os.path.exists(where):
            raise SourceError(msg="data.path: %s is a file; files_metadata watches a folder" % root) from None
        if e.errno in _GONE:
            return Observation.of(ListingDigest().value(exists=False), "%s: missing" % root)
        raise _failed(where, "cannot be listed", e) from None
    digest = ListingDigest()
    _walk(fd, where, digest)
    return Observation.of(digest.value(exists=True), digest.summary(str(root)))


class _Folder:
    """One folder of the walk: its open descriptor and its names, in listing order."""

    __slots__ = ("fd", "rel", "where", "ident", "names", "links")

    def __init__(self, fd: int, rel: bytes, where: bytes) -> None:
        self.fd, self.rel, self.where = fd, rel, where
        st = os.fstat(fd)
        self.ident = (st.st_dev, st.st_ino)
        self.names, self.links = _scan(fd, where)


def _scan(fd: int, where: bytes) -> Tuple[List[str], Dict[str, Optional[bytes]]]:
    """The folder's names sorted, a folder's name with a ``/`` after it.

    That one suffix makes walking each folder in name order give exactly the order of the
    sorted full relative paths (``a.csv`` < ``a/x`` < ``ab``), so a folder's names are all
    the walk ever holds. Links: the name of each link that is followed as a folder (None)
    or that points nowhere (its target's text).
    """
    names: List[str] = []
    links: Dict[str, Optional[bytes]] = {}
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                name = entry.name
                if entry.is_file(follow_symlinks=False):  # the common case first: one call
                    names.append(name)
                elif entry.is_dir(follow_symlinks=False):
                    names.append(name + "/")
                elif entry.is_symlink():
                    target = _resolve_link(fd, where, name)
                    if target is None:
                        links[name] = None
                        names.append(name + "/")
                    elif target:
                        links[name] = target
                        names.append(name)
                    else:
                        names.append(name)
                else:
                    names.append(name)
    except OSError as e:
        raise _failed(where, "cannot be listed", e) from None
    names.sort()
    return names, links


def _resolve_link(fd: int, where: bytes, name: str) -> Optional[bytes]:
    """None: a link to a folder; b"": to a file (or gone); else the text of a dangling link."""
    try:
        return None if stat.S_ISDIR(os.stat(name, dir_fd=fd).st_mode) else b""
    except OSError as e:
        if e.errno == errno.EACCES:
            raise _failed(where + b"/" + os.fsencode(name), "cannot follow the link", e) from None
        if e.errno not in _GONE:
            raise _failed(where + b"/" + os.fsencode(name), "cannot be read", e) from None
    return _link_text(fd, where, name)


def _link_text(fd: int, where: bytes, name: str) -> bytes:
    """What the link says it points to; b"" when the link itself went away meanwhile."""
    try:
        return os.fsencode(os.readlink(name, dir_fd=fd)) or b"?"
    except OSError as e:
        if e.errno == errno.ENOENT:
            return b""
        if e.errno == errno.EINVAL:
            return b"(not a link)"  # a folder mounted inside itself: still a loop
        raise _failed(where + b"/" + os.fsencode(name), "cannot be read", e) from None


def _walk(fd: int, root: bytes, digest: _Digest) -> None:
    """Fold every file under the open folder ``fd`` into ``digest``, depth first.

    Iterative, holding one open folder per level: no recursion limit, and no path grows
    past PATH_MAX because each name is opened relative to its folder.
    """
    stack: List[Tuple[_Folder, Iterator[str]]] = []
    ancestors: Set[Tuple[int, int]] = set()

    def enter(folder_fd: int, rel: bytes, where: bytes) -> None:
        try:
            folder = _Folder(folder_fd, rel, where)
        except BaseException:
            os.close(folder_fd)
            raise
        stack.append((folder, iter(folder.names)))
        ancestors.add(folder.ident)

    enter(fd, b"", root)
    try:
        while stack:
            folder, names = stack[-1]
            child = _fold_files(folder, names, ancestors, digest)
            if child is None:
                stack.pop()
                ancestors.discard(folder.ident)
                os.close(folder.fd)
            else:
                enter(*child)
    finally:
        for folder, _ in stack:
            os.close(folder.fd)


def _fold_files(
    folder: _Folder, names: Iterator[str], ancestors: Set[Tuple[int, int]], digest: _Digest
) -> Optional[Tuple[int, bytes, bytes]]:
    """Fold the folder's next files; stop at its next sub-folder and return it opened."""
    fd, rel, links, fsencode, stat_at = folder.fd, folder.rel, folder.links, os.fsencode, os.stat
    files: List[Tuple[str, os.stat_result]] = []
    for key in names:
        if key[-1] == "/":
            digest.add_stats(rel, files)  # everything before it, in order
            files = []
            name = key[:-1]
            opened = _open_sub(folder, name)
            if opened is None:
                continue
            st = os.fstat(opened)
            if (st.st_dev, st.st_ino) in ancestors:
                # A link back to a folder it sits in: following it would never end.
                os.close(opened)
                digest.add_link(rel + fsencode(name), b"loop", _link_text(fd, folder.where, name) or b"?")
                continue
            return opened, rel + fsencode(key), folder.where + b"/" + fsencode(name)
        target = links.get(key) if links else None
        if target:
            digest.add_stats(rel, files)
            files = []
            digest.add_link(rel + fsencode(key), b"dangling", target)
            continue
        if len(files) >= 512:  # a wide folder holds its names, not a stat result per file
            digest.add_stats(rel, files)
            files = []
        try:
            files.append((key, stat_at(key, dir_fd=fd)))
        except OSError as e:
            if e.errno in _GONE:
                continue  # removed since the folder was listed: not there, as a later look would say
            if e.errno == errno.EACCES:
                raise _failed(folder.where, "cannot be searched (it needs the x permission)", e) from None
            raise _failed(folder.where + b"/" + fsencode(key), "cannot be read", e) from None
    digest.add_stats(rel, files)
    return None


def _open_sub(folder: _Folder, name: str) -> Optional[int]:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=folder.fd)
    except OSError as e:
        if e.errno in _GONE:
            return None  # removed (or replaced by a file) since the folder was listed
        raise _failed(folder.where + b"/" + os.fsencode(name), "cannot be listed", e) from None
