"""Where a client keeps the signed-in session and user between calls.

A store holds two wire objects, ``session`` and ``user``, exactly as the server sent them
(JSON-compatible mappings). Both clients talk to a store only through the three methods of
:class:`Storage`; any object with those methods can be passed as ``storage=`` to
``create_client``. Two are built in: :class:`agnost.filestore.FileStore`, the default, which
keeps one JSON file per profile under the user's data directory so every process and every
run of the same user sees the same session, and :class:`MemoryStore`, which keeps it in this
process only.

Every built-in store refuses, alike and before anything changes, a value that JSON cannot
hold (:func:`check_storable`), so what works with one works with the other.

Stores are synchronous. The async client calls every store except :class:`MemoryStore` in a
worker thread, so a store may block on files or locks without stalling the event loop.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from ._core.errors import InvalidArgumentError, InvalidArgumentTypeError
from ._core.local import StoredAuth, StoreUpdate, WireObject

__all__ = [
    "MemoryStore",
    "Storage",
    "StoreUpdate",
    "StoredAuth",
    "WireObject",
    "check_storable",
    "default_store",
    "to_json",
]


@runtime_checkable
class Storage(Protocol):
    """The storage protocol: ``load``, ``save`` and ``clear``.

    Implementations must make each call atomic: ``save`` merges its keys into the stored
    state as one read-modify-write, so a process that saves only the user never undoes a
    session saved by another process a moment earlier.
    """

    def load(self) -> StoredAuth:
        """Return the stored session and user (either may be ``None``)."""
        ...

    def save(self, update: StoreUpdate) -> None:
        """Store the given keys; keys not in ``update`` keep their stored value."""
        ...

    def clear(self, *, if_token: str | None = None) -> bool:
        """Remove the stored session and user and return whether anything was removed.

        With ``if_token``, remove them only if the stored session's token is still
        ``if_token``: a newer session stored meanwhile (say, by another process) survives.
        """
        ...


class MemoryStore:
    """A store that lives in this process only; nothing touches the disk.

    Each instance is independent: two clients share state only when handed the same store.
    """

    __slots__ = ("_lock", "_state")

    def __init__(self, session: WireObject | None = None, user: WireObject | None = None) -> None:
        check_storable({"session": session, "user": user})
        self._lock = threading.Lock()
        self._state = StoredAuth(session=_copy(session), user=_copy(user))

    def __repr__(self) -> str:
        return f"<MemoryStore signed_in={self._state.session is not None}>"

    def load(self) -> StoredAuth:
        """Return the stored session and user."""
        return self._state

    def save(self, update: StoreUpdate) -> None:
        """Store the given keys; keys not in ``update`` keep their value.

        Raises :class:`agnost.InvalidArgumentError` for a value JSON cannot hold, as the
        file store does, and then stores nothing.
        """
        check_storable(update)
        with self._lock:
            self._state = _merged(self._state, update)

    def clear(self, *, if_token: str | None = None) -> bool:
        """Remove the session and user (only if the stored token is ``if_token``, when given)."""
        with self._lock:
            state = self._state
            if if_token is not None and state.token != if_token:
                return False
            self._state = StoredAuth()
            return state.session is not None or state.user is not None


def to_json(value: object) -> str:
    """The JSON text a store keeps for ``value``: compact, and ASCII (every other character
    escaped), so its bytes are the same under any locale and lone surrogates survive.

    Raises :class:`agnost.InvalidArgumentTypeError` for a value JSON has no form for (an
    arbitrary object, a set, bytes) and :class:`agnost.InvalidArgumentError` for one it
    cannot hold (a circular structure, an integer too long to print, nesting too deep).
    Messages name the problem, never the value.
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


def check_storable(update: StoreUpdate) -> None:
    """Raise as :func:`to_json` does unless every value of ``update`` can be stored."""
    copies: dict[str, Any] = {}
    for key, value in update.items():
        if value is not None and not isinstance(value, Mapping):
            raise InvalidArgumentTypeError(
                "invalid_argument", f"the {key} to store must be a JSON object or None"
            )
        copies[key] = _copy(value)
    to_json(copies)


def _copy(obj: WireObject | None) -> WireObject | None:
    # A shallow copy is enough: the client never mutates what it stores, and the caller's
    # later changes to their own dict must not leak into the store.
    return None if obj is None else dict(obj)


def _merged(state: StoredAuth, update: StoreUpdate) -> StoredAuth:
    """Return ``state`` with the keys of ``update`` applied (shared by every store)."""
    session = _copy(update["session"]) if "session" in update else state.session
    user = _copy(update["user"]) if "user" in update else state.user
    return StoredAuth(session=session, user=user)


def default_store(env_url: str, client_key: str) -> Storage:
    """Return the store a client uses when ``create_client`` is given no ``storage``.

    A :class:`agnost.filestore.FileStore` for the profile named by ``env_url`` (the
    normalised base URL) and ``client_key``, under ``$AGNOST_DATA_DIR`` or the user's data
    directory. It touches no file until first used, so a client always constructs.
    """
    # Imported here: the file store builds on this module's names.
    from .filestore import FileStore

    return FileStore(env_url, client_key)
