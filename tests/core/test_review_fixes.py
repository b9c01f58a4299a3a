"""Fixes of the adversarial review of issue 8, in the core: two kinds of secrets (machine-made
tokens redacted anywhere, passwords as distinctive whole tokens), excerpts that never show a
piece of a secret, bounded redaction of huge messages, stricter env URL hosts and paths,
bounded timeouts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agnost._core import errors
from agnost._core.http import Response, Secrets, Timeout, error_from_response, excerpt
from agnost._core.operations import BY_NAME, handle
from agnost._core.urls import base_url

TOKEN = "Zq9_" + "k" * 28  # a 32-character url-safe token


def answer(status: int, body: Any, reason: str = "Bad Request") -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, reason, {}, raw)


def message_error(message: str, secrets: Secrets) -> errors.APIError:
    body = {"errors": [{"origin": "client_error", "code": "x_code", "message": message}]}
    return error_from_response(answer(400, body), secrets)


# --- F1: machine-made secrets are redacted anywhere, whatever their length -------------------


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("session tok1234 not found", "tok1234"),  # short
        ("session abcdefghijklmno not found", "abcdefghijklmno"),  # letters only
        ("session_abc12345678_expired", "abc12345678"),  # glued to "_"
        ("bad éabc12345678 x", "abc12345678"),  # glued to a non-ASCII letter
        ("令牌abc12345678无效", "abc12345678"),  # glued to CJK
        ("tokenabc12345678", "abc12345678"),  # glued to a word
    ],
)
def test_a_token_is_redacted_wherever_it_stands(text: str, token: str) -> None:
    error = message_error(text, Secrets(tokens=[token]))

    assert token not in str(error)
    assert "[redacted]" in str(error)
    assert error.items[0].message == text  # the data, exact


@pytest.mark.parametrize(
    ("name", "args", "token"),
    [
        ("get_auth_grant", ("acc1",), "acc1"),
        ("sign_out", ("tgt1",), "tgt1"),
    ],
)
def test_the_tokens_of_a_call_are_redacted_whatever_their_length(
    name: str, args: tuple[str, ...], token: str
) -> None:
    op = BY_NAME[name]
    body = {"errors": [{"code": "x", "message": f"bad_{token}_here, sent s3s"}]}

    with pytest.raises(errors.APIError) as info:
        handle(op, op.build(*args), answer(400, body), sent_token="s3s", secrets=("k3y",))

    assert token not in str(info.value) and "s3s" not in str(info.value)


def test_a_short_api_key_is_redacted_from_an_excerpt() -> None:
    op = BY_NAME["get_all_sessions"]

    with pytest.raises(errors.ResponseDecodeError) as info:
        handle(
            op, op.build(), answer(502, b"<h1>key_k3y!</h1>"), sent_token=None, secrets=("k3y",)
        )

    assert "k3y" not in str(info.value)


def test_overlapping_tokens_are_both_covered() -> None:
    error = message_error("abcdefgh1xyzxyz9 end", Secrets(tokens=["abcdefgh1", "h1xyzxyz9"]))

    assert "xyz" not in str(error) and "abcd" not in str(error)


@pytest.mark.parametrize("password", ["tok1234", "abcdefghijklmno", "password"])
def test_passwords_keep_the_whole_token_and_distinctive_rule(password: str) -> None:
    text = f"session {password} not found"

    assert str(message_error(text, Secrets(passwords=[password]))).endswith(text)


# --- F2: a password of letters that are not ASCII is distinctive at 8 ------------------------


@pytest.mark.parametrize("password", ["密码密码密码密码", "pässwörd", "éééééééé"])
def test_a_non_ascii_letters_password_of_8_is_redacted(password: str) -> None:
    error = message_error(f"bad {password} x", Secrets(passwords=[password]))

    assert password not in str(error)


# --- F3: excerpts ----------------------------------------------------------------------------


def test_an_excerpt_shows_no_piece_of_a_token_cut_by_its_window_after_folding() -> None:
    window = 4 * (200 + len(TOKEN))
    body = b"<html>" + b" " * (window - 6 - (len(TOKEN) - 1)) + TOKEN.encode() + b" tail"

    text = excerpt(answer(502, body), Secrets(tokens=[TOKEN]))

    assert TOKEN[:8] not in text and "kkkk" not in text


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_an_excerpt_redacts_the_json_escaped_forms_of_a_secret(ensure_ascii: bool) -> None:
    password = 'pa"ss\\wörd-123'
    raw = json.dumps({"echo": password, "msg": "bad"}, ensure_ascii=ensure_ascii)

    text = excerpt(answer(500, raw.encode() + b" trailing"), Secrets(passwords=[password]))

    assert text == '{"echo": "[redacted]", "msg": "bad"} trailing'


def test_a_token_field_with_an_escaped_quote_is_redacted_whole() -> None:
    body = json.dumps({"password": 'a"b-secret-part'}).encode() + b"!"

    assert excerpt(answer(500, body)) == '{"password": "[redacted]"}!'


@pytest.mark.parametrize("password", ["correct  horse 9", "tab\tpass1234"])
def test_an_excerpt_redacts_a_password_whose_white_space_it_folds(password: str) -> None:
    body = f"bad {password} !".encode()

    assert excerpt(answer(500, body), Secrets(passwords=[password])) == "bad [redacted] !"


# --- F9: a huge message is clipped before it is redacted -------------------------------------


def test_a_huge_message_is_redacted_only_as_far_as_it_is_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    redact = Secrets.redact

    def recording(self: Secrets, text: str) -> str:
        seen.append(len(text))
        return redact(self, text)

    monkeypatch.setattr(Secrets, "redact", recording)
    message = "x" * (4 << 20) + TOKEN

    error = message_error(message, Secrets(tokens=[TOKEN]))

    assert max(seen) <= 300 + len(TOKEN)
    assert len(str(error)) < 700 and error.items[0].message == message


def test_a_token_cut_where_a_long_message_is_looked_at_is_not_shown() -> None:
    # Redacting copies of the token shrinks the text: the piece the cut left must not move
    # into what is shown.
    message = TOKEN * 20

    text = str(message_error(message, Secrets(tokens=[TOKEN])))

    assert "kkk" not in text and "Zq9" not in text


# --- F11: timeouts are bounded -----------------------------------------------------------------


@pytest.mark.parametrize("field", ["total", "connect"])
@pytest.mark.parametrize("value", [1e12, 10**6 + 1, float(2**63)])
def test_a_timeout_beyond_a_million_seconds_is_refused(field: str, value: float) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="1000000"):
        Timeout(**{field: value})


def test_a_timeout_of_a_million_seconds_is_accepted() -> None:
    assert Timeout(total=10**6, connect=10**6).total == 10**6


# --- F7: hosts -------------------------------------------------------------------------------

BAD_HOSTS = {
    "label-64": "http://" + "a" * 64 + ".example",
    "name-over-253": "http://" + ("a" * 63 + ".") * 4 + "example",
    "leading-hyphen": "http://-host.example",
    "trailing-hyphen": "http://host-.example",
    "numeric-trailing-dot": "http://127.0.0.1.:8080",
    "numeric-part-256": "http://256.1.1.1",
    "numeric-3-parts": "http://1.2.3",
    "numeric-5-parts": "http://1.2.3.4.5",
    "ipv6-zone": "http://[fe80::1%25eth0]:80",
    "ipv6-zone-raw": "http://[fe80::1%eth0]:80",
}


@pytest.mark.parametrize("url", BAD_HOSTS.values(), ids=BAD_HOSTS.keys())
def test_an_invalid_host_is_refused(url: str) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        base_url(url)

    assert info.value.code == "invalid_env_url" and "host" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://" + "a" * 63 + ".example",
        "http://" + ".".join(["a" * 49] * 5),  # 249 characters
        "http://host.example.",  # a DNS name may end with its root
        "http://a-b.example",
        "http://10.0.0.255",
        "http://[fe80::1]",
    ],
)
def test_a_valid_host_is_kept(url: str) -> None:
    assert base_url(url) == url


# --- F8: one env URL, one form on the wire ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://host.example/a/../x", ". or .."),
        ("http://host.example/a/./b", ". or .."),
        ("http://host.example/%2e%2e/x", ". or .."),
        ("http://host.example/a/%2E", ". or .."),
        ("http://host.example//", "empty path segment"),
        ("http://host.example/e//", "empty path segment"),
        ("http://host.example/\u2028", "separator"),
        ("http://host.example/e\u0085", "separator"),
        ("http://host.example/e\u00a0", "separator"),
        ("http://h\u00adost.example/", "separator"),
        ("http://host.example/e\ufeff", "separator"),
    ],
)
def test_an_env_url_path_both_flavours_would_send_differently_is_refused(
    url: str, why: str
) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        base_url(url)

    assert info.value.code == "invalid_env_url" and why in str(info.value)


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://host.example/%c3%a9/%3f", "http://host.example/%C3%A9/%3F"),
        ("HTTP://host.example/e", "http://host.example/e"),
        ("Https://host.example", "https://host.example"),
        ("\t http://host.example/e/\n", "http://host.example/e"),
    ],
)
def test_an_env_url_gets_one_normal_form(url: str, base: str) -> None:
    assert base_url(url) == base
    assert base_url(base) == base
