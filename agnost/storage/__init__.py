"""Where a client keeps the signed-in session and user between calls.

A store holds two wire objects, ``session`` and ``user``, exactly as the server sent them
(JSON-compatible mappings). Both clients talk to a store only through the three methods of
:class:`Storage`; any object with those methods can be passed as ``storage=`` to
``create_client``. Two are built in: :class:`FileStore`, the default, which
keeps one JSON file per profile under the user's data directory so every process and every
run of the same user sees the same session, and :class:`MemoryStore`, which keeps it in this
process only.

A value JSON cannot hold never reaches a store through a client: ``set_session`` and
``set_user`` refuse it with :class:`agnost.InvalidArgumentError` (or its ``TypeError``
sibling) before anything changes, whichever the store. The file store also refuses it in a
direct ``save``; the memory store keeps what it is given (it spends no time re-checking what
came from a server's JSON).

Stores are synchronous. The async client calls every store except :class:`MemoryStore` in a
worker thread, so a store may block on files or locks without stalling the event loop.

Layout: :mod:`agnost.storage.base` holds the protocol and the memory store,
:mod:`agnost.storage.filestore` the file store, and ``agnost.storage._fileio`` the file
primitives it stands on (private directories held open, atomic replacement, locks).
"""

from __future__ import annotations

from .base import MemoryStore, Storage, StoredAuth, StoreUpdate, WireObject
from .filestore import DATA_DIR_ENV, FileStore

__all__ = [
    "DATA_DIR_ENV",
    "FileStore",
    "MemoryStore",
    "Storage",
    "StoreUpdate",
    "StoredAuth",
    "WireObject",
    "default_store",
]


def default_store(env_url: str, client_key: str) -> Storage:
    """Return the store a client uses when ``create_client`` is given no ``storage``.

    A :class:`FileStore` for the profile named by ``env_url`` (the
    normalised base URL) and ``client_key``, under ``$AGNOST_DATA_DIR`` or the user's data
    directory. It touches no file until first used, so a client always constructs.
    """
    return FileStore(env_url, client_key)
