"""The requests transport: the only module of the sync flavour that knows requests."""

from __future__ import annotations

import contextvars
import http.client
import http.cookiejar
import io
import logging
import os
import re
import socket
import sys
import time
import urllib.request
from typing import Any

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.poolmanager
import urllib3.response
import urllib3.util
from requests.structures import CaseInsensitiveDict

from ._core.errors import (
    ConnectError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TLSError,
    TransportError,
)
from ._core.http import SESSION_COOKIE, USER_AGENT, Request, Response, Timeout
from ._core.lazyre import lazy
from ._core.transport import MAX_LINE, BodyBuffer, describe, redact_queries, too_large

__all__ = ["RequestsTransport"]

_CHUNK = 64 * 1024
_USER_AGENT = f"{USER_AGENT} python-requests/{requests.__version__}"

#: The monotonic time the current agnost call must end by (``None``: no agnost call, or no
#: limit). A context variable, so that each thread (each call) sees its own deadline.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "agnost_deadline", default=None
)
#: Whether the current thread is inside an agnost call, whose URLs may carry access tokens.
_IN_CALL: contextvars.ContextVar[bool] = contextvars.ContextVar("agnost_in_call", default=False)


class RequestsTransport:
    """Sends core requests with a ``requests.Session``: no redirects, bounded reads, timeouts.

    ``timeout.total`` bounds the whole exchange: each socket operation (connect, every send
    and every read of the status line, headers and body) may only wait for what is left of
    it, and so does a retry's sleep. That is done by agnost's own ``HTTPAdapter``, mounted
    on the session it creates, and on a caller's session for the environment's URL prefix
    only, in place of a plain ``requests.adapters.HTTPAdapter`` there (configured like it:
    same pool sizes and TLS settings, same retries except that POST and PATCH are never
    retried and no retry sleeps past the deadline).

    A caller's adapter of any other type (a subclass adding a client certificate or a
    header, a test double answering locally) is left in place and used as it is: the total
    deadline then holds only as far as that adapter lets it (``timeout.connect`` and
    ``timeout.total`` are still passed to it as requests' ``(connect, read)`` timeouts).
    """

    def __init__(
        self,
        session: requests.Session | None,
        timeout: Timeout,
        max_response_bytes: int,
        base_url: str,
    ) -> None:
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            # The session is sent as a header only: a session cookie kept by the jar would
            # outlive sign-out and invalidation.
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            for prefix in ("http://", "https://"):
                session.mount(prefix, _DeadlineAdapter())
        else:
            prefix = base_url + "/"
            current = session.get_adapter(prefix)
            # Only a plain HTTPAdapter is replaced: a subclass or another adapter does what
            # its owner wants (a client certificate, a header, a local answer).
            if type(current) is requests.adapters.HTTPAdapter:
                session.mount(prefix, _DeadlineAdapter.like(current))
        self._session = session
        # The session agnost made is sent on without requests' per-call machinery (see
        # _send_direct), for the URLs under the environment's own prefix.
        self._prefix = base_url + "/" if self._owns_session else None
        self._settings: tuple[dict[Any, Any], dict[str, Any]] | None = None
        connect = timeout.connect
        if timeout.total is not None:
            connect = timeout.total if connect is None else min(connect, timeout.total)
        self._timeout = (connect, timeout.total)
        self._total = timeout.total
        self._limit = max_response_bytes

    def send(self, request: Request) -> Response:
        """Send ``request`` and return the complete answer, or raise a ``TransportError``."""
        headers = {"User-Agent": _USER_AGENT, **request.headers}
        deadline = None if self._total is None else time.monotonic() + self._total
        deadline_set, in_call_set = _DEADLINE.set(deadline), _IN_CALL.set(True)
        try:
            if self._prefix is not None and request.url.startswith(self._prefix):
                opened = self._send_direct(request, headers)
            else:
                opened = self._session.request(
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
                )
            with opened as answer:
                body = self._read(answer, request.max_response_bytes or self._limit)
                return Response(answer.status_code, answer.reason or "", answer.headers, body)
        except _FAILURES as exc:
            failure = _translate(request, exc)
        finally:
            _IN_CALL.reset(in_call_set)
            _DEADLINE.reset(deadline_set)
            if not self._owns_session:
                _forget_session_cookie(self._session.cookies)
        # Raised outside the except block, so the library's exception, whose text may carry
        # the URL's query (an access token), is not kept as the context either.
        raise failure

    def _send_direct(self, request: Request, headers: dict[str, str]) -> requests.Response:
        """What ``Session.request`` does for agnost's own session, less what cannot apply
        to it: the same prepared request (the session's default headers with agnost's, no
        ~/.netrc, no cookies, which its jar refuses), the same adapter, proxies and CA
        bundle from the environment, no hooks (it has none), no redirects followed. The
        environment's settings are worked out again only when the environment changed."""
        session = self._session
        merged = CaseInsensitiveDict(session.headers)
        merged.update(headers)
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=request.method.upper(),
            url=request.url,
            headers=merged,
            data=request.body or {},
            auth=_no_auth,
            cookies=session.cookies,
        )
        url = prepared.url or request.url  # as Session.request goes on with it
        settings = self._environment_settings(url)
        return session.get_adapter(url).send(
            prepared,
            stream=True,
            timeout=self._timeout,  # type: ignore[arg-type]  # requests takes (x, None) too
            verify=settings["verify"],
            cert=settings["cert"],
            proxies=dict(settings["proxies"]),
        )

    def _environment_settings(self, url: str) -> dict[str, Any]:
        """``Session.merge_environment_settings`` for a URL under the prefix, kept while the
        environment stays as it was: requests reads the proxy variables and the CA bundle
        variables from ``os.environ`` on every call, which is most of its own cost per call.
        Only where proxies come from the environment alone (not the macOS or Windows
        system settings, which can change under an unchanged environment)."""
        environ = getattr(os.environ, "_data", None) if _PROXIES_FROM_ENVIRONMENT else None
        known = self._settings
        if known is not None and environ is not None and known[0] == environ:
            return known[1]
        # The environment the settings are worked out from, taken before: one changed while
        # requests reads it (by another thread) must not pass for the one they belong to.
        seen = None if environ is None else dict(environ)
        settings: dict[str, Any] = dict(
            self._session.merge_environment_settings(url, {}, True, None, None)
        )
        if seen is not None:
            # The host decides the proxy (and NO_PROXY's match): every URL under the prefix
            # has the prefix's host.
            self._settings = (seen, settings)
        return settings

    def _read(self, answer: requests.Response, limit: int) -> bytes:
        if too_large(answer.headers.get("Content-Length"), limit):
            raise ResponseTooLargeError(limit)
        buffer = BodyBuffer(limit)
        raw = answer.raw
        if not isinstance(raw, urllib3.response.BaseHTTPResponse):  # a caller's adapter's
            for chunk in answer.iter_content(_CHUNK):
                buffer.add(chunk)
            return buffer.getvalue()
        # read1 returns what one socket read brings, so the body is taken in bounded
        # pieces; urllib3 1.x has no read1 and fills each chunk instead.
        read = getattr(raw, "read1", raw.read)
        while chunk := read(_CHUNK, decode_content=True):
            buffer.add(chunk)
        return buffer.getvalue()

    def close(self) -> None:
        """Close the HTTP session if this transport created it."""
        if self._owns_session:
            self._session.close()


