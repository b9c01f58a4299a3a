"""The local-state rules, as data: what each call changes in the store and in the headers.

A client applies a :class:`Store` or :class:`Clear` to its store and to the token it sends;
this module decides which one, and never touches either. The rules are those of the official
client (protocol.md §3), minus its bugs (§6).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any, TypedDict, TypeVar

import attrs

from .errors import (
    SESSION_TOKEN_CODES,
    APIError,
    CorruptStorageError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
)
from .http import header_safe
from .models import Session, User
from .wire import from_wire, to_wire

__all__ = [
    "Clear",
    "LocalChange",
    "Store",
    "StoreUpdate",
    "WireObject",
    "clear_local_data",
    "invalidate_session",
    "invalidation_after",
    "LOCAL_METHODS",
    "LocalMethod",
    "SessionChange",
    "SessionChangeKind",
    "StoredAuth",
    "get_session",
    "get_user",
    "set_session",
    "set_user",
    "to_json",
]

T = TypeVar("T")

#: A JSON object as it travels on the wire: the session or the user exactly as the server sent it.
WireObject = Mapping[str, Any]


class StoreUpdate(TypedDict, total=False):
    """The keys a store's ``save`` changes; a key left out keeps its stored value.

    A key set to ``None`` removes that object from the store.
    """

    session: WireObject | None
    user: WireObject | None


@attrs.frozen
class StoredAuth:
    """What a store holds: the session and the user as the server sent them, or ``None``."""

    # The session holds a bearer token: its repr only says whether there is one.
    session: WireObject | None = attrs.field(
        default=None, repr=lambda s: "None" if s is None else "<session>"
    )
    user: WireObject | None = None

    @property
    def token(self) -> str | None:
        """The stored session's token, or ``None`` when there is no usable one."""
        token = self.session.get("token") if self.session is not None else None
        return token if isinstance(token, str) and header_safe(token) else None


class SessionChangeKind(str, enum.Enum):
    """Which local session change a client or scope just applied (the event of
    ``on_session_change``). A ``str``, so ``kind == "invalidated"`` works too."""

    #: A call's answer brought a new session, now kept and sent (a sign-in, a sign-up that
    #: signs in, an access-token grant, a phone verification that signs in).
    ESTABLISHED = "established"
    #: ``set_session``: a session set by hand is now kept and sent.
    SET = "set"
    #: ``set_user``: a user set by hand is now kept (the session is unchanged).
    USER_SET = "user_set"
    #: ``sign_out`` of the current session, or ``sign_out_all``: nothing is kept or sent.
    SIGNED_OUT = "signed_out"
    #: ``clear_local_data``: nothing is kept, but the token is still sent (as the official
    #: client does).
    CLEARED = "cleared"
    #: ``invalidate_session``, or the server refusing the session's token: nothing is kept
    #: or sent, and ``sign_in_redirect`` is called.
    INVALIDATED = "invalidated"


class Store:
    """Save ``update`` to the store; if it holds a session, send its token from now on.

    ``kind`` says what the change is, for ``on_session_change``. Equal to another
    ``Store`` with the same update (the kind only labels it). Never changed once made.
    """

    # Plain slotted classes, not attrs: one is made by every call that changes something,
    # and attrs compiles each class's methods at import (issue 12).
    __slots__ = ("kind", "update")

    def __init__(
        self, update: StoreUpdate, kind: SessionChangeKind = SessionChangeKind.ESTABLISHED
    ) -> None:
        self.update = update
        self.kind = kind

    def __repr__(self) -> str:
        # The update holds a session token: the repr names only the keys it changes.
        return f"Store(update=<{', '.join(self.update)}>, kind={self.kind!r})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Store:
            return NotImplemented
        # Equality is about what changes in the store; the kind only labels it.
        return self.update == other.update

    __hash__ = None  # type: ignore[assignment] # the update is a dict

    @property
    def token(self) -> str | None:
        """The token to send from now on, or ``None`` to keep sending the current one."""
        session = self.update.get("session")
        token = session.get("token") if session is not None else None
        return token if isinstance(token, str) and header_safe(token) else None


