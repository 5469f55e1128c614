"""Posting one event to the Argo Events webhook: ArgoEvent's request, no redirects, one deadline.

Why not ``metaflow.integrations.ArgoEvent.publish``: it sends with ``urllib.request.urlopen``,
which follows a 301/302/303 by re-sending the request as a GET *without the body*; the
redirect target answers 200 and the event counts as sent though nobody received it. And
its ``timeout=60`` bounds each socket operation, not the request: a webhook that trickles
one byte a minute holds the task forever. So the request is built here exactly as
ArgoEvent builds it (same JSON body and payload fields, same headers) and sent through an
opener that refuses redirects, in a worker thread that is abandoned at the deadline after
its socket is shut down.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import FlowprojectError
from ..secrets import ambiguous_userinfo, mask_url, mask_urls

# A refused connection (the webhook's pod restarting) is retried with backoff 1, 2, 4, ...
# seconds, as ArgoEvent does, but never past the deadline.
FIRST_BACKOFF_SECONDS = 1.0
# After the deadline the worker's socket is shut down; it gets this long to notice.
ABANDON_GRACE_SECONDS = 2.0


class PublishError(FlowprojectError):
    headline = "Sensor event not published"


def event_body(name: str, payload: Mapping[str, Any]) -> Dict[str, Any]:
    """The JSON ArgoEvent(name).publish(payload) sends, with the same default fields."""
    return {
        "name": name,
        "payload": {
            "name": name,
            "id": str(uuid.uuid4()),
            "timestamp": int(time.time()),
            "utc_date": datetime.now(timezone.utc).strftime("%Y%m%d"),
            "generated-by-metaflow": True,
            **payload,
        },
    }


def request_headers() -> Dict[str, str]:
    """ArgoEvent's headers: JSON, plus Metaflow's service headers when the webhook uses them."""
    from metaflow.metaflow_config import ARGO_EVENTS_WEBHOOK_AUTH, SERVICE_HEADERS

    headers = {"Content-Type": "application/json"}
    if ARGO_EVENTS_WEBHOOK_AUTH == "service":
        headers.update(SERVICE_HEADERS)
    return headers


def split_user_info(url: str) -> Tuple[str, Optional[str]]:
    """``url`` without ``user:pass@``, and the Basic ``Authorization`` header it stood for.

    urllib would look the whole ``user:pass@host`` up as a host name (and print it in
    the error); curl and requests send it as Basic auth, which is what a URL with
    credentials asks for.
    """
    if ambiguous_userinfo(url):
        # urllib would take the part before the "/" for host:port and quote it in its error.
        raise ValueError("its user info holds an unencoded '/', '?' or '#': percent-encode them (%2F, %3F, %23)")
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    user_info, _, host = parts.netloc.rpartition("@")
    token = base64.b64encode(unquote(user_info).encode("utf-8")).decode("ascii")
    return urlunsplit(parts._replace(netloc=host)), "Basic %s" % token


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - urllib's hook
        return None  # urllib then raises HTTPError(3xx), reported as a failed publish


class _Connections:
    """The HTTP connections a request opened, so another thread can cut them off."""

    def __init__(self) -> None:
        self.opened: List[http.client.HTTPConnection] = []

    def factory(self, cls: type):
        def make(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            conn = cls(host, **kwargs)
            self.opened.append(conn)
            return conn

        return make

    def cut(self) -> None:
        for conn in self.opened:
            sock = conn.sock
            if sock is not None:
                try:
                    # Wakes a recv() blocked in the worker thread; close() alone does not.
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed by the other side: nothing left to wake


def _opener(conns: _Connections) -> urllib.request.OpenerDirector:
    class Http(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(conns.factory(http.client.HTTPConnection), req)

    class Https(urllib.request.HTTPSHandler):
        _context: Any  # set by HTTPSHandler.__init__; typeshed does not declare it

        def https_open(self, req):
            return self.do_open(conns.factory(http.client.HTTPSConnection), req, context=self._context)

    # Instances of subclasses replace urllib's defaults; proxies from the environment
    # (http_proxy, https_proxy) still apply, as they do for ArgoEvent.
    return urllib.request.build_opener(_NoRedirect(), Http(), Https())


def _attempt(request: urllib.request.Request, seconds: float) -> Dict[str, Any]:
    """One POST within ``seconds``: {"status": int} or {"error": exc} or {"timeout": True}."""
    conns = _Connections()
    outcome: Dict[str, Any] = {}

    def send() -> None:
        try:
            with _opener(conns).open(request, timeout=seconds) as response:
                outcome["status"] = response.status
        except BaseException as e:  # handed to the caller's thread, which decides
            outcome["error"] = e

    worker = threading.Thread(target=send, name="flowproject-publish", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        conns.cut()
        worker.join(ABANDON_GRACE_SECONDS)
        return {"timeout": True}
    return outcome


def post_event(url: str, name: str, payload: Mapping[str, Any], timeout_seconds: float) -> str:
    """Send one event; its id when the webhook answered 2xx within ``timeout_seconds``.

    Raises PublishError, one line with the URL's secrets masked, on a redirect, any
    non-2xx answer, no answer in time (connecting, sending and waiting included), or a
    connection refused until the deadline.
    """
    body = event_body(name, payload)
    where = "could not publish %s to %s" % (name, url)

    def fail(why: str) -> PublishError:
        return PublishError(mask_urls("%s: %s" % (where, why), [url]))

    headers = request_headers()
    try:
        target, auth = split_user_info(url)
        if auth:
            headers["Authorization"] = auth
        request = urllib.request.Request(target, method="POST", headers=headers, data=json.dumps(body).encode("utf-8"))
    except ValueError as e:
        raise fail("not a webhook URL (%s)" % e) from None
    deadline = time.monotonic() + timeout_seconds
    backoff = FIRST_BACKOFF_SECONDS
    attempts = 0
    while True:
        attempts += 1
        outcome = _attempt(request, max(deadline - time.monotonic(), 0.001))
        if "status" in outcome:
            print("Argo Event (%s) published." % name, file=sys.stderr)
            return body["payload"]["id"]
        if outcome.get("timeout"):
            raise fail(_no_answer(timeout_seconds)) from None
        err = outcome["error"]
        if isinstance(err, urllib.error.HTTPError):
            answer = _http_answer(err)
            err.close()  # the error carries the open response
            raise fail(answer) from None
        reason = getattr(err, "reason", err)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise fail(_no_answer(timeout_seconds)) from None
        if isinstance(reason, ConnectionRefusedError) and time.monotonic() + backoff < deadline:
            time.sleep(backoff)
            backoff *= 2
            continue
        if isinstance(reason, ConnectionRefusedError):
            raise fail(
                "connection refused (%d attempt%s within [sensor] publish_timeout_seconds = %g)"
                % (attempts, "" if attempts == 1 else "s", timeout_seconds)
            ) from None
        if not isinstance(err, Exception):
            raise err  # KeyboardInterrupt and friends are not ours to turn into a message
        raise fail("%s: %s" % (type(err).__name__, reason)) from None


def _no_answer(timeout_seconds: float) -> str:
    return "no complete answer within %g s ([sensor] publish_timeout_seconds)" % timeout_seconds


def _http_answer(err: urllib.error.HTTPError) -> str:
    text = "the webhook answered %d %s" % (err.code, err.reason)
    if 300 <= err.code < 400:
        location = err.headers.get("Location") if err.headers else None
        text += (
            " (a redirect%s); redirects are never followed, because urllib re-sends the event "
            "as a GET without its body: set METAFLOW_ARGO_EVENTS_WEBHOOK_URL to the final address"
            % (" to %s" % mask_url(location) if location else "")
        )
    return text
