"""The 13 calls of issue 11 through both agnost flavours against the emulator, each flow
completed through the outbox, and the emulator's refusals arriving as agnost's classes."""

from __future__ import annotations

import pytest

import agnost
import agnost_async
from agnost.emulator import Emulator

PASSWORD = "correct horse"
PHONE = "+15555550100"
NEW_PHONE = "+15555550177"
EMAIL = "ada@example.com"
NEW_EMAIL = "ada.new@example.com"


def client(emulator: Emulator) -> agnost.Client:
    return agnost.create_client(
        emulator.base_url, emulator.client_key, storage=agnost.MemoryStore()
    )


def async_client(emulator: Emulator) -> agnost_async.AsyncClient:
    return agnost_async.create_client(
        emulator.base_url, emulator.client_key, storage=agnost_async.MemoryStore()
    )


def newest(emulator: Emulator, kind: str, recipient: str) -> agnost.emulator.OutboxMessage:
    messages = emulator.outbox(recipient=recipient, kind=kind)
    assert messages, f"no {kind} to {recipient}"
    return messages[-1]


def other(code: str) -> str:
    return "".join(str((int(c) + 1) % 10) for c in code)


def test_the_phone_flows_through_agnost(agnost_emulator: Emulator) -> None:
    emu = agnost_emulator
    emu.configure(phone_confirmation=True, max_code_attempts=2)
    with client(emu) as app, client(emu) as other_app:
        assert app.auth.sign_up_with_phone(PHONE, PASSWORD).session is None
        with pytest.raises(agnost.PhoneNotVerifiedError):
            other_app.auth.sign_in_with_phone(PHONE, PASSWORD)
        first = newest(emu, "phone_verification", PHONE)
        with pytest.raises(agnost.InvalidCodeError):
            app.auth.verify_phone(PHONE, other(first.code or ""))
        app.auth.resend_verification_code(PHONE)
        code = newest(emu, "phone_verification", PHONE).code or ""
        verified = app.auth.verify_phone(PHONE, code)
        assert verified.session is not None and verified.user.phone_verified is True
        assert app.auth.get_session() == verified.session
        with pytest.raises(agnost.InvalidCodeError):
            app.auth.verify_phone(PHONE, code)

        app.auth.send_sign_in_code(PHONE)
        code = newest(emu, "sign_in_code", PHONE).code or ""
        with pytest.raises(agnost.InvalidCodeError):
            other_app.auth.sign_in_with_code(PHONE, other(code))
        with pytest.raises(agnost.TooManyAttemptsError):  # the second and last try
            other_app.auth.sign_in_with_code(PHONE, other(code))
        with pytest.raises(agnost.TooManyAttemptsError):
            other_app.auth.sign_in_with_code(PHONE, code)
        app.auth.send_sign_in_code(PHONE)
        code = newest(emu, "sign_in_code", PHONE).code or ""
        grant = other_app.auth.sign_in_with_code(PHONE, code)
        assert other_app.auth.get_session() == grant.session

        app.auth.send_reset_pwd_code(PHONE)
        code = newest(emu, "password_reset_code", PHONE).code or ""
        app.auth.reset_pwd_with_code(PHONE, code, "phone pw 2")
        with pytest.raises(agnost.InvalidSessionTokenError):
            other_app.auth.get_user_from_db()  # a reset signs out everywhere
        app.auth.sign_in_with_phone(PHONE, "phone pw 2")

        with pytest.raises(agnost.InvalidCredentialsError):
            app.auth.change_phone("not it", NEW_PHONE)
        with pytest.raises(agnost.ValidationError):
            app.auth.change_phone("phone pw 2", "not a phone")
        assert app.auth.change_phone("phone pw 2", NEW_PHONE).phone == PHONE  # not yet
        code = newest(emu, "phone_verification", NEW_PHONE).code or ""
        assert app.auth.verify_phone(NEW_PHONE, code).user.phone == NEW_PHONE
        assert app.auth.get_user_from_db().phone == NEW_PHONE

        app.auth.send_sign_in_code("+15555550199")  # nobody's: the same answer
        app.auth.send_reset_pwd_code("+15555550199")
        app.auth.resend_verification_code("+15555550199")
        assert emu.outbox(recipient="+15555550199") == []


async def test_the_email_flows_through_agnost_async(agnost_emulator: Emulator) -> None:
    emu = agnost_emulator
    emu.configure(email_confirmation=True)
    async with async_client(emu) as app, async_client(emu) as other_app:
        assert (await app.auth.sign_up_with_email(EMAIL, PASSWORD)).session is None
        await app.auth.resend_verification_email(EMAIL)
        assert len(emu.outbox(recipient=EMAIL, kind="email_verification")) == 2
        link = newest(emu, "email_verification", EMAIL).link or ""
        assert (await app.auth.get_auth_grant(link)).user.email_verified is True

        await app.auth.send_magic_link_email(EMAIL)
        magic = newest(emu, "magic_link", EMAIL).link or ""
        grant = await other_app.auth.get_auth_grant(magic)
        assert await other_app.auth.get_session() == grant.session
        with pytest.raises(agnost.AccessTokenError):
            await other_app.auth.get_auth_grant(magic)

        await app.auth.send_reset_pwd_email(EMAIL)
        reset = newest(emu, "password_reset", EMAIL).link or ""
        await app.auth.reset_pwd_with_token(reset, "email pw 2")
        with pytest.raises(agnost.AccessTokenError):
            await app.auth.reset_pwd_with_token(reset, "email pw 3")
        with pytest.raises(agnost.InvalidSessionTokenError):
            await other_app.auth.get_user_from_db()

        await app.auth.sign_in_with_email(EMAIL, "email pw 2")
        await other_app.auth.sign_in_with_email(EMAIL, "email pw 2")
        with pytest.raises(agnost.InvalidCredentialsError):
            await app.auth.change_password("email pw 3", "not it")
        await app.auth.change_password("email pw 3", "email pw 2")
        assert (await app.auth.get_user_from_db()).email == EMAIL  # this session stays
        with pytest.raises(agnost.InvalidSessionTokenError):
            await other_app.auth.get_user_from_db()  # the other one does not

        assert (await app.auth.change_email("email pw 3", NEW_EMAIL)).email == EMAIL  # not yet
        change = newest(emu, "email_change", NEW_EMAIL).link or ""
        assert (await app.auth.get_auth_grant(change)).user.email == NEW_EMAIL
        assert (await app.auth.get_user_from_db()).email == NEW_EMAIL

        await app.auth.send_magic_link_email("nobody@example.com")  # the same answer
        await app.auth.send_reset_pwd_email("nobody@example.com")
        await app.auth.resend_verification_email("nobody@example.com")
        assert emu.outbox(recipient="nobody@example.com") == []
        with pytest.raises(agnost.ValidationError):
            await app.auth.send_magic_link_email("not an email")


def test_taken_addresses_arrive_as_not_unique(agnost_emulator: Emulator) -> None:
    with client(agnost_emulator) as app, client(agnost_emulator) as bo:
        app.auth.sign_up_with_email(EMAIL, PASSWORD)
        bo.auth.sign_up_with_email("bo@example.com", PASSWORD)
        with pytest.raises(agnost.NotUniqueError):
            app.auth.change_email(PASSWORD, "bo@example.com")
