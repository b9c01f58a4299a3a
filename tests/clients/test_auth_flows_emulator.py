"""The 13 auth flows of issue 11 completed by both agnost flavours against the emulator, codes
and links read from its outbox: the results, the local effects and the error classes a real
server's answers give."""

from __future__ import annotations

import pytest

import agnost
from agnost.emulator import Emulator

from ._support import Flavour

PHONE = "+15550001234"
NEW_PHONE = "+15559990000"
EMAIL = "ada+test@example.com"  # a `+` the official client would turn into a space
NEW_EMAIL = "ada.new@example.com"
PASSWORD = "correct horse"


def _last(emulator: Emulator, recipient: str, kind: str) -> agnost.emulator.OutboxMessage:
    messages = emulator.outbox(recipient=recipient, kind=kind)
    assert messages, f"no {kind} message to {recipient}"
    return messages[-1]


def _other(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_phone_flows(flavour: Flavour, agnost_emulator: Emulator) -> None:
    emulator = agnost_emulator
    emulator.configure(phone_confirmation=True, max_code_attempts=3)
    client = flavour.make(emulator.base_url, emulator.client_key)

    signed_up = flavour.call(client, "sign_up_with_phone", PHONE, PASSWORD)
    assert signed_up.session is None
    flavour.raises(agnost.PhoneNotVerifiedError, client, "sign_in_with_phone", PHONE, PASSWORD)
    first = _last(emulator, PHONE, "phone_verification")
    assert first.code is not None
    flavour.raises(agnost.InvalidCodeError, client, "verify_phone", PHONE, _other(first.code))

    assert flavour.call(client, "resend_verification_code", PHONE) is None
    code = _last(emulator, PHONE, "phone_verification").code
    assert code is not None and code != first.code
    result = flavour.call(client, "verify_phone", PHONE, code)
    assert isinstance(result, agnost.SignUpResult)
    assert result.user.phone_verified is True
    assert result.session is not None  # the app signs in on verification (the default)
    assert flavour.call(client, "get_session") == result.session
    flavour.raises(agnost.InvalidCodeError, client, "verify_phone", PHONE, code)

    # Sign-in by code: single use, bounded attempts.
    other = flavour.make(emulator.base_url, emulator.client_key)
    assert flavour.call(other, "send_sign_in_code", PHONE) is None
    code = _last(emulator, PHONE, "sign_in_code").code
    grant = flavour.call(other, "sign_in_with_code", PHONE, code)
    assert isinstance(grant, agnost.AuthGrant)
    assert flavour.call(other, "get_session") == grant.session
    assert flavour.call(other, "get_user_from_db").phone == PHONE
    flavour.raises(agnost.InvalidCodeError, other, "sign_in_with_code", PHONE, code)
    flavour.call(other, "send_sign_in_code", PHONE)
    code = _last(emulator, PHONE, "sign_in_code").code
    assert code is not None
    refused = [
        type(flavour.raises(agnost.APIError, other, "sign_in_with_code", PHONE, _other(code)))
        for _ in range(3)
    ]
    assert refused == [
        agnost.InvalidCodeError,
        agnost.InvalidCodeError,
        agnost.TooManyAttemptsError,
    ]
    flavour.raises(agnost.TooManyAttemptsError, other, "sign_in_with_code", PHONE, code)

    # Reset by SMS code: nothing stored; the user's sessions end; the new password works.
    flavour.call(other, "send_reset_pwd_code", PHONE)
    code = _last(emulator, PHONE, "password_reset_code").code
    stranger = flavour.make(emulator.base_url, emulator.client_key)
    assert flavour.call(stranger, "reset_pwd_with_code", PHONE, code, "phone pw 2") is None
    assert flavour.call(stranger, "get_session") is None
    flavour.raises(agnost.InvalidSessionTokenError, other, "get_user_from_db")
    assert flavour.call(other, "get_session") is None  # invalidated by the refusal
    flavour.raises(agnost.InvalidCredentialsError, stranger, "sign_in_with_phone", PHONE, PASSWORD)
    flavour.call(stranger, "sign_in_with_phone", PHONE, "phone pw 2")

    # Change phone: the current password; confirmed by a code to the new number.
    flavour.raises(agnost.InvalidCredentialsError, stranger, "change_phone", "not it", NEW_PHONE)
    stored = flavour.call(stranger, "get_user")
    user = flavour.call(stranger, "change_phone", "phone pw 2", NEW_PHONE)
    assert isinstance(user, agnost.User)
    assert user.phone == PHONE  # unchanged until confirmed
    assert flavour.call(stranger, "get_user") == stored  # the stored user is not refreshed
    code = _last(emulator, NEW_PHONE, "phone_verification").code
    flavour.call(stranger, "verify_phone", NEW_PHONE, code)
    assert flavour.call(stranger, "get_user_from_db").phone == NEW_PHONE

    # Malformed numbers are the server's validation error; unknown ones send nothing.
    flavour.raises(agnost.ValidationError, stranger, "send_sign_in_code", "12ab")
    for name in ("send_sign_in_code", "send_reset_pwd_code", "resend_verification_code"):
        assert flavour.call(stranger, name, "+15550009999") is None
    assert emulator.outbox(recipient="+15550009999") == []


def test_email_flows(flavour: Flavour, agnost_emulator: Emulator) -> None:
    emulator = agnost_emulator
    emulator.configure(email_confirmation=True)
    client = flavour.make(emulator.base_url, emulator.client_key)

    assert flavour.call(client, "sign_up_with_email", EMAIL, PASSWORD).session is None
    flavour.call(client, "resend_verification_email", EMAIL)
    confirmations = emulator.outbox(recipient=EMAIL, kind="email_verification")
    assert len(confirmations) == 2
    flavour.call(client, "get_auth_grant", confirmations[-1].link)

    # A magic link: its redirect URL goes to get_auth_grant; single use.
    flavour.call(client, "send_magic_link_email", EMAIL)
    magic = _last(emulator, EMAIL, "magic_link")
    linked = flavour.make(emulator.base_url, emulator.client_key)
    grant = flavour.call(linked, "get_auth_grant", magic.link)
    assert flavour.call(linked, "get_session") == grant.session
    flavour.raises(agnost.AccessTokenError, linked, "get_auth_grant", magic.access_token)

    # Reset by link: the whole link is accepted; single use; the user's sessions end.
    flavour.call(client, "send_reset_pwd_email", EMAIL)
    link = _last(emulator, EMAIL, "password_reset").link
    assert link is not None
    stranger = flavour.make(emulator.base_url, emulator.client_key)
    assert flavour.call(stranger, "reset_pwd_with_token", link, "email pw 2") is None
    assert flavour.call(stranger, "get_session") is None
    flavour.raises(agnost.AccessTokenError, stranger, "reset_pwd_with_token", link, "email pw 3")
    flavour.raises(agnost.InvalidSessionTokenError, linked, "get_user_from_db")
    flavour.call(stranger, "sign_in_with_email", EMAIL, "email pw 2")
    second = flavour.make(emulator.base_url, emulator.client_key)
    flavour.call(second, "sign_in_with_email", EMAIL, "email pw 2")

    # Change password: the old one checked; the caller's session stays, the others end.
    flavour.raises(
        agnost.InvalidCredentialsError, stranger, "change_password", "email pw 3", "not it"
    )
    session = flavour.call(stranger, "get_session")
    assert flavour.call(stranger, "change_password", "email pw 3", "email pw 2") is None
    assert flavour.call(stranger, "get_session") == session
    assert flavour.call(stranger, "get_user_from_db").email == EMAIL
    flavour.raises(agnost.InvalidSessionTokenError, second, "get_user_from_db")

    # Change email: answered unchanged, confirmed by a link to the new address.
    user = flavour.call(stranger, "change_email", "email pw 3", NEW_EMAIL)
    assert user.email == EMAIL
    change = _last(emulator, NEW_EMAIL, "email_change")
    flavour.call(stranger, "get_auth_grant", change.link)
    assert flavour.call(stranger, "get_user_from_db").email == NEW_EMAIL
    assert flavour.call(stranger, "get_user").email == NEW_EMAIL  # the grant stored it

    # Taken addresses, malformed ones, unknown ones.
    flavour.call(client, "sign_up_with_email", "bo@example.com", PASSWORD)
    flavour.raises(agnost.NotUniqueError, stranger, "change_email", "email pw 3", "bo@example.com")
    flavour.raises(agnost.ValidationError, stranger, "send_magic_link_email", "not an email")
    for name in ("send_magic_link_email", "send_reset_pwd_email", "resend_verification_email"):
        assert flavour.call(stranger, name, "nobody@example.com") is None
    assert emulator.outbox(recipient="nobody@example.com") == []


@pytest.mark.parametrize("name", ["change_password", "change_email", "change_phone"])
def test_changes_without_a_session_are_refused_by_the_emulator(
    flavour: Flavour, agnost_emulator: Emulator, name: str
) -> None:
    client = flavour.make(agnost_emulator.base_url, agnost_emulator.client_key)
    flavour.raises(agnost.MissingSessionTokenError, client, name, PASSWORD, "x@example.com")


def test_expired_codes_and_links_are_refused(flavour: Flavour, agnost_emulator: Emulator) -> None:
    emulator = agnost_emulator
    client = flavour.make(emulator.base_url, emulator.client_key)
    flavour.call(client, "sign_up_with_phone", PHONE, PASSWORD)
    flavour.call(client, "sign_up_with_email", EMAIL, PASSWORD)
    emulator.configure(code_lifetime=0, access_token_lifetime=0)

    flavour.call(client, "send_sign_in_code", PHONE)
    code = _last(emulator, PHONE, "sign_in_code").code
    flavour.raises(agnost.InvalidCodeError, client, "sign_in_with_code", PHONE, code)
    flavour.call(client, "send_reset_pwd_email", EMAIL)
    link = _last(emulator, EMAIL, "password_reset").link
    flavour.raises(agnost.AccessTokenError, client, "reset_pwd_with_token", link, "email pw 2")
