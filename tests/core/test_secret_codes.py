"""One-time codes as secrets: redacted in every form, whatever their length, but only where
one stands as a whole token (never inside a phone number or an id); a token's rule wins."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from agnost._core.http import Response, Secrets, excerpt


@pytest.mark.parametrize("code", ["123456", "42", "7", "ABC-123", "12 34"])
def test_a_code_is_redacted_wherever_it_stands_alone(code: str) -> None:
    secrets = Secrets(codes=(code,))
    for text in (code, f"code {code} is wrong", f"({code})", f'"code":"{code}"'):
        shown = secrets.redact(text)
        assert code not in shown, text
        assert "[redacted]" in shown


def test_a_code_inside_a_phone_number_or_an_id_is_left_alone() -> None:
    secrets = Secrets(codes=("123456",))
    for text in ("+1555123456789", "user_123456", "id0123456", "1234567"):
        assert secrets.redact(text) == text


def test_a_code_is_found_in_its_escaped_and_encoded_forms() -> None:
    code = 'a"b c/é'
    secrets = Secrets(codes=(code,))
    forms = [json.dumps(code)[1:-1], json.dumps(code, ensure_ascii=False)[1:-1]]
    forms.append(quote(code, safe=""))
    for form in forms:
        assert form not in secrets.redact(f"got {form} here"), form


def test_a_tokens_form_wins_over_a_codes() -> None:
    # As a token, 123456 is redacted inside a word too.
    secrets = Secrets(tokens=("123456",), codes=("123456",))
    assert secrets.redact("+1555123456789") == "+1555[redacted]789"


def test_codes_and_passwords_and_tokens_together() -> None:
    secrets = Secrets(tokens=("tok-abc",), passwords=("correct horse battery",), codes=("9911",))
    text = "tok-abc correct horse battery 9911 +19911000"
    assert secrets.redact(text) == "[redacted] [redacted] [redacted] +19911000"
    assert secrets.longest == len(quote("correct horse battery", safe=""))  # its longest form


def test_an_excerpt_of_a_body_hides_the_code_and_repr_shows_none() -> None:
    secrets = Secrets(codes=("654321",))
    body = json.dumps({"message": "code 654321 expired", "phone": "+1555654321999"}).encode()
    shown = excerpt(Response(400, "Bad Request", {}, body), secrets)
    assert "654321 " not in shown and "+1555654321999" in shown
    assert "654321" not in repr(secrets)


def test_empty_codes_are_ignored() -> None:
    assert Secrets(codes=("", None)).codes == ()  # type: ignore[arg-type]
    assert Secrets(codes=("",)).redact("a b") == "a b"
