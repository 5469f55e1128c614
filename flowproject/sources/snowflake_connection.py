"""Open a Snowflake connection for the sensor: credentials, session settings, cleanup.

Credentials, in this order:

1. the Outerbounds integration named by ``[data] integration``, when
   ``from metaflow import Snowflake`` works (Outerbounds' Metaflow extension);
2. ``SNOWFLAKE_*`` environment variables (what Metaflow's ``@secrets`` provides):
   ``SNOWFLAKE_ACCOUNT`` and ``SNOWFLAKE_USER``, then key-pair auth through
   ``SNOWFLAKE_PRIVATE_KEY_FILE`` or ``SNOWFLAKE_PRIVATE_KEY`` (PEM; optional
   ``SNOWFLAKE_PRIVATE_KEY_PASSPHRASE``), else ``SNOWFLAKE_PASSWORD``; optional
   ``SNOWFLAKE_ROLE``, ``_WAREHOUSE``, ``_DATABASE``, ``_SCHEMA``, ``_HOST``, ``_PORT``,
   ``_PROTOCOL``.

Secrets are never put into a message: errors from the connector are re-raised as one
line with any secret value masked, and without the connector's exception chained.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Mapping, Optional

from ..secrets import mask_urls, mask_values
from .errors import SnowflakeCredentialsError, SnowflakeError

REQUIRED_ENV = ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER")
# Key-pair first: Snowflake is retiring password sign-in for service users.
AUTH_ENV = ("SNOWFLAKE_PRIVATE_KEY_FILE", "SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_PASSWORD")
# Passed through to snowflake.connector.connect() under these argument names.
OPTIONAL_ENV = {
    "SNOWFLAKE_ROLE": "role",
    "SNOWFLAKE_WAREHOUSE": "warehouse",
    "SNOWFLAKE_DATABASE": "database",
    "SNOWFLAKE_SCHEMA": "schema",
    "SNOWFLAKE_HOST": "host",
    "SNOWFLAKE_PROTOCOL": "protocol",
}
SECRET_ENV = ("SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE")


def _outerbounds_snowflake() -> Optional[Any]:
    try:
        from metaflow import Snowflake  # only Outerbounds' extension provides it
    except ImportError:
        return None
    return Snowflake


def _private_key_der(pem: bytes, passphrase: Optional[str], source: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(pem, password=passphrase.encode() if passphrase else None)
    except (ValueError, TypeError) as e:
        # The exception text never contains the key, but name only its type to be sure.
        raise SnowflakeCredentialsError(
            msg="%s: cannot load the private key (%s); expected a PEM key, with "
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE if it is encrypted" % (source, type(e).__name__)
        ) from None
    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def connection_kwargs(environ: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """``snowflake.connector.connect()`` arguments from ``SNOWFLAKE_*`` variables.

    Raises SnowflakeCredentialsError naming the variables when any required one is unset.
    """
    env = os.environ if environ is None else environ
    missing: List[str] = [name for name in REQUIRED_ENV if not env.get(name)]
    if not any(env.get(name) for name in AUTH_ENV):
        missing.append(" or ".join(AUTH_ENV))
    if missing:
        raise SnowflakeCredentialsError(
            msg="Snowflake credentials missing: set %s (or [data] integration on Outerbounds)" % ", ".join(missing)
        )
    kwargs: Dict[str, Any] = {"account": env["SNOWFLAKE_ACCOUNT"], "user": env["SNOWFLAKE_USER"]}
    for name, arg in OPTIONAL_ENV.items():
        if env.get(name):
            kwargs[arg] = env[name]
    if env.get("SNOWFLAKE_PORT"):
        try:
            kwargs["port"] = int(env["SNOWFLAKE_PORT"])
        except ValueError:
            raise SnowflakeCredentialsError(
                msg="SNOWFLAKE_PORT: expected a port number; got %r" % env["SNOWFLAKE_PORT"]
            ) from None
    passphrase = env.get("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE")
    if env.get("SNOWFLAKE_PRIVATE_KEY_FILE"):
        path = os.path.expanduser(env["SNOWFLAKE_PRIVATE_KEY_FILE"])
        try:
            with open(path, "rb") as f:
                pem = f.read()
        except OSError as e:
            raise SnowflakeCredentialsError(
                msg="SNOWFLAKE_PRIVATE_KEY_FILE: %s cannot be read: %s" % (path, e.strerror or e)
            ) from None
        kwargs["private_key"] = _private_key_der(pem, passphrase, "SNOWFLAKE_PRIVATE_KEY_FILE")
    elif env.get("SNOWFLAKE_PRIVATE_KEY"):
        kwargs["private_key"] = _private_key_der(
            env["SNOWFLAKE_PRIVATE_KEY"].encode(), passphrase, "SNOWFLAKE_PRIVATE_KEY"
        )
    else:
        kwargs["password"] = env["SNOWFLAKE_PASSWORD"]
    return kwargs


def session_parameters(query_tag: str, timeout_seconds: int) -> Dict[str, Any]:
    """What every sensor session sets: who is asking, and how long a statement may run."""
    return {"QUERY_TAG": query_tag, "STATEMENT_TIMEOUT_IN_SECONDS": int(timeout_seconds)}


def secret_values(environ: Optional[Mapping[str, str]] = None) -> List[str]:
    env = os.environ if environ is None else environ
    return [env[name] for name in SECRET_ENV if env.get(name)]


def describe_error(err: BaseException, where: str) -> str:
    """One line about a connector error, with every secret value masked."""
    text = "%s: %s" % (where, getattr(err, "msg", None) or err)
    errno = getattr(err, "errno", None)
    if errno and errno != -1 and str(errno) not in text:  # -1: the connector had no code
        text = "%s (errno %s)" % (text, errno)
    return mask_values(mask_urls(text), secret_values())


@contextmanager
def connect(*, query_tag: str, timeout_seconds: int, integration: Optional[str] = None) -> Iterator[Any]:
    """A connection with QUERY_TAG and STATEMENT_TIMEOUT_IN_SECONDS set; always closed.

    ``timeout_seconds`` also bounds the login, so an unreachable account fails in time.
    """
    params = session_parameters(query_tag, timeout_seconds)
    outerbounds = _outerbounds_snowflake() if integration else None
    if outerbounds is not None:
        with outerbounds(integration=integration) as conn:
            cur = conn.cursor()
            try:
                # Bound, not formatted: the tag carries a run pathspec we do not control.
                cur.execute("ALTER SESSION SET QUERY_TAG = %(tag)s", {"tag": params["QUERY_TAG"]})
                cur.execute(
                    "ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = %(t)s",
                    {"t": params["STATEMENT_TIMEOUT_IN_SECONDS"]},
                )
            finally:
                cur.close()
            yield conn
        return

    kwargs = connection_kwargs()
    import snowflake.connector

    where = "snowflake: connecting to account %r as user %r" % (kwargs["account"], kwargs["user"])
    if kwargs.get("host"):
        where += " at %s://%s:%s" % (kwargs.get("protocol", "https"), kwargs["host"], kwargs.get("port", 443))
    try:
        conn = snowflake.connector.connect(session_parameters=params, login_timeout=int(timeout_seconds), **kwargs)
    except snowflake.connector.errors.Error as e:
        raise SnowflakeError(msg=describe_error(e, where)) from None
    try:
        yield conn
    finally:
        conn.close()
