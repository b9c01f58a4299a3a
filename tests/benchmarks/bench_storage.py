"""How much the file store costs: median save and load, and what it adds to a sign-in.

Run with ``pytest tests/benchmarks/bench_storage.py -m benchmark -s``; figures are printed,
not asserted (they depend on the disk).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import agnost
from agnost.emulator import Emulator
from agnost.storage import MemoryStore, Storage, StoreUpdate
from agnost.storage.filestore import FileStore
from tests.samples import SESSION, USER

ROUNDS = 300
SIGN_INS = 60


def _median_ms(action: Callable[[], object], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        action()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


@pytest.mark.benchmark
def test_median_save_and_load(tmp_path: Path) -> None:
    store = FileStore("https://bench.agnost.test", "key", data_dir=tmp_path)
    other = FileStore("https://bench.agnost.test", "key", data_dir=tmp_path)
    memory = MemoryStore()
    state: StoreUpdate = {"session": SESSION, "user": USER}
    store.save(state)
    flip = iter(range(10**9))

    def save_changed() -> None:
        store.save({"user": {**USER, "n": next(flip)}})

    def load_after_other_saved() -> None:
        other.save({"user": {**USER, "n": next(flip)}})
        start = time.perf_counter_ns()
        store.load()
        reread.append(time.perf_counter_ns() - start)

    reread: list[int] = []
    figures = {
        "file save": _median_ms(save_changed),
        "file load, unchanged": _median_ms(store.load),
        "memory save": _median_ms(lambda: memory.save(state)),
        "memory load": _median_ms(memory.load),
    }
    _median_ms(load_after_other_saved)
    figures["file load, changed by another store"] = statistics.median(reread) / 1e6
    print(f"\nmedians over {ROUNDS} rounds, file {store.path.stat().st_size} bytes:")
    for name, ms in figures.items():
        print(f"  {name:38} {ms * 1000:9.1f} us")


@pytest.mark.benchmark
def test_what_the_file_store_adds_to_a_sign_in(agnost_emulator: Emulator, tmp_path: Path) -> None:
    url, key = agnost_emulator.base_url, agnost_emulator.client_key
    email, password = "bench@example.com", "correct horse battery"
    with agnost.create_client(url, key, storage=MemoryStore()) as client:
        client.auth.sign_up_with_email(email, password)

    def sign_in_with(store: Storage) -> Callable[[], object]:
        client = agnost.create_client(url, key, storage=store)
        return lambda: client.auth.sign_in_with_email(email, password)

    file_sign_in = sign_in_with(FileStore(url, key, data_dir=tmp_path))
    memory_sign_in = sign_in_with(MemoryStore())
    file_sign_in(), memory_sign_in()  # warm the connections
    file_ms, memory_ms = [], []
    for _ in range(SIGN_INS):  # interleaved, so both see the same server and machine load
        file_ms.append(_median_ms(file_sign_in, 1))
        memory_ms.append(_median_ms(memory_sign_in, 1))
    file_median, memory_median = statistics.median(file_ms), statistics.median(memory_ms)
    print(
        f"\nsign-in against the local emulator, median of {SIGN_INS}:"
        f" file store {file_median:.2f} ms, memory store {memory_median:.2f} ms,"
        f" added {file_median - memory_median:+.2f} ms"
    )
