"""Real processes: writers killed mid-save, and many writers and readers on one profile."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

from agnost.storage import StoredAuth, StoreUpdate
from agnost.storage.filestore import FileStore

from .conftest import CLIENT_KEY, ENV_URL, run_worker, set_aside, temp_files

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "darwin", reason="kills forked children (Linux)"
)

KILLS = 250
WRITERS = 8
UPDATES = 200
READERS = 2


def _stamp(seq: int, pad: int) -> str:
    return hashlib.sha256(f"{seq}:{pad}".encode()).hexdigest()


def _next_state(state: StoredAuth) -> StoreUpdate:
    seq = (state.user or {}).get("seq", 0) + 1
    pad = random.randrange(0, 6000)  # files from a few hundred bytes to a few pages
    return {"user": {"seq": seq, "pad": "x" * pad, "stamp": _stamp(seq, pad)}}


def _save_forever(data_dir: Path, ready: int) -> None:
    store = FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir)
    os.write(ready, b"x")  # the kill's random moment starts now, not at the fork
    while True:
        store.modify(_next_state)


def test_a_writer_killed_at_random_moments_never_leaves_a_broken_or_stale_file(
    data_dir: Path,
) -> None:
    random.seed(20261127)
    store = FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir)
    store.save({"session": {"token": "parent-0"}})
    last_seq = 0
    orphaned_temps = 0
    for kill in range(KILLS):
        # On a loaded machine a child can take longer than the whole random delay to start:
        # the delay counts from when it is ready to save.
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child saves until it is killed
            try:
                os.close(ready_read)
                _save_forever(data_dir, ready_write)
            finally:
                os._exit(1)
        os.close(ready_write)
        assert os.read(ready_read, 1) == b"x", kill
        os.close(ready_read)
        time.sleep(random.uniform(0.0005, 0.012))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

        state = FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir).load()
        user = state.user or {"seq": 0, "pad": "", "stamp": _stamp(0, 0)}
        assert user["stamp"] == _stamp(user["seq"], len(user["pad"])), kill  # complete
        assert user["seq"] >= last_seq, kill  # never an older state than one already seen
        assert state.session == {"token": f"parent-{kill}"}, kill  # the parent's save survived
        last_seq = user["seq"]
        orphaned_temps += bool(temp_files(store.path.parent))

        store.save({"session": {"token": f"parent-{kill + 1}"}})
        assert temp_files(store.path.parent) == [], kill

    assert set_aside(store.path.parent) == []
    print(
        f"\nkill -9 survived: {KILLS}; saves completed by the killed writers: {last_seq};"
        f" kills that left a temp file mid-save: {orphaned_temps}"
    )
    # The kills must have landed inside saves, or the test proved nothing.
    assert orphaned_temps > 0 and last_seq > 0


def test_many_writers_and_readers_lose_no_update_and_never_read_a_broken_file(
    data_dir: Path, tmp_path: Path
) -> None:
    args = (str(data_dir), ENV_URL, CLIENT_KEY)
    stop = tmp_path / "stop"
    readers = [
        run_worker("reader", *args, str(stop), kind) for kind in ("cached", "fresh")[:READERS]
    ]
    start = time.monotonic()
    writers = [run_worker("writer", *args, f"w{i}", str(UPDATES)) for i in range(WRITERS)]
    try:
        written = [json.loads(w.communicate(timeout=120)[0]) for w in writers]
    finally:
        stop.touch()
    elapsed = time.monotonic() - start
    seen = [json.loads(r.communicate(timeout=60)[0]) for r in readers]
    assert all(p.returncode == 0 for p in writers + readers)

    final = FileStore(*args[1:], data_dir=data_dir).load()
    increments = UPDATES // 2
    assert [w["done"] for w in written] == [UPDATES] * WRITERS
    assert final.user is not None
    assert final.user["per"] == {f"w{i}": increments for i in range(WRITERS)}
    assert final.user["count"] == WRITERS * increments  # no lost read-modify-write
    assert final.session is not None and final.session["seq"] == UPDATES - 1
    for r in seen:
        assert (r["errors"], r["warnings"], r["malformed"], r["regressions"]) == (0, 0, 0, 0)
        assert r["reads"] > 0
    assert set_aside(data_dir / "sessions") == []
    assert temp_files(data_dir / "sessions") == []
    print(
        f"\n{WRITERS} writers x {UPDATES} updates in {elapsed:.1f}s with {len(readers)} readers"
        f" ({sum(r['reads'] for r in seen)} reads): unreadable reads 0, lost updates"
        f" {WRITERS * increments - final.user['count']}"
    )
