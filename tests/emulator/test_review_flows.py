"""Review of the auth flows (issue 11) as an adversary would probe them, through real HTTP on
127.0.0.1: account enumeration through the bound on tries, codes and links across purposes,
concurrent uses, odd codes and input, pending changes that outlive a password change, and
the work a send does for known and unknown accounts."""

from __future__ import annotations

import concurrent.futures
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from agnost.emulator import Emulator, onetime
from agnost.emulator.db import Database
from agnost.emulator.state import STATE

from .conftest import PASSWORD, PHONE, Api, error_code, last_message, outbox, sign_up_phone

UNKNOWN = "+15555550199"
EMAIL = "ada@example.com"
NEW_PASSWORD = "a new password"
TRIES = 3

# --- account enumeration through the bound on tries ------------------------------------------

#: use -> (the send path, how to make one wrong try at ``phone``)
FLOWS: dict[str, tuple[str, Callable[[Api, str, str], requests.Response]]] = {
    "sign_in": (
        "/send-code",
        lambda api, phone, code: api.post("/signin-code", params={"phone": phone, "code": code}),
    ),
    "password_reset": (
        "/send-reset-code",
        lambda api, phone, code: api.post(
            "/reset-pwd-code", {"newPassword": NEW_PASSWORD}, params={"phone": phone, "code": code}
        ),
    ),
    "phone_verification": (
        "/resend-code",
        lambda api, phone, code: api.post("/verify-phone", params={"phone": phone, "code": code}),
    ),
}


def answers(api: Api, flow: str, phone: str, tries: int = TRIES + 2) -> list[tuple[int, str]]:
    """What ``tries`` wrong codes at ``phone`` are answered (a code no sent one can be: it
    has a letter)."""
    try_code = FLOWS[flow][1]
    seen = []
    for _ in range(tries):
        answer = try_code(api, phone, "12345x")
        seen.append((answer.status_code, error_code(answer)))
    return seen


@pytest.fixture
def flows_api(agnost_emulator: Emulator) -> Iterator[Api]:
    """An emulator with a phone account (unverified: every use has a real code for it) and
    ``max_code_attempts`` 3."""
    agnost_emulator.configure(max_code_attempts=TRIES, phone_confirmation=True)
    api = Api(agnost_emulator)
    with api.http:
        sign_up_phone(api)
        yield api


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_wrong_tries_answer_alike_for_a_known_and_an_unknown_number(
    flows_api: Api, flow: str
) -> None:
    api = flows_api
    send = FLOWS[flow][0]
    for phone in (PHONE, UNKNOWN):
        assert api.post(send, params={"phone": phone}).status_code == 200
    known, unknown = answers(api, flow, PHONE), answers(api, flow, UNKNOWN)
    expected = [(401, "invalid_code")] * (TRIES - 1) + [(429, "too_many_attempts")] * 3
    assert known == expected
    assert unknown == known  # the 429 does not tell the account exists


@pytest.mark.parametrize("flow", ["sign_in", "password_reset"])
def test_wrong_tries_without_any_code_sent_answer_like_those_at_a_sent_one(
    flows_api: Api, flow: str
) -> None:
    api = flows_api
    expected = [(401, "invalid_code")] * (TRIES - 1) + [(429, "too_many_attempts")] * 3
    # A known number that was sent nothing for this use, and one nobody has, never sent to.
    assert answers(api, flow, PHONE) == expected
    assert answers(api, flow, "+15555550177") == expected


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_a_new_send_gives_new_tries_to_known_and_unknown_numbers_alike(
    flows_api: Api, flow: str
) -> None:
    api = flows_api
    send = FLOWS[flow][0]
    for phone in (PHONE, UNKNOWN):
        api.post(send, params={"phone": phone})
        answers(api, flow, phone)  # used up
        api.post(send, params={"phone": phone})
        assert answers(api, flow, phone, 1) == [(401, "invalid_code")]


def test_the_right_code_still_works_and_a_burnt_one_stays_burnt(flows_api: Api) -> None:
    api = flows_api
    api.post("/send-code", params={"phone": PHONE})
    code = last_message(api, "sign_in_code")["code"]
    assert answers(api, "sign_in", PHONE, TRIES - 1) == [(401, "invalid_code")] * (TRIES - 1)
    answer = api.post("/signin-code", params={"phone": PHONE, "code": code})
    assert answer.status_code == 200, answer.text
    api.post("/send-code", params={"phone": PHONE})
    code = last_message(api, "sign_in_code")["code"]
    answers(api, "sign_in", PHONE, TRIES)
    answer = api.post("/signin-code", params={"phone": PHONE, "code": code})
    assert (answer.status_code, error_code(answer)) == (429, "too_many_attempts")


