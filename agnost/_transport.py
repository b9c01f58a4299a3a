"""The requests transport: the only module of the sync flavour that knows requests."""

from __future__ import annotations

import time

import requests

from ._core.errors import (
    ConnectError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TLSError,
    TransportError,
)
from ._core.http import USER_AGENT, Request, Response, Timeout
from ._core.transport import BodyBuffer, describe, too_large

__all__ = ["RequestsTransport"]

_CHUNK = 64 * 1024
_USER_AGENT = f"{USER_AGENT} python-requests/{requests.__version__}"


class RequestsTransport:
    """Sends core requests with a ``requests.Session``: no redirects, bounded reads, timeouts.

    ``timeout.connect`` bounds the connection; ``timeout.total`` bounds each socket read and
    is checked between chunks of the body, so a trickling server cannot hold a call for long.
    """

    def __init__(
        self, session: requests.Session | None, timeout: Timeout, max_response_bytes: int
    ) -> None:
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._timeout = (timeout.connect, timeout.total)
        self._total = timeout.total
        self._limit = max_response_bytes

    def send(self, request: Request) -> Response:
        """Send ``request`` and return the complete answer, or raise a ``TransportError``."""
        headers = {"User-Agent": _USER_AGENT, **request.headers}
        started = time.monotonic()
        try:
            with self._session.request(
                request.method,
                request.url,
                data=request.body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
                stream=True,
            ) as answer:
                body = self._read(answer, started)
                return Response(answer.status_code, answer.reason or "", answer.headers, body)
        except requests.exceptions.SSLError as exc:
            raise TLSError(describe(request, "TLS failure", exc)) from None
        except requests.exceptions.Timeout as exc:
            raise RequestTimeoutError(describe(request, "timed out", exc)) from None
        except requests.exceptions.ConnectionError as exc:
            raise ConnectError(describe(request, "connection failed", exc)) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(describe(request, "request failed", exc)) from None

    def _read(self, answer: requests.Response, started: float) -> bytes:
        if too_large(answer.headers.get("Content-Length"), self._limit):
            raise ResponseTooLargeError(self._limit)
        buffer = BodyBuffer(self._limit)
        for chunk in answer.iter_content(_CHUNK):
            buffer.add(chunk)
            if self._total is not None and time.monotonic() - started > self._total:
                raise requests.exceptions.ReadTimeout("total timeout exceeded")
        return buffer.getvalue()

    def close(self) -> None:
        """Close the HTTP session if this transport created it."""
        if self._owns_session:
            self._session.close()
