"""The shortcuts of issue 12 give what the long ways gave: the session listing spliced from
stored JSON (byte for byte what ``json.dumps`` of the documents was), the one-query listing
(the same refusals), and the access log's direct line (the same text, and only while nothing
but the command line's own handler would see the record: any other logging configuration is
honoured)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from agnost.emulator import Emulator
from agnost.emulator.auth import session_wire
from agnost.emulator.db import Database
from agnost.emulator.security import token_digest
from agnost.emulator.sessions import listed_session

from .conftest import Api, error_code

UA = {
    "family": "Firefox",
    "major": "120",
    "minor": "0",
    "patch": "0",
    "device": {"family": "Other", "major": "0", "minor": "0", "patch": "0"},
    "os": {"family": "Linux", "major": "0", "minor": "0", "patch": "0"},
}

DOCS: list[dict[str, Any]] = [
    {"userId": "u1", "creationDtm": "2026-12-02T01:00:00.000Z", "userAgent": UA},
    {"userId": "u1", "creationDtm": "x", "userAgent": {**UA, "family": "Navigateur \u00e9\u4e2d"}},
    {"userId": 'u"1\\\u2028', "accessGroupKeys": ["a", "b"], "n": 1.5, "none": None},
    {"userId": "u1"},  # nothing but the user
    {"creationDtm": "x", "userId": "u1"},  # stored by another writer: userId not first
    {"userId": "u1", "token": "stored by mistake"},  # kept where session_wire keeps it
]


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize(
    "token", ["tok-\u00e9", "0" * 64, 'quote"and\\slash', "\u00e9t\u00e9", "Ab9"]
)
def test_a_listed_session_is_json_dumps_of_session_wire(doc: dict[str, Any], token: str) -> None:
    for text in (json.dumps(doc), json.dumps(doc, separators=(",", ":"), ensure_ascii=False)):
        for _ in range(2):  # worked out, then from what was worked out
            assert listed_session(text, token) == json.dumps(session_wire(doc, token))


def test_a_listed_session_remembered_by_digest_follows_its_text() -> None:
    digest = "d" * 64
    for token in (digest, "tok-1", 'quote"d'):
        for doc in DOCS:
            text = json.dumps(doc)
            assert listed_session(text, token, digest) == json.dumps(session_wire(doc, token))


def test_the_listing_is_byte_for_byte_what_the_documents_dump_to(api: Api) -> None:
    api.sign_up()
    tokens = [api.sign_in() for _ in range(2)]
    for agent in ("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",):
        answer = api.post(
            "/signin-email",
            {"email": "ada@example.com", "password": "correct horse"},
            headers={"User-Agent": agent},
        )
        tokens.append(answer.json()["session"]["token"])
    caller = tokens[1]
    answer = api.get("/sessions", token=caller)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    user_id = answer.json()[0]["userId"]
    stored = api.emulator._state().db.call(Database.live_sessions, user_id, 0.0)
    expected = [
        session_wire(doc, caller if digest == token_digest(caller) else digest)
        for digest, doc in stored
    ]
    assert len(expected) == 4
    assert answer.content == json.dumps(expected).encode()


def test_the_one_query_listing_refuses_as_authenticate_does(api: Api) -> None:
    api.sign_up()
    token = api.sign_in()
    api.http.cookies.clear()  # the sign-in set the session cookie
    missing = api.get("/sessions")
    assert (missing.status_code, error_code(missing)) == (401, "missing_session_token")
    wrong = api.get("/sessions", token=token + "x")
    assert (wrong.status_code, error_code(wrong)) == (401, "invalid_session_token")
    api.emulator.configure(session_lifetime=1)
    state = api.emulator._state()
    later = state.clock() + 5
    state.clock = lambda: later  # the session has expired
    expired = api.get("/sessions", token=token)
    assert (expired.status_code, error_code(expired)) == (401, "invalid_session_token")
    # ... and, as for any other call, it was deleted on the way.
    assert state.db.call(Database.session_owner, token_digest(token)) is None


def test_the_listing_by_cookie(api: Api) -> None:
    api.sign_up()
    token = api.sign_in()
    api.http.cookies.clear()
    api.http.cookies.set("session_token", token)
    answer = api.get("/sessions")
    assert answer.status_code == 200
    assert [s["token"] for s in answer.json()].count(token) == 1


# --- the access log ----------------------------------------------------------------------

_SCRIPT = textwrap.dedent(
    """
    import json, logging, sys
    import requests
    from agnost.emulator import Emulator
    from agnost.emulator.logs import configure_logging, direct_handler

    configure_logging("info")
    access = logging.getLogger("aiohttp.access")
    root = logging.getLogger()
    own = direct_handler()
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    def undo():
        access.handlers.clear(); access.filters.clear(); access.setLevel(logging.NOTSET)
        access.propagate = True; access.disabled = False
        root.handlers[:] = [own]; own.filters.clear(); own.setLevel(logging.NOTSET)
        own.setFormatter(own._own_formatter)
        logging.setLogRecordFactory(logging.LogRecord)
        logging.addLevelName(logging.INFO, "INFO")

    made = []
    def counting_factory(*args, **kwargs):
        record = logging.LogRecord(*args, **kwargs)
        made.append(record.getMessage())
        return record

    scenarios = {
        "plain": lambda: None,
        "user handler on root": lambda: root.addHandler(Keep()),
        "user handler at WARNING on root": lambda: root.addHandler(Keep(logging.WARNING)),
        "filter on the access logger": lambda: access.addFilter(lambda record: False),
        "access logger at WARNING": lambda: access.setLevel(logging.WARNING),
        "access logger disabled": lambda: setattr(access, "disabled", True),
        "own handler at WARNING": lambda: own.setLevel(logging.WARNING),
        "filter on the own handler": lambda: own.addFilter(lambda record: False),
        "another formatter": lambda: own.setFormatter(logging.Formatter("FMT %(message)s")),
        "not propagated, own handler": lambda: (
            setattr(access, "propagate", False), access.addHandler(Keep())
        ),
        "record factory": lambda: logging.setLogRecordFactory(counting_factory),
        "INFO renamed": lambda: logging.addLevelName(logging.INFO, "NOTE"),
        "own handler twice": lambda: access.addHandler(own),
    }
    results = {}

    def health_twice(emulator):
        # The line of a request is logged after its answer is sent; on one connection, the
        # next request is taken only once that is done: the third request makes sure the
        # two lines are in before the scenario ends (its own line does not count).
        with requests.Session() as http:
            for path in ("/_emulator/health", "/_emulator/health", "/_emulator/config"):
                http.get(emulator.base_url + path, timeout=10)

    with Emulator(hash_cost=4) as emulator:
        for name, change in scenarios.items():
            undo(); seen.clear(); made.clear()
            own._flush_all()
            print(f"--- {name}", file=sys.stderr, flush=True)
            change()
            direct = own.takes_alone(access)
            health_twice(emulator)
            own._flush_all()
            results[name] = {"direct": direct, "seen": list(seen), "made": list(made)}
        undo()
        own._flush_all()
        print("--- ordering", file=sys.stderr, flush=True)
        health_twice(emulator)  # two lines waiting for the flushing thread
        logging.getLogger("agnost.emulator").warning("a warning after the lines")
        own._flush_all()
    print(json.dumps(results))
    """
)

_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} aiohttp\.access INFO "
    r"GET /_emulator/health 200 \d+ \d+\.\dms$"
)


def _run_scenarios() -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    stderr: dict[str, list[str]] = {}
    current = ""
    for line in done.stderr.splitlines():
        if line.startswith("--- "):
            current = line[4:]
            stderr[current] = []
        else:
            stderr.setdefault(current, []).append(line)
    return json.loads(done.stdout), stderr


@pytest.fixture(scope="module")
def scenarios() -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    return _run_scenarios()


def _access_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "/_emulator/health" in line]


def test_the_direct_line_is_the_line_logging_writes(scenarios: Any) -> None:
    results, stderr = scenarios
    assert results["plain"]["direct"] is True  # the direct path is the one taken
    direct = _access_lines(stderr["plain"])
    assert len(direct) == 2 and all(_LINE.match(line) for line in direct), direct
    # With a handler of the user's beside it, logging writes the line: the same text.
    assert results["user handler on root"]["direct"] is False
    through_logging = _access_lines(stderr["user handler on root"])
    assert len(through_logging) == 2 and all(_LINE.match(line) for line in through_logging)
    assert _access_lines(results["user handler on root"]["seen"]) == [
        line.split(" INFO ")[1] for line in through_logging
    ]


def test_a_warning_comes_after_the_lines_before_it(scenarios: Any) -> None:
    _, stderr = scenarios
    lines = [line for line in stderr["ordering"] if "/_emulator/config" not in line]
    assert len(lines) == 3 and all(_LINE.match(line) for line in lines[:2]), lines
    assert lines[2].endswith(" agnost.emulator WARNING a warning after the lines")


def test_the_own_handler_twice_writes_twice(scenarios: Any) -> None:
    results, stderr = scenarios
    assert results["own handler twice"]["direct"] is False
    assert len(_access_lines(stderr["own handler twice"])) == 4  # as logging does


@pytest.mark.parametrize(
    ("name", "lines", "seen"),
    [
        ("user handler at WARNING on root", 2, 0),  # a handler INFO does not reach
        ("filter on the access logger", 0, 0),
        ("access logger at WARNING", 0, 0),
        ("access logger disabled", 0, 0),
        ("own handler at WARNING", 0, 0),
        ("filter on the own handler", 0, 0),
        ("not propagated, own handler", 0, 2),
    ],
)
def test_another_logging_configuration_is_honoured(
    scenarios: Any, name: str, lines: int, seen: int
) -> None:
    results, stderr = scenarios
    assert results[name]["direct"] is (name == "user handler at WARNING on root")
    assert len(_access_lines(stderr[name])) == lines
    assert len(_access_lines(results[name]["seen"])) == seen


def test_a_renamed_level_and_another_formatter_show(scenarios: Any) -> None:
    results, stderr = scenarios
    renamed = [line for line in stderr["INFO renamed"] if "/_emulator/health" in line]
    assert len(renamed) == 2 and all(" aiohttp.access NOTE GET " in line for line in renamed)
    formatted = [line for line in stderr["another formatter"] if "/_emulator/health" in line]
    assert len(formatted) == 2 and all(
        line.startswith("FMT GET /_emulator/health 200 ") for line in formatted
    )
    assert not results["another formatter"]["direct"]


def test_a_record_factory_makes_every_access_record(scenarios: Any) -> None:
    results, stderr = scenarios
    assert results["record factory"]["direct"] is False
    made = [m for m in results["record factory"]["made"] if "/_emulator/health" in m]
    assert len(made) == 2
    assert len(_access_lines(stderr["record factory"])) == 2


def test_an_in_process_emulator_logs_through_logging(caplog: pytest.LogCaptureFixture) -> None:
    import requests

    caplog.set_level("INFO", logger="aiohttp.access")
    with Emulator(hash_cost=4) as emulator:
        requests.get(emulator.base_url + "/_emulator/health", timeout=10)
    assert [
        r.getMessage().split(" ")[:3] for r in caplog.records if r.name == "aiohttp.access"
    ] == [["GET", "/_emulator/health", "200"]]


@pytest.mark.parametrize("created", [0.0, 1.9994, 1.9996, 1_780_000_000.5, 1_780_000_000.999])
def test_queued_lines_are_what_the_formatter_makes_of_the_records(created: float) -> None:
    from agnost.emulator.logs import ACCESS_FORMAT, LOG_FORMAT, BufferedStderr

    handler = BufferedStderr()
    plain = logging.Formatter(LOG_FORMAT)
    try:
        for ms in (0.0, 0.05, 0.15, 0.25, 1.25, 2.675, 1e-9, 12345.6789, 99.95):
            for method, path, status, size in (
                ("GET", "/_api/rest/v1/auth/sessions", 200, 1889),
                ("POST", "/caf\u00e9/\u4e2d", 404, 0),
            ):
                entry = (created, "aiohttp.access", method, path, status, size, ms)
                record = logging.LogRecord(
                    "aiohttp.access", logging.INFO, "", 0, ACCESS_FORMAT, entry[2:], None
                )
                record.created = created
                record.msecs = int((created - int(created)) * 1000)
                assert handler._lines([entry]) == plain.format(record) + "\n"
    finally:
        handler.close()


def test_the_listing_waits_its_turn_while_the_database_is_busy(api: Api) -> None:
    """With another call holding the database, the listing's quick read is not made on the
    event loop's thread: it queues on the database thread and answers the same."""
    import threading
    import time

    api.sign_up()
    token = api.sign_in()
    quiet = api.get("/sessions", token=token)
    state = api.emulator._state()
    holding = threading.Event()

    def hold(db: Database) -> None:
        holding.set()
        time.sleep(0.5)

    holder = threading.Thread(target=state.db.call, args=(hold,))
    holder.start()
    try:
        assert holding.wait(10)
        busy = api.get("/sessions", token=token)
    finally:
        holder.join()
    assert (busy.status_code, busy.content) == (200, quiet.content)


