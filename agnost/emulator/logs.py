"""The command line's log: stderr through a buffer, in :data:`LOG_FORMAT`, and a direct path
for the access log's line per request.

A line per request is most of what logging costs the emulator at the default ``info`` level,
and most of a line's cost is logging's machinery (a ``LogRecord``, the walk to the handlers,
the formatter) rather than the text. When :func:`configure_logging` has set up the process's
logging and nothing has changed it since, an access line would reach that handler alone and
come out as the handler writes it: :func:`direct_handler` is then that handler and
:meth:`BufferedStderr.write_access` writes the same text without the machinery. Whenever the
configuration differs (another handler or a filter on the way, a level, a formatter, a record
factory, the process's logging not set up by the command line at all, as for an in-process
:class:`~agnost.emulator.Emulator`), lines go through ``logging`` as usual.
"""

from __future__ import annotations

import collections
import io
import logging
import os
import sys
import threading
import time

__all__ = [
    "ACCESS_FORMAT",
    "LOG_FLUSH_INTERVAL",
    "LOG_FORMAT",
    "BufferedStderr",
    "LogFormatter",
    "configure_logging",
    "direct_handler",
]

#: The command line's log line: ``2026-12-01 23:40:00,123 aiohttp.access INFO GET /... 200``.
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"

#: How long a line below WARNING may wait in the log's buffer, in seconds.
LOG_FLUSH_INTERVAL = 0.2


class LogFormatter(logging.Formatter):
    """``LOG_FORMAT``'s formatter, with the date and time text made once a second."""

    _second = -1
    _text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's local time as ``logging.Formatter`` writes it (``2026-12-01
        23:40:00,123``)."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self.time_text(record.created, int(record.msecs))

    def time_text(self, created: float, msecs: int) -> str:
        """The text of ``%(asctime)s`` for a record made at ``created`` (epoch seconds),
        ``msecs`` milliseconds into its second, as ``logging.Formatter.formatTime`` writes it
        (its ``converter``, ``default_time_format`` and ``default_msec_format``)."""
        text = self.second_text(created)
        if self.default_msec_format:
            return self.default_msec_format % (text, msecs)
        return text

    def second_text(self, created: float) -> str:
        """:meth:`time_text` without the milliseconds (made once a second)."""
        second = int(created)
        if second != self._second:
            self._text = time.strftime(self.default_time_format, self.converter(created))
            self._second = second
        return self._text


# Bound once: the checks of every access line look these up.
_INFO = logging.INFO
_Logger = logging.Logger
_LogRecord = logging.LogRecord
_record_factory = logging.getLogRecordFactory
_level_name = logging.getLevelName
_clock = time.time

#: The message of an access line: method, path, status, body size, milliseconds taken.
ACCESS_FORMAT = "%s %s %d %d %.1fms"

#: ``"%03d" % n`` for every millisecond ``n`` of a second.
_MSECS = tuple(f"{n:03d}" for n in range(1000))

#: How many access lines (see :meth:`BufferedStderr.write_access`) are made in one go, by the
#: request whose line fills the batch; the flushing thread makes those of a batch not yet
#: full. (Making them all on the flushing thread costs more than making them: while it holds
#: the GIL, every system call of the event loop's thread hands the GIL over and back.)
_BATCH = 256

#: An access line waiting in :attr:`BufferedStderr._pending`: when it was logged (epoch
#: seconds), the logger's name, and the arguments of :data:`ACCESS_FORMAT`.
_Pending = tuple[float, str, str, str, int, int, float]


class BufferedStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to stderr through a buffer: a line per request, each its own write system call
    on line-buffered stderr, is most of what the access log costs. Lines below WARNING are
    written at most :data:`LOG_FLUSH_INTERVAL` later (and at exit); WARNING and above at once,
    after every line before them."""

    def __init__(self) -> None:
        stream = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(os.dup(sys.stderr.fileno()), "w"), 64 * 1024),
            encoding=sys.stderr.encoding,
            errors="backslashreplace",
        )
        super().__init__(stream)
        self._urgent = False
        self._own_formatter = LogFormatter(LOG_FORMAT)
        self.setFormatter(self._own_formatter)
        #: Lines from :meth:`write_access` not yet handed to the stream, oldest first.
        # A deque, never replaced: the event loop's thread appends without the lock while
        # another thread drains (appending and taking from either end are atomic), and a line
        # appended during a drain is taken by that drain or the next, never dropped.
        self._pending: collections.deque[_Pending] = collections.deque()

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record; flush at once if it is a WARNING or worse."""
        self._drain()
        self._urgent = record.levelno >= logging.WARNING
        super().emit(record)

    def flush(self) -> None:
        """Flush only what must not wait (see :meth:`flush_every` for the rest)."""
        if self._urgent:
            self._urgent = False
            super().flush()

    def flush_every(self) -> None:
        """Flush the buffer every :data:`LOG_FLUSH_INTERVAL`, forever (a daemon thread)."""
        while True:
            time.sleep(LOG_FLUSH_INTERVAL)
            self._flush_all()

    def close(self) -> None:
        """Flush everything, then close (logging.shutdown calls this at exit)."""
        self._flush_all()
        super().close()

    def _flush_all(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # made by the handler's __init__
            self._drain()
            super().flush()

    def _drain(self) -> None:
        """Hand the pending lines to the stream (with the handler's lock held)."""
        pending = self._pending
        if pending:
            entries = [pending.popleft() for _ in range(len(pending))]
            try:
                self.stream.write(self._lines(entries))
            except RecursionError:
                raise
            except Exception:  # as logging does for a failing emit
                self.handleError(logging.makeLogRecord({"msg": "(access log lines)"}))

    def _lines(self, entries: list[_Pending]) -> str:
        """The lines of ``entries`` as logging would write them (see :meth:`write_access`):
        made here, in one go, rather than on each request's way out (the date text once a
        second, the part from the logger's name to the body size once per batch for the
        requests that share it)."""
        formatter = self._own_formatter
        own_msecs = formatter.default_msec_format == "%s,%03d"  # logging's own, else asked
        head, _, tail = ACCESS_FORMAT.rpartition("%.1f")  # the message up to the time taken
        middle_format = " %s INFO " + head  # LOG_FORMAT from the name, levelname INFO
        end = tail + self.terminator
        middles: dict[tuple[str, str, str, int, int], str] = {}
        lines = []
        last = -1
        stamp = ""
        for created, name, method, path, status, size, ms in entries:
            second = int(created)
            msecs = int((created - second) * 1000)  # as LogRecord has it
            if not own_msecs:
                when = formatter.time_text(created, msecs)
            else:
                if second != last:
                    stamp, last = formatter.second_text(created) + ",", second
                when = stamp + _MSECS[msecs]
            key = (name, method, path, status, size)
            middle = middles.get(key)
            if middle is None:
                middle = middles[key] = middle_format % key
            lines.append(f"{when}{middle}{ms:.1f}{end}")
        return "".join(lines)

    def takes_alone(self, logger: logging.Logger) -> bool:
        """Whether an INFO record of ``logger`` would be written by this handler and by no
        other, in :data:`LOG_FORMAT` and unchanged on the way: :meth:`write_access` then writes
        what logging would.

        That is: ``logger`` is a plain logger enabled for INFO, not disabled and without
        filters (a parent's filters do not apply to what a child logs); of the handlers
        logging would hand the record to (those of ``logger`` and its parents up to one that
        does not propagate), this one is the only one whose level lets INFO through, and it
        appears once; it has no filters, its own formatter, and INFO is still named
        ``INFO``; records are made by ``logging.LogRecord`` itself.
        """
        if (
            not logger.isEnabledFor(_INFO)  # first: all there is to check at WARNING
            or logger.disabled
            or logger.filters
            or self.filters
            or self.level > _INFO
            or self.formatter is not self._own_formatter
            or type(logger) is not _Logger
            or _record_factory() is not _LogRecord
            or _level_name(_INFO) != "INFO"
        ):
            return False
        reached = 0
        node: logging.Logger | None = logger
        while node is not None:
            for handler in node.handlers:
                if handler is self:
                    reached += 1
                elif handler.level <= _INFO:
                    return False
            node = node.parent if node.propagate else None
        return reached == 1

    def write_access(
        self, logger: logging.Logger, method: str, path: str, status: int, size: int, ms: float
    ) -> None:
        """Write the line ``logger.info(ACCESS_FORMAT, method, path, status, size, ms)``
        comes out as (only when :meth:`takes_alone` says so): queued, and made with the
        others of its batch (see :data:`_BATCH`), in order and before any later record's
        line."""
        pending = self._pending
        pending.append((_clock(), logger.name, method, path, status, size, ms))
        if len(pending) >= _BATCH:
            with self.lock:  # type: ignore[union-attr]  # made by the handler's __init__
                self._drain()


#: The handler :func:`configure_logging` installed, if it did (see the module doc).
direct: BufferedStderr | None = None


def direct_handler() -> BufferedStderr | None:
    """The handler :func:`configure_logging` installed, if it did (see the module doc)."""
    return direct


def configure_logging(level: str) -> None:
    """Log to stderr from ``level`` (``info`` writes one line per request) in
    :data:`LOG_FORMAT`, for the command line's process.

    A line per request is most of what logging costs the emulator, so the records skip what
    the format never shows: the caller's file and line (found by walking the stack), the
    thread, process and multiprocessing names, as the logging HOWTO's "Optimization" section
    says; and access lines skip the records altogether while the configuration made here
    holds (see the module doc). This is process-wide, which the command line's process is
    for.
    """
    global direct
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    setattr(logging, "_srcfile", None)  # noqa: B010 - the documented switch, a private name
    handler = BufferedStderr()
    logging.basicConfig(level=level.upper(), handlers=[handler])
    direct = handler
    threading.Thread(target=handler.flush_every, name="agnost-emulator-log", daemon=True).start()