class Clear:
    """Remove the stored session and user.

    ``stop_sending``: also stop sending the ``Session`` header. ``notify``: then call the
    client's ``sign_in_redirect``. ``if_token``: act only where the token is still this one
    (a newer session, stored meanwhile by another call or process, survives). Compared by
    value; never changed once made.
    """

    __slots__ = ("if_token", "notify", "stop_sending")

    def __init__(
        self, stop_sending: bool, notify: bool = False, if_token: str | None = None
    ) -> None:
        self.stop_sending = stop_sending
        self.notify = notify
        self.if_token = if_token

    def __repr__(self) -> str:
        return f"Clear(stop_sending={self.stop_sending!r}, notify={self.notify!r})"

    def _key(self) -> tuple[bool, bool, str | None]:
        return (self.stop_sending, self.notify, self.if_token)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Clear:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def kind(self) -> SessionChangeKind:
        """What the change is, for ``on_session_change``."""
        if not self.stop_sending:
            return SessionChangeKind.CLEARED
        return SessionChangeKind.INVALIDATED if self.notify else SessionChangeKind.SIGNED_OUT


LocalChange = Store | Clear


@attrs.frozen
class SessionChange:
    """What ``on_session_change`` is told after a local session change of a client or scope.

    ``kind`` says which change (:class:`SessionChangeKind`). ``session`` and ``user`` are
    what is now kept, for the kinds that keep something (``session`` for ``established`` and
    ``set``, ``user`` for ``established`` and ``user_set``), else ``None``. The event itself
    holds no token: only reading ``session.token`` gives it, and the session's repr hides it.
    ``client`` is the client or scope whose state changed, so that one callback shared by a
    server's scopes can tell which of them was, say, invalidated (it takes no part in the
    event's equality or repr).
    """

    kind: SessionChangeKind
    session: Session | None = None
    user: User | None = None
    client: Any = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def of(cls, kind: SessionChangeKind, change: LocalChange, client: Any = None) -> SessionChange:
        """The event for ``change``, applied as ``kind`` by ``client``."""
        if not isinstance(change, Store):
            return cls(kind, client=client)
        # Both objects came from an answer the core already parsed, or from a model the
        # caller passed: they decode.
        session = change.update.get("session")
        user = change.update.get("user")
        return cls(
            kind,
            None if session is None else from_wire(Session, session),
            None if user is None else from_wire(User, user),
            client,
        )


def establish(body: Mapping[str, Any]) -> Store | None:
    """Store the user and session of a grant-shaped answer; ``None`` if no session came back."""
    session = body.get("session")
    if session is None:
        return None
    return Store({"session": session, "user": body.get("user")})


def set_session(session: Session) -> LocalChange:
    """Store ``session`` and send its token with every later request."""
    if not isinstance(session, Session):
        raise InvalidArgumentTypeError("invalid_session", "session must be an agnost.Session")
    if not header_safe(session.token):
        raise InvalidArgumentError(
            "invalid_session", "the session's token is not a valid header value"
        )
    return Store({"session": _storable(to_wire(session))}, SessionChangeKind.SET)


def set_user(user: User) -> LocalChange:
    """Store ``user``; the session and the header are left as they are."""
    if not isinstance(user, User):
        raise InvalidArgumentTypeError("invalid_user", "user must be an agnost.User")
    return Store({"user": _storable(to_wire(user))}, SessionChangeKind.USER_SET)


def to_json(value: object) -> str:
    """The JSON text a store keeps for ``value``: compact, and ASCII (every other character
    escaped), so its bytes are the same under any locale and lone surrogates survive.

    Raises :class:`InvalidArgumentTypeError` for a value JSON has no form for (an arbitrary
    object, a set, bytes) and :class:`InvalidArgumentError` for one it cannot hold (a
    circular structure, an integer too long to print, nesting too deep). Messages name the
    problem, never the value.
    """
    try:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    # json's messages ("Object of type X is not JSON serializable", "Circular reference
    # detected", the integer digit limit) name a type or a limit, never the value.
    except TypeError as exc:
        raise InvalidArgumentTypeError("invalid_argument", f"cannot be stored: {exc}") from None
    except RecursionError:
        raise InvalidArgumentError(
            "invalid_argument", "cannot be stored: too deeply nested"
        ) from None
    except ValueError as exc:
        raise InvalidArgumentError("invalid_argument", f"cannot be stored: {exc}") from None