def test_read_now_is_for_quick_reads_and_says_when_the_database_is_busy() -> None:
    import threading

    from agnost.emulator.db import BUSY, DatabaseThread

    db = DatabaseThread(":memory:")
    try:
        assert db.read_now(Database.caller_sessions, "d" * 64, 0.0) == []
        with pytest.raises(ValueError, match="not a quick read"):
            db.read_now(Database.reset)
        entered, release = threading.Event(), threading.Event()

        def hold(_: Database) -> None:
            entered.set()
            release.wait(10)

        holder = threading.Thread(target=db.call, args=(hold,))
        holder.start()
        assert entered.wait(10)
        try:
            assert db.read_now(Database.caller_sessions, "d" * 64, 0.0) is BUSY
        finally:
            release.set()
            holder.join()
    finally:
        db.close()


# --- the listing's read cache ------------------------------------------------------------


def _listed_tokens(api: Api, token: str) -> list[str]:
    answer = api.get("/sessions", token=token)
    assert answer.status_code == 200, answer.text
    return [session["token"] for session in answer.json()]


def test_the_listing_follows_every_change_made_through_the_emulator(api: Api) -> None:
    api.sign_up()
    caller = api.sign_in()
    first = _listed_tokens(api, caller)
    assert _listed_tokens(api, caller) == first  # listed again, unchanged
    later = api.sign_in()
    assert _listed_tokens(api, caller) == [*first, token_digest(later)]
    api.post("/signout", token=later)
    assert _listed_tokens(api, caller) == first
    api.post("/signout-all-except", token=caller)
    assert _listed_tokens(api, caller) == [caller]
    api.emulator.reset()
    gone = api.get("/sessions", token=caller)
    assert (gone.status_code, error_code(gone)) == (401, "invalid_session_token")


