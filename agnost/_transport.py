"""The requests transport: the only module of the sync flavour that knows requests."""

from __future__ import annotations

import http.cookiejar
import time

import requests
import urllib3

from ._core.errors import (
    ConnectError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TLSError,
    TransportError,
)
from ._core.http import SESSION_COOKIE, USER_AGENT, Request, Response, Timeout
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
        if session is None:
            session = requests.Session()
            # The session is sent as a header only: a session cookie kept by the jar would
            # outlive sign-out and invalidation.
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._session = session
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
                # Not None: requests would look up ~/.netrc and send what it finds there as
                # Authorization, which agnost sends only for an API key.
                auth=_no_auth,
            ) as answer:
                body = self._read(answer, started)
                return Response(answer.status_code, answer.reason or "", answer.headers, body)
        except _FAILURES as exc:
            failure = _translate(request, exc)
        finally:
            if not self._owns_session:
                _forget_session_cookie(self._session.cookies)
        # Raised outside the except block, so the library's exception, whose text may carry
        # the URL's query (an access token), is not kept as the context either.
        raise failure

    def _read(self, answer: requests.Response, started: float) -> bytes:
        if too_large(answer.headers.get("Content-Length"), self._limit):
            raise ResponseTooLargeError(self._limit)
        buffer = BodyBuffer(self._limit)
        raw = answer.raw
        # read1 returns what one socket read brings, so a server trickling bytes cannot keep
        # a call past its deadline; urllib3 1.x has no read1 and fills each chunk instead.
        read = getattr(raw, "read1", raw.read)
        while chunk := read(_CHUNK, decode_content=True):
            buffer.add(chunk)
            if self._total is not None and time.monotonic() - started > self._total:
                raise requests.exceptions.ReadTimeout("the total timeout ran out")
        return buffer.getvalue()

    def close(self) -> None:
        """Close the HTTP session if this transport created it."""
        if self._owns_session:
            self._session.close()


def _forget_session_cookie(jar: requests.cookies.RequestsCookieJar) -> None:
    """Drop the server's ``session_token`` cookie from a caller's jar: the session travels
    in the header only, so that signing out locally also stops authenticating."""
    for cookie in [c for c in jar if c.name == SESSION_COOKIE]:
        jar.clear(cookie.domain, cookie.path, cookie.name)


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


_FAILURES = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError)


def _translate(request: Request, exc: BaseException) -> TransportError:
    """The agnost error for a requests or urllib3 failure: the same classes aiohttp's map to."""
    if isinstance(exc, requests.exceptions.SSLError | urllib3.exceptions.SSLError):
        return TLSError(describe(request, "TLS failure", exc))
    if isinstance(exc, requests.exceptions.Timeout | urllib3.exceptions.TimeoutError):
        return RequestTimeoutError(describe(request, "timed out", exc))
    if isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError
        | urllib3.exceptions.ProtocolError,
    ):
        return ConnectError(describe(request, "connection failed", exc))
    return TransportError(describe(request, "request failed", exc))
