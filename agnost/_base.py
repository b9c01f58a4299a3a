"""What both clients share: configuration, the token they send, and every step without I/O
on the network.

The sync ``agnost.Client`` and the async ``agnost_async.AsyncClient`` subclass
:class:`BaseClient` and add only their send loop: call the transport, then apply the
outcome. Store calls here are synchronous; the async client runs them in a worker thread.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypedDict, TypeVar

from ._core import local
from ._core.errors import (
    APIError,
    ClientClosedError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    StorageError,
)
from ._core.http import ClientConfig, Request, Response, Timeout, header_safe
from ._core.local import SessionChange, SessionChangeKind
from ._core.models import Session
from ._core.operations import Endpoint, Handler
from ._core.wire import to_wire
from .storage import FileStore, MemoryStore, Storage, default_store

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "BaseClient",
    "ClientOptions",
    "INHERIT",
    "SessionChangeCallback",
    "Settled",
]

T = TypeVar("T")

logger = logging.getLogger("agnost")

#: Default limits: 30 s for a whole call, 10 s to connect.
DEFAULT_TIMEOUT = Timeout()
#: Answers larger than this are refused after reading this many bytes (auth answers are small).
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024

#: ``on_session_change``: called with a :class:`agnost.SessionChange` after each local
#: session change (in ``agnost_async`` it may be a coroutine function, which is awaited).
SessionChangeCallback = Callable[[SessionChange], Any]


#: Stores whose exact type needs no runtime Protocol check (``isinstance`` against a
#: runtime-checkable Protocol walks its attributes: a third of a client's making cost).
#: A subclass still gets the full check.
_KNOWN_STORES = (MemoryStore, FileStore)


class _Inherit(enum.Enum):
    INHERIT = "inherit"


#: ``client.scope(..., on_session_change=INHERIT)``: the scope calls its client's callback.
INHERIT = _Inherit.INHERIT


class Settled(Generic[T]):
    """The end of one call before its local change is applied: a value or an error."""

    # A plain slotted class, not attrs: one is made on every call, and attrs compiles each
    # class's methods at import (issue 12). Never changed once made.
    __slots__ = ("change", "error", "value")

    def __init__(
        self,
        value: T | None,
        change: local.LocalChange | None,
        error: Exception | None = None,
    ) -> None:
        self.value = value
        self.change = change
        self.error = error

    def __repr__(self) -> str:
        return f"Settled(value={self.value!r}, change={self.change!r}, error={self.error!r})"

    def after_storage_error(self, error: StorageError) -> Settled[T]:
        """The outcome once the store refused the change (the header change still holds).

        A call that failed anyway raises its own error, the one the caller must see; a call
        that succeeded raises the storage error, which names the file.
        """
        if self.error is not None:
            logger.warning("could not update the stored session: %s", error)
            return self
        return Settled(self.value, self.change, error)

    def unwrap(self) -> T:
        """Return the value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class ClientOptions(TypedDict, total=False):
    """The options of ``create_client`` in both flavours, besides ``env_url``, ``client_key``
    and ``http_session``.

    - ``api_key``: sent as ``Authorization`` when given.
    - ``storage``: keeps the session and user (default: this env URL and key's profile in
      the file store, see :class:`agnost.FileStore`; :class:`agnost.MemoryStore` keeps them
      in this process only).
    - ``sign_in_redirect``: called with no arguments after the session is invalidated (by
      ``invalidate_session`` or by the server refusing the session's token): the Python
      meaning of the JavaScript client's redirect URL.
    - ``timeout``: an :class:`agnost.Timeout`, a total in seconds, or ``None`` for no limit
      (default: 30 s in all, 10 s to connect).
    - ``max_response_bytes``: the cap on an answer's body (default: 4 MiB). The file store
      keeps any sign-in answer of up to 16 MiB; a larger one still signs in, in memory, with
      a :class:`agnost.StorageError`.
    - ``on_session_change``: called with a :class:`agnost.SessionChange` after every local
      session change (established, set, user set, signed out, cleared, invalidated), once
      the change is complete; its exception propagates to the call that made the change.
    - ``stateless``: ``True`` for the app-level client of a server: it holds no session,
      never reads or writes a session file (``storage`` must be left out), and serves
      users through :meth:`scope`.
    """

    api_key: str | None
    storage: Storage | None
    sign_in_redirect: Callable[[], Any] | None
    timeout: Timeout | float | None
    max_response_bytes: int
    on_session_change: SessionChangeCallback | None
    stateless: bool


