"""A failed sign-in costs the same whether the account exists, at any mix of stored hash
costs (issue 8 review, E1).

The dummy check used to run at the cost most stored hashes have, so an account whose hash had
another cost (made after a hashCost change, or remade at sign-in after an unauthenticated
``PATCH {"hashCost": 1}``) answered a wrong password in another time than an unknown email.
Now every failed path runs one hash at the highest stored cost and answers twice that
hash's time after it started. No timing threshold is asserted (see
tests/benchmarks/bench_emulator_hardening.py for medians): the key derivations are recorded,
with their durations, through the emulator's own function, and an answer must not come
before the pace those recorded durations set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from agnost.emulator import Emulator, security

from .conftest import Api as BaseApi


class Api(BaseApi):
    """The conftest Api, able to change settings over HTTP."""

    def patch_config(self, **changes: object) -> None:
        """``PATCH /_emulator/config`` with ``changes`` (wire names), unauthenticated."""
        self.http.patch(self.base_url + "/_emulator/config", json=changes).raise_for_status()


Runs = Callable[[], list[tuple[int, float]]]
LOW, HIGH = 4, 11


@pytest.fixture
def kdf_runs(monkeypatch: pytest.MonkeyPatch) -> Runs:
    """Records (cost, seconds) of every scrypt run; calling it returns them and starts afresh."""
    runs: list[tuple[int, float]] = []
    real = security._scrypt

    def recording(password: str, salt: bytes, cost: int) -> bytes:
        start = time.perf_counter()
        try:
            return real(password, salt, cost)
        finally:
            runs.append((cost, time.perf_counter() - start))

    monkeypatch.setattr(security, "_scrypt", recording)

    def taken() -> list[tuple[int, float]]:
        seen = runs[:]
        runs.clear()
        return seen

    return taken


@pytest.fixture
def mixed() -> Iterator[Api]:
    """Stored hashes at two costs, three at LOW and one at HIGH, and an OAuth account; the
    configured cost is back at LOW."""
    with Emulator(hash_cost=LOW) as emulator:
        api = Api(emulator)
        with api.http:
            for name in ("ada", "bo", "cy"):
                api.sign_up(f"{name}@example.com")
            assert api.post("/signup-phone", {"phone": "+15555550100", "password": "secret1"}).ok
            api.get("/_auth/github?email=oauth@example.com")
            api.patch_config(hashCost=HIGH)
            api.sign_up("high@example.com")
            api.patch_config(hashCost=LOW)
            yield api


FAILED_SIGN_INS = {
    "unknown email": ("/signin-email", {"email": "nobody@example.com"}),
    "wrong password, low-cost hash": ("/signin-email", {"email": "ada@example.com"}),
    "wrong password, high-cost hash": ("/signin-email", {"email": "high@example.com"}),
    "account without a password": ("/signin-email", {"email": "oauth@example.com"}),
    "unknown phone": ("/signin-phone", {"phone": "+15555550199"}),
    "wrong password, low-cost phone": ("/signin-phone", {"phone": "+15555550100"}),
}


@pytest.mark.parametrize("case", FAILED_SIGN_INS)
def test_every_failed_sign_in_is_paced_by_one_hash_at_the_highest_stored_cost(
    mixed: Api, kdf_runs: Runs, case: str
) -> None:
    path, identity = FAILED_SIGN_INS[case]
    kdf_runs()

    start = time.perf_counter()
    answer = mixed.post(path, {**identity, "password": "wrong password"})
    elapsed = time.perf_counter() - start

    assert answer.status_code == 401
    assert answer.json()["errors"][0]["code"] == "invalid_credentials"
    runs = kdf_runs()
    pacing = [seconds for cost, seconds in runs if cost == HIGH]
    assert len(pacing) == 1, runs  # most hashes are at LOW: the old dummy ran at LOW
    assert {cost for cost, _ in runs} <= {LOW, HIGH}
    # Not before twice the pacing hash's time: room for the real check of a cheaper hash.
    assert elapsed >= 2 * pacing[0] - 0.001


def test_an_unauthenticated_lower_cost_never_weakens_a_stored_hash(
    mixed: Api, kdf_runs: Runs
) -> None:
    mixed.patch_config(hashCost=1)  # as any process on the machine may
    kdf_runs()

    mixed.sign_in("high@example.com")
    mixed.sign_in("high@example.com")

    # Checked at its own cost both times: not remade at 1 (which made a cheap minority).
    assert [cost for cost, _ in kdf_runs()] == [HIGH, HIGH]
    refused = mixed.post("/signin-email", {"email": "nobody@example.com", "password": "x"})
    assert refused.status_code == 401
    assert [cost for cost, _ in kdf_runs()] == [HIGH]


def test_a_successful_sign_in_is_not_paced(mixed: Api, kdf_runs: Runs) -> None:
    kdf_runs()

    mixed.sign_in("ada@example.com")

    assert [cost for cost, _ in kdf_runs()] == [LOW]  # its own check, no pacing hash
