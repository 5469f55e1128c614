"""A private folder for Metaflow's Client cache (artifact blobs and logs read back from runs).

Metaflow keeps those blobs in ``METAFLOW_CLIENT_CACHE_PATH``, by default the shared
``/tmp/metaflow_client``, whose per-flow folders any local user can create first and fill
with pickles that the next reader unpickles. Every Client read flowproject makes goes
through :func:`flowproject.getters.runs.any_namespace`, which calls :func:`use_private_cache`.

How Metaflow reads the setting (verified by running it): ``metaflow_config`` reads the
environment variable once, at import; ``metaflow.client.filecache`` copies it into its own
global; the first artifact read builds one ``FileCache`` per process
(``metaflow.client.core.filecache``) that keeps its folder for good. So the globals are
updated, a cache built for another folder is dropped, and the environment variable is set
for subprocesses.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from ..errors import FlowprojectError

__all__ = ["METAFLOW_DEFAULT_CACHE", "CacheFolderError", "client_cache_dir", "default_cache_dir", "use_private_cache"]

METAFLOW_DEFAULT_CACHE = "/tmp/metaflow_client"
PRIVATE_MODE = 0o700
# The folder use_private_cache last checked and installed in this process.
_checked = ""


class CacheFolderError(FlowprojectError):
    headline = "Unsafe Client cache folder"


def default_cache_dir() -> Path:
    """The persistent per-user folder flowproject gives Metaflow's Client cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flowproject" / "metaflow_client"


def client_cache_dir() -> Path:
    """The Client cache folder in use: the user's choice, else ``default_cache_dir()``."""
    from metaflow import metaflow_config

    chosen = os.environ.get("METAFLOW_CLIENT_CACHE_PATH") or metaflow_config.CLIENT_CACHE_PATH
    if chosen and chosen != METAFLOW_DEFAULT_CACHE:
        return Path(chosen)
    return default_cache_dir()


def _private(path: Path, source: str) -> Path:
    """``path`` as a folder only this user can use; CacheFolderError (one line) otherwise."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=PRIVATE_MODE)
    except FileExistsError:
        pass
    try:
        link = os.lstat(path)
        info = os.stat(path)
    except OSError as e:
        raise CacheFolderError("%s %s: cannot be used: %s" % (source, path, e.strerror or e)) from None
    uid = os.getuid()
    if not stat.S_ISDIR(info.st_mode):
        raise CacheFolderError("%s %s: is not a folder; remove it or choose another" % (source, path))
    if link.st_uid != uid or info.st_uid != uid:
        raise CacheFolderError(
            "%s %s: belongs to another user (uid %d), who could plant artifacts there; remove it or choose another"
            % (source, path, info.st_uid if info.st_uid != uid else link.st_uid)
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        # Others could have written blobs into it already: tightening it now is too late.
        raise CacheFolderError(
            "%s %s: is writable by other users (mode %o), who could plant artifacts there; "
            "remove it (flowproject cache clear) or choose another" % (source, path, mode)
        )
    if mode & 0o077:
        # Readable only: nothing can have been planted; keep it, but stop others reading artifacts.
        os.chmod(path, PRIVATE_MODE)
    return path


def _fallback() -> Path:
    # No writable home (a pod, a CI runner): a fresh folder only this process knows of.
    return Path(tempfile.mkdtemp(prefix="flowproject-client-cache-"))


def use_private_cache() -> Path:
    """Point Metaflow's Client cache at a private ``client_cache_dir()`` and return it.

    Raises CacheFolderError when the folder belongs to another user or others may write it.
    When the default folder cannot be created at all, a new private temporary one is used.
    """
    from metaflow import metaflow_config
    from metaflow.client import core, filecache

    global _checked
    wanted = client_cache_dir()
    if _checked == str(wanted) == filecache.CLIENT_CACHE_PATH:
        return wanted  # already checked in this process: every Client read calls this
    explicit = wanted != default_cache_dir()
    source = "METAFLOW_CLIENT_CACHE_PATH" if explicit else "Client cache folder"
    try:
        path = _private(wanted, source)
    except OSError as e:
        if explicit:
            raise CacheFolderError("%s %s: cannot be created: %s" % (source, wanted, e.strerror or e)) from None
        path = _fallback()
    os.environ["METAFLOW_CLIENT_CACHE_PATH"] = str(path)
    metaflow_config.CLIENT_CACHE_PATH = str(path)
    filecache.CLIENT_CACHE_PATH = str(path)
    cache = getattr(core, "filecache", None)
    if cache is not None and getattr(cache, "_cache_dir", None) != str(path):
        core.filecache = None  # built for another folder (the shared default): the next read builds ours
    _checked = str(path)
    return path
