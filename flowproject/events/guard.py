"""What ``flowproject events serve`` accepts: only its own user's requests, bounded.

A browser page can POST to 127.0.0.1 (``fetch(..., {mode: "no-cors"})`` with
``text/plain``) and DNS rebinding can make it same-origin, so every request must carry
the per-start token in its path, name the bound loopback address in ``Host``, come
from no other ``Origin`` and declare ``application/json`` (which a no-cors page cannot
send). Bodies are capped before they are read and JSON is depth-limited before it is
parsed, so no request can cost more than ``MAX_BODY_BYTES`` or end in a traceback.
"""

from __future__ import annotations

import hmac
import json
import secrets
from http import HTTPStatus
from typing import Any, Dict, Optional, Protocol, Tuple

# Argo Events' webhook event source refuses bodies above 1 MB by default.
MAX_BODY_BYTES = 1024 * 1024
# Deeper than any real event; json.loads would recurse far deeper and raise RecursionError.
MAX_JSON_DEPTH = 64
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class Refused(Exception):
    """A request answered with ``status`` and a one-line ``message``."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def new_token() -> str:
    return secrets.token_urlsafe(24)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> frozenset:
    """The ``Host`` values a same-machine client sends for the bound address."""
    names = set(LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else {host})
    if host in ("127.0.0.1", "localhost"):
        names -= {"::1", "[::1]"}
    return frozenset("%s:%d" % (n if ":" not in n or n.startswith("[") else "[%s]" % n, port) for n in names)


def check_path(path: str, token: str) -> None:
    # Compared in constant time: the token is the only secret between a page and the runs.
    given = path.split("?", 1)[0].strip("/")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("ascii")):
        raise Refused(HTTPStatus.NOT_FOUND, "not found (POST to the URL printed by `events serve`)")


class Headers(Protocol):
    """What ``check_headers`` reads: http.server's ``email.message.Message`` or a dict."""

    def get(self, name: str, /) -> Optional[str]: ...


def check_headers(headers: Headers, hosts: Optional[frozenset]) -> int:
    """Refuse a foreign Host/Origin or a non-JSON body; returns the Content-Length."""
    if hosts is not None and (headers.get("Host") or "").lower() not in hosts:
        raise Refused(HTTPStatus.MISDIRECTED_REQUEST, "Host must be one of %s" % ", ".join(sorted(hosts)))
    origin = headers.get("Origin")
    if origin is not None and (hosts is None or origin.lower() not in {"http://" + h for h in hosts}):
        raise Refused(HTTPStatus.FORBIDDEN, "cross-origin requests are refused")
    if (headers.get("Sec-Fetch-Site") or "same-origin") not in ("same-origin", "none"):
        raise Refused(HTTPStatus.FORBIDDEN, "cross-site requests are refused")
    ctype = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")
    if headers.get("Transfer-Encoding"):
        raise Refused(HTTPStatus.LENGTH_REQUIRED, "chunked bodies are not accepted; send Content-Length")
    raw = headers.get("Content-Length")
    if raw is None:
        raise Refused(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
    if not raw.strip().isdigit():
        raise Refused(HTTPStatus.BAD_REQUEST, "Content-Length must be a non-negative integer")
    length = int(raw)
    if length > MAX_BODY_BYTES:
        raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body over %d bytes" % MAX_BODY_BYTES)
    return length


def _depth(text: str) -> int:
    # Bracket depth outside strings: cheap, and bounds json.loads' recursion before it runs.
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_event(raw: bytes) -> Tuple[str, Dict[str, Any], Optional[str]]:
    """(event name, payload, event id) of a webhook body ``{"name", "payload", "id"?}``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(HTTPStatus.BAD_REQUEST, "body is not UTF-8") from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise Refused(HTTPStatus.BAD_REQUEST, "JSON nested deeper than %d levels" % MAX_JSON_DEPTH)
    try:
        body = json.loads(text)
    except ValueError:
        raise Refused(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
    name = body.get("name") if isinstance(body, dict) else None
    payload = body.get("payload", {}) if isinstance(body, dict) else None
    if not isinstance(name, str) or not name or not isinstance(payload, dict):
        raise Refused(HTTPStatus.BAD_REQUEST, 'expected {"name": str, "payload": object}')
    # Metaflow's Argo Sensor matches on the payload's `name` (ArgoEvent copies the
    # event name there); a hand-written event without one is matched on its name.
    if isinstance(payload.get("name"), str):
        name = payload["name"]
    if "\x00" in name:
        raise Refused(HTTPStatus.BAD_REQUEST, "event name contains NUL")
    event_id = payload.get("id", body.get("id"))
    return name, payload, str(event_id) if event_id is not None else None
