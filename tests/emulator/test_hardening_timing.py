"""Sign-in for an unknown account costs what a wrong password for a real one does, at any
configured hash cost (issue 8, item 14).

Timing is not asserted here (see tests/benchmarks/bench_emulator_hardening.py): the scrypt
calls are recorded through the emulator's own key-derivation function, and the unknown-account
path must run it with the same parameters as the wrong-password path.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agnost.emulator import security

from .conftest import Api

Recorder = Callable[[], list[int]]


@pytest.fixture
def kdf_costs(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Records the cost of every scrypt run; calling it returns them and starts afresh."""
    costs: list[int] = []
    real = security._scrypt

    def recording(password: str, salt: bytes, cost: int) -> bytes:
        costs.append(cost)
        return real(password, salt, cost)

    monkeypatch.setattr(security, "_scrypt", recording)

    def taken() -> list[int]:
        seen = costs[:]
        costs.clear()
        return seen

    return taken


def refused(api: Api, path: str, body: dict[str, str]) -> None:
    answer = api.post(path, body)
    assert answer.status_code == 401 and answer.json()["errors"][0]["code"] == (
        "invalid_credentials"
    )


@pytest.mark.parametrize("configured", [2, 4, 7])
def test_unknown_email_hashes_like_a_wrong_password_whatever_the_cost(
    api: Api, kdf_costs: Recorder, configured: int
) -> None:
    api.sign_up("ada@example.com")  # stored at the plugin's cost, 4
    api.emulator.configure(hash_cost=configured)
    kdf_costs()

    refused(api, "/signin-email", {"email": "ada@example.com", "password": "wrong password"})
    wrong_password = kdf_costs()
    refused(api, "/signin-email", {"email": "nobody@example.com", "password": "wrong password"})
    unknown_email = kdf_costs()

    assert wrong_password == [4]
    assert unknown_email == wrong_password


def test_unknown_phone_and_passwordless_accounts_hash_like_real_ones(
    api: Api, kdf_costs: Recorder
) -> None:
    assert api.post("/signup-phone", {"phone": "+15555550100", "password": "secret1"}).ok
    # An OAuth user has an email and no password.
    api.http.get(f"{api.base_url}/_auth/github?email=oauth@example.com", timeout=10)
    api.emulator.configure(hash_cost=6)
    kdf_costs()

    refused(api, "/signin-phone", {"phone": "+15555550100", "password": "wrong password"})
    refused(api, "/signin-phone", {"phone": "+15555550199", "password": "wrong password"})
    refused(api, "/signin-email", {"email": "oauth@example.com", "password": "any password"})

    assert kdf_costs() == [4, 4, 4]


def test_the_dummy_cost_is_the_highest_stored_one(api: Api, kdf_costs: Recorder) -> None:
    api.sign_up("ada@example.com")
    api.sign_up("bo@example.com")
    api.emulator.configure(hash_cost=5)
    api.sign_up("cy@example.com")
    kdf_costs()

    refused(api, "/signin-email", {"email": "nobody@example.com", "password": "wrong password"})

    assert kdf_costs() == [5]  # two hashes at 4, one at 5: the costliest one sets the pace


def test_with_no_stored_hashes_the_dummy_uses_the_configured_cost(
    api: Api, kdf_costs: Recorder
) -> None:
    api.emulator.configure(hash_cost=3)

    refused(api, "/signin-email", {"email": "nobody@example.com", "password": "wrong password"})

    assert kdf_costs() == [3]  # what the first sign-up's hash will have


def test_a_sign_in_remakes_the_hash_at_the_configured_cost(api: Api, kdf_costs: Recorder) -> None:
    api.sign_up("ada@example.com")
    api.emulator.configure(hash_cost=5)
    kdf_costs()

    api.sign_in("ada@example.com")
    assert kdf_costs() == [4, 5]  # checked against the old hash, then remade
    api.sign_in("ada@example.com")
    assert kdf_costs() == [5]
    # The unknown-account check follows the stored hashes to the new cost.
    refused(api, "/signin-email", {"email": "nobody@example.com", "password": "wrong password"})
    assert kdf_costs() == [5]
