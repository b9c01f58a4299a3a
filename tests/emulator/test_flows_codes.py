"""What every one-time code and link shares: stored hashed, never logged, bounded tries under
concurrency, sends for unknown accounts leaving no trace, the settings and the outbox kinds."""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from agnost.emulator import ConfigError, Emulator
from agnost.emulator.onetime import KINDS

from .conftest import PASSWORD, PHONE, Api, error_code, last_message, outbox, wrong_code

EMAIL = "ada@example.com"


def every_kind(api: Api) -> None:
    """Send one message of every kind (codes of 10 digits, so they are distinctive)."""
    api.emulator.configure(email_confirmation=True, phone_confirmation=True, code_length=10)
    api.sign_up(EMAIL)  # email_verification
    api.post("/signup-phone", {"phone": PHONE, "password": PASSWORD})  # phone_verification
    api.post("/send-code", params={"phone": PHONE})  # sign_in_code
    api.post("/send-reset-code", params={"phone": PHONE})  # password_reset_code
    api.post("/send-magic", params={"email": EMAIL})  # magic_link
    api.post("/send-reset", params={"email": EMAIL})  # password_reset
    api.get("/grant", params={"key": last_message(api, "email_verification")["accessToken"]})
    token = api.sign_in()
    body = {"currentPassword": PASSWORD, "newEmail": "ada.new@example.com"}
    assert api.post("/change-email", body, token=token).status_code == 200  # email_change


def secrets_of(api: Api) -> list[str]:
    return [m["code"] or m["accessToken"] for m in outbox(api)]


def test_every_kind_has_its_fields(api: Api) -> None:
    every_kind(api)
    messages = outbox(api)
    assert sorted({m["kind"] for m in messages}) == sorted(KINDS)
    for message in messages:
        assert message["recipient"] and message["userId"] and message["expiresAt"]
        if message["kind"] in ("phone_verification", "sign_in_code", "password_reset_code"):
            assert message["recipient"] == PHONE
            assert re.fullmatch(r"[0-9]{10}", message["code"])
            assert message["link"] is None and message["accessToken"] is None
        else:
            assert message["code"] is None
            assert f"access_token={message['accessToken']}" in message["link"]
    for kind in KINDS:
        only = outbox(api, kind)
        assert only and {m["kind"] for m in only} == {kind}


def test_the_python_outbox_filters_by_kind_and_hides_secrets_in_repr(api: Api) -> None:
    every_kind(api)
    [sms] = api.emulator.outbox(kind="sign_in_code")
    assert sms.recipient == PHONE and sms.code and sms.link is None and sms.expires_at
    [link] = api.emulator.outbox(recipient=EMAIL, kind="password_reset")
    assert link.access_token and link.link and link.code is None
    assert sms.code not in repr(sms) and link.access_token not in repr(link)
    assert api.emulator.outbox(kind="no_such_kind") == []


def test_the_database_holds_no_code_or_token_outside_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "emulator.db"
    with Emulator(database=str(path), hash_cost=4) as emulator:
        api = Api(emulator)
        every_kind(api)
        secrets = secrets_of(api)
        messages = outbox(api)
        assert len(secrets) == len(KINDS)
        conn = sqlite3.connect(path)
        try:
            tables = [
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                if name != "outbox"
            ]
            dump = "\n".join(
                repr(row) for table in tables for row in conn.execute(f"SELECT * FROM {table}")
            )
            codes = conn.execute("SELECT code_digest FROM codes").fetchall()
            token_digests = {d for (d,) in conn.execute("SELECT token_digest FROM access_tokens")}
        finally:
            conn.close()
    assert "codes" in tables and len(codes) == 3
    for secret in secrets:
        assert secret not in dump
        # Not even an unsalted hash of a code, which a table of 10**n hashes would undo.
        assert hashlib.sha256(secret.encode()).hexdigest() not in dump or len(secret) > 20
    # The live links (the email verification's was used) are kept as their SHA-256.
    live = [m["accessToken"] for m in messages if m["kind"] != "email_verification" and m["link"]]
    assert {hashlib.sha256(t.encode()).hexdigest() for t in live} == token_digests