class BaseClient:
    """The flavour-independent half of a client. Not for direct use."""

    def __init__(
        self,
        env_url: str,
        client_key: str,
        *,
        api_key: str | None = None,
        storage: Storage | None = None,
        sign_in_redirect: Callable[[], Any] | None = None,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        on_session_change: SessionChangeCallback | None = None,
        stateless: bool = False,
    ) -> None:
        self._config = ClientConfig.create(env_url, client_key, api_key)
        if not isinstance(stateless, bool):
            raise InvalidArgumentTypeError("invalid_stateless", "stateless must be a bool")
        if stateless and storage is not None:
            raise InvalidArgumentError(
                "invalid_storage", "a stateless client keeps no session: leave storage out"
            )
        # A store the client makes is the client's to close; one it is given is the caller's.
        self._owns_storage = storage is None
        if stateless:
            # Always empty: the client applies no change to it (see _apply_blocking), and
            # it refuses writes through client.storage, so nothing can put a session where
            # the client (the async one restores on first use) would pick it up.
            storage = _StatelessStore()
        elif storage is None:
            storage = default_store(self._config.base_url, self._config.client_key)
        elif type(storage) not in _KNOWN_STORES and not isinstance(storage, Storage):
            raise InvalidArgumentTypeError(
                "invalid_storage", "storage must have load(), save() and clear() methods"
            )
        if sign_in_redirect is not None and not callable(sign_in_redirect):
            raise InvalidArgumentTypeError(
                "invalid_sign_in_redirect",
                "sign_in_redirect must be a callable (it is called after the session is"
                " invalidated), not a URL",
            )
        _check_callback(on_session_change)
        # bool is an int: True would be a one-byte cap. Kept one class for every bad value,
        # as the per-call cap of client.endpoint does.
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes <= 0
        ):
            raise InvalidArgumentTypeError(
                "invalid_max_response_bytes", "max_response_bytes must be a positive int"
            )
        self._storage: Storage = storage
        self._apply_lock = threading.Lock()
        # Redacted from every error message wherever it appears, with the tokens of each
        # call (and, by the rule for passwords, its passwords).
        self._secrets = (self._config.api_key,) if self._config.api_key else ()
        self._sign_in_redirect = sign_in_redirect
        self._timeout = _timeout(timeout)
        self._max_response_bytes = max_response_bytes
        #: The token sent as the ``Session`` header; kept apart from the store because
        #: ``clear_local_data`` empties the store but keeps sending it.
        self._token: str | None = None
        self._closed = False
        self._stateless = stateless
        self._on_session_change = on_session_change
        #: The app-level client a scope was made from; ``None`` for that client itself.
        self._parent: BaseClient | None = None

    def __repr__(self) -> str:
        if self._stateless:
            state = "stateless"
        else:
            state = "signed in" if self._token is not None else "signed out"
        scope = " scope" if self._parent is not None else ""
        return f"<{type(self).__name__}{scope} {self._config.base_url} {state}>"

    @property
    def base_url(self) -> str:
        """The environment's base URL every request goes to."""
        return self._config.base_url

    @property
    def session_token(self) -> str | None:
        """The session token sent with each request right now, or ``None``: to hand to
        other HTTP code. Read-only; never shown in a ``repr``. (The async client reads the
        stored session on first use: before that, or ``async with``, it is ``None``.)"""
        return self._token

    @property
    def storage(self) -> Storage:
        """The store holding this client's session and user."""
        return self._storage

    @property
    def closed(self) -> bool:
        """Whether the client was closed; a closed client sends no more requests. A scope
        is closed once it or its client is."""
        parent = self._parent
        return self._closed or (parent is not None and parent._closed)

    @property
    def stateless(self) -> bool:
        """Whether this client holds no session (``create_client(..., stateless=True)``)."""
        return self._stateless

    @property
    def is_scope(self) -> bool:
        """Whether this is a scope made by :meth:`scope` (``False`` for the client itself)."""
        return self._parent is not None

    # --- scopes ------------------------------------------------------------------------------

    def _init_scope(
        self,
        scope: BaseClient,
        session: str | Session | None,
        on_session_change: SessionChangeCallback | _Inherit | None,
    ) -> None:
        """Make ``scope`` (a bare instance of this client's class) a scope of this client.

        Nothing is re-validated: the configuration, secrets, limits and callbacks are the
        client's own, already checked; only ``session`` and a given callback are checked.
        """
        root = self if self._parent is None else self._parent
        root._check_open()
        if session is None:
            token = None
            store = MemoryStore()
        elif isinstance(session, str):
            if not header_safe(session):
                raise InvalidArgumentError(
                    "invalid_session", "the session token is not a valid header value"
                )
            token = session
            store = MemoryStore()
        elif isinstance(session, Session):
            token = session.token
            if not header_safe(token):
                raise InvalidArgumentError(
                    "invalid_session", "the session's token is not a valid header value"
                )
            store = _SeededStore(session)
        else:
            raise InvalidArgumentTypeError(
                "invalid_session",
                "session must be a session token (str), an agnost.Session or None",
            )
        if on_session_change is INHERIT:
            on_session_change = root._on_session_change
        else:
            _check_callback(on_session_change)
        scope._config = root._config
        scope._owns_storage = True
        scope._storage = store
        scope._apply_lock = threading.Lock()
        scope._secrets = root._secrets
        scope._sign_in_redirect = root._sign_in_redirect
        scope._timeout = root._timeout
        scope._max_response_bytes = root._max_response_bytes
        scope._token = token
        scope._closed = False
        scope._stateless = False
        scope._on_session_change = on_session_change
        scope._parent = root

    # --- steps without network I/O, shared by both flavours ---------------------------------

    def _check_open(self) -> None:
        parent = self._parent
        if self._closed or (parent is not None and parent._closed):
            raise ClientClosedError()

    def _close_storage(self) -> None:
        self._closed = True
        close = getattr(self._storage, "close", None)
        if self._owns_storage and callable(close):
            close()

    def _request(self, endpoint: Endpoint, token: str | None) -> Request:
        headers = self._config.headers(token, json_body=endpoint.body is not None)
        if endpoint.headers:
            # A call's own headers never name a protocol header (the core refuses those).
            headers.update(endpoint.headers)
        return Request(
            method=endpoint.method,
            url=self._config.url(endpoint.path, endpoint.query),
            headers=headers,
            body=endpoint.body,
            max_response_bytes=endpoint.max_response_bytes,
        )

    def _settle(
        self, op: Handler[T], endpoint: Endpoint, response: Response, token: str | None
    ) -> Settled[T]:
        logger.debug("%s %s -> %s", endpoint.method, endpoint.path, response.status)
        try:
            outcome = op.handle(endpoint, response, sent_token=token, secrets=self._secrets)
        except APIError as error:
            change = local.invalidation_after(
                error, sent_token=token, target_token=endpoint.target_token
            )
            return Settled(value=None, change=change, error=error)
        return Settled(value=outcome.value, change=outcome.change)

    def _restore_blocking(self) -> None:
        """Start sending the stored session's token, if there is one."""
        if self._stateless:
            return
        try:
            self._token = self._storage.load().token
        except StorageError as error:
            logger.warning("starting signed out: %s", error)

    def _apply_blocking(
        self, change: local.LocalChange
    ) -> tuple[SessionChangeKind | None, StorageError | None]:
        """Apply ``change`` to the store and the header; return what changed (``None``:
        nothing of this client's session did) and the store's error, to raise once the
        callbacks ran.

        Header and store never disagree: a store that refuses a value (say, one JSON cannot
        hold, :class:`agnost.InvalidArgumentError`) changes nothing, so the header stays as it
        was; a store that cannot write keeps the change in memory and the header follows it
        all the same, and its :class:`agnost.StorageError` is raised after. Changes apply one
        at a time, so an invalidation racing a sign-in sees either all of it or none.
        """
        if self._stateless:
            # Nothing is kept: a sign-in returns its grant to the caller and that is all.
            if (
                isinstance(change, local.Store)
                and change.kind is not SessionChangeKind.ESTABLISHED
            ):
                raise InvalidArgumentError(
                    "stateless_client",
                    "a stateless client holds no session or user: make a scope of it"
                    " (client.scope(session)) and set it there",
                )
            return None, None
        failure: StorageError | None = None
        with self._apply_lock:
            if isinstance(change, local.Store):
                try:
                    self._storage.save(change.update)
                except StorageError as error:
                    failure = error
                self._use_token(change.token)
                return change.kind, failure
            rejected = change.if_token
            # "ours": the header still carries the session the change is about. A later
            # failure of the same token finds it gone, so the redirect is called once.
            ours = rejected is None or self._token == rejected
            if change.stop_sending and ours:
                self._token = None
            try:
                removed = self._storage.clear(if_token=rejected)
            except StorageError as error:
                failure, removed = error, True
            if not change.stop_sending:
                return change.kind, failure
            if not ours:
                return None, failure
            if rejected is not None and not removed:
                # A newer session stored meanwhile (by another client or process) takes
                # over, as a browser tab finds a newer session in local storage.
                successor = self._storage.load().token
                if successor is not None and successor != rejected:
                    self._token = successor
                    return None, failure
            return change.kind, failure

    def _event(self, kind: SessionChangeKind, change: local.LocalChange) -> SessionChange | None:
        """The event for ``on_session_change``, or ``None`` when there is no callback."""
        if self._on_session_change is None:
            return None
        return SessionChange.of(kind, change, self)

    def _use_token(self, token: str | None) -> None:
        """Send ``token`` from now on; ``None`` keeps the current one."""
        if token is not None:
            self._token = token


