"""Adversarial review of the client speed work of issue 12 (commits ab3022c, 2ab896e, 62a4b91):
the plain slotted internal classes, the lazily compiled patterns, the structure functions
compiled ahead of time by codegen, the lazy Secrets, the async restore skip, the reason phrase
kept as is, the lazy platformdirs. Real HTTP on 127.0.0.1, real files, real processes."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import agnost
from agnost._core import _structure, endpoint, local, operations, wire
from agnost._core.http import ClientConfig, Request, Response, Secrets
from tests import samples

from ._support import (
    CLIENT_KEY,
    CURRENT_TOKEN,
    Flavour,
    RecordingServer,
    Reply,
    error_body,
    json_reply,
    session_wire,
    signed_in,
    text_reply,
)

ROOT = Path(__file__).resolve().parents[2]
JSON = (("Content-Type", "application/json"),)
PASSWORD = "correct-horse-battery-9"


def _run(code: str, *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter; return its stdout (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _tree_copy(tmp_path: Path) -> Path:
    """A copy of the packages and the generator, to change without touching the shared tree."""
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("agnost", "agnost_async", "codegen"):
        shutil.copytree(ROOT / part, tree / part, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def _env_for(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}


# --- the generated structure functions ------------------------------------------------------


def test_a_model_changed_without_codegen_is_structured_right_and_check_names_the_drift(
    tmp_path: Path,
) -> None:
    tree = _tree_copy(tmp_path)
    models = tree / "agnost" / "_core" / "models.py"
    text = models.read_text(encoding="utf-8")
    patch = "    patch: str | None = None\n"
    extra = "    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False)\n"
    assert text.count(patch + extra) == 1
    brand = "    brand: str | None = None\n"  # a new field of Device, OperatingSystem, UserAgent
    models.write_text(text.replace(patch + extra, patch + brand + extra), encoding="utf-8")
    out = _run(
        """
        import agnost
        from agnost._core import wire, _structure
        device = agnost.from_wire(agnost.Device, {"family": "F", "brand": "B", "zz": 1})
        print(device.brand, device.extra == {"zz": 1})
        # Compiled here (the generated function knows no brand), the others still generated.
        print(wire._STRICT[agnost.Device].__code__.co_filename == _structure.__file__)
        print(wire._STRICT[agnost.User].__code__.co_filename == _structure.__file__)
        try:
            agnost.from_wire(agnost.Device, {"brand": 5})
        except ValueError as error:
            print(str(error).replace(" ", "_"))
        agent = {"family": "C", "major": "1", "minor": "0", "patch": "0",
                 "device": {"family": "F", "major": "1", "minor": "1", "brand": "B"},
                 "os": {"family": "O", "major": "1", "minor": "1", "patch": "1"}}
        body = [{"userId": "u", "token": "t", "creationDtm": "2022-03-17T13:17:50.903Z",
                 "accessGroupKeys": [], "userAgent": agent}] * 3
        sessions = wire.sessions_from_json(body)
        print(sessions[2].user_agent.device.brand, agnost.to_wire(sessions[0]) == body[0])
        """,
        cwd=tree,
        env=_env_for(tree),
    )
    assert out.split() == [
        "B",
        "True",
        "False",
        "True",
        "not_the_wire_form_of_a_Device:_brand:_expected_str,_got_int",
        "B",
        "True",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "codegen", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tree,
        env=_env_for(tree),
        check=False,
    )
    assert done.returncode == 1
    assert "agnost/_core/_structure.py: differs" in done.stderr


_ODD = [
    None,
    0,
    1,
    True,
    False,
    1.5,
    "",
    "x",
    "é",
    [],
    ["a"],
    [1],
    {},
    {"a": 1},
    "2022-03-17T13:17:50.903Z",
    "2022-03-17T13:17:50Z",
    "2022-03-17 13:17:50.903+01:00",
    "2022-13-17T13:17:50.903Z",
    "2022-02-30T00:00:00.000Z",
    "2022-03-17T13:17:50.9031234z",
]


class _Str(str):
    """A str subclass: strict checks refuse it."""


def _mutated(rng: random.Random, data: Any) -> Any:
    data = copy.deepcopy(data)
    if not isinstance(data, dict):
        return data
    for _ in range(rng.randint(1, 3)):
        keys = list(data)
        roll = rng.random()
        if roll < 0.25 and keys:
            del data[rng.choice(keys)]
        elif roll < 0.55 and keys:
            key = rng.choice(keys)
            if isinstance(data[key], dict) and rng.random() < 0.6:
                data[key] = _mutated(rng, data[key])
            else:
                data[key] = copy.deepcopy(rng.choice(_ODD))
        elif roll < 0.75:
            data[rng.choice(["newKey", "extra", "_id", "user_id", "\x00extra"])] = rng.choice(_ODD)
        elif keys:
            key = rng.choice(keys)
            if isinstance(data[key], str):
                data[key] = _Str(data[key])
    return data


def _outcome(function: Any, data: Any, cls: type) -> Any:
    try:
        made = function(data, cls)
    except (KeyError, TypeError, ValueError) as error:
        return ("error", type(error).__name__, wire._problem(error))
    return ("made", made, getattr(made, "extra", None))


def test_the_generated_structure_functions_do_what_the_runtime_compiled_ones_do() -> None:
    # For every model and a few thousand answers (missing, extra, mistyped, null, nested,
    # bool against int, str subclasses): the same model, the same extra, the same error.
    own = wire._OwnHooks()
    own.hooks.update(wire._STRICT)
    rng = random.Random(12)
    agent: Any = samples.SESSION["userAgent"]
    bases = {
        agnost.Session: samples.SESSION,
        agnost.User: samples.USER,
        agnost.UserAgent: agent,
        agnost.Device: agent["device"],
        agnost.OperatingSystem: agent["os"],
    }
    compiled = {}
    for cls in wire._MODELS:
        generated = wire._STRICT[cls]
        assert generated.__code__.co_filename == _structure.__file__
        source, names = wire._structure_source(own, cls)
        exec(source, names)
        compiled[cls] = names["structure"]
    for _ in range(3000):
        cls = rng.choice(wire._MODELS)
        data = _mutated(rng, bases[cls])
        assert _outcome(wire._STRICT[cls], data, cls) == _outcome(compiled[cls], data, cls), data


@pytest.mark.parametrize("count", [1, 300, 2500])
def test_sessions_listed_through_both_flavours_keep_unknown_fields_and_name_bad_ones(
    flavour: Flavour, server: RecordingServer, count: int
) -> None:
    # 2500 padded sessions are over LARGE_ANSWER_BYTES: the async flavour decodes them in a
    # worker thread, so both paths of both flavours are covered.
    client = signed_in(flavour, server.url + "/e:abc")
    pad = "p" * (250 if count == 2500 else 1)
    body = [session_wire(f"tok-{i}", pad=pad, n=i) for i in range(count)]
    body[-1]["userAgent"]["device"]["vendor"] = {"x": [1, None]}
    server.script(json_reply(body))
    sessions = flavour.call(client, "get_all_sessions")
    assert [s.token for s in sessions] == [f"tok-{i}" for i in range(count)]
    assert all(s.extra == {"pad": pad, "n": i} for i, s in enumerate(sessions))
    assert sessions[-1].user_agent.device.extra == {"vendor": {"x": [1, None]}}
    assert [agnost.to_wire(s) for s in sessions] == body
    for wrong, problem in (
        ({"userId": 5}, "userId: expected str, got int"),
        ({"accessGroupKeys": [True]}, "expected a list of strings"),
        ({"userAgent": {"os": {"major": 10}}}, "major: expected str, got int"),
        ({"userAgent": {"device": {"family": True}}}, "family: expected str, got bool"),
        ({"creationDtm": None}, ""),
        ({"token": None}, "token: expected str, got NoneType"),
    ):
        bad = copy.deepcopy(body)
        bad[-1].update(wrong)
        server.script(json_reply(bad))
        if not problem:  # an optional field: null is None
            assert flavour.call(client, "get_all_sessions")[-1].creation_dtm is None
            continue
        error = flavour.raises(agnost.ResponseDecodeError, client, "get_all_sessions")
        assert problem in str(error.__cause__)  # the cause names the field, never a value
        for text in (str(error), repr(error), str(error.__cause__)):
            assert "tok-" not in text


# --- the plain classes: repr, equality, pickling ---------------------------------------------


def test_no_converted_class_shows_a_secret_in_its_repr_even_a_short_one() -> None:
    config = ClientConfig("http://localhost:1/e:1", "ck-1", "a1")
    built = operations.reset_pwd_with_code("+15550001", "12", "p9w")
    signed_out = operations.sign_out("t9")
    grant = operations.get_auth_grant("x7")
    change = local.Store({"session": {"token": "s8", "userId": "u"}}, local.SessionChangeKind.SET)
    clear = local.Clear(True, True, if_token="c3")
    request = Request("POST", "http://h/p?key=k4&code=12", {"Session": "h5"}, b'{"p":"b6"}')
    response = Response(200, "OK", {"Set-Cookie": "session_token=r7"}, b"r7")
    texts = [
        repr(config),
        repr(built),
        repr(built.replace(max_response_bytes=3)),
        repr(signed_out),
        repr(grant),
        repr(change),
        repr(clear),
        repr(request),
        repr(response),
        repr(Secrets(tokens=("q1",), passwords=("q2",), codes=("q3",))),
        repr(operations.Outcome(None, change)),
        repr(agnost._base.Settled(None, clear, None)),
    ]
    for text in texts:
        for secret in ("ck-1", "a1", "12", "p9w", "t9", "x7", "s8", "c3", "k4", "h5", "b6", "r7"):
            assert secret not in text, (secret, text)
        assert "q1" not in text and "q2" not in text and "q3" not in text


def test_errors_of_real_calls_pickle_and_show_no_secret(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.url + "/e:abc", api_key="ak-123")
    cases = [
        (
            "sign_in_with_email",
            ("a@b.c", PASSWORD),
            Reply(
                401,
                error_body("invalid_credentials", f"no {PASSWORD} here"),
                reason=f"No {PASSWORD}",
                headers=JSON,
            ),
        ),
        (
            "sign_in_with_email",
            ("a@b.c", PASSWORD),
            text_reply(f"<h1>{PASSWORD} {CURRENT_TOKEN} ak-123</h1>", 502),
        ),
        (
            "sign_in_with_code",
            ("+15550001", "12"),
            Reply(400, error_body("invalid_code", "code 12 wrong"), reason="12", headers=JSON),
        ),
        ("sign_in_with_code", ("+15550001", "7"), text_reply("code=7 is bad", 500)),
        ("get_all_sessions", (), text_reply(f'[{{"token": "{CURRENT_TOKEN}', 200)),
    ]
    for name, args, reply in cases:
        server.script(reply)
        error = flavour.raises(agnost.AgnostError, client, name, *args)
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and str(again) == str(error)
        for text in (str(error), repr(error), str(getattr(error, "excerpt", ""))):
            for secret in (PASSWORD, CURRENT_TOKEN, "ak-123", "12", "=7 "):
                assert secret not in text, (secret, text)


def test_local_changes_still_compare_and_pickle_by_what_they_change() -> None:
    update: local.StoreUpdate = {"session": session_wire(), "user": None}
    for change in (local.Store(update), local.Clear(True, True, CURRENT_TOKEN)):
        again = pickle.loads(pickle.dumps(change))
        assert again == change and copy.deepcopy(change) == change
    assert local.Clear(True, if_token="a") != local.Clear(True, if_token="b")
    assert local.Store(update) != local.Clear(True)


def test_an_endpoint_response_pickles_with_its_secrets_and_still_redacts(
    flavour: Flavour, server: RecordingServer
) -> None:
    client = signed_in(flavour, server.url + "/e:abc")
    server.script(text_reply(f"not json {CURRENT_TOKEN}", 200, "application/json"))
    answer = flavour.run(client.endpoint.get("/x", returns="response"))
    for response in (answer, pickle.loads(pickle.dumps(answer)), copy.deepcopy(answer)):
        assert response == answer
        with pytest.raises(agnost.ResponseDecodeError) as caught:
            response.json()
        assert CURRENT_TOKEN not in str(caught.value)


# --- lazy patterns and lazy Secrets under threads --------------------------------------------


def test_patterns_first_compiled_by_many_threads_at_once_match_as_compiled_ones() -> None:
    # In a fresh process, so that every lazy pattern is first used here, by 24 threads
    # released together; each must get what a single thread gets.
    out = _run(
        """
        import json, threading
        from agnost._core import cookies, endpoint, http, operations, transport, wire
        from agnost._core.http import Response, Secrets, excerpt

        def work():
            secrets = Secrets(tokens=("tok-1",), passwords=("pass-word-9!",), codes=("12",))
            body = json.dumps({"token": "tok-1", "m": "pass-word-9! 12 x12\\n\\tend"}).encode()
            answer = Response(500, "E", {}, body)
            results = [excerpt(answer, secrets), secrets.redact("tok-1 12 pass-word-9!")]
            results.append(cookies.session_cookie("abc", path="/p", domain="ex.com"))
            results.append(endpoint.request_path("/a/b"))
            for bad in ("/a/%2e%2e/b", "http://x/", "/a%zz", "/a\\x01"):
                try:
                    endpoint.request_path(bad)
                except Exception as error:
                    results.append(type(error).__name__)
            results.append(transport.redact_queries("GET /x?key=tok-1 done"))
            moment = wire._structure_datetime("2022-03-17 13:17:50.9+01:00", None)
            results.append(moment.isoformat())
            results.append(endpoint._text_of("é".encode("latin-1"), "text/plain; charset=latin-1"))
            try:
                operations.sign_in_with_provider("http://h/e", "Bad Name")
            except Exception as error:
                results.append(type(error).__name__)
            return results

        barrier = threading.Barrier(24)
        found = []
        def run():
            barrier.wait()
            found.append(work())
        threads = [threading.Thread(target=run) for _ in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(json.dumps([found, work()]))
        """
    )
    found, alone = json.loads(out)
    assert len(found) == 24 and all(result == alone for result in found)
    assert "tok-1" not in json.dumps(alone)


def test_one_secrets_used_by_many_threads_redacts_the_same_for_each() -> None:
    secrets = Secrets(tokens=(None, "tok-1", ""), passwords=("", PASSWORD), codes=(None, "12"))
    text = f"tok-1 {PASSWORD} 12 x12 " * 3
    barrier = threading.Barrier(16)
    found: list[str] = []

    def run() -> None:
        barrier.wait()
        found.append(secrets.shown(text, 80))

    threads = [threading.Thread(target=run) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1
    assert "tok-1" not in found[0] and PASSWORD not in found[0] and " 12 " not in found[0]
    assert "x12" in found[0]
    assert secrets.tokens == ("tok-1",) and secrets.passwords == (PASSWORD,)
    assert secrets.codes == ("12",)


# --- the async restore skip --------------------------------------------------------------


def test_async_concurrent_first_calls_all_send_the_stored_session_then_clear_stops_it(
    server: RecordingServer, tmp_path: Path
) -> None:
    import agnost_async

    url = server.url + "/e:abc"

    def store() -> agnost.FileStore:
        return agnost.FileStore(url, CLIENT_KEY, data_dir=tmp_path)

    seed = agnost.create_client(url, CLIENT_KEY, storage=store())
    seed.auth.set_session(agnost.from_wire(agnost.Session, session_wire(CURRENT_TOKEN)))
    seed.close()
    server.script(json_reply([]))

    async def main() -> list[str | None]:
        async with agnost_async.create_client(url, CLIENT_KEY, storage=store()) as client:
            await asyncio.gather(*(client.auth.get_all_sessions() for _ in range(12)))
            scope = client.scope("tok-scope")
            await scope.auth.get_all_sessions()
            await client.auth.clear_local_data()  # nothing kept, the token still sent
            await client.auth.get_all_sessions()
            await client.auth.invalidate_session()  # nor sent from now on
            await client.auth.get_all_sessions()
            await scope.auth.get_all_sessions()
        async with agnost_async.create_client(url, CLIENT_KEY, storage=store()) as fresh:
            await fresh.auth.get_all_sessions()  # restored from a store that holds nothing
        return [r.header("Session") for r in server.requests]

    sent = asyncio.run(main())
    assert sent == [CURRENT_TOKEN] * 12 + ["tok-scope", CURRENT_TOKEN, None, "tok-scope", None]


def test_async_first_call_on_a_fresh_client_restores_a_session_stored_after_it_was_made(
    server: RecordingServer, tmp_path: Path
) -> None:
    import agnost_async

    url = server.url + "/e:abc"
    server.script(json_reply([]))

    def store() -> agnost.FileStore:
        return agnost.FileStore(url, CLIENT_KEY, data_dir=tmp_path)

    async def main() -> list[str | None]:
        client = agnost_async.create_client(url, CLIENT_KEY, storage=store())
        # Stored by another client after this one was made, before its first call.
        other = agnost.create_client(url, CLIENT_KEY, storage=store())
        other.auth.set_session(agnost.from_wire(agnost.Session, session_wire(CURRENT_TOKEN)))
        other.close()
        try:
            await client.auth.get_all_sessions()
            await client.auth.get_all_sessions()
        finally:
            await client.aclose()
        return [r.header("Session") for r in server.requests]

    assert asyncio.run(main()) == [CURRENT_TOKEN, CURRENT_TOKEN]


# --- reason phrases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    ["OK", "Bad\tRequest", "é", "密码", "x\x7fy", "x\x01y", "\x1b[31mred", "O K"],
)
def test_a_reason_phrase_is_the_same_in_both_flavours(
    server: RecordingServer, reason: str
) -> None:
    wire_reason = reason.encode("utf-8").decode("latin-1")  # its UTF-8 bytes on the wire
    seen = []
    for name in ("sync", "async"):
        with Flavour(name) as flavour:
            client = flavour.make(server.url + "/e:abc")
            server.script(Reply(200, b"{}", reason=wire_reason, headers=JSON))
            answer = flavour.run(client.endpoint.get("/x", returns="response"))
            server.script(
                Reply(400, error_body("validation_error"), reason=wire_reason, headers=JSON)
            )
            with pytest.raises(agnost.ValidationError) as caught:
                flavour.run(client.endpoint.get("/x"))
            seen.append((answer.reason, caught.value.status_text, str(caught.value)))
    assert seen[0] == seen[1]
    assert seen[0][0] == wire_reason


# --- lazy platformdirs: the default path, the command line in a fresh process ----------------


def test_the_default_store_path_in_a_fresh_process_without_and_with_agnost_data_dir(
    server: RecordingServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("AGNOST_DATA_DIR", "XDG_DATA_HOME")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT))
    code = f"""
        import os, sys, agnost
        client = agnost.create_client({server.url + "/e:abc"!r}, {CLIENT_KEY!r})
        client.auth.set_session(agnost.Session(user_id="u", token="t"))
        client.close()
        import platformdirs
        print(platformdirs.user_data_dir("agnost"))
        """
    where = Path(_run(code, env=env).strip())
    assert where == home / ".local" / "share" / "agnost"
    assert any(where.rglob("*.json")), list(where.rglob("*"))
    env["AGNOST_DATA_DIR"] = "~/elsewhere"
    _run(code, env=env)
    assert any((home / "elsewhere").rglob("*.json"))


def test_the_command_line_runs_its_smoke_in_a_fresh_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AGNOST_DATA_DIR"}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "agnost.cli", "smoke", "--flavour", "both", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_endpoint_and_operation_tables_are_what_codegen_renders_from() -> None:
    # The converted rows keep their fields (codegen reads them) and refuse changes.
    assert {row.name for row in endpoint.METHODS} >= {"get", "post", "request"}
    assert all(isinstance(row.doc, str) and row.doc for row in operations.OPERATIONS)
    assert all(row.kind in ("read", "change") for row in local.LOCAL_METHODS)


def test_concurrent_scopes_never_send_each_other_s_token_or_headers(
    server: RecordingServer,
) -> None:
    # 40 scopes of one client at once, half with their own headers and half without (no
    # header merge then): each request carries its own scope's token and headers only.
    import concurrent.futures

    import agnost_async

    url = server.url + "/e:abc"
    server.script(json_reply({}))

    def headers_of(i: int) -> dict[str, str] | None:
        return {"X-Scope": str(i)} if i % 2 else None

    async def run_async() -> None:
        async with agnost_async.create_client(url, CLIENT_KEY, storage=agnost.MemoryStore()) as c:
            scopes = [c.scope(f"tok-a{i}") for i in range(40)]
            await asyncio.gather(
                *(
                    s.endpoint.get("/x", params={"i": str(i)}, headers=headers_of(i))
                    for i, s in enumerate(scopes)
                )
            )

    asyncio.run(run_async())
    with agnost.create_client(url, CLIENT_KEY, storage=agnost.MemoryStore()) as client:
        scopes = [client.scope(f"tok-s{i}") for i in range(40)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i: scopes[i].endpoint.get(
                        "/x", params={"i": str(i)}, headers=headers_of(i)
                    ),
                    range(40),
                )
            )
    assert len(server.requests) == 80
    for n, recorded in enumerate(server.requests):
        i = int(recorded.query.split("=")[1])
        prefix = "tok-a" if n < 40 else "tok-s"
        assert recorded.header("Session") == f"{prefix}{i}"
        assert recorded.header("X-Scope") == (str(i) if i % 2 else None)