def test_the_listing_drops_sessions_that_expired_since_it_was_read(api: Api) -> None:
    api.sign_up()
    state = api.emulator._state()
    now = state.clock()
    state.clock = lambda: now
    old = api.sign_in()
    state.clock = lambda: now + 100
    caller = api.sign_in()
    assert token_digest(old) in _listed_tokens(api, caller)
    api.emulator.configure(session_lifetime=50)  # the first has expired; nothing written
    assert token_digest(old) not in _listed_tokens(api, caller)
    assert caller in _listed_tokens(api, caller)


def test_the_listing_follows_changes_another_process_makes_to_the_file(tmp_path: Any) -> None:
    import sqlite3

    path = str(tmp_path / "emulator.db")
    with Emulator(hash_cost=4, database=path) as emulator:
        api = Api(emulator)
        with api.http:
            api.sign_up()
            caller = api.sign_in()
            other = api.sign_in()
            assert token_digest(other) in _listed_tokens(api, caller)
            # Another connection (as another process would) signs the other session out.
            outside = sqlite3.connect(path, isolation_level=None)
            try:
                outside.execute(
                    "DELETE FROM sessions WHERE token_digest = ?", (token_digest(other),)
                )
            finally:
                outside.close()
            assert token_digest(other) not in _listed_tokens(api, caller)


