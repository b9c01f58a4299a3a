"""The serving examples, run for real: an aiohttp.web app and a Flask app on 127.0.0.1, each
with one stateless agnost client and a scope per request, in front of the emulator. 20 users,
200 requests at once (async) or from 20 threads (blocking): every answer is its own user's,
and no session file is ever written."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import requests
from aiohttp import web
from werkzeug.serving import make_server

import agnost
from agnost.emulator import Emulator
from examples import serving_aiohttp, serving_flask

USERS = 20
REQUESTS = 200
PASSWORD = "correct horse battery"


def _email(i: int) -> str:
    return f"user{i:02d}@example.com"


def _token_of(set_cookie: str) -> str:
    # The Set-Cookie value starts with session_token=<token>; the Cookie-header reader finds it.
    token = agnost.session_token_from_cookie_header(set_cookie)
    assert token is not None
    return token


def _plan() -> list[int]:
    """Which user each request is for: every user ten times, in a shuffled order."""
    order = [i % USERS for i in range(REQUESTS)]
    random.Random(10).shuffle(order)
    return order


def _headers(token: str, request_number: int) -> dict[str, str]:
    # Half come as a browser sends them (the cookie), half as an API client (the header).
    if request_number % 2:
        return {"Cookie": f"theme=dark; session_token={token}; lang=en"}
    return {"Session": token}


# --- aiohttp.web --------------------------------------------------------------------------------


async def _serve_aiohttp(emulator: Emulator) -> tuple[web.AppRunner, str]:
    app = serving_aiohttp.make_app(emulator.base_url, emulator.client_key)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def test_the_aiohttp_app_answers_200_concurrent_requests_of_20_users_each_as_its_user(
    agnost_emulator: Emulator, data_dir: Path
) -> None:
    runner, url = await _serve_aiohttp(agnost_emulator)
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        ) as http:
            tokens = []
            for i in range(USERS):
                body = {"email": _email(i), "password": PASSWORD}
                async with http.post(f"{url}/sign-up", json=body) as answer:
                    assert answer.status == 201
                    tokens.append(_token_of(answer.headers["Set-Cookie"]))

            async def me(number: int, user: int) -> tuple[int, int, Any]:
                async with http.get(f"{url}/me", headers=_headers(tokens[user], number)) as r:
                    return user, r.status, await r.json()

            answers = await asyncio.gather(*(me(n, u) for n, u in enumerate(_plan())))

            assert len(answers) == REQUESTS
            assert [status for _, status, _ in answers] == [200] * REQUESTS
            wrong = [user for user, _, body in answers if body["email"] != _email(user)]
            assert wrong == []

            # A request without a session acts as no one, never as the last user signed in.
            async with http.get(f"{url}/me") as answer:
                assert answer.status == 401
            # Signing out one user expires its cookie and leaves the others signed in.
            async with http.post(f"{url}/sign-out", headers={"Session": tokens[0]}) as answer:
                assert answer.headers["Set-Cookie"].startswith("session_token=; Max-Age=0;")
            async with http.get(f"{url}/me", headers={"Session": tokens[0]}) as answer:
                assert answer.status == 401
                assert "Max-Age=0" in answer.headers["Set-Cookie"]
            async with http.get(f"{url}/me", headers={"Session": tokens[1]}) as answer:
                assert (await answer.json())["email"] == _email(1)
    finally:
        await runner.cleanup()
    assert list(data_dir.rglob("*")) == []


# --- Flask, in threads ---------------------------------------------------------------------------


@contextmanager
def _serve_flask(emulator: Emulator) -> Iterator[str]:
    app = serving_flask.make_app(emulator.base_url, emulator.client_key)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        app.extensions["agnost"].close()


def test_the_flask_app_answers_200_requests_of_20_users_from_20_threads_each_as_its_user(
    agnost_emulator: Emulator, data_dir: Path
) -> None:
    with _serve_flask(agnost_emulator) as url:
        tokens = []
        for i in range(USERS):
            answer = requests.post(
                f"{url}/sign-up", json={"email": _email(i), "password": PASSWORD}, timeout=30
            )
            assert answer.status_code == 201
            tokens.append(_token_of(answer.headers["Set-Cookie"]))
        local = threading.local()

        def me(job: tuple[int, int]) -> tuple[int, int, Any]:
            number, user = job
            if not hasattr(local, "http"):
                local.http = requests.Session()
            answer = local.http.get(
                f"{url}/me", headers=_headers(tokens[user], number), timeout=30
            )
            return user, answer.status_code, answer.json()

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(me, enumerate(_plan())))

        assert [status for _, status, _ in answers] == [200] * REQUESTS
        wrong = [user for user, _, body in answers if body["email"] != _email(user)]
        assert wrong == []

        assert requests.get(f"{url}/me", timeout=30).status_code == 401
        signed_in = requests.post(
            f"{url}/sign-in", json={"email": _email(3), "password": PASSWORD}, timeout=30
        )
        assert signed_in.headers["Set-Cookie"].endswith("; Path=/; HttpOnly; Secure; SameSite=Lax")
        fresh = _token_of(signed_in.headers["Set-Cookie"])
        answer = requests.get(
            f"{url}/me", headers={"Cookie": f"session_token={fresh}"}, timeout=30
        )
        assert answer.json()["email"] == _email(3)
    assert list(data_dir.rglob("*")) == []
