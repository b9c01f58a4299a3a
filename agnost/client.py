"""The blocking client, on requests."""

from __future__ import annotations

import inspect
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import requests

from ._auth import Auth
from ._base import INHERIT, BaseClient, ClientOptions, SessionChangeCallback, _Inherit
from ._core import local
from ._core.cookies import Headers, session_token_from_headers
from ._core.errors import InvalidArgumentTypeError, StorageError
from ._core.models import Session, User
from ._core.operations import Endpoint, Handler
from ._endpoint import Endpoints
from ._transport import RequestsTransport

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Client", "create_client"]

T = TypeVar("T")
_C = TypeVar("_C", bound="Client")


class Client(BaseClient):
    """A blocking Agnost client. Create one with :func:`agnost.create_client`.

    The auth API is on :attr:`auth`, calls to the app's own endpoints on :attr:`endpoint`.
    Use it as a context manager, or call :meth:`close`, to release its HTTP connections.
    """

    auth: Auth
    """Sign-up, sign-in and session management (``client.auth.sign_in_with_email(...)``)."""
    endpoint: Endpoints
    """Calls to the app's own endpoints, with the session (``client.endpoint.get("/orders")``)."""

    def __init__(
        self,
        env_url: str,
        client_key: str,
        *,
        http_session: requests.Session | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        if http_session is not None and not isinstance(http_session, requests.Session):
            raise InvalidArgumentTypeError(
                "invalid_http_session", "http_session must be a requests.Session or None"
            )
        super().__init__(env_url, client_key, **options)
        if inspect.iscoroutinefunction(self._sign_in_redirect):
            raise InvalidArgumentTypeError(
                "invalid_sign_in_redirect",
                "the blocking client cannot await a coroutine function as sign_in_redirect",
            )
        _check_blocking_callback(self._on_session_change)
        self._transport = RequestsTransport(
            http_session, self._timeout, self._max_response_bytes, self._config.base_url
        )
        self.auth = Auth(self)
        self.endpoint = Endpoints(self)
        self._restore_blocking()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the HTTP connections and the store's file; the session stays stored.

        A closed client sends no more requests (:class:`agnost.ClientClosedError`), and
        neither do its scopes. Closing a scope releases nothing (the connections are its
        client's); the scope then sends no more requests.
        """
        if self._parent is not None:
            self._closed = True
            return
        self._transport.close()
        self._close_storage()

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
        is cheap to make (microseconds), and needs no cleanup: ``close()`` and ``with`` only
        end its use. Once this client is closed, the scope raises
        :class:`agnost.ClientClosedError` as the client does.

        Made from a token, the scope sends it but keeps no session object
        (``auth.get_session()`` is ``None`` until one is established or set); made from a
        ``Session``, it keeps that session. ``on_session_change``: by default this client's
        callback; give another, or ``None`` for none. ``sign_in_redirect`` is this client's.
        Threads may each use their own scope at the same time.
        """
        scope = object.__new__(type(self))
        self._init_scope(scope, session, on_session_change)
        if on_session_change is not INHERIT:
            _check_blocking_callback(scope._on_session_change)
        scope._transport = self._transport
        scope.auth = Auth(scope)
        scope.endpoint = Endpoints(scope)
        return scope

    def get_user_from_request(self, headers: Headers) -> User | None:
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
        return scope.auth.get_user_from_db()

    # --- the send loop -------------------------------------------------------------------------

    def _send(self, op: Handler[T], endpoint: Endpoint) -> T:
        self._check_open()
        token = self._token
        response = self._transport.send(self._request(endpoint, token))
        settled = self._settle(op, endpoint, response, token)
        if settled.change is not None:
            try:
                self._apply(settled.change)
            except StorageError as error:
                settled = settled.after_storage_error(error)
            except Exception:
                # A callback failed after the change was applied; a call that failed on its
                # own raises its own error (the server's), with the callback's as context.
                if settled.error is None:
                    raise
                raise settled.error  # noqa: B904 - the callback's error stays its context
        return settled.unwrap()

    def _apply(self, change: local.LocalChange) -> None:
        kind, failure = self._apply_blocking(change)
        try:
            if kind is not None:
                self._announce(kind, change)
        finally:
            if failure is not None:
                raise failure

    def _announce(self, kind: local.SessionChangeKind, change: local.LocalChange) -> None:
        """Tell ``on_session_change``, then (for an invalidation) call ``sign_in_redirect``."""
        try:
            event = self._event(kind, change)
            if event is not None and self._on_session_change is not None:
                self._on_session_change(event)
        finally:
            if kind is local.SessionChangeKind.INVALIDATED and self._sign_in_redirect is not None:
                self._sign_in_redirect()

    def _load(self) -> local.StoredAuth:
        return self._storage.load()


def create_client(
    env_url: str,
    client_key: str,
    *,
    http_session: requests.Session | None = None,
    **options: Unpack[ClientOptions],
) -> Client:
    """Create a blocking client for the Agnost environment at ``env_url``.

    ``client_key`` is the environment's client library key. ``http_session`` is a
    ``requests.Session`` to use instead of a new one (the caller closes it). The other
    options are those of :class:`agnost.ClientOptions`: ``api_key``, ``storage``,
    ``sign_in_redirect``, ``timeout``, ``max_response_bytes``, ``on_session_change`` and
    ``stateless``.

    A server acting for many users makes one ``stateless=True`` client (no session, no
    session file) and a :meth:`Client.scope` of it per request.

    A session made here honours ``HTTP_PROXY``, ``HTTPS_PROXY`` and ``NO_PROXY``, as the
    async client's does; given one, agnost mounts its deadline adapter for ``env_url`` only
    in place of a plain ``HTTPAdapter`` (an adapter of another type is left as it is).
    """
    return Client(env_url, client_key, http_session=http_session, **options)


def _check_blocking_callback(callback: object) -> None:
    # An object whose __call__ is a coroutine function too: called, it would only make a
    # coroutine that nothing awaits, and the callback would silently never run.
    if inspect.iscoroutinefunction(callback) or (
        callback is not None
        and not inspect.isroutine(callback)
        and not inspect.isclass(callback)  # calling a class makes an instance, at once
        and inspect.iscoroutinefunction(getattr(callback, "__call__", None))  # noqa: B004
    ):
        raise InvalidArgumentTypeError(
            "invalid_on_session_change",
            "the blocking client cannot await a coroutine function as on_session_change",
        )