def _storable(wire: dict[str, Any]) -> dict[str, Any]:
    # Refused here, before anything changes: a store could not keep it, and the header would
    # then carry a token the store does not hold.
    to_json(wire)
    return wire


def clear_local_data() -> LocalChange:
    """Remove the stored session and user but keep sending the session token (per the seed)."""
    return Clear(stop_sending=False)


def invalidate_session() -> LocalChange:
    """Remove the stored session and user, stop sending the token, call ``sign_in_redirect``."""
    return Clear(stop_sending=True, notify=True)


def invalidation_after(
    error: APIError, *, sent_token: str | None, target_token: str | None
) -> LocalChange | None:
    """The change an error answer causes, or ``None`` when it is not about our session.

    Any item with a session-token code counts, in either body shape. Only the session the
    request was authenticated with is invalidated, and only while it is still the current
    one. A sign-out of another token refused with 403/404 is about that token, not ours
    (the official client wrongly invalidates there); 401 always means ours.
    """
    if sent_token is None or not any(i.code in SESSION_TOKEN_CODES for i in error.items):
        return None
    if target_token not in (None, sent_token) and error.status != 401:
        return None
    return Clear(stop_sending=True, notify=True, if_token=sent_token)


def get_session(state: StoredAuth) -> Session | None:
    """The stored session as a model."""
    return _read(Session, state.session, "session")


def get_user(state: StoredAuth) -> User | None:
    """The stored user as a model."""
    return _read(User, state.user, "user")


def _read(cls: type[T], data: WireObject | None, what: str) -> T | None:
    if data is None:
        return None
    try:
        return from_wire(cls, data)
    except Exception as exc:  # cattrs groups the causes; any failure means a bad shape
        raise CorruptStorageError(
            f"the stored {what} does not have the shape of a {what}"
        ) from exc


_LOCALMETHOD_FIELDS = ("name", "js_name", "doc", "returns", "kind", "func")


class LocalMethod:
    """One row of the local-method table that ``codegen`` turns into ``client.auth`` methods.

    ``kind`` is ``"read"`` (``func`` takes the stored state and returns a value) or
    ``"change"`` (``func`` takes the public arguments and returns the change to apply).
    Read-only.
    """

    # A plain slotted class, not attrs (attrs compiles each class's methods at import).
    __slots__ = ("doc", "func", "js_name", "kind", "name", "returns")

    name: str
    js_name: str
    doc: str
    returns: str
    kind: str
    func: Any

    def __init__(
        self, name: str, js_name: str, doc: str, returns: str, kind: str, func: Any
    ) -> None:
        _set = object.__setattr__
        for field, value in zip(
            _LOCALMETHOD_FIELDS, (name, js_name, doc, returns, kind, func), strict=True
        ):
            _set(self, field, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"LocalMethod is read-only: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"LocalMethod is read-only: cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"LocalMethod(name={self.name!r}, kind={self.kind!r})"


LOCAL_METHODS: tuple[LocalMethod, ...] = (
    LocalMethod(
        "get_session",
        "getSession",
        """Return the session kept in local storage, or ``None`` when signed out.""",
        "Session | None",
        "read",
        get_session,
    ),
    LocalMethod(
        "get_user",
        "getUser",
        """Return the user kept in local storage, or ``None``. Use ``get_user_from_db`` for
        the user as the database holds it now.""",
        "User | None",
        "read",
        get_user,
    ),
    LocalMethod(
        "set_session",
        "setSession",
        """Store ``session`` and send its token with every later request.

        For custom sign-in flows that obtain a session some other way.""",
        "None",
        "change",
        set_session,
    ),
    LocalMethod(
        "set_user",
        "setUser",
        """Store ``user`` in local storage (the session is left as it is).""",
        "None",
        "change",
        set_user,
    ),
    LocalMethod(
        "clear_local_data",
        "clearLocalData",
        """Remove the stored session and user. The session token is still sent with later
        requests, as in the official client; use ``invalidate_session`` to stop that too.""",
        "None",
        "change",
        clear_local_data,
    ),
    LocalMethod(
        "invalidate_session",
        "invalidateSession",
        """Remove the stored session and user, stop sending the session token, and call the
        client's ``sign_in_redirect`` callback, if it has one.""",
        "None",
        "change",
        invalidate_session,
    ),
)
