"""The async client, on aiohttp."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp

from agnost._base import INHERIT, BaseClient, ClientOptions, SessionChangeCallback, _Inherit
from agnost._core import jsonpieces, local
from agnost._core.cookies import Headers, session_token_from_headers
from agnost._core.errors import InvalidArgumentError, InvalidArgumentTypeError, StorageError
from agnost._core.http import LARGE_ANSWER_BYTES
from agnost._core.models import Session, User
from agnost._core.operations import Endpoint, Handler
from agnost.storage import MemoryStore

from ._auth import AsyncAuth
from ._endpoint import AsyncEndpoints
from ._transport import AiohttpTransport

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["AsyncClient", "create_client"]

T = TypeVar("T")
_C = TypeVar("_C", bound="AsyncClient")


class AsyncClient(BaseClient):
    """An async Agnost client. Create one with :func:`agnost_async.create_client`.

    The auth API is on :attr:`auth`, calls to the app's own endpoints on :attr:`endpoint`;
    their methods are coroutines. Use it with ``async with``, or await :meth:`aclose`, to
    release its HTTP connections. The stored session is read on first use, in a worker
    thread, so the event loop never waits on the store.
    """

    auth: AsyncAuth
    """Sign-up, sign-in and session management (``await client.auth.sign_in_with_email(...)``)."""
    endpoint: AsyncEndpoints
    """Calls to the app's own endpoints, with the session
    (``await client.endpoint.get("/orders")``)."""

    def __init__(
        self,
        env_url: str,
        client_key: str,
        *,
        http_session: aiohttp.ClientSession | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        if http_session is not None and not isinstance(http_session, aiohttp.ClientSession):
            raise InvalidArgumentTypeError(
                "invalid_http_session", "http_session must be an aiohttp.ClientSession or None"
            )
        if http_session is not None and http_session.closed:
            raise InvalidArgumentError("invalid_http_session", "http_session is closed")
        super().__init__(env_url, client_key, **options)
        self._transport = AiohttpTransport(http_session, self._timeout, self._max_response_bytes)
        self._restored = False
        self._restoring: asyncio.Future[None] | None = None
        self.auth = AsyncAuth(self)
        self.endpoint = AsyncEndpoints(self)

    async def __aenter__(self: _C) -> _C:
        await self._ensure_restored()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the HTTP connections and the store's file; the session stays stored.

        A closed client sends no more requests (:class:`agnost.ClientClosedError`), and
        neither do its scopes. Closing a scope releases nothing (the connections are its
        client's); the scope then sends no more requests.
        """
        if self._parent is not None:
            self._closed = True
            return
        await self._transport.aclose()
        await self._blocking(self._close_storage)

    # --- serving many users --------------------------------------------------------------------

    def scope(
        self: _C,
        session: str | Session | None = None,
        *,
        on_session_change: SessionChangeCallback | _Inherit | None = INHERIT,
    ) -> _C:
        """A client acting as one user, for one request: made from that user's session
        token (or :class:`agnost.Session`, or ``None`` for no one yet, as for a sign-in).

        The scope shares this client's configuration and HTTP connection pool, sends its
        own token, and keeps its session and user in a fresh :class:`agnost.MemoryStore`:
        never this client's store, never a file. Its local changes (a sign-in, a sign-out,
        an invalidation) stay inside it. It has the whole surface (``auth``, ``endpoint``),
        is cheap to make (microseconds; not a coroutine), and needs no cleanup:
        ``aclose()`` and ``async with`` only end its use. Once this client is closed, the
        scope raises :class:`agnost.ClientClosedError` as the client does.

        Made from a token, the scope sends it but keeps no session object
        (``auth.get_session()`` is ``None`` until one is established or set); made from a
        ``Session``, it keeps that session. ``on_session_change``: by default this client's
        callback (a coroutine function is awaited); give another, or ``None`` for none.
        ``sign_in_redirect`` is this client's. Any number of scopes may run at once in one
        event loop.
        """
        scope = object.__new__(type(self))
        self._init_scope(scope, session, on_session_change)
        scope._transport = self._transport
        scope._restored = True  # a scope's memory store holds what it was made with
        scope._restoring = None
        scope.auth = AsyncAuth(scope)
        scope.endpoint = AsyncEndpoints(scope)
        return scope

    async def get_user_from_request(self, headers: Headers) -> User | None:
        """The user of an incoming request, as the database holds it now, or ``None`` when
        the request carries no session token (``getUserFromDBbyCookie``).

        The token comes from the request's ``Session`` header or ``session_token`` cookie
        (:func:`agnost.session_token_from_headers`) and is used through a scope of this
        client, so nothing of it is kept here, and nothing is told: a token the server
        refuses raises :class:`agnost.SessionTokenError` (answer with
        :func:`agnost.expired_session_cookie` then), without calling this client's
        ``on_session_change`` or ``sign_in_redirect``.
        """
        token = session_token_from_headers(headers)
        if token is None:
            return None
        # A scope that tells no one: its caller gets the refusal as an error. Otherwise any
        # request with a bogus token would tell this client's callback "invalidated" and
        # call its sign_in_redirect, as if its own session had been refused.
        scope = self.scope(token, on_session_change=None)
        scope._sign_in_redirect = None
        return await scope.auth.get_user_from_db()

    # --- the send loop -------------------------------------------------------------------------

    async def _send(self, op: Handler[T], endpoint: Endpoint) -> T:
        self._check_open()
        if not self._restored:  # once per client: no coroutine to await after that
            await self._ensure_restored()
        token = self._token
        response = await self._transport.send(self._request(endpoint, token))
        # A large answer is decoded in pieces in a worker thread (agnost._core.jsonpieces),
        # which hands the GIL back to this loop between pieces instead of making it wait out
        # one long parse (tests/benchmarks/bench_hostile_answers.py measures the stall).
        if len(response.body) > LARGE_ANSWER_BYTES:
            loop = asyncio.get_running_loop()
            settled = await asyncio.to_thread(
                jsonpieces.run_for, loop, self._settle, op, endpoint, response, token
            )
        else:
            settled = self._settle(op, endpoint, response, token)
        if settled.change is not None:
            try:
                await self._apply(settled.change)
            except StorageError as error:
                settled = settled.after_storage_error(error)
            except Exception:
                # A callback failed after the change was applied; a call that failed on its
                # own raises its own error (the server's), with the callback's as context.
                if settled.error is None:
                    raise
                raise settled.error  # noqa: B904 - the callback's error stays its context
        return settled.unwrap()

    async def _apply(self, change: local.LocalChange) -> None:
        await self._ensure_restored()
        kind, failure = await self._blocking(self._apply_blocking, change)
        try:
            if kind is not None:
                await self._announce(kind, change)
        finally:
            if failure is not None:
                raise failure

    async def _announce(self, kind: local.SessionChangeKind, change: local.LocalChange) -> None:
        """Tell ``on_session_change``, then (for an invalidation) call ``sign_in_redirect``;
        each is awaited when it returns an awaitable."""
        try:
            event = self._event(kind, change)
            if event is not None and self._on_session_change is not None:
                told = self._on_session_change(event)
                if inspect.isawaitable(told):
                    await told
        finally:
            if kind is local.SessionChangeKind.INVALIDATED and self._sign_in_redirect:
                result = self._sign_in_redirect()
                if inspect.isawaitable(result):
                    await result

    async def _load(self) -> local.StoredAuth:
        await self._ensure_restored()
        return await self._blocking(self._storage.load)

    async def _ensure_restored(self) -> None:
        if self._restored:
            return
        # Concurrent first calls share one restore instead of racing past it; the shield
        # keeps a cancelled caller from cancelling the restore the others wait for.
        if self._restoring is None or self._restoring.cancelled():
            self._restoring = asyncio.ensure_future(self._blocking(self._restore_blocking))
        await asyncio.shield(self._restoring)
        self._restored = True

    async def _blocking(self, func: Callable[..., T], *args: Any) -> T:
        # The memory store never blocks; every other store may touch files or wait on locks.
        if isinstance(self._storage, MemoryStore):
            return func(*args)
        return await asyncio.to_thread(func, *args)


def create_client(
    env_url: str,
    client_key: str,
    *,
    http_session: aiohttp.ClientSession | None = None,
    **options: Unpack[ClientOptions],
) -> AsyncClient:
    """Create an async client for the Agnost environment at ``env_url``.

    Takes the options of :func:`agnost.create_client` (:class:`agnost.ClientOptions`);
    ``sign_in_redirect`` and ``on_session_change`` may also be coroutine functions, and
    ``http_session`` is an ``aiohttp.ClientSession`` (the caller closes it). A session made
    here takes its proxy from ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``NO_PROXY`` (read by
    agnost, so ``~/.netrc`` is never consulted), as the blocking client does; one of the
    caller's keeps its own settings.
    """
    return AsyncClient(env_url, client_key, http_session=http_session, **options)
