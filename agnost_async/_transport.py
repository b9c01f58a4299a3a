"""The aiohttp transport: the only module of the async flavour that knows aiohttp."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import yarl

from agnost._core.errors import (
    ClientError,
    ConnectError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TLSError,
    TransportError,
)
from agnost._core.http import SESSION_COOKIE, USER_AGENT, Request, Response, Timeout
from agnost._core.transport import MAX_HEADERS, MAX_LINE, BodyBuffer, describe, too_large

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
        self._closer: AsyncGenerator[None, None] | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout.total, sock_connect=timeout.connect)
        self._limit = max_response_bytes
        # The environment's proxy for each (scheme, host), read once: scanning os.environ
        # on every request cost more than the rest of agnost's work on a call.
        self._proxies: dict[tuple[str, str | None], str | None] = {}
        # Each URL's yarl form and the options of its requests, made once: a client calls
        # the same few URLs again and again.
        self._targets: dict[tuple[str, bool], tuple[yarl.URL, dict[str, Any]]] = {}

    def _target(self, url: str, bare_post: bool) -> tuple[yarl.URL, dict[str, Any]]:
        """``url`` as yarl takes it, already percent-encoded by the core (yarl must not
        re-encode it, so both flavours put the same bytes on the wire), and the options
        of a request to it (``bare_post``: a POST, PUT or PATCH without a body)."""
        key = (url, bare_post)
        found = self._targets.get(key)
        if found is not None:
            return found
        parsed = yarl.URL(url, encoded=True)
        options: dict[str, Any] = {"allow_redirects": False}
        if self._owns_session:
            # The agnost identity, limits and header policy are the owned session's defaults.
            where = (parsed.scheme, parsed.host)
            if where not in self._proxies:
                self._proxies[where] = _env_proxy(parsed)
            if self._proxies[where] is not None:
                options["proxy"] = self._proxies[where]
        else:
            options.update(timeout=self._timeout, **_HEAD_LIMITS)
        if bare_post:
            # aiohttp would add "Content-Type: application/octet-stream" to a POST with no
            # body; the core sets Content-Type itself whenever there is a body. (Asked on
            # every request, the skip costs aiohttp a header dict: only where it matters.)
            options["skip_auto_headers"] = _SKIP_AUTO_HEADERS
        if len(self._targets) >= _TARGETS:
            self._targets.clear()
        self._targets[key] = found = (parsed, options)
        return found

    async def send(self, request: Request) -> Response:
        """Send ``request`` and return the complete answer, or raise a ``TransportError``."""
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or (self._owns_session and self._loop is not loop):
            previous = self._loop
            if session is not None and previous is not None and previous.is_running():
                # Replacing the session under a loop still using it would break its calls.
                raise ClientError(
                    "event_loop_in_use",
                    "this client serves another event loop that is still running:"
                    " make one client per event loop",
                )
            session = await self._open_session(loop)
        # A session of the caller's gets the agnost identity and limits on each request; an
        # owned one has them as its defaults, which aiohttp applies at less cost.
        url, options = self._target(
            request.url, request.body is None and request.method in _POST_METHODS
        )
        headers = (
            request.headers
            if self._owns_session
            else {"User-Agent": _USER_AGENT, **request.headers}
        )
        try:
            async with session.request(
                request.method, url, data=request.body, headers=headers, **options
            ) as answer:
                if answer.status < 100:  # http.client refuses it, as agnost does
                    raise aiohttp.ClientResponseError(
                        answer.request_info, (), status=answer.status, message="bad status"
                    )
                body = await self._read(answer, request.max_response_bytes or self._limit)
                return Response(answer.status, _reason(answer.reason), answer.headers, body)
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            failure = _translate(request, exc)
        except (ValueError, UnicodeError) as exc:
            # yarl or aiohttp refusing the URL (a host IDNA cannot encode, say): requests
            # raises InvalidURL there, a TransportError too.
            failure = TransportError(describe(request, "request failed", exc))
        except RuntimeError as exc:
            if not session.closed:
                raise
            # The caller closed the session it gave: the request cannot be sent.
            failure = TransportError(describe(request, "the http_session is closed", exc))
        finally:
            if not self._owns_session:
                # The session travels in the header only: a caller's jar must not keep the
                # server's session cookie, or signing out locally would not stop it.
                session.cookie_jar.clear(lambda cookie: cookie.key == SESSION_COOKIE)
        # Raised outside the except block, so the library's exception, whose text may carry
        # the URL's query (an access token), is not kept as the context either.
        raise failure

    async def _read(self, answer: aiohttp.ClientResponse, limit: int) -> bytes:
        length = answer.headers.get("Content-Length")
        if too_large(length, limit):
            raise ResponseTooLargeError(limit)
        if length is not None and "Content-Encoding" not in answer.headers:
            # A declared, uncompressed length within the cap: aiohttp reads exactly that.
            return await answer.read()
        buffer = BodyBuffer(limit)
        async for chunk in answer.content.iter_chunked(_CHUNK):
            buffer.add(chunk)
        return buffer.getvalue()

    async def _open_session(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        """Make the HTTP session, in (and for) the running loop, on first use there.

        A session belongs to the loop it was made in; when an owned one meets another loop
        (a second ``asyncio.run``, a test per loop), a new one replaces it. Each is tied to
        its loop's shutdown, so one the caller never closed is still closed in its own loop
        when that loop ends, instead of leaking a socket and an "Unclosed" warning.
        """
        # The session is sent as a header only: a session cookie kept by a jar would outlive
        # sign-out and invalidation.
        session = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": _USER_AGENT},
            timeout=self._timeout,
            **_HEAD_LIMITS,
        )
        closer = _closed_at_loop_end(session)
        await closer.__anext__()  # now the loop knows it, and closes it at shutdown
        self._session, self._loop, self._closer = session, loop, closer
        return session

    async def aclose(self) -> None:
        """Close the HTTP session if this transport created it."""
        if self._owns_session and self._closer is not None:
            await self._closer.aclose()  # closes the session
            self._session = self._closer = None


async def _closed_at_loop_end(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Suspend until closed: by ``aclose()``, or by the loop's ``shutdown_asyncgens()``,
    which ``asyncio.run`` calls before closing its loop."""
    try:
        yield
    finally:
        await session.close()


