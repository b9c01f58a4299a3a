"""The browser view at ``/_emulator/ui`` over plain HTTP: loopback only, no secrets on the
page, everything escaped, sign-out forms protected against cross-site posts."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from agnost.emulator import Emulator
from agnost.emulator.admin import parse_seed, seed
from agnost.emulator.db import Database
from agnost.emulator.ui import peer_is_loopback

from .conftest import AUTH, PASSWORD

UI = "/_emulator/ui"
EVIL = "<script>alert('x')</script>"
EVIL_AGENT = '<script>alert("agent")</script> Mozilla/5.0'


def _seeded_emulator(path: Path, **settings: Any) -> Emulator:
    """An emulator over a database file that holds one seeded user with hostile fields."""
    entry = {
        "email": "ada@example.com",
        "password": PASSWORD,
        "displayName": EVIL,
        "bio": {"note": EVIL},
    }
    db = Database(str(path))
    try:
        seed(db, parse_seed({"users": [entry]}, 4), time.time())
    finally:
        db.close()
    return Emulator(database=str(path), hash_cost=4, **settings)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """A running emulator with one seeded user, two client keys and email confirmation."""
    emu = _seeded_emulator(
        tmp_path / "ui.sqlite3",
        client_keys=["first-client-key-abc123", "second-client-key-def456"],
        email_confirmation=True,
        phone_confirmation=True,
    )
    with emu:
        yield emu


def sign_in(emu: Emulator, user_agent: str = "pytest-ui") -> str:
    answer = requests.post(
        emu.base_url + AUTH + "/signin-email",
        json={"email": "ada@example.com", "password": PASSWORD},
        headers={"X-Client-Key": emu.client_key, "User-Agent": user_agent},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["session"]["token"]
    return token


def user_id(emu: Emulator) -> str:
    export = requests.get(emu.base_url + "/_emulator/export", timeout=10).json()
    uid: str = export["users"][0]["_id"]
    return uid


def page(emu: Emulator, path: str = UI, **kw: Any) -> requests.Response:
    return requests.get(emu.base_url + path, timeout=10, allow_redirects=False, **kw)


def session_alive(emu: Emulator, token: str) -> bool:
    answer = requests.get(
        emu.base_url + AUTH + "/user",
        headers={"X-Client-Key": emu.client_key, "Session": token},
        timeout=10,
    )
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


def form_token(body: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', body)
    assert match, "no form token on the page"
    return html.unescape(match.group(1))


def fingerprints(body: str) -> list[str]:
    return re.findall(r'data-fingerprint="([0-9a-f]+)"', body)


def handles(emu: Emulator, token: str) -> list[str]:
    """The session handles the API lists (the caller's own shows its token)."""
    answer = requests.get(
        emu.base_url + AUTH + "/sessions",
        headers={"X-Client-Key": emu.client_key, "Session": token},
        timeout=10,
    )
    return [s["token"] for s in answer.json()]


def post_sign_out(
    emu: Emulator, uid: str, data: dict[str, str], headers: dict[str, str] | None = None
) -> requests.Response:
    return requests.post(
        f"{emu.base_url}{UI}/users/{uid}/signout",
        data=data,
        headers=headers or {},
        timeout=10,
        allow_redirects=False,
    )


def test_overview_lists_users_and_outbox_without_any_secret(emulator: Emulator) -> None:
    tokens = [sign_in(emulator), sign_in(emulator)]
    requests.post(
        emulator.base_url + AUTH + "/signup-phone",
        json={"phone": "+15555550100", "password": PASSWORD},
        headers={"X-Client-Key": emulator.client_key},
        timeout=10,
    ).raise_for_status()
    export = requests.get(emulator.base_url + "/_emulator/export", timeout=10).json()
    hashes = [u["passwordHash"] for u in export["users"]]
    uid = user_id(emulator)
    bodies = [page(emulator), page(emulator, f"{UI}/users/{uid}"), page(emulator, UI + "/outbox")]
    for answer in bodies:
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        text = answer.text
        for secret in [*emulator.config["clientKeys"], *tokens, *hashes]:
            assert secret not in text
            assert html.escape(secret) not in text
        # The full session handles (which /signout accepts from the owner) are not shown either.
        for handle in handles(emulator, tokens[0])[1:]:
            assert handle not in text
    overview = bodies[0].text
    assert "ada@example.com" in overview and "+15555550100" in overview
    code = emulator.outbox(kind="phone_verification")[-1].code
    assert code and f'<span class="code">{code}</span>' in overview
    assert "<script" not in overview.lower()


def test_user_page_shows_sessions_by_fingerprint(emulator: Emulator) -> None:
    token = sign_in(emulator, user_agent=EVIL_AGENT)
    sign_in(emulator)
    uid = user_id(emulator)
    body = page(emulator, f"{UI}/users/{uid}").text
    listed = handles(emulator, token)
    other = listed[1]
    shown = fingerprints(body)
    assert len(shown) == 2
    assert other[:12] in shown
    assert "Sessions (2)" in body


def test_everything_users_choose_is_escaped(emulator: Emulator) -> None:
    sign_in(emulator, user_agent=EVIL_AGENT)
    uid = user_id(emulator)
    for path in (UI, f"{UI}/users/{uid}", UI + "/outbox?kind=" + EVIL):
        text = page(emulator, path).text
        assert "<script" not in text.lower(), path
    user_page = page(emulator, f"{UI}/users/{uid}").text
    assert html.escape(EVIL, quote=True) in user_page  # displayName, shown escaped
    assert "&lt;script&gt;" in user_page  # the user agent and the custom field too
    filtered = page(emulator, UI + "/outbox?kind=" + EVIL).text
    assert html.escape(EVIL, quote=True) in filtered


def test_outbox_links_are_anchors_and_codes_are_shown(emulator: Emulator) -> None:
    requests.post(
        emulator.base_url + AUTH + "/signup-email",
        json={"email": "bob@example.com", "password": PASSWORD},
        headers={"X-Client-Key": emulator.client_key},
        timeout=10,
    ).raise_for_status()
    message = emulator.outbox(recipient="bob@example.com")[-1]
    assert message.link
    text = page(emulator, UI + "/outbox?kind=" + message.kind).text
    assert f'class="outbox-link" href="{html.escape(message.link, quote=True)}"' in text
    assert "bob@example.com" in text
    empty = page(emulator, UI + "/outbox?kind=no_such_kind").text
    assert "The outbox is empty" in empty and "bob@example.com" not in empty


def test_a_host_that_does_not_name_the_emulator_is_refused(emulator: Emulator) -> None:
    uid = user_id(emulator)
    for path in (UI, f"{UI}/users/{uid}", UI + "/outbox"):
        answer = page(emulator, path, headers={"Host": "attacker.example:80"})
        assert answer.status_code == 403, path
        assert "ada@example.com" not in answer.text
    token = sign_in(emulator)
    body = page(emulator, f"{UI}/users/{uid}").text
    answer = post_sign_out(
        emulator,
        uid,
        {"form_token": form_token(body), "session": fingerprints(body)[0]},
        {"Host": "attacker.example"},
    )
    assert answer.status_code == 403
    assert session_alive(emulator, token)


def test_sign_out_one_session_answers_303_and_ends_it(emulator: Emulator) -> None:
    kept, ended = sign_in(emulator), sign_in(emulator)
    uid = user_id(emulator)
    body = page(emulator, f"{UI}/users/{uid}").text
    ended_print = next(h[:12] for h in handles(emulator, kept) if h != kept)
    kept_print = next(h[:12] for h in handles(emulator, ended) if h != ended)
    assert sorted(fingerprints(body)) == sorted([kept_print, ended_print])
    answer = post_sign_out(
        emulator,
        uid,
        {"form_token": form_token(body), "session": ended_print},
        {"Origin": emulator.base_url, "Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{UI}/users/{uid}?signed_out=one"
    assert not session_alive(emulator, ended)
    assert session_alive(emulator, kept)
    after = page(emulator, answer.headers["Location"]).text
    assert "Signed out one session" in after
    assert fingerprints(after) == [kept_print]
    again = post_sign_out(emulator, uid, {"form_token": form_token(body), "session": ended_print})
    assert again.status_code == 303 and again.headers["Location"].endswith("signed_out=none")


def test_sign_out_all(emulator: Emulator) -> None:
    tokens = [sign_in(emulator), sign_in(emulator)]
    uid = user_id(emulator)
    body = page(emulator, f"{UI}/users/{uid}").text
    answer = post_sign_out(emulator, uid, {"form_token": form_token(body)})
    assert answer.status_code == 303
    assert not any(session_alive(emulator, token) for token in tokens)


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        ({}, {}),
        ({"form_token": "wrong"}, {}),
        ({"form_token": ""}, {}),
        (None, {"Origin": "http://attacker.example"}),
        (None, {"Origin": "null"}),
        (None, {"Sec-Fetch-Site": "cross-site"}),
        (None, {"Sec-Fetch-Site": "same-site"}),
    ],
    ids=[
        "no-token",
        "wrong-token",
        "empty-token",
        "cross-origin",
        "null-origin",
        "cross-site",
        "same-site",
    ],
)
def test_forged_sign_out_is_refused(
    emulator: Emulator, data: dict[str, str] | None, headers: dict[str, str]
) -> None:
    token = sign_in(emulator)
    uid = user_id(emulator)
    body = page(emulator, f"{UI}/users/{uid}").text
    fields = {"session": fingerprints(body)[0]}
    fields.update(data if data is not None else {"form_token": form_token(body)})
    answer = post_sign_out(emulator, uid, fields, headers)
    assert answer.status_code == 403
    assert "text/html" in answer.headers["Content-Type"]
    assert session_alive(emulator, token)
    everything = post_sign_out(
        emulator, uid, {k: v for k, v in fields.items() if k != "session"}, headers
    )
    assert everything.status_code == 403
    assert session_alive(emulator, token)


def test_each_emulator_has_its_own_form_token(emulator: Emulator, tmp_path: Path) -> None:
    token = sign_in(emulator)
    uid = user_id(emulator)
    with _seeded_emulator(tmp_path / "other.sqlite3") as other:
        sign_in(other)
        stolen = form_token(page(other, f"{UI}/users/{user_id(other)}").text)
    body = page(emulator, f"{UI}/users/{uid}").text
    assert stolen != form_token(body)
    answer = post_sign_out(emulator, uid, {"form_token": stolen, "session": fingerprints(body)[0]})
    assert answer.status_code == 403
    assert session_alive(emulator, token)


def test_unknown_user_is_404(emulator: Emulator) -> None:
    assert page(emulator, f"{UI}/users/nobody").status_code == 404
    sign_in(emulator)
    body = page(emulator, f"{UI}/users/{user_id(emulator)}").text
    answer = post_sign_out(emulator, "nobody", {"form_token": form_token(body)})
    assert answer.status_code == 404


def test_only_loopback_peers_count_as_local() -> None:
    for address in ("127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"):
        assert peer_is_loopback(address), address
    assert not peer_is_loopback(None)
    for other in ("", "10.0.0.2", "192.168.1.4", "::ffff:10.0.0.2", "fe80::1", "x"):
        assert not peer_is_loopback(other), other


def test_trailing_slash_leads_to_the_page(emulator: Emulator) -> None:
    answer = page(emulator, UI + "/")
    assert answer.status_code == 308 and answer.headers["Location"] == UI
