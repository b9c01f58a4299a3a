"""The ``/_emulator/`` endpoints: the outbox, reset, and reading and changing settings."""

from __future__ import annotations

from .conftest import PASSWORD, Api


def test_index_lists_the_endpoints(api: Api) -> None:
    endpoints = api.get("/_emulator/").json()["endpoints"]
    assert "GET /_emulator/outbox" in endpoints and "PATCH /_emulator/config" in endpoints


def test_outbox_lists_and_filters_and_empties(api: Api) -> None:
    api.emulator.configure(email_confirmation=True)
    for email in ("ada@example.com", "bo@example.com", "Ada+2@example.com"):
        api.sign_up(email)

    everything = api.get("/_emulator/outbox").json()["messages"]
    assert [m["recipient"] for m in everything] == [
        "ada@example.com",
        "bo@example.com",
        "Ada+2@example.com",
    ]
    assert set(everything[0]) == {
        "id", "recipient", "kind", "link", "code", "accessToken", "userId", "createdAt",
        "expiresAt",
    }  # fmt: skip
    only = api.get("/_emulator/outbox", params={"recipient": "ADA+2@example.com"}).json()
    assert [m["recipient"] for m in only["messages"]] == ["Ada+2@example.com"]
    by_kind = api.get("/_emulator/outbox", params={"kind": "sms_code"}).json()
    assert by_kind["messages"] == []

    assert api._send("DELETE", "/_emulator/outbox", token=None).status_code == 200
    assert api.get("/_emulator/outbox").json()["messages"] == []


def test_reset_deletes_all_data_but_keeps_settings(api: Api) -> None:
    api.emulator.configure(email_confirmation=True)
    api.sign_up()
    [message] = api.emulator.outbox()
    api.emulator.configure(email_confirmation=False)
    token = api.sign_up("bo@example.com")["session"]["token"]

    assert api.post("/_emulator/reset").status_code == 200

    assert api.get("/user", token=token).status_code == 401
    assert api.get("/grant", params={"key": message.access_token}).status_code == 403
    assert api.get("/_emulator/outbox").json()["messages"] == []
    assert api.get("/_emulator/config").json()["emailConfirmation"] is False
    # The email is free again.
    assert api.post("/signup-email", {"email": "bo@example.com", "password": PASSWORD}).ok


def test_config_reads_and_changes_settings(api: Api) -> None:
    before = api.get("/_emulator/config").json()
    assert before["clientKeys"] == [api.emulator.client_key]
    assert before["emailConfirmation"] is False and before["hashCost"] == 4

    answer = api._send(
        "PATCH", "/_emulator/config", token=None, json={"emailConfirmation": True, "hashCost": 5}
    )

    assert answer.status_code == 200
    assert answer.json() == {**before, "emailConfirmation": True, "hashCost": 5}
    assert api.emulator.config == answer.json()
    # A hash made at cost 5 still verifies after the cost changes back.
    api._send("PATCH", "/_emulator/config", token=None, json={"emailConfirmation": False})
    api.sign_up()
    api._send("PATCH", "/_emulator/config", token=None, json={"hashCost": 4})
    assert api.sign_in()


def test_a_bad_setting_changes_nothing(api: Api) -> None:
    before = api.get("/_emulator/config").json()
    for change in (
        {"emailConfirmation": True, "hashCost": 99},
        {"sessionLifetime": -1},
        {"redirectUrl": "javascript:alert(1)"},
        {"clientKeys": []},
        {"colour": "green"},
    ):
        answer = api._send("PATCH", "/_emulator/config", token=None, json=change)
        assert answer.status_code == 400, change
        assert answer.json()["code"] == "validation_error"
    assert api.get("/_emulator/config").json() == before