def _reason(reason: str | None) -> str:
    """The reason phrase as the blocking flavour gives it: its bytes read as Latin-1, blanks
    around it stripped (as http.client does); aiohttp decoded them as UTF-8, escaping what
    was not."""
    if reason is None:
        return ""
    if reason.isascii():  # the usual "OK": the same text either way
        return reason.strip()
    # http.client strips the Latin-1 text (its blanks, and a no-break space's byte too).
    return reason.encode("utf-8", "surrogateescape").decode("latin-1").strip()


def _env_proxy(url: yarl.URL) -> str | None:
    """The proxy the environment names for ``url`` (``HTTP_PROXY``/``HTTPS_PROXY``, unless
    ``NO_PROXY`` names its host), as requests finds it for the blocking flavour. A transport
    reads it on its first request to a host, and keeps it.

    Read here rather than by aiohttp's ``trust_env``, which would also send credentials
    found in ``~/.netrc``. aiohttp speaks to an ``http://`` proxy only: another is ignored.
    """
    if url.host is None or urllib.request.proxy_bypass(url.host):
        return None
    proxy = urllib.request.getproxies().get(url.scheme or "")
    if not proxy:
        return None
    proxy = proxy if "://" in proxy else f"http://{proxy}"
    return proxy if proxy.lower().startswith("http://") else None


_SKIP_AUTO_HEADERS = ("Content-Type",)
#: The methods aiohttp gives a default Content-Type.
_POST_METHODS = frozenset(aiohttp.ClientRequest.POST_METHODS)
#: The most URLs a transport keeps parsed (a client's calls name a few; the app's endpoints
#: with queries may name many).
_TARGETS = 256
#: The limits of an answer's head that http.client has in the blocking flavour, so that both
#: refuse the same answers.
_HEAD_LIMITS: dict[str, Any] = {
    "max_headers": MAX_HEADERS,
    "max_line_size": MAX_LINE,
    "max_field_size": MAX_LINE,
}


def _translate(request: Request, exc: BaseException) -> TransportError:
    """The agnost error for an aiohttp failure: the same classes requests' map to."""
    if isinstance(exc, asyncio.TimeoutError):
        return RequestTimeoutError(describe(request, "timed out", exc))
    if isinstance(exc, aiohttp.ClientSSLError):
        return TLSError(describe(request, "TLS failure", exc))
    # A connection that failed, or a peer that did not speak HTTP: aiohttp reports a bad
    # status line, header block or framing of the answer as a ClientResponseError (agnost
    # never asks aiohttp to raise for a status).
    if isinstance(
        exc,
        aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError,
    ):
        return ConnectError(describe(request, "connection failed", exc))
    return TransportError(describe(request, "request failed", exc))
