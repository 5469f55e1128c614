"""Masking secrets in text before it reaches a message, a log, an artifact or a card.

Two kinds of secret end up in our messages: known values (a Snowflake password, a key
passphrase) and URLs that carry credentials (``https://user:pass@host``,
``https://host/hook?token=...``). A URL is masked wherever it appears in a text: its
user info, every query value and its fragment become ``[masked]``; scheme, host, port and path
stay, so the message still says where the request went.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Optional, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

# Not "***": Metaflow prints an exception's message splitting it on "*" (its highlight
# markup), so "?token=***" would reach the log as "?token=".
MASK = "[masked]"
# Secret parts of a URL shorter than this are masked only inside the URL, not loose.
MIN_LOOSE_SECRET_CHARS = 4

# A URL inside free text: scheme://... up to whitespace, a quote or an angle bracket
# (how URLs end inside exception texts, reprs and HTML).
# Punctuation that ends a sentence ("... to http://h/x: refused") is not part of it.
_URL_RE = re.compile(r"""[A-Za-z][A-Za-z0-9+.\-]*://[^\s'"<>`]*[^\s'"<>`:.,;)\]]""")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
# What may follow the @ that ends the user info: a host (reg-name, IPv4 or [IPv6]), an
# optional port, then the end of the URL or of the authority.
_HOST_AFTER_AT_RE = re.compile(r"@(?:\[[0-9A-Za-z:.%]*\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::[0-9]*)?(?=[/?#]|$)")
# name=value pairs of a query; a bare item (no "=") may itself be a token.
_QUERY_ITEM_RE = re.compile(r"([^&;=]*)(=?)([^&;]*)")


def split_userinfo(url: str) -> Tuple[str, Optional[str], str]:
    """``(scheme://, user info or None, the rest)`` of ``url``.

    The user info runs up to the *last* ``@`` that is followed by a host, not to the first
    ``/``, ``?`` or ``#`` as RFC 3986 says: generated passwords often hold those unencoded
    (``http://hook:Sec/ret@host/x``), and a mask that follows the RFC would print the part
    after the ``/``. A path holding ``@host`` is then masked too much, never too little.
    """
    scheme = _SCHEME_RE.match(url)
    if scheme is None:
        return "", None, url
    prefix, body = scheme.group(0), url[scheme.end() :]
    at = body.rfind("@")
    while at >= 0:
        if _HOST_AFTER_AT_RE.match(body, at):
            return prefix, body[:at], body[at + 1 :]
        at = body.rfind("@", 0, at)
    return prefix, None, body


def ambiguous_userinfo(url: str) -> bool:
    """True when ``url``'s user info holds an unencoded ``/``, ``?`` or ``#``.

    HTTP clients (urllib, botocore, curl) then take part of the password for the host or
    port, send the request elsewhere and quote that piece in their errors.
    """
    userinfo = split_userinfo(url)[1]
    return userinfo is not None and any(c in userinfo for c in "/?#")


def mask_url(url: str) -> str:
    """``url`` with its user info, query values and fragment replaced by ``[masked]``."""
    prefix, userinfo, rest = split_userinfo(url)
    url = prefix + ("%s@" % MASK if userinfo is not None else "") + rest
    url, hash_, fragment = url.partition("#")
    base, question, query = url.partition("?")
    if question:
        query = _QUERY_ITEM_RE.sub(_mask_query_item, query)
    return base + question + query + (hash_ + MASK if fragment else "")


def _mask_query_item(match: re.Match[str]) -> str:
    name, eq, value = match.groups()
    if not name and not eq:
        return ""
    if not eq:
        return MASK  # "?abcdef": the whole item may be the token
    return "%s=%s" % (name, MASK if value else "")


def url_secrets(url: Optional[str]) -> List[str]:
    """The secret parts of ``url`` (user, password, query values, fragment), raw and decoded.

    Used to mask them where they appear on their own, e.g. when a library quotes only a
    piece of the URL in its error.
    """
    if not url:
        return []
    found: List[str] = []
    prefix, userinfo, rest = split_userinfo(url)
    if userinfo is not None:
        user, colon, password = userinfo.partition(":")
        # A lone user is a token (https://TOKEN@host); beside a password it is a name,
        # and masking it loose would garble words such as "sensor" in every message.
        found.append(password if colon else user)
        # Pieces a client may quote after splitting the URL at the RFC's first / ? #.
        found += [piece for piece in re.split(r"[/?#]", password if colon else user)[1:] if piece]
    try:
        parts = urlsplit(prefix + rest)
    except ValueError:
        parts = None
    if parts is not None:
        found += [value for _, value in parse_qsl(parts.query, keep_blank_values=False)]
        found += [item for item in parts.query.split("&") if item and "=" not in item]
        found.append(parts.fragment)
    # Both spellings: a library may print the URL percent-decoded or as given.
    found += [unquote(s) for s in found]
    # Longest first, so a secret that contains another is masked whole. Very short values
    # ("?v=1") are not secrets worth garbling every digit of a message for; inside the URL
    # itself they are masked anyway.
    return sorted({s for s in found if len(s) >= MIN_LOOSE_SECRET_CHARS}, key=len, reverse=True)


def mask_values(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret value replaced by ``[masked]``, and on one line."""
    for secret in secrets:
        if secret:
            # Whole tokens only: a short password such as "snow" must not turn the word
            # "snowflake" into "[masked]flake" (garbling the message and hinting at the secret).
            text = re.sub(r"(?<![A-Za-z0-9])%s(?![A-Za-z0-9])" % re.escape(secret), MASK, text)
    return text.replace("\r", " ").replace("\n", " ")


def mask_urls(text: str, urls: Iterable[Optional[str]] = ()) -> str:
    """``text`` on one line, with every URL in it masked and the secret parts of ``urls``
    (the URLs the caller used) masked wherever they appear on their own."""
    known = sorted({url for url in urls if url}, key=len, reverse=True)
    # The URLs the caller used first, whole: a password may hold characters (quotes, <>)
    # that end a URL found in free text.
    # They stand aside as placeholders while the pattern masks the rest, which would
    # otherwise mask their masked form a second time.
    placeholders = {}
    for i, url in enumerate(known):
        if url in text:
            placeholders["\x00%d\x00" % i] = mask_url(url)
            text = text.replace(url, "\x00%d\x00" % i)
    text = _URL_RE.sub(lambda m: mask_url(m.group(0)), text)
    for placeholder, masked in placeholders.items():
        text = text.replace(placeholder, masked)
    secrets: List[str] = []
    for url in known:
        secrets += url_secrets(url)
    return mask_values(text, secrets)
