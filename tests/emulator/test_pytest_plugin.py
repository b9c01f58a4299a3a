"""The ``agnost_emulator`` fixture as a user's own test suite gets it: through the pytest11
entry point, in a separate pytest run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agnost.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = """
import agnost


def test_sign_up_and_confirm(agnost_emulator):
    agnost_emulator.configure(email_confirmation=True)
    client = agnost.create_client(
        agnost_emulator.base_url, agnost_emulator.client_key, storage=agnost.MemoryStore()
    )
    with client:
        assert client.auth.sign_up_with_email("ada@example.com", "secret1").session is None
        [message] = agnost_emulator.outbox(recipient="ada@example.com")
        assert client.auth.get_auth_grant(message.access_token).user.email_verified


def test_each_test_gets_a_fresh_emulator(agnost_emulator):
    assert agnost_emulator.outbox() == []
"""


def test_the_plugin_is_registered_by_its_entry_point(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("agnost")


def test_a_user_suite_uses_the_fixture(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_the_fixture_is_fast_and_private(agnost_emulator: Emulator) -> None:
    config = agnost_emulator.config
    assert config["hashCost"] == 4 and agnost_emulator.database == ":memory:"
    assert agnost_emulator.base_url.startswith("http://127.0.0.1:")
