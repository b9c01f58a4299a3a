"""Which hosts and browser origins the emulator trusts: loopback ones, and those it is told.

Kept free of aiohttp and ua-parser so the command line can use it before either is needed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = [
    "base_url_for",
    "host_allowed",
    "is_loopback",
    "normalise_host",
    "normalise_origin",
    "origin_allowed",
    "redirect_url_problem",
]

# One label of a host name (underscores too: docker service names may have them).
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
# A host name in a URL (DNS labels in their xn-- form, or an IPv4 address), as the clients'
# env URL check takes it (agnost/_core/urls.py).
_URL_HOST = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")


def base_url_for(host: str, port: int) -> str:
    """The URL clients use for a server bound to ``host``: ``http://127.0.0.1:8080`` and such.

    A wildcard bind (``0.0.0.0``, ``::``) is reached locally through the loopback address.
    """
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (``localhost``, 127.x, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_origin(origin: str) -> str | None:
    """``origin`` as a browser writes it (``http://localhost:3000``), or None if it is not one.

    An origin is an ``http``/``https`` scheme and a host with an optional port: no path, query,
    fragment or credentials (one trailing ``/`` is tolerated). Scheme and host are lower-cased.
    """
    text = origin.strip()
    text = text[:-1] if text.endswith("/") else text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    if "#" in text or "?" in text:
        return None
    host = parts.hostname.lower()
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{shown}" + (f":{port}" if port is not None else "")


def origin_allowed(origin: str, allowed: Iterable[str]) -> bool:
    """Whether a browser page on ``origin`` (an ``Origin`` header) may call the API.

    Pages served from this machine's loopback host are; so are the origins in ``allowed``
    (already normalised). ``null`` (a file or sandboxed page) and anything else are not.
    """
    normal = normalise_origin(origin)
    if normal is None:
        return False
    host = urlsplit(normal).hostname or ""
    return is_loopback(host) or normal in allowed


def normalise_host(name: str) -> str | None:
    """``name`` as an ``allowedHosts`` entry (``emulator.lan``, or ``.lan`` for a domain and
    its subdomains), lower-cased; None if it is not a host name (no port, path or spaces)."""
    text = name.strip().lower().rstrip(".")
    body = text[1:] if text.startswith(".") else text
    labels = body.split(".")
    if not body or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return text


def host_allowed(
    host_header: str | None, allowed: Iterable[str], bound: str, *, any_address: bool = True
) -> bool:
    """Whether a request's ``Host`` names this emulator, so that it may read ``/_emulator/*``
    (or, with ``any_address`` false, appear in links).

    Allowed, on any port: loopback names (``localhost`` and ``*.localhost``, which browsers
    resolve to loopback themselves), loopback addresses, ``bound`` (the ``--host`` the
    emulator listens on), the ``allowed`` names (a leading dot allows a domain and its
    subdomains) and, with ``any_address``, any IP address (a DNS-rebinding page always has a
    name, never an address, as its host; but a link must not point at an address merely
    because a client named it). A request with no ``Host`` (HTTP/1.0) is no browser page and
    is allowed.
    """
    if host_header is None:
        return True
    parts = urlsplit("//" + host_header)
    try:
        parts.port  # noqa: B018 - raises for a port that is not one
    except ValueError:
        return False
    name = (parts.hostname or "").rstrip(".")
    if not name or parts.netloc != host_header or "@" in host_header:
        return False
    if name == "localhost" or name.endswith(".localhost") or name == bound.lower():
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return any_address or address.is_loopback
    for entry in allowed:
        if entry.startswith("."):
            if name == entry[1:] or name.endswith(entry):
                return True
        elif name == entry:
            return True
    return False


def redirect_url_problem(url: str) -> str | None:
    """What makes ``url`` unusable as the ``redirectUrl`` setting, or None if it is usable.

    It goes into every verification link and into the OAuth redirect's ``Location``, so it
    must be an absolute ``http``/``https`` URL with a valid host (a DNS name in its ``xn--``
    form, an IPv4 or ``[IPv6]`` address), a port from 1 to 65535 if any, no user name or
    password, and only printable ASCII (no spaces or control characters: they would cut or
    split the header). A query and a fragment may be there: links add to the query.
    """
    if not url.startswith(("http://", "https://")):
        return "must be an http:// or https:// URL"
    if not url.isascii() or any(char.isspace() or not char.isprintable() for char in url):
        return (
            "must be printable ASCII, without spaces or control characters"
            " (percent-encode them; xn-- for international host names)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "has an invalid host or port (a port is a number from 1 to 65535)"
    if "@" in parts.netloc:
        return "must not carry a user name or password"
    host = parts.hostname or ""
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "has an invalid [IPv6] address"
    elif not _URL_HOST.fullmatch(host):
        return "must have a host: a DNS name (in its xn-- form), an IPv4 or [IPv6] address"
    if parts.netloc.endswith(":") or port == 0:
        return "has an invalid port (a number from 1 to 65535)"
    return None
