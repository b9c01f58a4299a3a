"""Careful file primitives for the session store.

Everything here protects one thing, a file holding a bearer credential:

- :func:`open_private_dir` checks the sessions directory and the data directory holding it
  (see its docstring for the rule) and returns a :class:`PrivateDir`. On POSIX it holds the
  checked directory open and every name is resolved relative to that descriptor, so the
  directory checked is the directory used: a path swapped afterwards (say, by an account
  that can write the directory above the data directory) cannot redirect a read or a write.
  With ``create`` it also makes the directories owner-only (0700) whatever the umask.
- :func:`read_file` never follows a symlink, never blocks on a FIFO, socket or device, refuses
  a file of another account's or one that others can write to, and reads at most a bounded
  number of bytes.
- :func:`replace_atomically` writes a private temp file beside the target (``O_EXCL``, 0600),
  fsyncs it, renames it over the target and fsyncs the directory, so a reader or a crash sees
  either the old or the new file, never a mix. ``os.replace`` over a symlink replaces the link
  itself, so nothing is written through a planted link.
- :func:`exclusive_lock` serialises read-modify-write cycles across processes.

The lock uses the standard library (``fcntl.flock``; ``msvcrt.locking`` on Windows) rather
than ``filelock``: what the store needs is twenty lines, and ``filelock``'s behaviour on the
points that matter here differs between its releases (3.12 opens the lock file with
``O_TRUNC`` and follows a symlink planted at its path, truncating the link's target; 4.x adds
soft-lock fallbacks and warnings). Here the lock file is opened with ``O_NOFOLLOW``, never
truncated, never deleted (deleting a flock file races with waiters) and made 0600. For the
same reason one that is not a regular file is never moved aside: it can only be this
account's doing (the directory is 0700), and saves fail naming it until it is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

__all__ = [
    "NotAFile",
    "NotPrivate",
    "PrivateDir",
    "exclusive_lock",
    "open_private_dir",
    "own_file",
    "read_file",
    "remove_stale_temps",
    "replace_atomically",
]

_POSIX = os.name == "posix"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# O_NONBLOCK keeps an open() of a FIFO planted at the path from hanging forever.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_DIR_FLAGS = os.O_RDONLY | _DIRECTORY | _CLOEXEC
# Whether directories can be held open and names resolved relative to them (not on Windows,
# where the checks are made on paths).
_AT = (
    _POSIX
    and _DIRECTORY != 0
    and {os.open, os.stat, os.mkdir, os.rename, os.unlink, os.chmod} <= os.supports_dir_fd
)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


class NotAFile(Exception):
    """What sits at the path is not a session file this account can trust: a symlink, a
    directory, a FIFO, socket or device, a file of another account's or one that other
    accounts can write to, or a file larger than any session file can be. ``reason`` says
    which, in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotPrivate(PermissionError):
    """A directory the store must neither read from nor write to; ``strerror`` says why and
    ``filename`` names the directory."""


