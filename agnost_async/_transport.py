"""The aiohttp transport: the only module of the async flavour that knows aiohttp."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import yarl

from agnost._core.errors import (
    ConnectError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TLSError,
    TransportError,
)
from agnost._core.http import USER_AGENT, Request, Response, Timeout
from agnost._core.transport import BodyBuffer, describe, too_large

__all__ = ["AiohttpTransport"]

_CHUNK = 64 * 1024
_USER_AGENT = f"{USER_AGENT} aiohttp/{aiohttp.__version__}"


class AiohttpTransport:
    """Sends core requests with an ``aiohttp.ClientSession``: no redirects, bounded reads,
    timeouts. The session is created lazily, inside the running event loop."""

    def __init__(
        self, session: aiohttp.ClientSession | None, timeout: Timeout, max_response_bytes: int
    ) -> None:
        self._owns_session = session is None
        self._session = session
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout.total, sock_connect=timeout.connect)
        self._limit = max_response_bytes

    async def send(self, request: Request) -> Response:
        """Send ``request`` and return the complete answer, or raise a ``TransportError``."""
        session = self._session_for(asyncio.get_running_loop())
        # A session of the caller's gets the agnost identity and limits on each request; an
        # owned one has them as its defaults, which aiohttp applies at less cost.
        if self._owns_session:
            headers, options = request.headers, _NO_OPTIONS
        else:
            headers = {"User-Agent": _USER_AGENT, **request.headers}
            options = {"timeout": self._timeout}
        try:
            async with session.request(
                request.method,
                # Already percent-encoded by the core: yarl must not re-encode it, so both
                # flavours put the same bytes on the wire.
                yarl.URL(request.url, encoded=True),
                data=request.body,
                headers=headers,
                # aiohttp would add "Content-Type: application/octet-stream" to a POST with
                # no body; the core sets Content-Type itself whenever there is a body.
                skip_auto_headers=_SKIP_AUTO_HEADERS if request.body is None else None,
                allow_redirects=False,
                **options,
            ) as answer:
                body = await self._read(answer)
                return Response(answer.status, answer.reason or "", answer.headers, body)
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            failure = _translate(request, exc)
        # Raised outside the except block, so the library's exception, whose text may carry
        # the URL's query (an access token), is not kept as the context either.
        raise failure

    async def _read(self, answer: aiohttp.ClientResponse) -> bytes:
        length = answer.headers.get("Content-Length")
        if too_large(length, self._limit):
            raise ResponseTooLargeError(self._limit)
        if length is not None and "Content-Encoding" not in answer.headers:
            # A declared, uncompressed length within the cap: aiohttp reads exactly that.
            return await answer.read()
        buffer = BodyBuffer(self._limit)
        async for chunk in answer.content.iter_chunked(_CHUNK):
            buffer.add(chunk)
        return buffer.getvalue()

    def _session_for(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        """The HTTP session, made in (and for) the running loop on first use.

        A session belongs to the loop it was made in; when an owned one meets another loop
        (a second ``asyncio.run``, a test per loop), a new one replaces it.
        """
        if self._session is None or (self._owns_session and self._loop is not loop):
            # The session is sent as a header only: a session cookie kept by a jar would
            # outlive sign-out and invalidation.
            self._session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": _USER_AGENT},
                timeout=self._timeout,
            )
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the HTTP session if this transport created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None


_SKIP_AUTO_HEADERS = ("Content-Type",)
_NO_OPTIONS: dict[str, Any] = {}


def _translate(request: Request, exc: BaseException) -> TransportError:
    """The agnost error for an aiohttp failure: the same classes requests' map to."""
    if isinstance(exc, asyncio.TimeoutError):
        return RequestTimeoutError(describe(request, "timed out", exc))
    if isinstance(exc, aiohttp.ClientSSLError):
        return TLSError(describe(request, "TLS failure", exc))
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        return ConnectError(describe(request, "connection failed", exc))
    return TransportError(describe(request, "request failed", exc))
