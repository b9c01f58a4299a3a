"""What the two hand-written transports share: error wording and the body-size cap."""

from __future__ import annotations

import re

from .errors import ResponseTooLargeError
from .http import Request

__all__ = ["MAX_HEADERS", "MAX_LINE", "BodyBuffer", "describe", "redact_queries", "too_large"]

#: The longest line of an answer's head both flavours accept (aiohttp's default limit).
MAX_LINE = 8190
#: The most header lines both flavours accept (http.client refuses a 100th).
MAX_HEADERS = 99

_QUERY = re.compile(r"\?[^\s'\")]*")


def redact_queries(text: str) -> str:
    """``text`` with the query of every URL in it replaced by ``?…`` (queries carry tokens)."""
    return _QUERY.sub("?…", text)


def describe(request: Request, what: str, exc: BaseException) -> str:
    """A message for a transport failure that names no query (query values can be tokens)."""
    detail = redact_queries(str(exc))[:300]
    path = _QUERY.sub("", request.url)
    return f"{request.method} {path}: {what} ({type(exc).__name__}: {detail})"


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
