"""Sessions: the token from header or cookie, listing, sign-out (one, all, all but current),
the user behind a session, and expiry (protocol.md §3, §7)."""

from __future__ import annotations

import pytest

from agnost.emulator import Emulator

from .conftest import Api, error_code

NEEDS_SESSION = [
    ("POST", "/signout"),
    ("POST", "/signout-all"),
    ("POST", "/signout-all-except"),
    ("GET", "/sessions"),
    ("GET", "/user"),
]


@pytest.mark.parametrize(("method", "path"), NEEDS_SESSION)
def test_endpoints_that_need_a_session_refuse_without_one(
    api: Api, method: str, path: str
) -> None:
    answer = api._send(method, path, token=None)
    assert (answer.status_code, error_code(answer)) == (401, "missing_session_token")


@pytest.mark.parametrize(("method", "path"), NEEDS_SESSION)
def test_endpoints_that_need_a_session_refuse_an_unknown_one(
    api: Api, method: str, path: str
) -> None:
    answer = api._send(method, path, token="not-a-session")
    assert (answer.status_code, error_code(answer)) == (401, "invalid_session_token")


def test_the_session_cookie_authenticates_too(api: Api) -> None:
    api.sign_up()
    api.post("/signin-email", {"email": "ada@example.com", "password": "correct horse"})
    # requests.Session keeps the cookie the sign-in set; no Session header is sent.
    assert api.get("/user").status_code == 200

    signed_out = api.post("/signout")
    assert signed_out.status_code == 200 and signed_out.content == b""
    # Expired by the answer, so the cookie jar dropped it.
    assert "session_token" not in api.http.cookies
    assert error_code(api.get("/user")) == "missing_session_token"


def test_the_session_header_wins_over_the_cookie(api: Api) -> None:
    api.sign_up("ada@example.com")
    api.sign_up("bo@example.com")  # the cookie now holds Bo's session
    ada = api.sign_in("ada@example.com")
    api.http.cookies.clear()
    bo = api.sign_in("bo@example.com")  # cookie: Bo
    assert api.get("/user", token=ada).json()["email"] == "ada@example.com"
    assert api.get("/user").json()["email"] == "bo@example.com"
    assert bo != ada


def test_sessions_lists_the_users_sessions_oldest_first(api: Api) -> None:
    first = api.sign_up()["session"]["token"]
    second = api.sign_in()
    api.sign_up("bo@example.com")  # another user's session is not listed

    listed = api.get("/sessions", token=second).json()

    assert [s["creationDtm"] for s in listed] == sorted(s["creationDtm"] for s in listed)
    assert len(listed) == 2
    assert {s["userId"] for s in listed} == {api.get("/user", token=first).json()["_id"]}
    # The caller's own session shows its token; the other shows a handle, not its token.
    assert listed[1]["token"] == second
    assert listed[0]["token"] != first and len(listed[0]["token"]) == 64


def test_sign_out_by_listed_handle_ends_that_session(api: Api) -> None:
    first = api.sign_up()["session"]["token"]
    second = api.sign_in()
    handle = next(
        s["token"] for s in api.get("/sessions", token=second).json() if s["token"] != second
    )

    answer = api.post("/signout", {"token": handle}, token=second)

    assert answer.status_code == 200
    assert "session_token" not in answer.headers.get("Set-Cookie", "")
    assert error_code(api.get("/user", token=first)) == "invalid_session_token"
    assert api.get("/user", token=second).status_code == 200
    # A handle never authenticates a request.
    assert error_code(api.get("/user", token=handle)) == "invalid_session_token"


def test_sign_out_of_another_own_session_by_token(api: Api) -> None:
    first = api.sign_up()["session"]["token"]
    second = api.sign_in()
    assert api.post("/signout", {"token": first}, token=second).status_code == 200
    assert error_code(api.get("/sessions", token=first)) == "invalid_session_token"
    assert len(api.get("/sessions", token=second).json()) == 1


def test_sign_out_of_someone_elses_session_is_403(api: Api) -> None:
    ada = api.sign_up("ada@example.com")["session"]["token"]
    bo = api.sign_up("bo@example.com")["session"]["token"]

    answer = api.post("/signout", {"token": bo}, token=ada)

    assert (answer.status_code, error_code(answer)) == (403, "invalid_session_token")
    assert api.get("/user", token=bo).status_code == 200


def test_sign_out_of_an_unknown_session_is_404(api: Api) -> None:
    ada = api.sign_up()["session"]["token"]
    answer = api.post("/signout", {"token": "no-such-token"}, token=ada)
    assert (answer.status_code, error_code(answer)) == (404, "invalid_session_token")
    bad_type = api.post("/signout", {"token": 5}, token=ada)
    assert (bad_type.status_code, error_code(bad_type)) == (400, "validation_error")


def test_sign_out_all_ends_every_session_and_expires_the_cookie(api: Api) -> None:
    first = api.sign_up()["session"]["token"]
    second = api.sign_in()
    bo = api.sign_up("bo@example.com")["session"]["token"]

    answer = api.post("/signout-all", token=second)

    assert answer.status_code == 200 and answer.content == b""
    assert 'session_token=""' in answer.headers["Set-Cookie"]
    for token in (first, second):
        assert error_code(api.get("/user", token=token)) == "invalid_session_token"
    assert api.get("/user", token=bo).status_code == 200


def test_sign_out_all_except_current_keeps_only_the_callers(api: Api) -> None:
    first = api.sign_up()["session"]["token"]
    second = api.sign_in()
    third = api.sign_in()

    answer = api.post("/signout-all-except", token=second)

    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    assert [s["token"] for s in api.get("/sessions", token=second).json()] == [second]
    for token in (first, third):
        assert error_code(api.get("/user", token=token)) == "invalid_session_token"


def test_user_returns_the_stored_user(api: Api) -> None:
    signed_up = api.sign_up(nameOrUserData={"name": "Ada", "team": "engines"})
    user = api.get("/user", token=signed_up["session"]["token"]).json()
    assert user["_id"] == signed_up["user"]["_id"]
    assert user["team"] == "engines" and "password" not in user


def test_lowering_the_session_lifetime_expires_sessions(
    api: Api, agnost_emulator: Emulator
) -> None:
    token = api.sign_up()["session"]["token"]
    assert api.get("/user", token=token).status_code == 200

    # Lifetimes apply when a session is used, so 0 expires it now, without waiting.
    agnost_emulator.configure(session_lifetime=0)

    answer = api.get("/user", token=token)
    assert (answer.status_code, error_code(answer)) == (401, "invalid_session_token")
    agnost_emulator.configure(session_lifetime=3600)
    # Expired sessions were deleted, not merely hidden.
    assert error_code(api.get("/user", token=token)) == "invalid_session_token"
