"""Figures for the emulator's hardening (issue 8): sign-in time for an unknown email against a
wrong password after the hash cost changed, and the size and time of a session listing after
a sign-in loop.

Run with ``pytest tests/benchmarks/bench_emulator_hardening.py -m benchmark -s``; figures are
printed, not asserted (they depend on the machine).
"""

from __future__ import annotations

import statistics
import time

import pytest
import requests

from agnost.emulator import Emulator

AUTH = "/_api/rest/v1/auth"
TRIES = 100
SIGN_INS = 1000


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
        emulator.configure(hashCost=configured)

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