def test_expired_codes_answer_alike_for_known_and_unknown_numbers(flows_api: Api) -> None:
    api = flows_api
    api.emulator.configure(code_lifetime=0)
    for phone in (PHONE, UNKNOWN):
        api.post("/send-code", params={"phone": phone})
    assert answers(api, "sign_in", PHONE) == answers(api, "sign_in", UNKNOWN)


def test_the_tries_kept_for_numbers_without_a_code_are_bounded() -> None:
    from agnost.emulator.db import MAX_CODE_TRIES

    db = Database(":memory:")
    try:
        for n in range(MAX_CODE_TRIES + 50):
            db.put_code_tries(f"+1555{n:07d}", "sign_in", 1, 10.0)
        assert db.code_tries("+15550000000", "sign_in") is None  # the oldest went first
        assert db.code_tries(f"+1555{MAX_CODE_TRIES + 49:07d}", "sign_in") == (1, 10.0)
        assert len(db._code_tries) == MAX_CODE_TRIES
        db.reset()
        assert db.code_tries(f"+1555{MAX_CODE_TRIES + 49:07d}", "sign_in") is None
    finally:
        db.close()


# --- the same work for known and unknown accounts --------------------------------------------


def _shapes(statements: list[str]) -> list[str]:
    """SQL statements with their values taken out, to compare what runs."""
    return [re.sub(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|NULL", "?", s) for s in statements]


@pytest.mark.parametrize("kind", ["code", "link"])
def test_a_send_for_an_unknown_account_runs_the_statements_of_a_known_one(kind: str) -> None:
    db = Database(":memory:")
    try:
        db.insert_user(
            {"_id": "a" * 24},
            email=EMAIL,
            phone=PHONE,
            provider="agnost",
            provider_user_id="a" * 24,
            password_hash=None,
        )
        rules = onetime.CodeRules(6, 600, 5, 100)
        ran: list[str] = []
        db._conn.set_trace_callback(ran.append)

        def send(user_id: str | None) -> list[str]:
            ran.clear()
            if kind == "code":
                onetime.send_code(db, PHONE, "sign_in", user_id, rules, 1000.0)
            else:
                onetime.send_link(
                    db, EMAIL, "magic_link", user_id, "http://127.0.0.1/r", 1000.0, 3600, 100
                )
            return _shapes(ran)

        known, unknown = send("a" * 24), send(None)
        assert [s for s in unknown if s != "ROLLBACK TO rehearsal"] == known
    finally:
        db.close()


def test_resend_code_reads_the_same_for_known_and_unknown_numbers(flows_api: Api) -> None:
    api = flows_api
    app = api.emulator._app
    assert app is not None  # running
    database = app[STATE].db
    ran: list[str] = []

    def trace(db: Database, on: bool) -> None:
        db._conn.set_trace_callback(ran.append if on else None)

    def statements(phone: str) -> list[str]:
        database.call(trace, True)
        ran.clear()
        try:
            assert api.post("/resend-code", params={"phone": phone}).status_code == 200
        finally:
            database.call(trace, False)
        return [s for s in _shapes(ran) if s != "ROLLBACK TO rehearsal"]

    # A verified number (nothing to resend) and one nobody has: both rehearsed.
    code = last_message(api, "phone_verification")["code"]
    assert api.post("/verify-phone", params={"phone": PHONE, "code": code}).status_code == 200
    assert statements(PHONE) == statements(UNKNOWN)


# --- codes and links across purposes ---------------------------------------------------------


def test_a_sign_in_code_is_no_reset_or_verification_code(flows_api: Api) -> None:
    api = flows_api
    api.post("/send-code", params={"phone": PHONE})
    code = last_message(api, "sign_in_code")["code"]
    assert FLOWS["password_reset"][1](api, PHONE, code).status_code == 401
    assert FLOWS["phone_verification"][1](api, PHONE, code).status_code == 401
    assert api.post("/signin-code", params={"phone": PHONE, "code": code}).status_code == 200


def test_links_work_only_where_they_belong(api: Api) -> None:
    api.sign_up(EMAIL)
    api.post("/send-reset", params={"email": EMAIL})
    api.post("/send-magic", params={"email": EMAIL})
    reset = last_message(api, "password_reset")["accessToken"]
    magic = last_message(api, "magic_link")["accessToken"]
    assert api.get("/grant", params={"key": reset}).status_code == 403
    body = {"newPassword": NEW_PASSWORD}
    assert api.post("/reset-pwd", body, params={"key": magic}).status_code == 403
    assert api.get("/grant", params={"key": magic}).status_code == 200
    assert api.post("/reset-pwd", body, params={"key": reset}).status_code == 200


# --- concurrent uses -------------------------------------------------------------------------


def _together(n: int, call: Callable[[], requests.Response]) -> list[int]:
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return sorted(f.result().status_code for f in [pool.submit(call) for _ in range(n)])


def _fresh(api: Api) -> Callable[[Callable[[requests.Session], Any]], Callable[[], Any]]:
    def wrap(send: Callable[[requests.Session], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with requests.Session() as http:
                http.headers["X-Client-Key"] = api.emulator.client_key
                return send(http)

        return call

    return wrap


def test_twenty_concurrent_uses_of_one_code_or_link_succeed_once(api: Api) -> None:
    base = api.base_url + "/_api/rest/v1/auth"
    fresh = _fresh(api)
    api.emulator.configure(max_code_attempts=100)
    sign_up_phone(api)
    api.sign_up(EMAIL)

    api.post("/send-code", params={"phone": PHONE})
    code = last_message(api, "sign_in_code")["code"]
    statuses = _together(
        20,
        fresh(lambda h: h.post(base + "/signin-code", params={"phone": PHONE, "code": code})),
    )
    assert statuses == [200] + [401] * 19

    api.post("/send-reset-code", params={"phone": PHONE})
    code = last_message(api, "password_reset_code")["code"]
    body = {"newPassword": NEW_PASSWORD}
    statuses = _together(
        20,
        fresh(
            lambda h: h.post(
                base + "/reset-pwd-code", json=body, params={"phone": PHONE, "code": code}
            )
        ),
    )
    assert statuses == [200] + [401] * 19

    api.post("/send-magic", params={"email": EMAIL})
    magic = last_message(api, "magic_link")["accessToken"]
    call = fresh(lambda h: h.get(base + "/grant", params={"key": magic}))
    assert _together(20, call) == [200] + [403] * 19

    api.post("/send-reset", params={"email": EMAIL})
    reset = last_message(api, "password_reset")["accessToken"]
    call = fresh(lambda h: h.post(base + "/reset-pwd", json=body, params={"key": reset}))
    assert _together(20, call) == [200] + [403] * 19


# --- odd codes -------------------------------------------------------------------------------


def test_a_code_matches_only_as_sent(api: Api) -> None:
    api.emulator.configure(code_length=4, max_code_attempts=100)
    sign_up_phone(api)
    for _ in range(200):  # until a code has a leading zero (one in ten)
        api.post("/send-code", params={"phone": PHONE})
        code = last_message(api, "sign_in_code")["code"]
        if code.startswith("0"):
            break
    assert code.startswith("0")
    arabic = "".join(chr(0x660 + int(c)) for c in code)  # Arabic-Indic digits match \d
    fullwidth = "".join(chr(0xFF10 + int(c)) for c in code)
    for near in [
        code.lstrip("0"),
        code + "0",
        f" {code}",
        f"{code} ",
        arabic,
        fullwidth,
        "+" + code,
    ]:
        answer = api.post("/signin-code", params={"phone": PHONE, "code": near})
        assert (answer.status_code, error_code(answer)) == (401, "invalid_code"), near
    assert api.post("/signin-code", params={"phone": PHONE, "code": code}).status_code == 200


def test_the_phone_is_the_same_however_it_is_spaced(api: Api) -> None:
    sign_up_phone(api)
    api.post("/send-code", params={"phone": "+1 (555) 555-0100"})
    code = last_message(api, "sign_in_code")["code"]
    assert last_message(api, "sign_in_code")["recipient"] == PHONE
    answer = api.post("/signin-code", params={"phone": "+1\u202f555\u00a0555 0100", "code": code})
    assert answer.status_code == 200, answer.text


# --- pending changes and password changes ----------------------------------------------------


@pytest.mark.parametrize("how", ["change-pwd", "reset-pwd", "reset-pwd-code"])
def test_a_password_change_ends_pending_email_and_phone_changes(api: Api, how: str) -> None:
    api.emulator.configure(email_confirmation=True, phone_confirmation=True)
    api.sign_up(EMAIL)
    api.get("/grant", params={"key": last_message(api, "email_verification")["accessToken"]})
    token = api.sign_in()
    # Someone with the password and a session asks to move the account to their address.
    body = {"currentPassword": PASSWORD, "newEmail": "mallory@example.com"}
    assert api.post("/change-email", body, token=token).status_code == 200
    body = {"currentPassword": PASSWORD, "newPhone": UNKNOWN}
    assert api.post("/change-phone", body, token=token).status_code == 200
    link = last_message(api, "email_change")["accessToken"]
    phone_code = last_message(api, "phone_verification", UNKNOWN)["code"]
    # The owner changes the password.
    if how == "change-pwd":
        body = {"oldPassword": PASSWORD, "newPassword": NEW_PASSWORD}
        assert api.post("/change-pwd", body, token=api.sign_in()).status_code == 200
    elif how == "reset-pwd":
        api.post("/send-reset", params={"email": EMAIL})
        key = last_message(api, "password_reset")["accessToken"]
        answer = api.post("/reset-pwd", {"newPassword": NEW_PASSWORD}, params={"key": key})
        assert answer.status_code == 200
    else:
        # The account's own phone, verified, for the reset code.
        body = {"currentPassword": PASSWORD, "newPhone": "+15555550142"}
        api.emulator.configure(phone_confirmation=False)
        assert api.post("/change-phone", body, token=api.sign_in()).status_code == 200
        api.post("/send-reset-code", params={"phone": "+15555550142"})
        code = last_message(api, "password_reset_code")["code"]
        params = {"phone": "+15555550142", "code": code}
        answer = api.post("/reset-pwd-code", {"newPassword": NEW_PASSWORD}, params=params)
        assert answer.status_code == 200
    assert api.get("/grant", params={"key": link}).status_code == 403
    answer = api.post("/verify-phone", params={"phone": UNKNOWN, "code": phone_code})
    assert (answer.status_code, error_code(answer)) == (401, "invalid_code")
    user = api.get("/user", token=api.sign_in(EMAIL, NEW_PASSWORD)).json()
    assert user["email"] == EMAIL and user.get("phone") != UNKNOWN


@pytest.mark.parametrize("confirm", [False, True])
def test_change_email_to_another_users_address_in_any_case_is_refused(
    api: Api, confirm: bool
) -> None:
    api.emulator.configure(email_confirmation=confirm)
    api.sign_up("lin@example.com")
    api.emulator.configure(email_confirmation=False)
    api.sign_up(EMAIL)
    token = api.sign_in()
    api.emulator.configure(email_confirmation=confirm)
    body = {"currentPassword": PASSWORD, "newEmail": " LIN@Example.COM "}
    answer = api.post("/change-email", body, token=token)
    assert (answer.status_code, error_code(answer)) == (400, "email_not_unique")
    assert outbox(api, "email_change") == []


def test_a_reset_signs_out_every_session(api: Api) -> None:
    sign_up_phone(api)
    answer = api.post("/signin-phone", {"phone": PHONE, "password": PASSWORD})
    token = answer.json()["session"]["token"]
    api.post("/send-reset-code", params={"phone": PHONE})
    params = {"phone": PHONE, "code": last_message(api, "password_reset_code")["code"]}
    assert api.post("/reset-pwd-code", {"newPassword": NEW_PASSWORD}, params=params).ok
    assert api.get("/user", token=token).status_code == 401


# --- odd input -------------------------------------------------------------------------------

ODD_BODIES: list[Any] = [
    [],
    None,
    "text",
    10**400,
    {"newPassword": None, "oldPassword": [], "currentPassword": {}},
    {"newPassword": 10**30, "newEmail": ["a@b.co"], "newPhone": 15555550100},
    {"newPassword": True, "newEmail": None, "newPhone": {"+1": 1}},
    {"newPassword": "x" * 5000, "newEmail": "a" * 300 + "@b.co", "newPhone": "+" + "1" * 300},
]
ODD_QUERIES = [
    "",
    "phone=&code=&email=&key=",
    "phone=%2B15555550100&phone=%2B15555550199&code=1&code=2&email=a@b.co&email=c@d.co",
    "phone=" + "9" * 4000 + "&code=" + "1" * 4000 + "&email=" + "a" * 4000 + "&key=" + "k" * 4000,
    "phone=%ED%A0%80&code=%ED%A0%80&email=%ED%A0%80%40b.co&key=%ED%A0%80",
    "phone=%00&code=%00&email=%00&key=%00",
    "phone=%2B%D9%A1%D9%A2%D9%A3%D9%A4%D9%A5%D9%A6%D9%A7&code=%D9%A1%D9%A2",
]
ENDPOINTS = [
    ("POST", p)
    for p in (
        "/send-code",
        "/signin-code",
        "/send-magic",
        "/verify-phone",
        "/resend",
        "/resend-code",
        "/send-reset",
        "/reset-pwd",
        "/send-reset-code",
        "/reset-pwd-code",
        "/change-pwd",
        "/change-email",
        "/change-phone",
    )
] + [("GET", "/grant")]


def test_odd_input_never_answers_a_server_error(api: Api) -> None:
    sign_up_phone(api)
    token = api.post("/signin-phone", {"phone": PHONE, "password": PASSWORD}).json()
    session = token["session"]["token"]
    import json as json_module

    for method, path in ENDPOINTS:
        for query in ODD_QUERIES:
            for body in ODD_BODIES:
                url = api.base_url + "/_api/rest/v1/auth" + path + ("?" + query if query else "")
                answer = api.http.request(
                    method,
                    url,
                    data=json_module.dumps(body),
                    headers={"Content-Type": "application/json", "Session": session},
                    timeout=10,
                )
                assert answer.status_code < 500, (method, path, query, body, answer.text)
                assert "Traceback" not in answer.text


def test_no_trace_of_a_rehearsed_send_in_the_database(tmp_path: Any) -> None:
    path = tmp_path / "e.db"
    with Emulator(database=str(path), hash_cost=4) as emulator:
        api = Api(emulator)
        for flow in FLOWS.values():
            api.post(flow[0], params={"phone": UNKNOWN})
            answers(api, "sign_in", UNKNOWN, 2)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM codes").fetchone() == (0,)


def test_resend_code_does_not_revive_a_lapsed_phone_change(api: Api) -> None:
    sign_up_phone(api)
    token = api.post("/signin-phone", {"phone": PHONE, "password": PASSWORD}).json()
    api.emulator.configure(phone_confirmation=True, code_lifetime=0)
    body = {"currentPassword": PASSWORD, "newPhone": UNKNOWN}
    assert api.post("/change-phone", body, token=token["session"]["token"]).status_code == 200
    api.emulator.configure(code_lifetime=600)  # the change's code expired at once
    assert api.post("/resend-code", params={"phone": UNKNOWN}).status_code == 200
    assert len(outbox(api, "phone_verification", UNKNOWN)) == 1  # nothing new was sent


def test_concurrent_wrong_tries_at_an_unknown_number_are_bounded_like_a_known_ones(
    flows_api: Api,
) -> None:
    api = flows_api
    base = api.base_url + "/_api/rest/v1/auth"
    fresh = _fresh(api)
    seen: list[list[int]] = []
    for phone in (PHONE, UNKNOWN):
        api.post("/send-code", params={"phone": phone})
        params = {"phone": phone, "code": "12345x"}

        def wrong_try(http: requests.Session, params: dict[str, str] = params) -> Any:
            return http.post(base + "/signin-code", params=params)

        call = fresh(wrong_try)
        seen.append(_together(20, call))
    assert seen[0] == seen[1] == [401] * (TRIES - 1) + [429] * (20 - TRIES + 1)


def test_no_tried_code_or_password_in_any_log_record(
    flows_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    api = flows_api
    tried = ["8086421357", "\u0668\u0660\u0668\u0666", "x" * 70, "53197"]
    for code in tried:
        for flow in FLOWS.values():
            for phone in (PHONE, UNKNOWN, "+1"):
                flow[1](api, phone, code)
    api.post("/reset-pwd", {"newPassword": "pw-never-logged"}, params={"key": "key-never-logged"})
    lines = [caplog.handler.format(r) for r in caplog.records if not r.name.startswith("urllib3")]
    assert any("/signin-code" in line for line in lines)  # the access log ran
    for secret in [*tried, "pw-never-logged", "key-never-logged"]:
        assert [line for line in lines if secret in line] == []


# --- changes racing a reset or each other ----------------------------------------------------


def test_a_change_pwd_racing_a_reset_never_overrides_the_reset(api: Api) -> None:
    # The password is hashed at cost 16, so that checking the old one takes a while; the
    # owner's reset lands during that check, and the change (its old password right when
    # checked) must not undo the reset. Whatever order the two land in, the reset's
    # password works in the end (the pause only makes the race likely).
    api.emulator.configure(hash_cost=16)
    sign_up_phone(api)
    answer = api.post("/signin-phone", {"phone": PHONE, "password": PASSWORD})
    session = answer.json()["session"]["token"]
    api.post("/send-reset-code", params={"phone": PHONE})
    code = last_message(api, "password_reset_code")["code"]
    body = {"oldPassword": PASSWORD, "newPassword": "attacker password"}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        changing = pool.submit(Api(api.emulator).post, "/change-pwd", body, token=session)
        time.sleep(0.05)  # ordering, not a measurement: the change is checking by now
        api.emulator.configure(hash_cost=4)
        params = {"phone": PHONE, "code": code}
        answer = api.post("/reset-pwd-code", {"newPassword": NEW_PASSWORD}, params=params)
        assert answer.status_code == 200, answer.text
        changed = changing.result()
    assert changed.status_code in (200, 401), changed.text
    answer = api.post("/signin-phone", {"phone": PHONE, "password": NEW_PASSWORD})
    assert answer.status_code == 200, (changed.status_code, answer.text)


def test_concurrent_email_and_phone_changes_both_stick(api: Api) -> None:
    api.emulator.configure(hash_cost=16)  # slow checks, so that the two overlap
    api.sign_up(EMAIL)
    token = api.sign_in()
    changes = [
        ("/change-email", {"currentPassword": PASSWORD, "newEmail": "ada.new@example.com"}),
        ("/change-phone", {"currentPassword": PASSWORD, "newPhone": UNKNOWN}),
    ]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        done = [
            pool.submit(Api(api.emulator).post, path, body, token=token) for path, body in changes
        ]
        assert [f.result().status_code for f in done] == [200, 200]
    user = api.get("/user", token=token).json()
    assert (user["email"], user["phone"]) == ("ada.new@example.com", UNKNOWN)
    assert api.post("/signin-phone", {"phone": UNKNOWN, "password": PASSWORD}).ok
    assert api.post("/signin-email", {"email": "ada.new@example.com", "password": PASSWORD}).ok


def test_a_sign_in_with_the_old_password_racing_a_reset_leaves_no_session(api: Api) -> None:
    # As above: the sign-in's check at cost 16 is under way when the reset lands. Either the
    # sign-in came first (and the reset signed it out) or it is refused.
    api.emulator.configure(hash_cost=16)
    sign_up_phone(api)
    api.post("/send-reset-code", params={"phone": PHONE})
    code = last_message(api, "password_reset_code")["code"]
    body = {"phone": PHONE, "password": PASSWORD}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        signing_in = pool.submit(Api(api.emulator).post, "/signin-phone", body)
        time.sleep(0.05)  # ordering, not a measurement: the sign-in is checking by now
        api.emulator.configure(hash_cost=4)
        params = {"phone": PHONE, "code": code}
        answer = api.post("/reset-pwd-code", {"newPassword": NEW_PASSWORD}, params=params)
        assert answer.status_code == 200, answer.text
        signed_in = signing_in.result()
    if signed_in.status_code == 200:
        token = signed_in.json()["session"]["token"]
        assert api.get("/user", token=token).status_code == 401
    else:
        assert (signed_in.status_code, error_code(signed_in)) == (401, "invalid_credentials")


def test_a_sign_in_racing_a_verification_keeps_the_verification(api: Api) -> None:
    api.emulator.configure(hash_cost=16)
    sign_up_phone(api)  # phone confirmation off: signs in unverified
    api.post("/resend-code", params={"phone": PHONE})
    code = last_message(api, "phone_verification")["code"]
    body = {"phone": PHONE, "password": PASSWORD}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        signing_in = pool.submit(Api(api.emulator).post, "/signin-phone", body)
        time.sleep(0.05)  # ordering, not a measurement
        answer = api.post("/verify-phone", params={"phone": PHONE, "code": code})
        assert answer.status_code == 200, answer.text
        signed_in = signing_in.result()
    assert signed_in.status_code == 200, signed_in.text
    user = api.get("/user", token=signed_in.json()["session"]["token"]).json()
    assert user["phoneVerified"] is True
