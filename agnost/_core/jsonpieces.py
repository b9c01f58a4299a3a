"""Decoding a large JSON answer in pieces, so that other threads get the GIL in between.

``json.loads`` holds the GIL for its whole parse: decoding a hostile 4 MiB answer of a million
tiny items in a worker thread still stops the event loop for ~100 ms. Inside :func:`run`,
:func:`loads` decodes a large body with the same C decoder, but on slices of at most
:data:`MAX_PIECE` characters cut at the commas of the big arrays and objects, so the loop
gets the GIL between two pieces (every ``sys.getswitchinterval()``). Outside :func:`run`
(the blocking client), :func:`loads` is ``json.loads``.

The value is exactly what ``json.loads`` gives, and so are the errors' types: ``ValueError``
for what is not JSON (``NaN`` and ``Infinity`` included), ``UnicodeDecodeError``,
``RecursionError`` for nesting too deep. A slice is only ever kept when the C decoder accepts
it whole as ``[`` slice ``]`` (or ``{`` slice ``}``), which it does only when the slice ends at
a comma between two items of the container being decoded: a cut inside a string or a nested
item leaves something open, one past the container's end leaves extra data. Where a cut
fails, the items up to it are decoded one at a time, so the work stays linear in the body.

Given the event loop (:func:`run_for`), the worker also hands the GIL to the loop's thread
every :data:`HANDOFF_AFTER` of work: it asks the loop to run a callback and waits until it has
(or :data:`HANDOFF_WAIT` has passed). Left to the interpreter's switch interval, the hand-off
is only a request: on a busy machine the loop's thread then waited for a CPU and the GIL for
tens of milliseconds while the worker went on.

:func:`run` also pauses the cyclic garbage collector while the answer is decoded and used
(a collection over a million fresh containers costs ~70 ms in one go), and frees the big
containers nobody kept in slices afterwards (freeing a million items at once costs ~50 ms).
"""

from __future__ import annotations

import gc
import json
import json.decoder
import re
import sys
import threading
import time
from collections.abc import Callable
from json import JSONDecodeError
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:  # the core does no I/O; the loop is only called back
    import asyncio

__all__ = ["HANDOFF_AFTER", "HANDOFF_WAIT", "MAX_PIECE", "loads", "run", "run_for"]

T = TypeVar("T")
P = ParamSpec("P")

#: The most characters one piece holds: one C call of at most ~1 ms on a slow machine.
MAX_PIECE = 32 * 1024
#: The first piece of a container; pieces double while cuts succeed (a deep chain of
#: containers then costs little per level).
_FIRST_PIECE = 1024
#: How long one slice of freeing may take, in seconds.
_FREE_SLICE = 0.001
#: Seconds of work after which the worker hands the GIL to the event loop (:func:`run_for`).
HANDOFF_AFTER = 0.002
#: The longest the worker waits for the loop to take its turn, in seconds (a loop that is
#: stopped or busy elsewhere does not hold the decode up for long).
HANDOFF_WAIT = 0.05
_SIGNATURE = 12
_SPACE = " \t\n\r"


