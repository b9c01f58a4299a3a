"""What the two hand-written transports share: error wording and the body-size cap."""

from __future__ import annotations

import errno
import os
from urllib.parse import urlsplit

from .errors import ResponseTooLargeError
from .http import Request
from .lazyre import lazy

__all__ = ["MAX_HEADERS", "MAX_LINE", "BodyBuffer", "describe", "redact_queries", "too_large"]

#: aiohttp's default limit, applied by both flavours: the longest reason phrase, and the longest
#: header name plus value (leading spaces of the value not counted), of an answer's head.
MAX_LINE = 8190
#: The most header lines both flavours accept (http.client refuses a 100th).
MAX_HEADERS = 99

_QUERY = lazy(r"\?[^\s'\")]*")


def redact_queries(text: str) -> str:
    """``text`` with the query of every URL in it replaced by ``?…`` (queries carry tokens)."""
    return _QUERY.sub("?…", text)


def describe(request: Request, what: str, exc: BaseException) -> str:
    """A message for a transport failure that names no query (query values can be tokens).

    A connection that could not be opened says so in plain words (``could not connect to
    127.0.0.1:8787 (connection refused)``) rather than in the HTTP library's chain of
    wrappers, which speaks of retries that never happened.
    """
    path = _QUERY.sub("", request.url)
    refused = _connect_failure(exc)
    if refused is not None:
        parts = urlsplit(request.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        return f"{request.method} {path}: could not connect to {host}:{port} ({refused})"
    detail = redact_queries(str(exc))[:300]
    return f"{request.method} {path}: {what} ({type(exc).__name__}: {detail})"


#: Socket errors that can only come from opening a connection, not from using one.
_CONNECT_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL}
)


def _connect_failure(exc: BaseException) -> str | None:
    """The reason, such as ``connection refused``, if ``exc`` wraps a failure to connect.

    Both HTTP libraries wrap the socket's OSError (in causes, in ``args``, in ``reason`` or
    ``os_error``); a negative errno is a name-resolution failure (getaddrinfo's EAI codes).
    Resets and broken pipes are not among them: those end a connection that was opened.
    """
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending and len(seen) < 32:
        found = pending.pop()
        if not isinstance(found, BaseException) or id(found) in seen:
            continue
        seen.add(id(found))
        code = found.errno if isinstance(found, OSError) else None
        if (
            isinstance(found, OSError)
            and code is not None
            and (code in _CONNECT_ERRNOS or code < 0)
        ):
            # os.strerror: the same words in both flavours (aiohttp rewords the refusal).
            reason = os.strerror(code) if code > 0 else found.strerror or "name not resolved"
            return reason[:1].lower() + reason[1:]
        pending += [found.__cause__, found.__context__, *found.args]
        pending += [getattr(found, "reason", None), getattr(found, "os_error", None)]
    return None


def too_large(content_length: str | None, limit: int) -> bool:
    """Whether a declared ``Content-Length`` already exceeds the cap."""
    return content_length is not None and content_length.isdigit() and int(content_length) > limit


class BodyBuffer:
    """Collects body chunks and raises :class:`ResponseTooLargeError` past ``limit`` bytes."""

    __slots__ = ("_chunks", "_limit", "_size")

    def __init__(self, limit: int) -> None:
        self._chunks: list[bytes] = []
        self._limit = limit
        self._size = 0

    def add(self, chunk: bytes) -> None:
        """Keep ``chunk``, or raise once the body went past the limit."""
        self._size += len(chunk)
        if self._size > self._limit:
            raise ResponseTooLargeError(self._limit)
        self._chunks.append(chunk)

    def getvalue(self) -> bytes:
        """The whole body read so far."""
        return b"".join(self._chunks)