@pytest.mark.parametrize("msec_format", [None, "%s.%03d", ""])
def test_a_batch_of_queued_lines_is_what_the_formatter_makes(msec_format: str | None) -> None:
    from agnost.emulator.logs import ACCESS_FORMAT, LOG_FORMAT, BufferedStderr

    handler = BufferedStderr()
    plain = logging.Formatter(LOG_FORMAT)
    if msec_format is not None:  # as a formatter subclass may say
        handler._own_formatter.default_msec_format = msec_format
        plain.default_msec_format = msec_format
    entries = [
        (created, "aiohttp.access", method, path, status, size, ms)
        for created in (1_780_000_000.0, 1_780_000_000.5, 1_780_000_001.25, 1_780_000_001.999)
        for method, path, status, size in (
            ("GET", "/_api/rest/v1/auth/sessions", 200, 1889),
            ("GET", "/_api/rest/v1/auth/sessions", 200, 1889),
            ("POST", "/caf\u00e9", 401, 120),
        )
        for ms in (0.25, 3.14159)
    ]
    expected = []
    for entry in entries:
        record = logging.LogRecord(
            "aiohttp.access", logging.INFO, "", 0, ACCESS_FORMAT, entry[2:], None
        )
        record.created = entry[0]
        record.msecs = int((entry[0] - int(entry[0])) * 1000)
        expected.append(plain.format(record) + "\n")
    try:
        assert handler._lines(entries) == "".join(expected)
    finally:
        handler.close()
