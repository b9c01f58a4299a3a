"""User fields round-trip byte-exactly whatever the locale of the process that saved them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from agnost.storage.filestore import FileStore

from .conftest import CLIENT_KEY, ENV_URL, USER, run_worker

AWKWARD = {
    "latin": "Zoë Ångström",
    "cjk": "東京都 渋谷区",
    "emoji": "👩🏽‍💻🏳️‍🌈",
    "combining": "e\u0301 vs \u00e9",
    "rtl": "\u202e\u0645\u0631\u062d\u0628\u0627\u202c",  # Arabic, overridden RTL
    "controls": "\x00\x1f\x7f\u0085\u2028\u2029",
    "bom and nonchars": "\ufeff\ufffe\uffff",
    "lone surrogate": "\ud800 and \udfff",  # valid in JSON text, not in UTF-8
    "astral": "\U0010ffff",
    "\u00e9 key": "keys too",
}
USER_WITH_UNICODE = {**USER, "name": "Zoë", "custom": AWKWARD}


def _exact(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _c_locale() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHON"))}
    # The plain C locale, with Python's UTF-8 mode and C-locale coercion both off: the
    # locale encoding is then ASCII, the least forgiving there is.
    env.update(LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    return env


def test_unicode_saved_under_the_c_locale_loads_byte_exactly_everywhere(data_dir: Path) -> None:
    user_json = json.dumps(USER_WITH_UNICODE, ensure_ascii=True)
    saver = run_worker("save-user", str(data_dir), ENV_URL, CLIENT_KEY, user_json, env=_c_locale())
    saved = json.loads(saver.communicate(timeout=60)[0])
    assert saver.returncode == 0
    assert saved["encoding"].lower() in ("ascii", "ansi_x3.4-1968")  # really not UTF-8

    loader = run_worker("load", str(data_dir), ENV_URL, CLIENT_KEY, env=_c_locale())
    loaded_in_c = json.loads(loader.communicate(timeout=60)[0])["user"]
    loaded_here = FileStore(ENV_URL, CLIENT_KEY, data_dir=data_dir).load().user

    for loaded in (saved["user"], loaded_in_c, loaded_here):
        assert _exact(loaded) == _exact(USER_WITH_UNICODE)


def test_the_file_bytes_do_not_depend_on_the_locale(tmp_path: Path) -> None:
    user_json = json.dumps(USER_WITH_UNICODE, ensure_ascii=True)
    in_c = run_worker(
        "save-user", str(tmp_path / "c"), ENV_URL, CLIENT_KEY, user_json, env=_c_locale()
    )
    in_c.communicate(timeout=60)
    here = FileStore(ENV_URL, CLIENT_KEY, data_dir=tmp_path / "here")
    here.save({"user": USER_WITH_UNICODE})

    c_bytes = FileStore(ENV_URL, CLIENT_KEY, data_dir=tmp_path / "c").path.read_bytes()
    assert c_bytes == here.path.read_bytes()
    c_bytes.decode("utf-8")  # and they are UTF-8 (ASCII, in fact)
