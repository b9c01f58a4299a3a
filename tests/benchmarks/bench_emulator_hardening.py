"""Figures for the emulator's hardening (issue 8): sign-in time for an unknown email against a
wrong password after the hash cost changed and with stored hashes at mixed costs, the size
and time of a session listing after a sign-in loop, and outbox inserts under a large cap.

Run with ``pytest tests/benchmarks/bench_emulator_hardening.py -m benchmark -s``; figures are
printed, not asserted (they depend on the machine).
"""

from __future__ import annotations

import statistics
import time

import pytest
import requests

from agnost.emulator import Emulator
from agnost.emulator.db import Database

AUTH = "/_api/rest/v1/auth"
TRIES = 60
SIGN_INS = 1000
OUTBOX_INSERTS = 6000


def _medians_ms(http: requests.Session, url: str, *bodies: dict[str, str]) -> list[float]:
    """Median time of a refused sign-in for each body, taking turns so that a change in the
    machine's load affects all alike."""
    times: list[list[float]] = [[] for _ in bodies]
    for _ in range(TRIES):
        for body, kept in zip(bodies, times, strict=True):
            start = time.perf_counter()
            answer = http.post(url, json=body, timeout=30)
            kept.append((time.perf_counter() - start) * 1000)
            assert answer.status_code == 401
    return [statistics.median(kept) for kept in times]


@pytest.mark.benchmark
@pytest.mark.parametrize(("stored", "configured"), [(14, 4), (4, 14), (14, 14)])
def test_unknown_email_against_wrong_password(stored: int, configured: int) -> None:
    with Emulator(hash_cost=stored) as emulator, requests.Session() as http:
        http.headers["X-Client-Key"] = emulator.client_key
        url = emulator.base_url + AUTH + "/signin-email"
        for n in range(3):
            body = {"email": f"user{n}@example.com", "password": "correct horse"}
            assert http.post(emulator.base_url + AUTH + "/signup-email", json=body).ok
        emulator.configure(hash_cost=configured)

        wrong, unknown = _medians_ms(
            http,
            url,
            {"email": "user0@example.com", "password": "wrong"},
            {"email": "nobody@example.com", "password": "wrong"},
        )
    print(
        f"\nstored cost {stored}, configured {configured}: median of {TRIES} sign-ins, "
        f"wrong password {wrong:.1f} ms, unknown email {unknown:.1f} ms, "
        f"ratio {unknown / wrong:.2f}"
    )


@pytest.mark.benchmark
@pytest.mark.parametrize(("usual", "minority"), [(14, 8), (8, 14), (14, 13)])
def test_unknown_email_against_wrong_passwords_at_mixed_costs(usual: int, minority: int) -> None:
    """Three hashes at ``usual``, one at ``minority`` (made after a hashCost change): a wrong
    password for either kind of account, and an unknown email, should take the same time."""
    with Emulator(hash_cost=usual) as emulator, requests.Session() as http:
        http.headers["X-Client-Key"] = emulator.client_key
        sign_up = emulator.base_url + AUTH + "/signup-email"
        for n in range(3):
            body = {"email": f"user{n}@example.com", "password": "correct horse"}
            assert http.post(sign_up, json=body).ok
        emulator.configure(hash_cost=minority)
        body = {"email": "minority@example.com", "password": "correct horse"}
        assert http.post(sign_up, json=body).ok
        emulator.configure(hash_cost=usual)

        unknown, usual_ms, minority_ms = _medians_ms(
            http,
            emulator.base_url + AUTH + "/signin-email",
            {"email": "nobody@example.com", "password": "wrong"},
            {"email": "user0@example.com", "password": "wrong"},
            {"email": "minority@example.com", "password": "wrong"},
        )
    print(
        f"\nthree hashes at cost {usual}, one at {minority}: median of {TRIES} refused sign-ins,"
        f" unknown email {unknown:.1f} ms, wrong password at {usual} {usual_ms:.1f} ms,"
        f" at {minority} {minority_ms:.1f} ms; unknown/minority {unknown / minority_ms:.2f},"
        f" unknown/usual {unknown / usual_ms:.2f}"
    )


@pytest.mark.benchmark
def test_session_listing_after_a_sign_in_loop() -> None:
    with Emulator(hash_cost=1) as emulator, requests.Session() as http:
        http.headers["X-Client-Key"] = emulator.client_key
        body = {"email": "loop@example.com", "password": "correct horse"}
        assert http.post(emulator.base_url + AUTH + "/signup-email", json=body).ok
        start = time.perf_counter()
        for _ in range(SIGN_INS):
            answer = http.post(emulator.base_url + AUTH + "/signin-email", json=body)
        signing_in = time.perf_counter() - start
        token = answer.json()["session"]["token"]
        start = time.perf_counter()
        listing = http.get(emulator.base_url + AUTH + "/sessions", headers={"Session": token})
        listed_in = time.perf_counter() - start
    print(
        f"\n{SIGN_INS} sign-ins of one user ({SIGN_INS / signing_in:.0f}/s): "
        f"GET /sessions lists {len(listing.json())} sessions, {len(listing.content)} bytes, "
        f"in {listed_in * 1000:.1f} ms"
    )


@pytest.mark.benchmark
def test_outbox_inserts_under_a_large_cap() -> None:
    """Each insert trims the outbox to its cap; the trim must not scan the table."""
    db = Database(":memory:")
    message = {"recipient": "ada@example.com", "kind": "email_verification", "link": "x" * 2000}
    try:
        for batch in range(3):
            start = time.perf_counter()
            with db.transaction():
                for _ in range(OUTBOX_INSERTS):
                    db.insert_message(message, keep=100_000)
            took = time.perf_counter() - start
            print(
                f"\n{OUTBOX_INSERTS} outbox inserts (cap 100000) after"
                f" {batch * OUTBOX_INSERTS} messages: {took:.2f} s"
            )
    finally:
        db.close()