#: Whether urllib takes proxies and their exceptions from the environment only (not macOS's
#: or Windows's system settings), so that an unchanged environment means unchanged proxies.
_PROXIES_FROM_ENVIRONMENT = (
    sys.platform not in ("darwin", "win32")
    and urllib.request.getproxies is urllib.request.getproxies_environment
)


def _remaining() -> float | None:
    """Seconds left before the current call's deadline; raise a timeout once none are."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the total timeout ran out")
    return left


# --- the adapter: every socket wait bounded by the call's deadline ---------------------------


class _DeadlineIO(io.RawIOBase):
    """What ``http.client`` reads the answer from: the socket's own file, each read limited
    to the time left before the deadline (so a trickling server cannot stretch the total)."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket) -> None:
        self._raw = raw
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = _remaining()
        if left is not None:
            self._sock.settimeout(left)
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()  # releases the socket, as the base class's file would
        super().close()


class _AnswerReader(io.BufferedReader):
    """Remembers the last line read, to tell a complete header block from one cut short, and
    the header lines of the final answer; refuses lines longer than aiohttp takes, so that
    both flavours refuse the same answers."""

    last_line = b""
    #: The lines of the final answer's header block, while it is read.
    head: list[bytes] | None = None

    def readline(self, size: int | None = -1) -> bytes:
        line = self.last_line = super().readline(size)
        # What is counted is part of the line: a line no longer than the limit is within it.
        if len(line) > MAX_LINE and _counted(line) > MAX_LINE:
            raise http.client.LineTooLong("line")
        if self.head is not None:
            self.head.append(line)
        return line


def _counted(line: bytes) -> int:
    """What aiohttp holds to :data:`MAX_LINE`: a status line's reason phrase, a header's
    name and value together."""
    line = line.rstrip(b"\r\n")
    if line.startswith(b"HTTP/"):
        parts = line.split(b" ", 2)
        return len(parts[2]) if len(parts) == 3 else 0
    name, _, value = line.partition(b":")
    return len(name) + len(value.lstrip(b" \t"))


class _NotHTTP(http.client.HTTPException):
    """The answer's head is not valid HTTP."""


