"""Programs the file-store tests run in separate processes: ``python procs.py ROLE ARGS``.

Each prints one JSON line with what it saw, so the test can check it.
"""

from __future__ import annotations

import json
import locale
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agnost.storage import StoredAuth, StoreUpdate, _fileio
from agnost.storage.filestore import FileStore


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1


def writer(data_dir: str, env_url: str, key: str, wid: str, updates: str) -> dict[str, Any]:
    """Alternate two kinds of update: a locked increment of counters in the user (a
    read-modify-write) and a plain save of the session (which must not undo the user)."""
    store = FileStore(env_url, key, data_dir=data_dir)

    def increment(state: StoredAuth) -> StoreUpdate:
        user = dict(state.user or {"count": 0, "per": {}})
        per = dict(user["per"])
        per[wid] = per.get(wid, 0) + 1
        return {"user": {**user, "count": user["count"] + 1, "per": per}}

    for i in range(int(updates)):
        if i % 2 == 0:
            store.modify(increment)
        else:
            store.save({"session": {"token": f"token-{wid}-{i}", "writer": wid, "seq": i}})
    return {"wid": wid, "done": int(updates)}


def reader(data_dir: str, env_url: str, key: str, stop: str, fresh: str) -> dict[str, Any]:
    """Load until ``stop`` exists; count loads that failed or went back in time."""
    warnings = _Count()
    logging.getLogger("agnost").addHandler(warnings)
    store = FileStore(env_url, key, data_dir=data_dir)
    reads = errors = regressions = malformed = 0
    last = 0
    while not os.path.exists(stop):
        if fresh == "fresh":
            store = FileStore(env_url, key, data_dir=data_dir)
        try:
            state = store.load()
        except Exception:
            errors += 1
            continue
        reads += 1
        if state.user is None:
            if last:  # once a user was stored, none of the writers ever removes it
                malformed += 1
            continue
        count = state.user.get("count")
        if not isinstance(count, int) or sum(state.user["per"].values()) != count:
            malformed += 1
            continue
        if count < last:
            regressions += 1
        last = count
    return {
        "reads": reads,
        "errors": errors,
        "warnings": warnings.records,
        "regressions": regressions,
        "malformed": malformed,
    }


def hold_lock(lock_path: str, seconds: str, marker: str = "") -> dict[str, Any]:
    """Hold the store's lock for a while, saying on stdout when it is taken; touch
    ``marker`` (if given) just before letting go."""
    lock = Path(lock_path)
    with (
        _fileio.open_private_dir(lock.parent, create=True) as directory,
        _fileio.exclusive_lock(directory, lock.name, timeout=30),
    ):
        print("locked", flush=True)
        time.sleep(float(seconds))
        if marker:
            Path(marker).touch()
    return {"held": float(seconds)}


def save_user(data_dir: str, env_url: str, key: str, user_json: str) -> dict[str, Any]:
    """Save a user (given as ASCII JSON, so argv survives any locale) and load it back."""
    user = json.loads(user_json)
    FileStore(env_url, key, data_dir=data_dir).save({"user": user})
    loaded = FileStore(env_url, key, data_dir=data_dir).load()
    return {"encoding": locale.getpreferredencoding(False), "user": loaded.user}


def load(data_dir: str, env_url: str, key: str) -> dict[str, Any]:
    state = FileStore(env_url, key, data_dir=data_dir).load()
    return {
        "encoding": locale.getpreferredencoding(False),
        "session": state.session,
        "user": state.user,
    }


def sign_in(base_url: str, key: str, email: str, password: str) -> dict[str, Any]:
    """Sign in with the blocking client and its default store ($AGNOST_DATA_DIR)."""
    import agnost

    with agnost.create_client(base_url, key) as client:
        grant = client.auth.sign_in_with_email(email, password)
    return {"user": grant.user.id}


def whoami(base_url: str, key: str) -> dict[str, Any]:
    """Ask the server who the stored session belongs to, with the blocking client."""
    import agnost

    with agnost.create_client(base_url, key) as client:
        return {"user": client.auth.get_user_from_db().id}


ROLES: dict[str, Callable[..., dict[str, Any]]] = {
    "writer": writer,
    "reader": reader,
    "hold-lock": hold_lock,
    "save-user": save_user,
    "load": load,
    "sign-in": sign_in,
    "whoami": whoami,
}

if __name__ == "__main__":
    result = ROLES[sys.argv[1]](*sys.argv[2:])
    # ASCII JSON: stdout's encoding depends on the locale, which some tests set to C.
    print(json.dumps(result, ensure_ascii=True), flush=True)
