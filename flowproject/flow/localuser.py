"""A Metaflow user name for local runs where the environment names none.

Metaflow takes the user from ``METAFLOW_USER``, ``SUDO_USER``, ``USERNAME`` or ``USER`` and
refuses ``root``; in a container or a CI job (no ``$USER``, or running as root) every run
stops with "Unknown user". The quick start must work there, so a flow that imports
flowproject runs as :data:`FALLBACK_USER` instead, and says so once.
"""

from __future__ import annotations

import os

from ..errors import warn

# Not "root": Metaflow refuses it, so that every root container does not share one
# namespace by accident. One fixed, recognisable name keeps reruns in one namespace.
FALLBACK_USER = "local"


def ensure_user() -> None:
    """Give Metaflow a user name when it could not determine one (else change nothing).

    Sets ``METAFLOW_USER`` (inherited by the task processes Metaflow starts) and the
    value Metaflow already read from it at import.
    """
    from metaflow import metaflow_config
    from metaflow.util import get_username

    if get_username() is not None:
        return
    os.environ["METAFLOW_USER"] = FALLBACK_USER
    metaflow_config.USER = FALLBACK_USER
    warn(
        "no Metaflow user (METAFLOW_USER, SUDO_USER, USERNAME and USER are unset or root); "
        "running as user %r: set METAFLOW_USER to choose the name" % FALLBACK_USER
    )
