"""The environment URL: checked once, at construction, and put in the one form both
flavours send byte for byte (protocol.md §1).

Pure and standard-library only. No message here quotes the URL: it may carry a password.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NoReturn
from urllib.parse import quote, urlsplit

from .errors import InvalidArgumentError

__all__ = ["base_url", "encode_path"]

_CODE = "invalid_env_url"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UNRESERVED_ESCAPE = re.compile(r"%(2[DdEe]|3[0-9]|[46][1-9A-Fa-f]|[57][0-9Aa]|5[Ff]|7[Ee])")
#: Kept as they are in a path: RFC 3986 pchar, "/" and existing escapes.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def base_url(env_url: object) -> str:
    """The base URL of ``env_url``, or :class:`InvalidArgumentError` saying what is wrong.

    Trimmed, one trailing ``/`` removed. Refused: a missing ``http://``/``https://``
    (``missing_required_value``); user info, a query, a fragment, a bad port or host, control
    characters (``invalid_env_url``). Spaces and non-ASCII characters of the path are
    percent-encoded (UTF-8), and escapes of unreserved characters decoded, as requests
    does, so that both flavours send the same bytes.
    """
    if not isinstance(env_url, str) or not env_url.strip().startswith(("http://", "https://")):
        raise InvalidArgumentError(
            "missing_required_value",
            "env_url is required and must start with http:// or https:// (the scheme is missing)",
        )
    url = env_url.strip()
    if _CONTROL.search(url):
        _refuse("must not contain control characters (a NUL, a newline, a tab...)")
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
        _refuse("has an invalid host: a DNS name (in its xn-- form), an IPv4 or [IPv6] address")
    if parts.netloc.endswith(":") or (port is not None and port < 1):
        _refuse("has an invalid port (the port must be a number from 1 to 65535)")
    if _BAD_ESCAPE.search(parts.path):
        _refuse("has a % in its path that is not a %XX escape (write %25)")
    base = f"{parts.scheme}://{parts.netloc}{encode_path(parts.path)}"
    return base[:-1] if base.endswith("/") else base


def encode_path(path: str) -> str:
    """``path`` as both flavours send it: spaces and non-ASCII characters percent-encoded
    (UTF-8), escapes of unreserved characters decoded, as requests does. Its ``%`` must
    all start ``%XX`` escapes already."""
    encoded = quote(path, safe=_PATH_SAFE)
    return _UNRESERVED_ESCAPE.sub(lambda m: bytes.fromhex(m.group(1)).decode(), encoded)


def _valid_host(host: str, *, bracketed: bool) -> bool:
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return host.isascii() and _HOST_NAME.fullmatch(host) is not None


def _refuse(why: str) -> NoReturn:
    raise InvalidArgumentError(_CODE, f"env_url {why}")