def _check_callback(callback: object) -> None:
    if callback is not None and not callable(callback):
        raise InvalidArgumentTypeError(
            "invalid_on_session_change", "on_session_change must be a callable or None"
        )


class _StatelessStore(MemoryStore):
    """The store of a stateless client: always empty, and refusing to keep anything."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<stateless store>"

    def save(self, update: local.StoreUpdate) -> None:
        """Refused: a stateless client holds no session or user."""
        raise InvalidArgumentError(
            "stateless_client",
            "a stateless client holds no session or user: make a scope of it"
            " (client.scope(session)) and set it there",
        )


class _SeededStore(MemoryStore):
    """The memory store of a scope made from a :class:`agnost.Session`: the session turns
    into its wire form on first use, not when the scope is made (that conversion is most
    of a scope's making cost, and many scopes only send the token)."""

    __slots__ = ("_seed",)

    def __init__(self, seed: Session) -> None:
        super().__init__()
        self._seed: Session | None = seed

    def __repr__(self) -> str:
        self._sow()
        return super().__repr__()

    def _sow(self) -> None:
        if self._seed is None:
            return
        with self._lock:
            if self._seed is not None:
                self._state = local.StoredAuth(session=to_wire(self._seed))
                self._seed = None

    def load(self) -> local.StoredAuth:
        """Return the stored session and user."""
        self._sow()
        return super().load()

    def save(self, update: local.StoreUpdate) -> None:
        """Store the given keys; keys not in ``update`` keep their value."""
        self._sow()
        super().save(update)

    def clear(self, *, if_token: str | None = None) -> bool:
        """Remove the session and user (only if the stored token is ``if_token``, when given)."""
        self._sow()
        return super().clear(if_token=if_token)


def _timeout(value: Timeout | float | None) -> Timeout:
    if isinstance(value, Timeout):
        return value
    if value is None:
        return Timeout(total=None, connect=None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Timeout(
            total=float(value), connect=min(float(value), DEFAULT_TIMEOUT.connect or 10)
        )
    raise InvalidArgumentTypeError(
        "invalid_timeout", "timeout must be an agnost.Timeout, a number of seconds, or None"
    )
