"""The default session store: one JSON file per profile, under the user's data directory.

Like local storage in a browser, the file lets a script signed in once stay signed in on its
next run, and lets every process of the same user see the same session.

Where the file lives: ``<data dir>/sessions/<profile>.json``, where the data directory is the
``data_dir`` argument, else the ``AGNOST_DATA_DIR`` environment variable, else
``platformdirs.user_data_dir("agnost")`` (``~/.local/share/agnost`` on Linux,
``~/Library/Application Support/agnost`` on macOS, ``%LOCALAPPDATA%\\agnost`` on Windows), and
``<profile>`` is a hash of the environment URL and client key, so two apps or environments
never share a file. :attr:`FileStore.path` gives the exact path.

The file (schema version 1) holds ``{"version": 1, "session": ..., "user": ...}`` with the
session and user exactly as the server sent them, custom fields included. It is written as
compact ASCII JSON (other characters escaped), so it reads back byte-exactly whatever the
locale, lone surrogates included; it is decoded as UTF-8. Writer and reader share one size
limit, :data:`MAX_FILE_BYTES`, far above what any answer within the clients' default
response cap needs.

Guarantees (the reliability rules of the project):

- Saves are atomic: a reader, or a process started after a crash, sees the complete old or
  the complete new state. Temp files of a writer killed mid-save are removed by the next save.
- The ``sessions`` directory is 0700 and every file in it 0600, whatever the umask; a file or
  directory of this account's that others can read but not write (say 0644 or 0755) is
  tightened by the next save. A symlink at the session path is never followed or written
  through.
- Nothing is ever loaded from, or written into, a place another account controls. Every
  load and every change opens the ``sessions`` directory once, checks it and the data
  directory holding it (:func:`agnost.storage._fileio.open_private_dir`), and then finds the file,
  its lock and its temp files in the very directory it checked (held open, on POSIX): a
  directory renamed or swapped after the check, even under the lock, changes nothing. If
  the ``sessions`` directory is a symlink (the store makes it, so a link there was planted),
  is another account's, or others can write to it, or the data directory is another
  account's (root's excepted), writable by others without being sticky (a sessions
  directory of ours inside ``/tmp`` is fine) or a symlink another account could change (see
  :class:`FileStore`), the store reads as *no session* with a warning, and every save and
  clear raises :class:`agnost.StorageError` naming the directory, writing nothing anywhere;
  the change is kept in memory as for any failed save.
- Every change is one read-modify-write under an exclusive lock on a sibling ``.lock`` file,
  so processes sharing a profile never lose each other's updates.
- :meth:`FileStore.load` sees what other processes stored, and re-reads the file only when it
  has changed.

What happens when things go wrong:

- A file that is not a valid session file (truncated, not UTF-8 or JSON, wrong shape, a
  schema version this release does not know, larger than :data:`MAX_FILE_BYTES`) or not a
  trusted one (a symlink, a directory, a FIFO, socket or device, a file of another
  account's, or one that others can write to) reads as *no session*: it is renamed to
  ``<name>.corrupt-<UTC time>-<random>`` beside it (never deleted) and a warning is logged
  on the ``agnost.storage`` logger. The client still starts, signed out. The renamed file
  is made 0600 only if it is a file of our own with no other name: a chmod of a hard-linked
  file would change the mode of its other names too. (A hard-linked session file of our own
  is read as usual; a save replaces the name and leaves the other names as they were.)
- A lock file that is not a regular file (a symlink or a FIFO: only this account can put
  one in its 0700 directory) is neither followed nor moved aside, since moving a lock file
  races with the processes waiting on it: every save and clear raises
  :class:`agnost.StorageError` naming it and asking for it to be removed, and keeps the
  change in memory.
- A file of our own that cannot be read at all (say, mode 0000 for a non-root account)
  reads as the last state this store saw, with a warning.
- When a change cannot be written (read-only or unwritable directory, full disk, a lock held
  past ``lock_timeout``, a directory that is not private as above, a file that would exceed
  :data:`MAX_FILE_BYTES`), :meth:`~FileStore.save` and :meth:`~FileStore.clear` raise
  :class:`agnost.StorageError` naming the path, after keeping the change in memory: this
  process goes on seeing it, and the next successful save writes it too.
- A value JSON cannot hold raises :class:`agnost.InvalidArgumentError` (or its ``TypeError``
  sibling) before anything changes, as ``set_session`` and ``set_user`` do.

Messages never contain the file's content, so no token reaches a log or an exception.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .._core.errors import InvalidArgumentTypeError, StorageError
from .._core.local import to_json
from . import _fileio
from .base import StoredAuth, StoreUpdate, _merged

__all__ = ["DATA_DIR_ENV", "SCHEMA_VERSION", "FileStore", "default_data_dir", "profile_name"]

logger = logging.getLogger("agnost.storage")

#: The environment variable that moves the data directory.
DATA_DIR_ENV = "AGNOST_DATA_DIR"
#: The version of the file's layout; a file with another version is set aside, not guessed at.
SCHEMA_VERSION = 1
#: The largest session file the store writes, and so the largest it reads. Escaping makes an
#: answer of n bytes at most 4n bytes stored (2-byte UTF-8 characters become 6, ``1e15``
#: becomes ``1000000000000000.0``): every answer within 16 MiB fits, four times the clients'
#: default response cap.
MAX_FILE_BYTES = 64 * 1024 * 1024

_HOLD_FILES_OPEN = os.name == "posix"
_EMPTY = StoredAuth()
_KEYS = frozenset({"version", "session", "user"})


def default_data_dir() -> Path:
    """The data directory used when none is given: ``$AGNOST_DATA_DIR`` if set and not empty,
    else ``platformdirs.user_data_dir("agnost")``."""
    override = os.environ.get(DATA_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    # Imported here: only a default path needs it, and it costs ~3 ms of import (issue 12).
    import platformdirs

    return Path(platformdirs.user_data_dir("agnost"))


def profile_name(env_url: str, client_key: str) -> str:
    """The file name stem of the profile for this environment and client key.

    A hash, so that neither value appears in a file name and any URL makes a safe name. The
    URL is normalised as the client does (trimmed, one trailing ``/`` removed) and its scheme
    and host are lower-cased, since they name the same server in any case.
    """
    url = env_url.strip()
    url = url[:-1] if url.endswith("/") else url
    scheme, sep, rest = url.partition("://")
    if sep:
        host, slash, path = rest.partition("/")
        url = f"{scheme.lower()}://{host.lower()}{slash}{path}"
    key = json.dumps([url, client_key], ensure_ascii=True).encode("ascii")
    return hashlib.sha256(key).hexdigest()[:32]


class FileStore:
    """A session store kept in a JSON file, shared by every process of the same profile.

    ``env_url`` and ``client_key`` name the profile; ``data_dir`` overrides the data
    directory (see :func:`default_data_dir`); ``lock_timeout`` bounds the wait for another
    process's save, in seconds. Nothing touches the disk until the first call.

    The data directory may be a symlink (moved to a bigger disk and linked back, or folded
    by GNU stow) when no other account can change the link: the link is this account's or
    root's, in a directory of this account's or root's that no other account can write to,
    or that is sticky (as ``/tmp``) while the link is this account's. What it points to is
    then checked as the data directory. A link of another account's, or in a directory
    others can write to unprotected, is refused (see the module documentation); so is a
    ``sessions`` directory that is a symlink. Directories above the data directory are not
    checked: on POSIX the ones the store uses are held open from the check on.

    Safe to share between threads. The store keeps the file it last read open (one
    descriptor), which is what lets :meth:`load` tell for certain, from one ``stat``, that
    the file has not changed.
    """

    def __init__(
        self,
        env_url: str,
        client_key: str,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        lock_timeout: float = 10.0,
    ) -> None:
        base = default_data_dir() if data_dir is None else Path(data_dir).expanduser()
        # Absolute now, so a later chdir does not move the store.
        self._dir = Path(os.path.abspath(base)) / "sessions"
        name = profile_name(env_url, client_key)
        self._path = self._dir / f"{name}.json"
        self._name, self._lock_name = self._path.name, f"{name}.lock"
        self._lock_timeout = lock_timeout
        self._mutex = threading.RLock()
        self._disk = _EMPTY  # the state in the file, as last read or written
        self._seen: _OpenFile | None = None  # the file ``_disk`` came from
        self._unsaved: StoreUpdate = {}  # changes that could not be written yet
        self._read_problem: str | None = None  # the last one logged, so it is logged once

    def __repr__(self) -> str:
        return f"<FileStore {str(self._path)!r}>"

    @property
    def path(self) -> Path:
        """The session file of this profile."""
        return self._path

    # --- the storage protocol ------------------------------------------------------------

    def load(self) -> StoredAuth:
        """Return the stored session and user, as last saved by any process.

        Never raises for a bad or unreadable file: see the module documentation.
        """
        with self._mutex:
            try:
                with _fileio.open_private_dir(self._dir, create=False) as directory:
                    self._refresh(directory, locked=False)
            except FileNotFoundError:
                self._remember(_EMPTY, None)
                self._read_problem = None
            except _fileio.NotPrivate as exc:
                # Whatever is in there may have been planted: nothing of it is loaded.
                self._remember(_EMPTY, None)
                self._note_read_problem(
                    f"is not read: {exc.strerror} ({exc.filename}); going on signed out"
                )
            except OSError as exc:
                self._note_read_problem(
                    f"cannot be read ({_failure(exc, 'error')}); using the state this process"
                    " last saw"
                )
            return self._current()

    def save(self, update: StoreUpdate) -> None:
        """Store the keys of ``update`` (``None`` removes one); the others keep their value.

        Raises :class:`agnost.StorageError` if the file cannot be written; the change is
        kept in memory for this process all the same.
        """
        self.modify(lambda _state: update)

    def clear(self, *, if_token: str | None = None) -> bool:
        """Remove the stored session and user (the file itself); return whether any was there.

        With ``if_token``, only if the stored session's token is still ``if_token``, checked
        under the lock, so a newer session saved by another process survives.
        """
        removed = False

        def change(state: StoredAuth) -> StoreUpdate | None:
            nonlocal removed
            if if_token is not None and state.token != if_token:
                removed = False
                return None
            removed = state.session is not None or state.user is not None
            return {"session": None, "user": None}

        self.modify(change)
        return removed

    # --- beyond the protocol -------------------------------------------------------------

    def modify(self, change: Callable[[StoredAuth], StoreUpdate | None]) -> StoredAuth:
        """Read, change and write the stored state as one step no other process can split.

        ``change`` gets the current state and returns the keys to store (or ``None`` to
        store nothing); it runs under the lock, so it must be quick and must not call this
        store. Returns the state after the change. Raises :class:`agnost.StorageError` as
        :meth:`save` does.
        """
        with self._mutex:
            update: StoreUpdate | None = None
            asked = False
            try:
                with self._locked() as directory:
                    self._refresh(directory, locked=True)
                    current = self._current()
                    update, asked = _storable(change(current)), True
                    if update is None:
                        return current
                    self._write(directory, _merged(current, update))
                    self._unsaved = {}
                    return self._disk
            except (OSError, TimeoutError) as exc:
                if not asked:
                    # The file could not even be locked: decide on what this process knows.
                    update = _storable(change(self._current()))
                if update is not None:
                    self._unsaved = {**self._unsaved, **update}
                raise StorageError(
                    f"could not save the session ({_describe(exc, self._path)})",
                    path=str(self._path),
                ) from None

    def close(self) -> None:
        """Release the file this store holds open to notice changes cheaply.

        The store stays usable: the next ``load`` reads the file afresh. Clients close the
        store they created themselves when they are closed.
        """
        with self._mutex:
            if self._seen is not None:
                self._seen.close()
                self._seen = None

    # --- internals -------------------------------------------------------------------------

    def _current(self) -> StoredAuth:
        return _merged(self._disk, self._unsaved) if self._unsaved else self._disk

    @contextlib.contextmanager
    def _locked(self) -> Iterator[_fileio.PrivateDir]:
        # One checked directory for the whole cycle: a directory that fails the check
        # raises here (and so StorageError), it never reads as "no session" to merge into.
        with (
            _fileio.open_private_dir(self._dir, create=True) as directory,
            _fileio.exclusive_lock(directory, self._lock_name, self._lock_timeout),
        ):
            # Temp files are only made under the lock: any there now are a dead writer's.
            _fileio.remove_stale_temps(directory, self._name)
            yield directory

    def _refresh(self, directory: _fileio.PrivateDir, *, locked: bool) -> None:
        """Bring ``_disk`` up to date with the file in ``directory``; read it only if it has
        changed.

        Under the lock the file is always read afresh: a read-modify-write must never merge
        into a stale state.
        """
        try:
            now = directory.lstat(self._name)
        except FileNotFoundError:
            self._remember(_EMPTY, None)
            self._read_problem = None
            return
        if not locked and self._seen is not None and self._seen.matches(now):
            return
        try:
            data, info, fd = _fileio.read_file(directory, self._name, MAX_FILE_BYTES)
        except FileNotFoundError:
            self._remember(_EMPTY, None)
            return
        except _fileio.NotAFile as bad:
            self._set_aside(directory, bad.reason, locked=locked)
            return
        opened = _OpenFile(fd, info)
        try:
            state = _decode(data)
        except _Corrupt as bad:
            opened.close()
            self._set_aside(directory, bad.reason, locked=locked)
            return
        self._remember(state, opened)
        self._read_problem = None

    def _remember(self, state: StoredAuth, opened: _OpenFile | None) -> None:
        if self._seen is not None:
            self._seen.close()
        if opened is not None and not _HOLD_FILES_OPEN:
            opened.close()
        self._disk, self._seen = state, opened

    def _set_aside(self, directory: _fileio.PrivateDir, reason: str, *, locked: bool) -> None:
        """Move an unusable file out of the way (never delete it) and read it as no session."""
        if not locked:
            # Another process may replace the file any moment; only under the lock is it
            # safe to decide that the file at the path is still the bad one.
            try:
                with self._locked() as locked_directory:
                    self._refresh(locked_directory, locked=True)
            except (OSError, TimeoutError) as exc:
                self._remember(_EMPTY, None)
                self._note_read_problem(
                    f"is unusable ({reason}) and could not be moved aside"
                    f" ({_failure(exc, 'the lock timed out')}); going on signed out"
                )
            return
        aside = (
            f"{self._name}.corrupt-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}Z"
            f"-{secrets.token_hex(4)}"
        )
        directory.replace(self._name, aside)  # raises, and so keeps the file, if it cannot
        with contextlib.suppress(OSError):
            if _fileio.own_file(directory.lstat(aside)):
                directory.chmod(aside, _fileio.PRIVATE_FILE_MODE)  # it may hold a token
        directory.fsync()
        logger.warning(
            "the session file %s is unusable (%s); moved it to %s and going on signed out",
            self._path,
            reason,
            aside,
        )
        self._remember(_EMPTY, None)

    def _write(self, directory: _fileio.PrivateDir, state: StoredAuth) -> None:
        if state.session is None and state.user is None:
            with contextlib.suppress(FileNotFoundError):
                directory.unlink(self._name)
                directory.fsync()
            self._remember(_EMPTY, None)
            return
        data = _encode(state)
        if len(data) > MAX_FILE_BYTES:
            # The reader would set such a file aside: refuse it here instead, and keep it.
            raise OSError(
                errno.EFBIG,
                f"the session and user would take {len(data)} bytes, more than the"
                f" {MAX_FILE_BYTES} a session file may hold",
            )
        info, fd = _fileio.replace_atomically(directory, self._name, data)
        self._remember(state, _OpenFile(fd, info))

    def _note_read_problem(self, problem: str) -> None:
        # Logged once, not on every load while the problem lasts.
        if problem != self._read_problem:
            self._read_problem = problem
            logger.warning("the session file %s %s", self._path, problem)


class _OpenFile:
    """A session file this store read or wrote, kept open.

    While it is open its inode cannot be freed, so no later file can reuse its number:
    the same (device, inode, size, mtime) at the path then really means the same content.
    """

    __slots__ = ("fd", "key")

    def __init__(self, fd: int, info: os.stat_result) -> None:
        self.fd: int | None = fd
        self.key = _identity(info)

    def matches(self, info: os.stat_result) -> bool:
        return self.key == _identity(info)

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        # Also runs at interpreter exit, when module globals may already be gone.
        with contextlib.suppress(Exception):
            self.close()


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


class _Corrupt(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _encode(state: StoredAuth) -> bytes:
    document = {"version": SCHEMA_VERSION, "session": state.session, "user": state.user}
    return (to_json(document) + "\n").encode("ascii")


def _storable(update: StoreUpdate | None) -> StoreUpdate | None:
    """``update`` itself, once it is known that a file can hold it (raises as ``to_json``)."""
    if update is None:
        return None
    copies: dict[str, Any] = {}
    for key, value in update.items():
        if value is not None and not isinstance(value, Mapping):
            raise InvalidArgumentTypeError(
                "invalid_argument", f"the {key} to store must be a JSON object or None"
            )
        copies[key] = None if value is None else dict(value)
    to_json(copies)
    return update


def _decode(data: bytes) -> StoredAuth:
    """Parse a session file; raise :class:`_Corrupt`, with a content-free reason, if it is not."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Corrupt("not UTF-8") from None
    try:
        document = json.loads(text)
    except ValueError:
        raise _Corrupt("not complete JSON") from None
    except RecursionError:
        raise _Corrupt("JSON nested too deeply") from None
    if not isinstance(document, dict):
        raise _Corrupt("not a JSON object")
    version = document.get("version")
    if "version" not in document:
        raise _Corrupt("no schema version")
    if type(version) is not int:
        raise _Corrupt("the schema version is not an integer")
    if version != SCHEMA_VERSION:
        shown = str(version) if abs(version) < 1_000_000 else "out of range"
        raise _Corrupt(f"schema version {shown}, this release reads {SCHEMA_VERSION}")
    if document.keys() != _KEYS:
        raise _Corrupt("missing or unexpected keys")
    session, user = document["session"], document["user"]
    if not _object_or_null(session):
        raise _Corrupt("the session is not an object")
    if not _object_or_null(user):
        raise _Corrupt("the user is not an object")
    return StoredAuth(session=session, user=user)


def _object_or_null(value: Any) -> bool:
    return value is None or isinstance(value, Mapping)


def _failure(exc: BaseException, fallback: str) -> str:
    """Describe an OS error in words (its strerror), never with data from the file."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return fallback


def _describe(exc: BaseException, path: Path) -> str:
    """The OS error in words, plus the file it concerned when that is not ``path`` itself."""
    reason = _failure(exc, "error")
    filename = exc.filename if isinstance(exc, OSError) else None
    return f"{reason}: {filename}" if filename and str(filename) != str(path) else reason
