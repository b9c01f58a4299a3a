"""Every setting is bounded, expired sessions are deleted, live sessions per user and the
outbox are capped (issue 8, items 20 and 21)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agnost.emulator import ConfigError, Emulator, EmulatorConfig, app

from .conftest import PASSWORD, Api, error_code

ROOT = Path(__file__).resolve().parents[2]
YEAR = 365 * 24 * 3600


# --- item 20: bounded settings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "range_text"),
    [
        ("hashCost", 17, "1 to 16"),
        ("hashCost", 0, "1 to 16"),
        ("sessionLifetime", 11 * YEAR, "0 to 315360000"),
        ("accessTokenLifetime", 2 * YEAR, "0 to 31536000"),
        ("headerTimeout", 0, "0.05 to 3600"),
        ("bodyTimeout", 1e9, "0.05 to 3600"),
        ("idleTimeout", -1, "0.05 to 3600"),
        ("maxConnections", 0, "1 to 10000"),
        ("maxConnections", 2.5, "1 to 10000"),
        ("maxSessionsPerUser", 10**6, "1 to 10000"),
        ("maxOutboxMessages", 0, "1 to 100000"),
    ],
)
def test_an_out_of_range_setting_is_refused_naming_field_and_range(
    api: Api, field: str, value: object, range_text: str
) -> None:
    before = api.emulator.config

    answer = api._send("PATCH", "/_emulator/config", token=None, json={field: value})

    assert answer.status_code == 400 and error_code(answer) == "validation_error"
    assert answer.json()["fields"] == [field]
    assert range_text in answer.json()["details"][field]
    assert api.emulator.config == before
    python_name = re.sub(r"[A-Z]", lambda c: "_" + c.group().lower(), field)
    with pytest.raises(ConfigError, match=python_name):
        api.emulator.configure(**{python_name: value})  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("clientKeys", ["k"] * 101),
        ("clientKeys", ["k" * 3000]),
        ("corsOrigins", ["http://a.test"] * 101),
        ("allowedHosts", ["a.test"] * 101),
        ("allowedHosts", ["a.test:80"]),
        ("redirectUrl", "https://a.test/" + "x" * 3000),
    ],
)
def test_lists_and_strings_are_bounded_too(api: Api, field: str, value: object) -> None:
    answer = api._send("PATCH", "/_emulator/config", token=None, json={field: value})
    assert answer.status_code == 400 and answer.json()["fields"] == [field]


def test_the_python_api_applies_the_same_bounds() -> None:
    with pytest.raises(ConfigError, match="hash_cost: must be an integer from 1 to 16"):
        Emulator(hash_cost=20)
    with pytest.raises(ConfigError, match="maxConnections"):
        EmulatorConfig(max_connections=0)
    assert EmulatorConfig(hash_cost=16, max_connections=10_000).hash_cost == 16


@pytest.mark.parametrize(
    ("option", "field"),
    [
        ("--hash-cost=20", "hashCost"),
        ("--max-connections=0", "maxConnections"),
        ("--header-timeout=0", "headerTimeout"),
        ("--allowed-host=a:b", "allowedHosts"),
    ],
)
def test_the_command_line_applies_the_same_bounds(option: str, field: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "agnost.emulator", option, "--db", ":memory:"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and field in done.stderr, done.stderr


def test_one_hash_at_the_top_cost_stays_within_64_mib() -> None:
    """A real hash at the highest cost, in a fresh process: its peak memory growth."""
    script = (
        "import resource; from agnost.emulator import security, config;"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
        "security.hash_password('x', config.MAX_HASH_COST);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    grown_kib = int(done.stdout)
    assert grown_kib <= 66 * 1024, f"{grown_kib} KiB"


# --- item 21: sessions pruned and capped, the outbox capped -----------------------------------


def test_past_the_cap_the_oldest_sessions_are_signed_out() -> None:
    with Emulator(hash_cost=4, max_sessions_per_user=3) as emulator:
        api = Api(emulator)
        tokens = [api.sign_up()["session"]["token"]]
        tokens += [api.sign_in() for _ in range(4)]

        listed = api.get("/sessions", token=tokens[-1]).json()

        assert len(listed) == 3
        assert [api.get("/user", token=t).status_code for t in tokens] == [401, 401, 200, 200, 200]


def test_expired_sessions_are_deleted_when_their_user_signs_in(api: Api) -> None:
    old = api.sign_up()["session"]["token"]
    api.emulator.configure(session_lifetime=0.2)
    time.sleep(0.3)
    api.sign_in()
    api.emulator.configure(session_lifetime=YEAR)

    # Deleted, so a longer lifetime does not bring it back.
    assert api.get("/user", token=old).status_code == 401


def test_a_periodic_sweep_deletes_expired_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "SWEEP_INTERVAL", 0.05)
    with Emulator(hash_cost=4) as emulator:
        api = Api(emulator)
        token = api.sign_up()["session"]["token"]
        emulator.configure(session_lifetime=0)
        time.sleep(0.5)  # several sweeps
        emulator.configure(session_lifetime=YEAR)

        assert api.get("/user", token=token).status_code == 401


def test_the_outbox_keeps_the_newest_messages() -> None:
    with Emulator(hash_cost=4, email_confirmation=True, max_outbox_messages=3) as emulator:
        api = Api(emulator)
        for n in range(5):
            api.post("/signup-email", {"email": f"u{n}@example.com", "password": PASSWORD})

        kept = [message.recipient for message in emulator.outbox()]

        assert kept == ["u2@example.com", "u3@example.com", "u4@example.com"]