class PrivateDir:
    """A directory that passed :func:`open_private_dir`'s checks; names given to its methods
    are entries of that very directory (relative to its descriptor ``fd`` where directories
    can be held open, else joined to ``path``). Close it (or use it in a ``with``)."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    def _at(self, name: str) -> str:
        return name if self.fd is not None else str(self.path / name)

    def open(self, name: str, flags: int, mode: int = 0o777) -> int:
        """``os.open`` of the entry ``name``."""
        return os.open(self._at(name), flags, mode, dir_fd=self.fd)

    def lstat(self, name: str) -> os.stat_result:
        """The status of the entry ``name`` itself (a symlink is not followed)."""
        return os.stat(self._at(name), dir_fd=self.fd, follow_symlinks=False)

    def replace(self, source: str, target: str) -> None:
        """Rename the entry ``source`` to ``target``, replacing what is there."""
        os.replace(self._at(source), self._at(target), src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        """Remove the entry ``name``."""
        os.unlink(self._at(name), dir_fd=self.fd)

    def chmod(self, name: str, mode: int) -> None:
        """Set the mode of the entry ``name``; only call it for a file known to be ours."""
        os.chmod(self._at(name), mode, dir_fd=self.fd)

    def names(self) -> list[str]:
        """The names of the entries."""
        return os.listdir(self.path if self.fd is None else self.fd)

    def fsync(self) -> None:
        """Make a rename or unlink in the directory durable (a no-op where directories
        cannot be opened, as on Windows)."""
        if self.fd is None:
            return
        try:
            os.fsync(self.fd)
        except OSError as exc:
            # Some filesystems cannot fsync a directory; the rename itself has happened.
            if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
                raise

    def close(self) -> None:
        """Release the descriptor; the object is unusable afterwards."""
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> PrivateDir:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_private_dir(directory: Path, *, create: bool) -> PrivateDir:
    """Open ``directory``, the sessions directory, once it is known to be this account's alone.

    Raises :class:`NotPrivate` naming the faulty directory unless:

    - ``directory`` is a real directory (not a symlink: the store makes it, so a link there
      was planted) owned by this account that no other account can write into (a group- or
      world-readable one passes: it holds only files checked one by one);
    - the data directory holding it is a directory owned by this account or root that other
      accounts cannot write into unless it is sticky (as ``/tmp``): otherwise another account
      could rename ``directory`` away and put its own in its place. The data directory may
      be a symlink (to a bigger disk, say) if the link is this account's or root's, in a
      directory owned by this account or root that no other account can write into (or
      that is sticky and the link is this account's): then no other account can point it
      elsewhere, and what it points to is checked as the data directory.

    Directories further up are not checked: on POSIX the directories are held open from the
    check on, so swapping one further up changes nothing already opened. Raises
    ``FileNotFoundError`` if a directory is missing. With ``create``, missing directories
    are made (0700, as the XDG base-directory spec asks for parents too) and ``directory``
    is tightened to exactly 0700 if it is looser.
    """
    data = directory.parent
    if create:
        _make_missing(data)
    data_fd = _open_data_dir(data)
    try:
        name = directory.name if data_fd is not None else str(directory)
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, PRIVATE_DIR_MODE, dir_fd=data_fd)
        if data_fd is None:
            info = _check(os.lstat(directory), "the sessions directory", directory)
            if create and _POSIX and stat.S_IMODE(info.st_mode) != PRIVATE_DIR_MODE:
                os.chmod(directory, PRIVATE_DIR_MODE)
            return PrivateDir(directory, None)
        fd = _open_dir(name, "the sessions directory", directory, dir_fd=data_fd)
    finally:
        if data_fd is not None:
            os.close(data_fd)
    try:
        info = _check(os.fstat(fd), "the sessions directory", directory)
        # The umask can only remove bits from mkdir's mode: this sets exactly 0700.
        if create and stat.S_IMODE(info.st_mode) != PRIVATE_DIR_MODE:
            os.fchmod(fd, PRIVATE_DIR_MODE)
    except BaseException:
        os.close(fd)
        raise
    return PrivateDir(directory, fd)


def _me() -> int:
    return os.geteuid() if _POSIX else -1


def _check(
    info: os.stat_result, what: str, path: Path, *, data_dir: bool = False
) -> os.stat_result:
    """``info`` itself if it is the status of a directory fit to be ``what``, else raise."""
    mode = info.st_mode
    owners = {_me(), 0} if data_dir else {_me()}
    if stat.S_ISLNK(mode):
        reason = "is a symlink"
    elif not stat.S_ISDIR(mode):
        reason = "is not a directory"
    elif _POSIX and info.st_uid not in owners:
        reason = "belongs to another account"
    elif _POSIX and mode & _OTHERS_WRITE and not (data_dir and mode & stat.S_ISVTX):
        reason = "can be written to by other accounts"
    else:
        return info
    raise NotPrivate(errno.EACCES, f"{what} {reason}", str(path))


def _open_dir(name: str | Path, what: str, path: Path, *, dir_fd: int | None = None) -> int:
    """Open the directory ``name`` without following a symlink there."""
    try:
        return os.open(name, _DIR_FLAGS | _NOFOLLOW, dir_fd=dir_fd)
    except OSError as exc:
        # A symlink gives ENOTDIR (Linux) or ELOOP: say what is there.
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            reason = "is a symlink"
        elif not stat.S_ISDIR(mode):
            reason = "is not a directory"
        else:
            reason = "was replaced while being opened"  # a directory now, not a moment ago
        raise NotPrivate(errno.EACCES, f"{what} {reason}", str(path)) from None


def _open_data_dir(data: Path) -> int | None:
    """A descriptor of the checked data directory (``None`` where directories cannot be held
    open; the path was checked then)."""
    what = "the data directory"
    info = os.lstat(data)
    link = stat.S_ISLNK(info.st_mode)
    if link:
        _check_link(data, info)
    if not _AT:
        _check(os.stat(data), what, data, data_dir=True)
        return None
    # Through a link no one else can change; what it points to is checked next.
    fd = os.open(data, _DIR_FLAGS) if link else _open_dir(data, what, data)
    try:
        _check(os.fstat(fd), what, data, data_dir=True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_link(data: Path, link: os.stat_result) -> None:
    """Raise :class:`NotPrivate` unless no other account can change the data directory's
    symlink: see :func:`open_private_dir`."""
    me = _me()
    holder = os.stat(data.parent)  # the directory the link is an entry of
    if _POSIX and link.st_uid not in (me, 0):
        reason = "is a symlink of another account's"
    elif _POSIX and holder.st_uid not in (me, 0):
        reason = "is a symlink in a directory of another account's"
    elif (
        _POSIX
        and holder.st_mode & _OTHERS_WRITE
        and not (holder.st_mode & stat.S_ISVTX and link.st_uid == me)
    ):
        reason = "is a symlink in a directory other accounts can write to"
    else:
        return
    raise NotPrivate(errno.EACCES, f"the data directory {reason}", str(data))


def _make_missing(directory: Path) -> None:
    """Make ``directory`` and its missing parents, each exactly 0700."""
    missing: list[Path] = []
    probe = directory
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another process made it meanwhile; the checks that follow still apply
        if not _POSIX:
            continue
        # Through a descriptor, never the path: an account that can write the parent could
        # have put a symlink to a directory of its own there, for us to chmod.
        fd = _open_dir(path, "a directory made for the store", path)
        try:
            if os.fstat(fd).st_uid == os.geteuid():
                os.fchmod(fd, PRIVATE_DIR_MODE)
        finally:
            os.close(fd)


def own_file(info: os.stat_result) -> bool:
    """Whether a chmod of this file changes nothing but a file of this account's own: a
    regular file, owned by this account, with no other name (a hard link shares the mode)."""
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        return False
    return not _POSIX or info.st_uid == os.geteuid()


def _untrusted(info: os.stat_result) -> str | None:
    """Why a file with this status is not one to read a session from, or ``None``."""
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return "it is a symlink"
    if stat.S_ISDIR(mode):
        return "it is a directory"
    if not stat.S_ISREG(mode):
        return "it is not a regular file"
    if _POSIX and info.st_uid != os.geteuid():
        return "it belongs to another account"
    if _POSIX and mode & _OTHERS_WRITE:
        return "other accounts can write to it"
    return None


def read_file(directory: PrivateDir, name: str, limit: int) -> tuple[bytes, os.stat_result, int]:
    """Read the regular file ``name`` of ``directory`` without following a symlink there.

    Returns the bytes, the file's status and an open descriptor to it, which the caller
    must close. Raises ``FileNotFoundError`` when nothing is there, :class:`NotAFile` when
    something other than a trusted regular file of at most ``limit`` bytes is (a hard-linked
    file of our own is trusted: only its mode must not be changed, see :func:`own_file`),
    and ``OSError`` for other failures.
    """
    try:
        fd = directory.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY)
    except OSError:
        # ELOOP (a symlink), EISDIR, ENXIO (a socket or a device without a driver), EACCES
        # (another account's file): say what is there, so that it can be set aside.
        try:
            reason = _untrusted(directory.lstat(name))
        except OSError:
            reason = None
        if reason is None:
            raise
        raise NotAFile(reason) from None
    try:
        info = os.fstat(fd)
        reason = _untrusted(info)
        if reason is not None:
            raise NotAFile(reason)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise NotAFile(f"it is larger than {limit} bytes")
    except BaseException:
        os.close(fd)
        raise
    return b"".join(chunks), info, fd


_TEMP_SUFFIX = ".tmp"


def _temp_prefix(name: str) -> str:
    return f".{name}."


def replace_atomically(
    directory: PrivateDir, name: str, data: bytes
) -> tuple[os.stat_result, int]:
    """Replace the file ``name`` of ``directory`` with a new 0600 file holding ``data``,
    atomically and durably.

    Returns the new file's status and an open descriptor to it, which the caller must close.
    On any failure before the rename the temp file is removed and ``name`` is untouched.
    """
    temp = f"{_temp_prefix(name)}{secrets.token_hex(8)}{_TEMP_SUFFIX}"
    # O_EXCL never follows a symlink and never reuses an existing file.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
    fd = directory.open(temp, flags, PRIVATE_FILE_MODE)
    try:
        if _POSIX:
            os.fchmod(fd, PRIVATE_FILE_MODE)  # the umask may have removed owner bits
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        directory.replace(temp, name)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            directory.unlink(temp)
        raise
    try:
        info = os.fstat(fd)
        directory.fsync()
    except BaseException:
        os.close(fd)
        raise
    return info, fd


def remove_stale_temps(directory: PrivateDir, name: str) -> None:
    """Remove temp files left by a writer of ``name`` that died mid-save.

    Only call this while holding the lock: every temp file is made under it, so none of
    them belongs to a live writer then.
    """
    prefix = _temp_prefix(name)
    for entry in directory.names():
        if entry.startswith(prefix) and entry.endswith(_TEMP_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                directory.unlink(entry)


@contextlib.contextmanager
def exclusive_lock(directory: PrivateDir, name: str, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock on the file ``name`` of ``directory`` (created 0600) for the
    ``with`` block.

    Raises ``TimeoutError`` if another holder keeps it for ``timeout`` seconds, and
    ``PermissionError`` naming it if it is not a regular file (see the module documentation).
    The lock dies with its process, so a writer killed mid-save never leaves it stuck.
    """
    lock_path = str(directory.path / name)
    flags = os.O_RDWR | os.O_CREAT | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY
    try:
        fd = directory.open(name, flags, PRIVATE_FILE_MODE)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and _is_symlink(directory, name):
            raise PermissionError(
                errno.EACCES, "the lock file is a symlink; remove it", lock_path
            ) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PermissionError(
                errno.EACCES, "the lock file is not a regular file; remove it", lock_path
            )
        # The lock holds no data: a file that is not ours to change is used as it is.
        if _POSIX and own_file(info) and stat.S_IMODE(info.st_mode) != PRIVATE_FILE_MODE:
            os.fchmod(fd, PRIVATE_FILE_MODE)
        deadline = time.monotonic() + timeout
        # Polling is the only portable way to bound the wait; holders keep the lock for
        # about a millisecond, so short sleeps keep waiters responsive without spinning.
        pause = 0.0005
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise TimeoutError(errno.ETIMEDOUT, "timed out waiting for the lock", lock_path)
            time.sleep(pause)
            pause = min(pause * 2, 0.01)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def _is_symlink(directory: PrivateDir, name: str) -> bool:
    try:
        return stat.S_ISLNK(directory.lstat(name).st_mode)
    except OSError:
        return False


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:
            # Some filesystems report contention as EACCES.
            if exc.errno == errno.EACCES:
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
