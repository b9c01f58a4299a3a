"""The official JavaScript client (altogic@2.3.9, unchanged) completes each of the 13 auth flows
of issue 11 against the emulator, reading its mail and SMS from the outbox
(``GET /_emulator/outbox``): phone confirmation, sign-in codes, reset by SMS code, magic links,
reset by email link, resending the confirmation, and changing password, email and phone.
The script asserts each step; this test checks what it reported."""

from __future__ import annotations

import pytest

from agnost.emulator import Emulator

from .conftest import OfficialClient

pytestmark = pytest.mark.interop

#: The emulator's settings for each part of the script (PATCH /_emulator/config, camelCase).
SETTINGS = {
    "phone": {"phoneConfirmation": True, "emailConfirmation": False, "maxCodeAttempts": 3},
    "email": {"emailConfirmation": True},
    "expired": {"codeLifetime": 0, "accessTokenLifetime": 0},
}
#: The outbox kinds of each message the script reads.
KINDS = {
    "phoneVerification": "phone_verification",
    "signInCode": "sign_in_code",
    "resetCode": "password_reset_code",
    "emailVerification": "email_verification",
    "magicLink": "magic_link",
    "resetLink": "password_reset",
    "emailChange": "email_change",
}
JS_NAMES = {
    "signInWithCode",
    "changePassword",
    "changeEmail",
    "changePhone",
    "verifyPhone",
    "resendVerificationEmail",
    "resendVerificationCode",
    "sendMagicLinkEmail",
    "sendResetPwdEmail",
    "sendResetPwdCode",
    "sendSignInCode",
    "resetPwdWithToken",
    "resetPwdWithCode",
}


def test_the_official_client_completes_each_flow_through_the_outbox(
    agnost_emulator: Emulator, official_client: OfficialClient
) -> None:
    report = official_client(
        "auth-flows",
        agnost_emulator.base_url,
        agnost_emulator.client_key,
        {"settings": SETTINGS, "kinds": KINDS},
    )

    # Every one of the 13 succeeded (the script asserted each step on the way).
    assert set(report["calls"]) == JS_NAMES
    # Phone confirmation: no sign-in before it; a wrong, replaced or reused code is refused.
    assert report["unverifiedSignIn"] == ["phone_not_verified"]
    assert report["wrongCode"] == ["invalid_code"]
    assert report["replacedCode"] == ["invalid_code"]
    assert report["reusedVerifyCode"] == ["invalid_code"]
    # Sign-in codes are single-use and have bounded attempts: the last wrong try and every
    # later one, the right code included, are refused as too many.
    assert report["reusedSignInCode"] == ["invalid_code"]
    assert report["attempts"] == ["invalid_code", "invalid_code", "too_many_attempts"]
    assert report["rightCodeAfterAttempts"] == ["too_many_attempts"]
    # A reset ends the user's sessions; the old password no longer signs in.
    assert report["sessionAfterCodeReset"] == ["invalid_session_token"]
    assert report["sessionAfterLinkReset"] == ["invalid_session_token"]
    assert report["oldPhonePassword"] == ["invalid_credentials"]
    assert report["reusedResetToken"] == ["invalid_access_token"]
    assert report["reusedMagicLink"] == ["invalid_access_token"]
    # Changes need the current password; a password change keeps only the caller's session.
    assert report["wrongCurrentPassword"] == ["invalid_credentials"]
    assert report["wrongOldPassword"] == ["invalid_credentials"]
    assert report["ownSessionAfterChange"] is True
    assert report["otherSessionAfterChange"] == ["invalid_session_token"]
    # With confirmation on, a change answers the user unchanged until the new address or
    # number is confirmed through the message sent to it.
    assert report["changedPhoneAnswer"] == "+15550001234"
    assert report["phoneAfterChange"] == "+15559990000"
    assert report["changedEmailAnswer"] == "ada@example.com"
    assert report["emailAfterChange"] == "ada.new@example.com"
    # Nothing is sent for accounts that do not exist, and the calls said nothing about it.
    assert report["unknownMessages"] == 0
    # Expired codes and links; malformed numbers and addresses.
    assert report["expiredCode"] == ["invalid_code"]
    assert report["expiredResetToken"] == ["invalid_access_token"]
    assert report["malformedPhone"] == ["validation_error"]
    assert report["malformedEmail"] == ["validation_error"]
