"""``/_emulator/*`` answers, and links point at, only Host values that name the emulator:
what DNS rebinding needs is refused (issue 8, item 17)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from agnost.emulator import Emulator

from .conftest import PASSWORD, Api


def host_of(emulator: Emulator) -> str:
    return urlsplit(emulator.base_url).netloc


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:8787", "localhost.attacker.example", "a b"]
)
def test_a_foreign_host_cannot_read_the_emulator_endpoints(api: Api, host: str) -> None:
    for path in ("/_emulator/config", "/_emulator/outbox", "/_emulator/", "/_emulator/redirect"):
        answer = api.get(path, headers={"Host": host})
        assert answer.status_code == 403, path
        assert answer.json()["errors"][0]["code"] == "host_not_allowed"
        assert api.emulator.client_key not in answer.text
    assert api.post("/_emulator/reset", headers={"Host": host}).status_code == 403


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:3000",
        "app.localhost:1",
        "127.0.0.1",
        "127.0.0.9:80",
        "[::1]:8787",
        "192.168.1.20:8787",
    ],
)
def test_loopback_names_and_addresses_may(api: Api, host: str) -> None:
    answer = api.get("/_emulator/config", headers={"Host": host})
    assert answer.status_code == 200 and answer.json()["clientKeys"] == [api.emulator.client_key]


def test_listed_hosts_may() -> None:
    with Emulator(hash_cost=4, allowed_hosts=["emulator.lan", ".corp.test"]) as emulator:
        api = Api(emulator)
        for host, status in [
            ("emulator.lan:8787", 200),
            ("EMULATOR.LAN", 200),
            ("x.emulator.lan", 403),
            ("corp.test", 200),
            ("ci.corp.test:80", 200),
            ("corp.test.attacker.example", 403),
        ]:
            assert api.get("/_emulator/config", headers={"Host": host}).status_code == status, host
        api.emulator.configure(allowed_hosts=[])
        assert api.get("/_emulator/config", headers={"Host": "emulator.lan"}).status_code == 403


def test_links_never_point_at_a_foreign_host(api: Api) -> None:
    api.emulator.configure(email_confirmation=True)
    api.post(
        "/signup-email",
        {"email": "ada@example.com", "password": PASSWORD},
        headers={"Host": "attacker.example"},
    )
    [message] = api.emulator.outbox()
    assert (message.link or "").startswith(api.base_url + "/_emulator/redirect?")

    oauth = api.get("/_auth/github", headers={"Host": "attacker.example:80"})
    assert oauth.status_code == 302
    assert oauth.headers["Location"].startswith(api.base_url + "/_emulator/redirect?")


def test_links_keep_a_host_that_names_the_emulator(api: Api) -> None:
    port = urlsplit(api.base_url).port
    oauth = api.get("/_auth/github", headers={"Host": f"localhost:{port}"})
    assert oauth.headers["Location"].startswith(f"http://localhost:{port}/_emulator/redirect?")


def test_the_api_itself_answers_any_host(api: Api) -> None:
    # Documented: the API needs the client key, which a foreign page cannot read any more,
    # and clients in containers reach the emulator under service names.
    answer = api.post(
        "/signup-email",
        {"email": "ada@example.com", "password": PASSWORD},
        headers={"Host": "emulator:8787"},
    )
    assert answer.status_code == 200
