"""Which hosts and browser origins the emulator trusts: loopback ones, and those it is told.

Kept free of aiohttp and ua-parser so the command line can use it before either is needed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["is_loopback", "normalise_origin", "origin_allowed"]


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
