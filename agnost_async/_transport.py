"""The aiohttp transport: the only module of the async flavour that knows aiohttp."""

from __future__ import annotations

import asyncio

import aiohttp

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
        self._timeout = aiohttp.ClientTimeout(total=timeout.total, sock_connect=timeout.connect)
        self._limit = max_response_bytes

    async def send(self, request: Request) -> Response:
        """Send ``request`` and return the complete answer, or raise a ``TransportError``."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"User-Agent": _USER_AGENT, **request.headers}
        try:
            async with self._session.request(
                request.method,
                request.url,
                data=request.body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as answer:
                body = await self._read(answer)
                return Response(answer.status, answer.reason or "", answer.headers, body)
        except asyncio.TimeoutError as exc:
            raise RequestTimeoutError(describe(request, "timed out", exc)) from None
        except aiohttp.ClientSSLError as exc:
            raise TLSError(describe(request, "TLS failure", exc)) from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise ConnectError(describe(request, "connection failed", exc)) from None
        except aiohttp.ClientError as exc:
            raise TransportError(describe(request, "request failed", exc)) from None

    async def _read(self, answer: aiohttp.ClientResponse) -> bytes:
        if too_large(answer.headers.get("Content-Length"), self._limit):
            raise ResponseTooLargeError(self._limit)
        buffer = BodyBuffer(self._limit)
        async for chunk in answer.content.iter_chunked(_CHUNK):
            buffer.add(chunk)
        return buffer.getvalue()

    async def aclose(self) -> None:
        """Close the HTTP session if this transport created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
