"""Careful file primitives for the session store.

Everything here protects one thing, a file holding a bearer credential:

- :func:`check_private_dir` refuses a directory that another account controls or could swap
  for its own: reads and writes apply the same check, so nothing planted by someone else is
  ever loaded. :func:`ensure_private_dir` also creates it and makes it owner-only (0700)
  whatever the umask.
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
truncated, never deleted (deleting a flock file races with waiters) and made 0600.
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

__all__ = [
    "NotAFile",
    "NotPrivate",
    "check_private_dir",
    "exclusive_lock",
    "ensure_private_dir",
    "fsync_dir",
    "read_file",
    "remove_stale_temps",
    "replace_atomically",
    "temp_prefix",
]

_POSIX = os.name == "posix"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# O_NONBLOCK keeps an open() of a FIFO planted at the path from hanging forever.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)

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


def check_private_dir(directory: Path) -> None:
    """Raise :class:`NotPrivate` unless ``directory`` is this account's alone, for good.

    ``directory`` must be a real directory (not a symlink) owned by this account that no
    other account can write into; a group- or world-readable one passes (it holds only
    files checked one by one, and :func:`ensure_private_dir` tightens it). Its parent must be
    a real directory owned by this account or root that other accounts cannot write into
    unless it is sticky (as ``/tmp``): otherwise another account could rename ``directory``
    away and put its own in its place between a check and a use. Directories further up
    are not checked. Raises ``FileNotFoundError`` if either is missing.
    """
    me = os.geteuid() if _POSIX else -1
    _check_dir(directory.parent, "the data directory", {me, 0}, sticky_ok=True)
    _check_dir(directory, "the sessions directory", {me}, sticky_ok=False)


def _check_dir(path: Path, what: str, owners: set[int], *, sticky_ok: bool) -> None:
    info = os.lstat(path)
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        reason = "is a symlink"
    elif not stat.S_ISDIR(mode):
        reason = "is not a directory"
    elif _POSIX and info.st_uid not in owners:
        reason = "belongs to another account"
    elif _POSIX and mode & _OTHERS_WRITE and not (sticky_ok and mode & stat.S_ISVTX):
        reason = "can be written to by other accounts"
    else:
        return
    raise NotPrivate(errno.EACCES, f"{what} {reason}", str(path))


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` (and missing parents) as 0700; tighten it if it is looser.

    Missing parents are created 0700 too, as the XDG base-directory spec asks. Whether made
    now or found, the directory must pass :func:`check_private_dir` (say, one planted by
    someone else in a shared ``/tmp`` does not), else :class:`NotPrivate` is raised.
    """
    missing: list[Path] = []
    probe = directory
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another process made it meanwhile; the checks below still apply
        # The umask can only remove bits from mkdir's mode; chmod sets exactly 0700.
        os.chmod(path, PRIVATE_DIR_MODE)
    check_private_dir(directory)
    if _POSIX and stat.S_IMODE(os.lstat(directory).st_mode) != PRIVATE_DIR_MODE:
        os.chmod(directory, PRIVATE_DIR_MODE)


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


def read_file(path: Path, limit: int) -> tuple[bytes, os.stat_result, int]:
    """Read the regular file at ``path`` without following a symlink there.

    Returns the bytes, the file's status and an open descriptor to it, which the caller
    must close. Raises ``FileNotFoundError`` when nothing is there, :class:`NotAFile` when
    something other than a trusted regular file of at most ``limit`` bytes is (a hard-linked
    file of our own is trusted: only its mode must not be changed, see :func:`own_file`),
    and ``OSError`` for other failures.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY)
    except OSError:
        # ELOOP (a symlink), EISDIR, ENXIO (a socket or a device without a driver), EACCES
        # (another account's file): say what is there, so that it can be set aside.
        try:
            reason = _untrusted(os.lstat(path))
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


def _is_symlink(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def temp_prefix(path: Path) -> str:
    """The name prefix of every temp file :func:`replace_atomically` makes for ``path``."""
    return f".{path.name}."


_TEMP_SUFFIX = ".tmp"


def replace_atomically(path: Path, data: bytes) -> tuple[os.stat_result, int]:
    """Replace ``path`` with a new 0600 file holding ``data``, atomically and durably.

    Returns the new file's status and an open descriptor to it, which the caller must close.
    On any failure before the rename the temp file is removed and ``path`` is untouched.
    """
    directory = path.parent
    temp = directory / f"{temp_prefix(path)}{secrets.token_hex(8)}{_TEMP_SUFFIX}"
    # O_EXCL never follows a symlink and never reuses an existing file.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
    fd = os.open(temp, flags, PRIVATE_FILE_MODE)
    try:
        if _POSIX:
            os.fchmod(fd, PRIVATE_FILE_MODE)  # the umask may have removed owner bits
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        os.replace(temp, path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    try:
        info = os.fstat(fd)
        fsync_dir(directory)
    except BaseException:
        os.close(fd)
        raise
    return info, fd


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable (no-op where directories cannot be
    opened, as on Windows)."""
    if not _POSIX:
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some filesystems cannot fsync a directory; the rename itself has happened.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def remove_stale_temps(path: Path) -> None:
    """Remove temp files left by a writer of ``path`` that died mid-save.

    Only call this while holding the lock: every temp file is made under it, so none of
    them belongs to a live writer then.
    """
    prefix = temp_prefix(path)
    with os.scandir(path.parent) as entries:
        stale = [
            entry.path
            for entry in entries
            if entry.name.startswith(prefix) and entry.name.endswith(_TEMP_SUFFIX)
        ]
    for name in stale:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


@contextlib.contextmanager
def exclusive_lock(lock_path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (created 0600) for the ``with`` block.

    Raises ``TimeoutError`` if another holder keeps it for ``timeout`` seconds. The lock
    dies with its process, so a writer killed mid-save never leaves it stuck.
    """
    flags = os.O_RDWR | os.O_CREAT | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY
    try:
        fd = os.open(lock_path, flags, PRIVATE_FILE_MODE)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and _is_symlink(lock_path):
            raise PermissionError(errno.EACCES, "the lock file is a symlink", lock_path) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PermissionError(errno.EACCES, "the lock file is not a regular file", lock_path)
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