def test_no_code_or_token_in_any_log_record(
    agnost_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = Api(agnost_emulator)
    every_kind(api)
    secrets = secrets_of(api)
    # Use each: exchanges, wrong tries and resets log too.
    by_kind = {m["kind"]: m for m in outbox(api)}
    code = by_kind["sign_in_code"]["code"]
    api.post("/signin-code", params={"code": wrong_code(code), "phone": PHONE})
    api.post("/signin-code", params={"code": code, "phone": PHONE})
    reset = by_kind["password_reset"]["accessToken"]
    api.post("/reset-pwd", {"newPassword": "new password"}, params={"key": reset})
    reset_code = by_kind["password_reset_code"]["code"]
    params = {"phone": PHONE, "code": reset_code}
    api.post("/reset-pwd-code", {"newPassword": "new password"}, params=params)
    api.get("/grant", params={"key": by_kind["magic_link"]["accessToken"]})
    api.get("/grant", params={"key": by_kind["email_change"]["accessToken"]})

    records = [r for r in caplog.records if not r.name.startswith("urllib3")]
    lines = [caplog.handler.format(record) for record in records]
    assert any("/signin-code" in line for line in lines)  # the access log ran
    assert any("reset the password" in line for line in lines)
    for secret in [*secrets, "new password"]:
        pattern = re.compile(rf"(?<![0-9A-Za-z_-]){re.escape(secret)}(?![0-9A-Za-z_-])")
        assert [line for line in lines if pattern.search(line)] == []


def test_concurrent_wrong_tries_never_exceed_the_bound(api: Api) -> None:
    api.post("/signup-phone", {"phone": PHONE, "password": PASSWORD})
    api.emulator.configure(max_code_attempts=5)
    api.post("/send-code", params={"phone": PHONE})
    code = last_message(api, "sign_in_code")["code"]

    def attempt(_: int) -> tuple[int, str]:
        with Api(api.emulator).http as http:
            answer = http.post(
                api.base_url + "/_api/rest/v1/auth/signin-code",
                params={"code": wrong_code(code), "phone": PHONE},
                timeout=10,
            )
        return answer.status_code, error_code(answer)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(attempt, range(20)))
    assert answers.count((401, "invalid_code")) == 4
    assert answers.count((429, "too_many_attempts")) == 16
    right = api.post("/signin-code", params={"code": code, "phone": PHONE})
    assert error_code(right) == "too_many_attempts"


def test_sends_for_unknown_accounts_leave_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "emulator.db"
    with Emulator(database=str(path), hash_cost=4) as emulator:
        api = Api(emulator)
        api.sign_up(EMAIL)
        api.post("/send-magic", params={"email": EMAIL})
        first = last_message(api, "magic_link")["id"]
        for _ in range(3):
            api.post("/send-magic", params={"email": "nobody@example.com"})
            api.post("/send-reset", params={"email": "nobody@example.com"})
            api.post("/send-code", params={"phone": "+15555550199"})
            api.post("/send-reset-code", params={"phone": "+15555550199"})
            api.post("/resend", params={"email": "nobody@example.com"})
            api.post("/resend-code", params={"phone": "+15555550199"})
        api.post("/send-magic", params={"email": EMAIL})
        assert last_message(api, "magic_link")["id"] == first + 1  # no id used meanwhile
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("SELECT count(*) FROM codes").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM access_tokens").fetchone() == (1,)
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            conn.close()