_LENGTH = re.compile(r"[0-9]+")
_FIELD_NAME = lazy(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = lazy(rb"[\x00-\x08\x0a-\x1f\x7f]")
_MAX_LENGTH = 2**64 - 1  # llhttp's
#: A header block both flavours take, each line as read (up to and with its "\n"): folded
#: (starting with a space or a tab), or a field name, optional blanks, a colon and a value
#: without control characters, then the line end. What :func:`_refuse_head` checks, at once.
_HEAD = re.compile(
    rb"(?:[ \t][^\n]*\n|[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*:[^\x00-\x08\x0a-\x1f\x7f]*\r*\n)*"
)


class _HTTPResponse(http.client.HTTPResponse):
    """``http.client``'s answer, read through :class:`_DeadlineIO`, skipping informational
    (1xx) answers and empty lines before the status line as aiohttp does, and refusing what
    aiohttp's parser refuses: a header block cut off by the peer, a header line that is not
    ``name: value``, a framing it cannot trust."""

    fp: _AnswerReader

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        # The socket file of the base class holds the reference that keeps the socket open
        # until the answer is read (http.client closes the connection early when the answer
        # says it will close): it is kept, under a deadline and a line recorder.
        raw = self.fp.detach()
        self.fp = _AnswerReader(_DeadlineIO(raw, sock))

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            while self.fp.peek(1)[:1] in (b"\r", b"\n"):
                self.fp.read(1)
            version, status, reason = super()._read_status()  # type: ignore[misc]
            # 101 would switch protocols, which agnost never asks for: it is an answer.
            if not 100 <= status < 200 or status == 101:
                self.fp.head = []
                return version, status, reason
            http.client.parse_headers(self.fp)  # the 1xx answer's own header block

    def begin(self) -> None:
        super().begin()
        head, self.fp.head = self.fp.head or [], None
        if self.fp.last_line not in (b"\r\n", b"\n"):
            raise _NotHTTP("the connection closed inside the answer's header block")
        # One pass over the whole block for the usual answer; line by line, to say what is
        # wrong, only when that pass fails.
        if _HEAD.fullmatch(b"".join(head[:-1])) is None:
            _refuse_head(head[:-1])
        codings = ",".join(self.msg.get_all("Transfer-Encoding", ()))
        if codings and codings.rsplit(",", 1)[-1].strip().lower() != "chunked":
            raise _NotHTTP("the answer's Transfer-Encoding does not end with chunked")
        # http.client reads an answer with a Content-Length it cannot parse up to the close;
        # aiohttp refuses it, and so does agnost: a body of unknown length is not an answer.
        lengths = [
            v.strip() for line in self.msg.get_all("Content-Length", ()) for v in line.split(",")
        ]
        if not lengths:
            return
        length = lengths[0]
        if (
            self.chunked
            or len(lengths) > 1
            or not _LENGTH.fullmatch(length)
            or int(length) > _MAX_LENGTH
            or (self.status == 204 and int(length) != 0)
        ):
            raise _NotHTTP("the answer has an invalid Content-Length")


def _refuse_head(lines: list[bytes]) -> None:
    """Raise what is wrong with the first bad header line of ``lines``."""
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            continue  # a folded line, which both take
        name, colon, value = line.rstrip(b"\r\n").partition(b":")
        if not colon or not _FIELD_NAME.fullmatch(name.rstrip(b" \t")):
            raise _NotHTTP("the answer has a header line that is not name: value")
        if _BAD_VALUE.search(value):
            raise _NotHTTP("the answer has a control character in a header value")


class _Sending:
    """Sends in pieces, each limited to the time left before the deadline."""

    sock: socket.socket | None

    def send(self, data: Any) -> None:
        if _DEADLINE.get() is None or not isinstance(data, bytes | bytearray | memoryview):
            return super().send(data)  # type: ignore[misc,no-any-return]
        if self.sock is None:
            self.connect()  # type: ignore[attr-defined]
        view = memoryview(data)
        for start in range(0, len(view), _CHUNK):
            self.sock.settimeout(_remaining())  # type: ignore[union-attr]
            super().send(view[start : start + _CHUNK])  # type: ignore[misc]
        return None


class _HTTPConnection(_Sending, urllib3.connection.HTTPConnection):
    response_class = _HTTPResponse


class _HTTPSConnection(_Sending, urllib3.connection.HTTPSConnection):
    response_class = _HTTPResponse


class _HTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """A requests ``HTTPAdapter`` whose connections bound every wait by the call's deadline
    (outside an agnost call they behave as urllib3's own)."""

    @classmethod
    def like(cls, other: requests.adapters.HTTPAdapter) -> _DeadlineAdapter:
        """An adapter configured as ``other`` (its pool sizes and pool options, and its
        retries as far as :func:`_bounded_retries` keeps them)."""
        state = vars(other)  # the pool sizes, which requests keeps private
        options = dict(other.poolmanager.connection_pool_kw)  # TLS context, socket options...
        maxsize = options.pop("maxsize", state["_pool_maxsize"])
        block = options.pop("block", state["_pool_block"])
        adapter = cls(max_retries=_bounded_retries(other.max_retries))
        adapter.init_poolmanager(state["_pool_connections"], maxsize, block, **options)
        return adapter

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.poolmanager.ProxyManager:  # SOCKS pools are their own
            manager.pool_classes_by_scheme = _POOLS
        return manager


class _DeadlineRetry(urllib3.util.Retry):
    """A retry policy whose sleeps (``Retry-After``, backoff) end before the call's deadline:
    when the next attempt could not start in time, the call times out at once."""

    def sleep(self, response: urllib3.response.BaseHTTPResponse | None = None) -> None:
        wanted = None
        if self.respect_retry_after_header and response is not None:
            wanted = self.get_retry_after(response)
        if wanted is None:
            wanted = self.get_backoff_time()
        left = _remaining()
        if left is not None and wanted >= left:
            raise TimeoutError("the total timeout runs out before the retry")
        if wanted > 0:
            time.sleep(wanted)


#: What a caller's retries may re-send: the idempotent methods (urllib3's default set), so
#: that a POST or PATCH that may have reached the server is never sent twice.
_IDEMPOTENT = urllib3.util.Retry.DEFAULT_ALLOWED_METHODS


def _bounded_retries(retries: urllib3.util.Retry) -> urllib3.util.Retry:
    """``retries`` without a retry of a non-idempotent method or a sleep past the deadline
    (the caller's own policy class keeps its other behaviour)."""
    allowed = retries.allowed_methods
    methods = _IDEMPOTENT if allowed is None else _IDEMPOTENT & {m.upper() for m in allowed}
    bounded = retries.new(allowed_methods=methods)
    if not isinstance(bounded, _DeadlineRetry):
        bounded.__class__ = _deadline_class(type(retries))
    return bounded


def _deadline_class(policy: type[urllib3.util.Retry]) -> type[urllib3.util.Retry]:
    known = _DEADLINE_CLASSES.get(policy)
    if known is None:
        known = type(f"Deadline{policy.__name__}", (_DeadlineRetry, policy), {})
        _DEADLINE_CLASSES[policy] = known
    return known


_DEADLINE_CLASSES: dict[type[urllib3.util.Retry], type[urllib3.util.Retry]] = {
    urllib3.util.Retry: _DeadlineRetry
}


# --- logs: urllib3 names the URL, whose query may be an access token -------------------------


class _RedactQueries(logging.Filter):
    """Removes URL queries from urllib3's log records made during an agnost call; records
    of other requests in the process pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _IN_CALL.get():
            record.msg, record.args = redact_queries(record.getMessage()), None
        return True


for _name in ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_RedactQueries())


def _forget_session_cookie(jar: requests.cookies.RequestsCookieJar) -> None:
    """Drop the server's ``session_token`` cookie from a caller's jar: the session travels
    in the header only, so that signing out locally also stops authenticating."""
    for cookie in [c for c in jar if c.name == SESSION_COOKIE]:
        jar.clear(cookie.domain, cookie.path, cookie.name)


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


_FAILURES = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError)


def _timed_out(exc: BaseException, depth: int = 0) -> bool:
    """Whether the failure is, or wraps, a timeout: urllib3 reports a send that ran out of
    time as a broken connection ("Connection aborted.", TimeoutError(...))."""
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return False  # a refused connection, though urllib3 derives it from a timeout
    if isinstance(
        exc, TimeoutError | requests.exceptions.Timeout | urllib3.exceptions.TimeoutError
    ):
        return True
    inner = [*exc.args, getattr(exc, "reason", None)]
    return depth < 4 and any(
        isinstance(e, BaseException) and e is not exc and _timed_out(e, depth + 1) for e in inner
    )


_NOT_HTTP = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.DecodeError,
    urllib3.exceptions.InvalidHeader,  # of the answer: a bad or conflicting Content-Length
)


def _translate(request: Request, exc: BaseException) -> TransportError:
    """The agnost error for a requests or urllib3 failure: the same classes aiohttp's map to."""
    if isinstance(exc, requests.exceptions.SSLError | urllib3.exceptions.SSLError):
        return TLSError(describe(request, "TLS failure", exc))
    if _timed_out(exc):
        return RequestTimeoutError(describe(request, "timed out", exc))
    # A connection that failed, or a peer that did not speak HTTP (a bad status line,
    # header block, framing or content encoding).
    if isinstance(exc, _NOT_HTTP):
        return ConnectError(describe(request, "connection failed", exc))
    return TransportError(describe(request, "request failed", exc))
