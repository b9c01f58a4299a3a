"""The :class:`Storage` protocol and :class:`MemoryStore` (the file store builds on them)."""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

from .._core.local import StoredAuth, StoreUpdate, WireObject

__all__ = [
    "MemoryStore",
    "Storage",
    "StoreUpdate",
    "StoredAuth",
    "WireObject",
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
        self._lock = threading.Lock()
        self._state = StoredAuth(session=_copy(session), user=_copy(user))

    def __repr__(self) -> str:
        return f"<MemoryStore signed_in={self._state.session is not None}>"

    def load(self) -> StoredAuth:
        """Return the stored session and user."""
        return self._state

    def save(self, update: StoreUpdate) -> None:
        """Store the given keys; keys not in ``update`` keep their value."""
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


def _copy(obj: WireObject | None) -> WireObject | None:
    # A shallow copy is enough: the client never mutates what it stores, and the caller's
    # later changes to their own dict must not leak into the store.
    return None if obj is None else dict(obj)


def _merged(state: StoredAuth, update: StoreUpdate) -> StoredAuth:
    """Return ``state`` with the keys of ``update`` applied (shared by every store)."""
    session = _copy(update["session"]) if "session" in update else state.session
    user = _copy(update["user"]) if "user" in update else state.user
    return StoredAuth(session=session, user=user)