def _not_json(constant: str) -> Any:
    # NaN and Infinity are Python's extension, not JSON (as in agnost._core.http).
    raise ValueError(f"{constant} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_not_json)
_whole = _DECODER.decode
# The C scanner and string scanner json.loads itself runs (untyped in typeshed).
_scan: Callable[[str, int], tuple[Any, int]] = getattr(_DECODER, "scan_once")  # noqa: B009
scanstring: Callable[[str, int], tuple[str, int]] = getattr(json.decoder, "scanstring")  # noqa: B009
_SPACES = re.compile(r"[ \t\n\r]*")  # json.decoder.WHITESPACE


def _space_end(text: str, i: int) -> int:
    match = _SPACES.match(text, i)
    return match.end() if match else i


class _Handoff:
    """Gives the event loop's thread its turn every :data:`HANDOFF_AFTER` of work."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.since = time.perf_counter()
        self.turn = threading.Event()

    def __call__(self) -> None:
        """Hand off if the work since the last hand-off took :data:`HANDOFF_AFTER`."""
        if time.perf_counter() - self.since < HANDOFF_AFTER:
            return
        turn = self.turn
        turn.clear()
        try:
            self.loop.call_soon_threadsafe(turn.set)
        except RuntimeError:  # the loop is closed: nobody to wait for
            self.loop_gone()
            return
        if not turn.wait(HANDOFF_WAIT):
            self.loop_gone()  # stopped or blocked: do not wait at every piece
            return
        self.since = time.perf_counter()

    def loop_gone(self) -> None:
        self.since = float("inf")


def _no_handoff() -> None:
    pass


class _State(threading.local):
    def __init__(self) -> None:  # run in each thread that uses it
        self.depth = 0
        self.kept: list[Any] | None = None
        self.handoff: Callable[[], None] = _no_handoff


_state = _State()
_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_resume = False


def loads(body: bytes) -> Any:
    """``json.loads(body)`` with ``NaN`` and ``Infinity`` refused (``ValueError``); inside
    :func:`run`, a body larger than :data:`MAX_PIECE` is decoded in pieces."""
    # What json.loads does with bytes, with one decoder made once.
    text = body.decode(json.detect_encoding(body), "surrogatepass")
    if _state.depth == 0 or len(text) <= MAX_PIECE:
        return _whole(text)
    return decode(text, _state.kept)


def decode(text: str, kept: list[Any] | None = None, *, piece: int = MAX_PIECE) -> Any:
    """Decode ``text`` in pieces of at most ``piece`` characters; equal to
    ``json.loads(text)`` (``NaN`` refused). The containers built from more than one piece are
    appended to ``kept`` when it is a list."""
    if text.startswith("\ufeff"):
        return _whole(text)  # json.loads refuses a BOM in a str; say so its way
    start = _space_end(text, 0)
    if start >= len(text) or text[start] not in "[{":
        return _whole(text)
    value, end = _Pieces(text, kept, piece).container(start)
    end = _space_end(text, end)
    if end != len(text):
        raise JSONDecodeError("Extra data", text, end)
    return value


class _Pieces:
    def __init__(self, text: str, kept: list[Any] | None, piece: int) -> None:
        self.text = text
        self.kept = kept
        self.piece = max(piece, 2)
        self.first = min(_FIRST_PIECE, self.piece)
        self.handoff = _state.handoff

    def container(self, start: int) -> tuple[Any, int]:
        """The array or object at ``start``, and the index after it. One frame per level of
        nesting, as the C decoder counts them, so both refuse the same depths."""
        text = self.text
        n = len(text)
        opener = text[start]
        is_list = opener == "["
        close = "]" if is_list else "}"
        result: Any = [] if is_list else {}
        add = result.extend if is_list else result.update
        if self.kept is not None:
            self.kept.append(result)
        p = self.after_space(start + 1)
        if p < n and text[p] == close:
            return result, p + 1
        span = self.first
        bad = -1  # a cut known to be no comma of this container's own
        while True:
            # p is where an item (a member) starts.
            if p > bad:
                last = text.rfind(",", p, p + span)
                cuts = []
                if last > p:
                    cuts.append(last)
                    similar = self.similar_cut(p, last)
                    if similar > p:
                        if text[p] in "[{":
                            cuts.insert(0, similar)
                        else:
                            cuts.append(similar)
                done = False
                for cut in cuts:
                    try:
                        batch = _whole(opener + text[p:cut] + close)
                    except JSONDecodeError as exc:
                        if exc.msg == "Extra data":  # the container ends inside the slice
                            end = self.closing(p, p + exc.pos - 1)
                            add(_whole(opener + text[p:end] + close))
                            return result, end + 1
                        bad = max(bad, cut)
                        continue
                    add(batch)
                    self.handoff()
                    p = self.next_item(cut, close)
                    if cut >= bad:
                        span = min(span * 2, self.piece)
                    done = True
                    break
                if done:
                    continue
                region = bad if bad > p else min(n, p + span)
            else:
                region = bad
            # One item at a time up to ``region``: those that end before it are decoded from
            # a copy that stops there (bounded work); one that runs past it is decoded from
            # the whole text, a container in pieces.
            window = text[p:region]
            base = p
            key = ""
            while True:
                if not is_list:
                    if p >= n or text[p] != '"':
                        raise JSONDecodeError(
                            "Expecting property name enclosed in double quotes", text, p
                        )
                    key, q = scanstring(text, p + 1)
                    q = self.after_space(q)
                    if q >= n or text[q] != ":":
                        raise JSONDecodeError("Expecting ':' delimiter", text, q)
                    p = self.after_space(q + 1)
                if p < n and text[p] in "[{":
                    # A container that closes inside the copy is whole; else in pieces.
                    try:
                        if p >= region:
                            raise StopIteration(p)
                        value, end = _scan(window, p - base)
                        end += base
                    except (StopIteration, JSONDecodeError):
                        value, end = self.container(p)
                else:  # a scalar: short, or a string (which the C decoder scans fast)
                    try:
                        value, end = _scan(text, p)
                    except StopIteration as stop:
                        raise JSONDecodeError("Expecting value", text, stop.value) from None
                if is_list:
                    result.append(value)
                else:
                    result[key] = value
                q = self.after_space(end)
                if q < n and text[q] == close:
                    return result, q + 1
                if q >= n or text[q] != ",":
                    raise JSONDecodeError("Expecting ',' delimiter", text, q)
                p = self.next_item(q, close)
                if p > region:
                    break
            self.handoff()

    def after_space(self, i: int) -> int:
        text = self.text
        if i < len(text) and text[i] in _SPACE:
            return _space_end(text, i)
        return i

    def next_item(self, comma: int, close: str) -> int:
        """Where the item after the comma at ``comma`` starts; there must be one."""
        p = self.after_space(comma + 1)
        if p >= len(self.text) or self.text[p] == close:
            what = "Expecting value" if close == "]" else "Expecting property name"
            raise JSONDecodeError(what, self.text, p)
        return p

    def similar_cut(self, p: int, last: int) -> int:
        """The comma before the last item up to ``last`` that starts as the one at ``p`` does:
        in an array of like objects, a cut that holds where the last comma is inside one."""
        text = self.text
        signature = text[p : p + _SIGNATURE]
        at = text.rfind(signature, p + 1, last)
        return text.rfind(",", p, at) if at > p else -1

    def closing(self, p: int, extra: int) -> int:
        """The index of the bracket that closed the container, given where the extra data
        after it starts (``extra``, an index into the text)."""
        end = extra - 1
        text = self.text
        while text[end] in _SPACE:
            end -= 1
        return end


def run(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``func(*args, **kwargs)`` (in a worker thread) with large answers decoded in pieces by
    :func:`loads`, the cyclic garbage collector paused meanwhile, and the big containers that
    ``func``'s result does not hold freed in slices afterwards."""
    _pause_gc()
    state = _state
    outer = state.kept
    kept: list[Any] = []
    state.depth += 1
    state.kept = kept
    try:
        return func(*args, **kwargs)
    finally:
        state.depth -= 1
        state.kept = outer
        try:
            _free(kept, state.handoff)
        finally:
            _resume_gc()


def run_for(
    loop: asyncio.AbstractEventLoop, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """:func:`run` in a worker thread of ``loop``, handing the GIL to the loop's thread every
    :data:`HANDOFF_AFTER` of decoding or freeing (``asyncio.to_thread(run_for, loop, ...)``)."""
    state = _state
    outer = state.handoff
    state.handoff = _Handoff(loop)
    try:
        return run(func, *args, **kwargs)
    finally:
        state.handoff = outer


def _free(kept: list[Any], handoff: Callable[[], None] = _no_handoff) -> None:
    """Empty, a slice at a time, each container nothing else refers to (outer ones first, so
    that their items become free in turn); a container still referred to is left alone."""
    count = 256
    for index in range(len(kept)):
        container = kept[index]
        kept[index] = None
        # Two references: ``container`` and getrefcount's argument.
        if sys.getrefcount(container) > 2:
            continue
        while container:
            start = time.perf_counter()
            if isinstance(container, list):
                del container[-count:]
            else:
                for _ in range(min(count, len(container))):
                    container.popitem()
            took = time.perf_counter() - start
            handoff()
            if took < _FREE_SLICE / 2:
                count *= 2
            elif took > _FREE_SLICE and count > 16:
                count //= 2


def _pause_gc() -> None:
    global _gc_pauses, _gc_resume
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_resume = gc.isenabled()
            gc.disable()
        _gc_pauses += 1


def _resume_gc() -> None:
    global _gc_pauses
    with _gc_lock:
        _gc_pauses -= 1
        if _gc_pauses == 0 and _gc_resume:
            gc.enable()
