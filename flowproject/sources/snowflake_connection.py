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
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

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
# The connector's codes for "could not connect" and "request failed" (timeouts included).
NETWORK_ERRNOS = frozenset({250001, 250003})
SECRET_ENV = ("SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE")


def _outerbounds_snowflake() -> Optional[Any]:
    try:
        from metaflow import Snowflake  # type: ignore[attr-defined]  # only Outerbounds' extension provides it
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


def describe_error(err: BaseException, where: str, timeout_seconds: Optional[int] = None) -> str:
    """One line about a connector error, with every secret value masked.

    With ``timeout_seconds``, a network failure says which setting bounded the wait.
    """
    text = "%s: %s" % (where, getattr(err, "msg", None) or err)
    errno = getattr(err, "errno", None)
    if errno and errno != -1 and str(errno) not in text:  # -1: the connector had no code
        text = "%s (errno %s)" % (text, errno)
    if timeout_seconds and errno in NETWORK_ERRNOS:
        text += "; gave up after [data] timeout_seconds = %d" % timeout_seconds
    return mask_values(mask_urls(text), secret_values())


def client_timeouts(timeout_seconds: int) -> Dict[str, int]:
    """Connector options so that ``timeout_seconds`` bounds the client, not only the server.

    ``login_timeout`` alone does not: each login attempt waits for a silent server up to
    the connector's 60 s socket default. ``socket_timeout`` bounds each read and
    ``network_timeout`` each request with its retries (login, query, result polling);
    without it a query whose answer never comes is retried forever.
    """
    seconds = int(timeout_seconds)
    return {"login_timeout": seconds, "network_timeout": seconds, "socket_timeout": seconds}


def _errorhandler(owner_thread: int) -> Callable[..., None]:
    """The connector's default error handling, except in its query-cancelling thread.

    With ``network_timeout`` set the connector also starts a timer that sends an abort
    for a query still running at the deadline. When the server is silent the abort fails
    too, in that timer's thread, where a raised error only becomes a stray traceback
    after our one-line error. There it is reported as one line instead.
    """
    from snowflake.connector.errors import Error

    def handle(connection: Any, cursor: Any, error_class: type, error_value: Dict[str, Any]) -> None:
        if threading.get_ident() != owner_thread and isinstance(threading.current_thread(), threading.Timer):
            text = "snowflake: cancelling the timed-out query failed too: %s" % error_value.get("msg")
            print(mask_values(mask_urls(text), secret_values()), file=sys.stderr)
            return
        Error.default_errorhandler(connection, cursor, error_class, error_value)

    return handle


@contextmanager
def connect(*, query_tag: str, timeout_seconds: int, integration: Optional[str] = None) -> Iterator[Any]:
    """A connection with QUERY_TAG and STATEMENT_TIMEOUT_IN_SECONDS set; always closed.

    ``timeout_seconds`` also bounds the client (``client_timeouts``): a login to a silent
    server and a query whose answer never comes fail after about that long.
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
        conn = snowflake.connector.connect(session_parameters=params, **client_timeouts(timeout_seconds), **kwargs)
    except snowflake.connector.errors.Error as e:
        raise SnowflakeError(msg=describe_error(e, where, int(timeout_seconds))) from None
    conn.errorhandler = _errorhandler(threading.get_ident())
    try:
        yield conn
    finally:
        conn.close()


def fetch_capped(
    sql: str,
    params: Any,
    *,
    limit: int,
    where: str,
    query_tag: str,
    timeout_seconds: int,
    integration: Optional[str] = None,
    over_limit: str,
) -> Tuple[List[Any], List[str]]:
    """Run one statement and return (at most ``limit`` rows, column names).

    One more row than allowed is fetched, to tell "exactly at the cap" from "over it":
    over it is one line naming ``where`` with the advice ``over_limit``, as is every
    connector error.
    """
    with connect(query_tag=query_tag, timeout_seconds=timeout_seconds, integration=integration) as conn:
        import snowflake.connector

        cur = conn.cursor()
        try:
            cur.execute(sql, params)
            rows = cur.fetchmany(limit + 1)
            columns = [d[0] for d in (cur.description or ())]
        except snowflake.connector.errors.Error as e:
            raise SnowflakeError(msg=describe_error(e, where, timeout_seconds)) from None
        finally:
            cur.close()
    if len(rows) > limit:
        raise SnowflakeError(msg="%s returned more than %d rows; %s" % (where, limit, over_limit))
    return rows, columns
