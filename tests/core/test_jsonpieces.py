"""agnost._core.jsonpieces: decoding in pieces gives exactly what json.loads gives (values and
error types), and lets another thread run between the pieces (issue 8, item 3)."""

from __future__ import annotations

import asyncio
import gc
import json
import random
import threading
from typing import Any

import pytest

from agnost import ResponseDecodeError
from agnost._core import jsonpieces
from agnost._core.http import Response, decode_json

PIECES = (2, 3, 5, 8, 17, 64, 1024)
# Strings made of the characters a boundary scan could trip on.
FRAGMENTS = [
    "", "a", ",", "[", "]", "{", "}", '\\"', "\\\\", "a,b", "],[", "},{", '","', "\\u00e9",
    "\\ud800", "\\udc00x", "\\ud83d\\ude00", "é", "密", ":", " ", "\\n", "\\/", "NaN", "1,2",
]  # fmt: skip


def _string(rng: random.Random, parts: int = 5) -> str:
    return '"' + "".join(rng.choice(FRAGMENTS) for _ in range(rng.randrange(parts))) + '"'


def _space(rng: random.Random) -> str:
    return rng.choice(["", "", "", " ", "\n  ", "\t", "\r\n"])


def _document(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 6 or roll < 0.3:
        kind = rng.randrange(8)
        if kind == 0:
            return str(rng.randint(-(10**12), 10**12))
        if kind == 1:
            return rng.choice(["1.5", "-0", "1e5", "2.5E-3", "0", "-12.25e+2", "1E400"])
        if kind == 2:
            return rng.choice(["true", "false", "null"])
        return _string(rng)
    if roll < 0.65:
        items = [_document(rng, depth + 1) for _ in range(rng.randrange(12))]
        return "[" + _space(rng) + ("," + _space(rng)).join(items) + _space(rng) + "]"
    members = [
        _space(rng) + _string(rng, 3) + _space(rng) + ":" + _space(rng) + _document(rng, depth + 1)
        for _ in range(rng.randrange(8))
    ]
    return "{" + ",".join(members) + _space(rng) + "}"


def _mutated(rng: random.Random, text: str) -> str:
    if not text:
        return text
    at = rng.randrange(len(text))
    kind = rng.randrange(4)
    if kind == 0:
        return text[:at] + text[at + 1 :]
    if kind == 1:
        inserted = rng.choice([",", "]", "}", '"', "NaN", "Infinity", "x", ":", "[", "{", " "])
        return text[:at] + inserted + text[at:]
    if kind == 2:
        return text[:at]
    return text[:at] + "," + text[at:]


def _today(text: str) -> tuple[str, Any]:
    """What today's decoder (json.loads, NaN refused) makes of ``text``."""
    try:
        return "ok", json.loads(text, parse_constant=jsonpieces._not_json)
    except RecursionError:
        return "too deep", None
    except ValueError:
        return "not json", None


def _in_pieces(text: str, piece: int) -> tuple[str, Any]:
    try:
        return "ok", jsonpieces.decode(text, piece=piece)
    except RecursionError:
        return "too deep", None
    except ValueError:
        return "not json", None


def _same(text: str, piece: int) -> None:
    expected = _today(text)
    got = _in_pieces(text, piece)
    assert got[0] == expected[0], (text, piece)
    # Compared as JSON text too: key order and 1 vs 1.0 vs True must match.
    assert got[1] == expected[1], (text, piece)
    assert json.dumps(got[1]) == json.dumps(expected[1]), (text, piece)


@pytest.mark.parametrize("seed", range(8))
def test_random_documents_decode_to_what_json_loads_gives(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        text = _document(rng)
        for piece in PIECES:
            _same(text, piece)


@pytest.mark.parametrize("seed", range(8))
def test_broken_documents_fail_as_json_loads_fails_and_others_still_match(seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _ in range(150):
        text = _mutated(rng, _document(rng))
        if rng.random() < 0.3:
            text = _mutated(rng, text)
        for piece in PIECES:
            _same(text, piece)


@pytest.mark.parametrize(
    "text",
    [
        "[1,]", "[,1]", "[1,,2]", "[1 2]", "{\"a\":1,}", "{,\"a\":1}", "{\"a\" 1}", "{\"a\":}",
        "{1:2}", "[1]]", "[[1]", "[1] x", "[", "{", "[\"a]", "[\"\\x\"]", "[\"\x01\"]",
        "[01]", "[1.]", "[.5]", "[-]", "[tru]", "[1,2,3,4,5,6,7,8,9,", " [1] ", "\n{}\t", "[]",
        "{}", "[[[[]]]]", "{\"a\":{\"b\":{}}}", "[\"],[\",\"},{\"]", "\ufeff[1]",
    ],
)  # fmt: skip
def test_edge_cases_match_json_loads(text: str) -> None:
    for piece in PIECES:
        _same(text, piece)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_wherever_they_stand(constant: str) -> None:
    items = ",".join(["1"] * 200)
    for text in (
        f"[{items},{constant}]",
        f"[{constant},{items}]",
        f'{{"a":[{items}],"b":{constant}}}',
        f'[{items},{{"x":[[{constant}]]}}]',
    ):
        for piece in PIECES:
            with pytest.raises(ValueError, match="is not JSON"):
                jsonpieces.decode(text, piece=piece)
    # The same words inside strings are text.
    assert jsonpieces.decode(f'["{constant}",{items}]', piece=8)[0] == constant


def test_duplicate_keys_across_pieces_keep_the_first_place_and_the_last_value() -> None:
    members = [f'"k{i % 7}":{i}' for i in range(300)] + ['"z":[1,2,3]', '"k3":"last"']
    text = "{" + ",".join(members) + "}"
    for piece in PIECES:
        got = jsonpieces.decode(text, piece=piece)
        assert list(got) == list(json.loads(text))
        assert got == json.loads(text)
        assert got["k3"] == "last"


@pytest.mark.parametrize("depth", [1, 50, 400])
def test_nesting_that_json_loads_accepts_is_accepted(depth: int) -> None:
    # Big content at the bottom, so that every level is decoded in pieces.
    text = "[" * depth + ",".join(["[1,{}]"] * 5000) + "]" * depth
    for piece in (64, 4096):
        _same(text, piece)


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_nesting_too_deep_is_a_recursion_error_as_with_json_loads(depth: int) -> None:
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        assert _today(text)[0] == "too deep"
        with pytest.raises(RecursionError):
            jsonpieces.decode(text, piece=64)
    # Deep nesting after a long run of small items, too.
    text = "[" + "1," * 20_000 + "[" * depth + "]" * depth + "]"
    with pytest.raises(RecursionError):
        jsonpieces.decode(text, piece=64)


def _filled(head: str, unit: str, tail: str, size: int = 400_000) -> str:
    return head + ",".join([unit] * ((size - len(head) - len(tail)) // (len(unit) + 1))) + tail


HOSTILE = {
    "tiny items": _filled("[", "1", "]"),
    "empty objects": _filled('{"errors":[', "{}", "]}"),
    "nested empties": _filled("[", "[[]]", "]"),
    "objects": _filled("[", '{"id":"a,b","n":[1,{"x":"}"}],"t":true}', "]"),
    "strings with commas": _filled("[", '"a,b],[c"', "]"),
    "mixed": _filled("[", "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,[1,[1,2],3]", "]"),
    "mixed strings": _filled("[", '1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"a,b,c,d"', "]"),
    "one big object": "{" + ",".join(f'"k{i}":{i}' for i in range(40_000)) + "}",
    "deep and wide": "[" * 300 + ",".join(["1"] * 100_000) + "]" * 300,
    "long strings": _filled("[", '"' + 'x\\",' * 5000 + '"', "]"),
    "one long string": '"' + 'ab,[]{}\\"' * 40_000 + '"',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_shapes_decode_to_what_json_loads_gives(name: str) -> None:
    text = HOSTILE[name]
    assert jsonpieces.decode(text) == json.loads(text)
    assert jsonpieces.decode(text, piece=100) == json.loads(text)


def test_outside_run_loads_is_json_loads() -> None:
    body = HOSTILE["tiny items"].encode()
    kept: list[Any] = []
    assert jsonpieces.loads(body) == json.loads(body)
    assert kept == []


@pytest.mark.parametrize(
    "body",
    [
        HOSTILE["objects"].encode("utf-8-sig"),
        HOSTILE["objects"].encode("utf-16"),
        HOSTILE["objects"].encode("utf-32-le"),
        ("[" + ",".join(['"\\ud800é"'] * 20_000) + "]").encode(),
        ("[" + ",".join(['"\udca0"'] * 20_000) + "]").encode("utf-8", "surrogatepass"),
    ],
)
def test_inside_run_bytes_decode_as_json_loads_decodes_them(body: bytes) -> None:
    assert jsonpieces.run(jsonpieces.loads, body) == json.loads(body)


def test_inside_run_bad_utf8_is_a_unicode_error_as_with_json_loads() -> None:
    body = b"[" + b",".join([b'"a"'] * 20_000) + b',"\xff"]'
    with pytest.raises(UnicodeDecodeError):
        json.loads(body)
    with pytest.raises(UnicodeDecodeError):
        jsonpieces.run(jsonpieces.loads, body)


def test_decode_json_errors_keep_their_kind_inside_run() -> None:
    deep = Response(200, "OK", {}, b"[" * 200_000 + b"]" * 200_000)
    broken = Response(200, "OK", {}, HOSTILE["objects"].encode()[:-1])
    nan = Response(200, "OK", {}, HOSTILE["tiny items"].encode()[:-1] + b",NaN]")
    for response, message in [
        (deep, "nested too deeply"),
        (broken, "not valid JSON"),
        (nan, "not valid JSON"),
    ]:
        with pytest.raises(ResponseDecodeError, match=message):
            decode_json(response)
        with pytest.raises(ResponseDecodeError, match=message):
            jsonpieces.run(decode_json, response)


def test_run_pauses_the_collector_and_restores_it_even_after_an_error() -> None:
    seen: list[bool] = []

    def work() -> None:
        seen.append(gc.isenabled())
        raise KeyError("x")

    assert gc.isenabled()
    with pytest.raises(KeyError):
        jsonpieces.run(work)
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        jsonpieces.run(lambda: None)
        assert not gc.isenabled()  # a collector the caller turned off stays off
    finally:
        gc.enable()


def test_what_the_result_holds_is_left_whole_and_the_rest_is_freed() -> None:
    body = '{"keep":' + HOSTILE["nested empties"] + ',"drop":' + HOSTILE["tiny items"] + "}"
    expected = json.loads(body)

    def work() -> Any:
        value = jsonpieces.loads(body.encode())
        return value["keep"]

    kept = jsonpieces.run(work)
    assert kept == expected["keep"]


def test_concurrent_runs_in_threads_agree_and_leave_the_collector_on() -> None:
    results: list[Any] = []
    body = HOSTILE["objects"].encode()

    def worker() -> None:
        results.append(jsonpieces.run(jsonpieces.loads, body))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [json.loads(body)] * 4
    assert gc.isenabled()


def _ticks_during(decode: Any, body: bytes) -> int:
    """How many times a ticker task on the event loop ran while ``decode(body)`` ran in a
    worker thread (counted by the worker itself, right before and right after the call)."""
    ticks = 0

    async def main() -> int:
        nonlocal ticks
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0.001)

        def work() -> int:
            before = ticks
            decode(body)
            return ticks - before

        task = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        try:
            return await asyncio.to_thread(work)
        finally:
            done = True
            await task

    return asyncio.run(main())


def test_the_event_loop_keeps_running_while_a_large_answer_decodes() -> None:
    # 8 MiB of tiny items. The ticker sleeps 1 ms, so each tick takes the GIL back from the
    # worker. json.loads holds the GIL for the whole call: 1 tick at most (measured: 1);
    # in pieces the worker gives it up between two of them (every switch interval, 5 ms):
    # measured 20, and more on a slower machine, as the decode then takes longer.
    body = _filled("[", "1", "]", 8 * 1024 * 1024).encode()
    assert _ticks_during(lambda b: jsonpieces.run(jsonpieces.loads, b), body) >= 5


class _CountingLoop(asyncio.SelectorEventLoop):
    """A real event loop that counts the callbacks other threads ask it to run, and how many
    of them it ran on its own thread."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0
        self.ran_here = 0
        self.owner = 0  # the thread that runs it

    def call_soon_threadsafe(self, callback: Any, *args: Any, context: Any = None) -> Any:
        self.asked += 1

        def counted() -> None:
            self.ran_here += threading.get_ident() == self.owner
            callback(*args)

        return super().call_soon_threadsafe(counted, context=context)


def test_run_for_hands_the_gil_to_the_loop_between_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every piece of decoding and every slice of freeing is followed by a hand-off (the
    # threshold set to 0): the worker asks the loop for a turn and waits until the loop's
    # own thread has run it. 8 MiB of tiny items is at least 8 MiB / 32 KiB = 256 pieces.
    monkeypatch.setattr(jsonpieces, "HANDOFF_AFTER", 0.0)
    body = _filled("[", "1", "]", 8 * 1024 * 1024).encode()
    loop = _CountingLoop()

    async def main() -> Any:
        loop.owner = threading.get_ident()
        return await asyncio.to_thread(jsonpieces.run_for, loop, jsonpieces.loads, body)

    try:
        value = loop.run_until_complete(main())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
    assert value == json.loads(body)
    assert loop.asked >= 256
    # Each hand-off was waited for, so all but the executor's own result ran on the loop.
    assert loop.ran_here >= 256


@pytest.mark.parametrize("state", ["stopped", "closed"])
def test_run_for_a_loop_that_does_not_run_still_decodes(
    monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    # A loop that is not running (stopped, or closed since) takes no turn: the worker waits
    # HANDOFF_WAIT once at most, then decodes on without handing off.
    monkeypatch.setattr(jsonpieces, "HANDOFF_AFTER", 0.0)
    body = HOSTILE["tiny items"].encode()
    loop = asyncio.new_event_loop()
    if state == "closed":
        loop.close()
    try:
        assert jsonpieces.run_for(loop, jsonpieces.loads, body) == json.loads(body)
    finally:
        loop.close()