def test_the_new_settings_over_http(api: Api) -> None:
    config = api.get("/_emulator/config").json()
    assert {k: config[k] for k in ("phoneConfirmation", "signInOnPhoneVerification")} == {
        "phoneConfirmation": False,
        "signInOnPhoneVerification": True,
    }
    assert (config["codeLength"], config["codeLifetime"], config["maxCodeAttempts"]) == (
        6,
        600.0,
        5,
    )
    changed = api.http.patch(
        api.base_url + "/_emulator/config",
        json={
            "codeLength": 4,
            "codeLifetime": 0,
            "maxCodeAttempts": 100,
            "phoneConfirmation": True,
        },
        timeout=10,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["codeLength"] == 4 and changed.json()["phoneConfirmation"] is True


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("codeLength", 3),
        ("codeLength", 11),
        ("codeLength", 6.5),
        ("codeLifetime", -1),
        ("codeLifetime", 86401),
        ("maxCodeAttempts", 0),
        ("maxCodeAttempts", 101),
        ("maxCodeAttempts", True),
        ("phoneConfirmation", "yes"),
        ("signInOnPhoneVerification", 1),
    ],
)
def test_the_new_settings_are_bounded(api: Api, key: str, value: object) -> None:
    before = api.get("/_emulator/config").json()
    answer = api.http.patch(api.base_url + "/_emulator/config", json={key: value}, timeout=10)
    assert (answer.status_code, error_code(answer)) == (400, "validation_error")
    assert answer.json()["fields"] == [key]
    assert api.get("/_emulator/config").json() == before


def test_the_new_settings_in_python(api: Api) -> None:
    with pytest.raises(ConfigError, match="code_length"):
        api.emulator.configure(code_length=3)
    with pytest.raises(TypeError, match="max_code_attempts"):
        api.emulator.configure(**{"maxCodeAttempts": 3})  # type: ignore[arg-type]
    api.emulator.configure(max_code_attempts=2, code_lifetime=30.5)
    assert api.emulator.config["maxCodeAttempts"] == 2
    assert api.emulator.config["codeLifetime"] == 30.5


def test_the_command_line_takes_the_new_settings() -> None:
    from .test_cli import emulator_process, stop

    options = ("--ephemeral", "--phone-confirmation", "--code-length", "8")
    with emulator_process(*options, "--max-code-attempts", "2", "--code-lifetime", "90") as (
        proc,
        banner,
    ):
        url = next(word for line in banner for word in line.split() if word.startswith("http"))
        config = requests.get(url.rstrip("/") + "/_emulator/config", timeout=10).json()
        assert stop(proc)[0] == 0
    assert (config["phoneConfirmation"], config["codeLength"]) == (True, 8)
    assert (config["maxCodeAttempts"], config["codeLifetime"]) == (2, 90.0)


def test_the_command_line_refuses_a_setting_out_of_range() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agnost.cli", "emulator", "--ephemeral", "--code-length", "3"],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "codeLength" in done.stderr


def test_a_version_2_database_is_migrated_and_its_links_still_work(tmp_path: Path) -> None:
    from agnost.emulator.db import MIGRATIONS

    path = tmp_path / "old.db"
    token = "an-old-verification-token-0123456789abcdef"
    conn = sqlite3.connect(path)
    try:
        conn.executescript(MIGRATIONS[0] + MIGRATIONS[1])
        conn.execute("PRAGMA user_version = 2")
        doc = (
            '{"_id": "000000000000000000000001", "provider": "agnost", "email": "old@example.com"}'
        )
        conn.execute(
            "INSERT INTO users (id, email_key, provider, provider_user_id, doc)"
            " VALUES ('000000000000000000000001', 'old@example.com', 'agnost', 'x', ?)",
            (doc,),
        )
        conn.execute(
            "INSERT INTO access_tokens VALUES (?, '000000000000000000000001',"
            " 'email_verification', 1e12)",
            (hashlib.sha256(token.encode()).hexdigest(),),
        )
        conn.commit()
    finally:
        conn.close()
    with Emulator(database=str(path), hash_cost=4) as emulator:
        api = Api(emulator)
        granted = api.get("/grant", params={"key": token})
        assert granted.status_code == 200, granted.text
        assert granted.json()["user"]["emailVerified"] is True
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    finally:
        conn.close()
