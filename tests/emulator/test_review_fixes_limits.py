"""Custom user fields hold only integers JavaScript reads exactly, and the outbox cap keeps the
newest messages by one range delete (issue 8 review, minor items)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agnost.emulator import Emulator

from .conftest import Api, error_code

SAFE = 2**53 - 1


@pytest.mark.parametrize(
    "fields",
    [
        {"score": SAFE + 1},
        {"score": -SAFE - 1},
        {"scores": [1, 2, {"deep": 10**4000}]},
        {"nested": {"list": [[[2**64]]]}},
    ],
)
def test_an_integer_javascript_cannot_hold_is_refused(api: Api, fields: dict[str, Any]) -> None:
    answer = api.post(
        "/signup-email",
        data=json.dumps(
            {"email": "ada@example.com", "password": "secret1", "nameOrUserData": fields}
        ),
        headers={"Content-Type": "application/json"},
    )

    assert answer.status_code == 400
    assert error_code(answer) == "validation_error"
    assert "nameOrUserData" in answer.json()["details"]
    signed_in = api.post("/signin-email", {"email": "ada@example.com", "password": "secret1"})
    assert signed_in.status_code == 401  # no user was made


def test_integers_javascript_holds_are_kept_exactly(api: Api) -> None:
    fields = {"top": SAFE, "bottom": -SAFE, "flag": True, "big": 1e300, "list": [0, SAFE]}

    user = api.sign_up("ada@example.com", "secret1", nameOrUserData=fields)["user"]

    assert {key: user[key] for key in fields} == fields


def test_the_outbox_keeps_the_newest_messages_across_clears_and_a_lower_cap() -> None:
    with Emulator(hash_cost=1, email_confirmation=True, max_outbox_messages=3) as emu:
        api = Api(emu)
        with api.http:

            def send(*names: str) -> None:
                for name in names:
                    api.sign_up(f"{name}@example.com", "secret1")

            def kept() -> list[str]:
                return [message.recipient.split("@")[0] for message in emu.outbox()]

            send("a", "b", "c", "d", "e")
            assert kept() == ["c", "d", "e"]
            emu.clear_outbox()
            send("f", "g")
            assert kept() == ["f", "g"]
            api.http.patch(emu.base_url + "/_emulator/config", json={"maxOutboxMessages": 1})
            send("h")
            assert kept() == ["h"]
            api.http.patch(emu.base_url + "/_emulator/config", json={"maxOutboxMessages": 4})
            send("i", "j", "k", "l", "m")
            assert kept() == ["j", "k", "l", "m"]
            assert len({message.id for message in emu.outbox()}) == 4
