"""The official JavaScript client (altogic@2.3.9, unchanged) against the emulator, and the
sessions it makes seen and ended by agnost, and the reverse."""

from __future__ import annotations

import pytest

import agnost
from agnost.emulator import Emulator

from .conftest import OfficialClient

pytestmark = pytest.mark.interop

PASSWORD = "correct horse"


def test_the_scripted_flow_through_the_official_client(
    agnost_emulator: Emulator, official_client: OfficialClient
) -> None:
    report = official_client("flow", agnost_emulator.base_url, agnost_emulator.client_key)

    # The script asserted each step; here, what it saw has the shapes of protocol.md §4, §5.
    assert {s["userId"] for s in report["sessions"]} == {report["userId"]}
    assert set(report["sessions"][0]) == {
        "userId", "token", "creationDtm", "userAgent", "accessGroupKeys"
    }  # fmt: skip
    assert set(report["sessions"][0]["userAgent"]) == {
        "family", "major", "minor", "patch", "device", "os"
    }  # fmt: skip
    assert report["user"]["name"] == "Ada" and "password" not in report["user"]
    assert report["refused"]["statusText"] == "Unauthorized"
    assert report["refused"]["items"][0]["origin"] == "client_error"
    assert report["grant"]["user"]["email"] == "bo@example.com"
    # The JS client's sessions are real: agnost can use the one the grant opened.
    with agnost.create_client(
        agnost_emulator.base_url, agnost_emulator.client_key, storage=agnost.MemoryStore()
    ) as client:
        client.auth.set_session(agnost.from_wire(agnost.Session, report["grant"]["session"]))
        assert client.auth.get_user_from_db().email_verified is True


def test_sessions_are_seen_and_ended_across_clients(
    agnost_emulator: Emulator, official_client: OfficialClient
) -> None:
    base_url, key = agnost_emulator.base_url, agnost_emulator.client_key
    credentials = {"email": "ada@example.com", "password": PASSWORD}
    with agnost.create_client(base_url, key, storage=agnost.MemoryStore()) as client:
        mine = client.auth.sign_up_with_email("ada@example.com", PASSWORD).session
        assert mine is not None

        # The JS client's session is listed by agnost, and agnost signs it out.
        js = official_client("sign-in", base_url, key, credentials)
        theirs = [s for s in client.auth.get_all_sessions() if s.token != mine.token]
        assert [agnost.to_wire(s)["creationDtm"] for s in theirs] == [js["creationDtm"]]
        # ... and agnost's session is in the JS client's listing.
        assert mine.user_id in {s["userId"] for s in js["sessions"]}
        assert len(js["sessions"]) == 2

        client.auth.sign_out(theirs[0].token)

        assert client.auth.get_session() == mine  # signing out another session keeps ours
        refused = official_client("user", base_url, key, {"token": js["token"]})
        assert refused["errors"]["items"][0]["code"] == "invalid_session_token"

        # The reverse: the JS client lists agnost's session and signs it out.
        again = official_client("sign-in", base_url, key, credentials)
        ended = official_client("sign-out-others", base_url, key, {"token": again["token"]})
        assert len(ended["signedOut"]) == 1

        with pytest.raises(agnost.InvalidSessionTokenError):
            client.auth.get_user_from_db()
        assert official_client("user", base_url, key, {"token": again["token"]})["user"]
