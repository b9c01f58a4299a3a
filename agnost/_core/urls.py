"""The environment URL: checked once, at construction, and put in the one form both
flavours send byte for byte (protocol.md §1).

Pure and standard-library only. No message here quotes the URL: it may carry a password.
"""

from __future__ import annotations

import ipaddress
import re
import string
import unicodedata
from typing import NoReturn
from urllib.parse import quote, urlsplit

from .errors import InvalidArgumentError

__all__ = ["base_url", "encode_path"]

_CODE = "invalid_env_url"
_ASCII_SPACE = " \t\n\r\f\v"
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
#: Kept as they are in a path: RFC 3986 pchar, "/" and existing escapes.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def base_url(env_url: object) -> str:
    """The base URL of ``env_url``, or :class:`InvalidArgumentError` saying what is wrong.

    Trimmed of ASCII white space, one trailing ``/`` removed, the scheme in lower case.
    Refused: a missing ``http://``/``https://`` (``missing_required_value``); user info, a
    query, a fragment, a bad port or host, control or separator characters (U+2028 and the
    like, which no trimming removes), a ``.`` or ``..`` segment, an empty last segment
    (``invalid_env_url``). Spaces and non-ASCII characters of the path are percent-encoded
    (UTF-8), escapes of unreserved characters decoded and the others upper-cased, so that
    both flavours send the same bytes.
    """
    if not isinstance(env_url, str):
        _missing()
    url = env_url.strip(_ASCII_SPACE)
    if not url[:8].lower().startswith(("http://", "https://")):
        _missing()
    if any(_unseen(char) for char in url):
        _refuse("must not contain control or separator characters (a NUL, a newline, U+2028...)")
    if "#" in url:
        _refuse("must not have a #fragment")
    if "?" in url:
        _refuse("must not have a ?query: every request's own query would replace it")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        _refuse("has an invalid host or port (the port must be a number from 0 to 65535)")
    if "@" in parts.netloc:
        _refuse("must not carry a user name or password (give the API key as api_key)")
    host = parts.hostname or ""
    if not _valid_host(host, bracketed=parts.netloc.startswith("[")):
        _refuse(
            "has an invalid host: a DNS name (in its xn-- form), an IPv4 or [IPv6] address"
            " (without a %zone)"
        )
    if parts.netloc.endswith(":") or (port is not None and port < 1):
        _refuse("has an invalid port (the port must be a number from 1 to 65535)")
    if _BAD_ESCAPE.search(parts.path):
        _refuse("has a % in its path that is not a %XX escape (write %25)")
    path = encode_path(parts.path)
    # requests and aiohttp treat dot segments differently (one resolves them, the other
    # sends them), and a server may resolve them above the environment's own path.
    if any(segment in (".", "..") for segment in path.split("/")):
        _refuse("must not have a . or .. segment in its path")
    path = path[:-1] if path.endswith("/") else path
    if path.endswith("/"):
        # The base would end with "/": every request would go to "...//_api/...".
        _refuse("must not end with an empty path segment (//)")
    return f"{parts.scheme}://{parts.netloc}{path}"


def encode_path(path: str) -> str:
    """``path`` as both flavours send it: spaces and non-ASCII characters percent-encoded
    (UTF-8), escapes of unreserved characters decoded and the others upper-cased, as RFC
    3986 normalises them. Its ``%`` must all start ``%XX`` escapes already."""
    encoded = quote(path, safe=_PATH_SAFE)
    return _ESCAPE.sub(_normal_escape, encoded)


def _normal_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else match.group(0).upper()


def _unseen(char: str) -> bool:
    """A control, format or separator character (a space is encoded instead)."""
    return char != " " and unicodedata.category(char)[0] in "CZ"


def _valid_host(host: str, *, bracketed: bool) -> bool:
    if bracketed:
        if "%" in host:  # a zone ID names an interface of this machine only
            return False
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    if not (host.isascii() and _HOST_NAME.fullmatch(host)):
        return False
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if all(label.isdigit() for label in labels):
        # Numeric: only a canonical IPv4 address (no trailing dot, 4 parts of 0-255).
        return name == host and len(labels) == 4 and _ipv4(host)
    return len(name) <= 253 and all(
        len(label) <= 63 and not label.startswith("-") and not label.endswith("-")
        for label in labels
    )


def _ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _missing() -> NoReturn:
    raise InvalidArgumentError(
        "missing_required_value",
        "env_url is required and must start with http:// or https:// (the scheme is missing)",
    )


def _refuse(why: str) -> NoReturn:
    raise InvalidArgumentError(_CODE, f"env_url {why}")
