"""The env URL check (protocol.md §1, issue 8 item 7): unusable URLs are refused when the
client is made, saying why and never quoting the URL; usable ones get one normal form."""

from __future__ import annotations

import pytest

import agnost
from agnost._core.urls import base_url

REFUSED = {
    "port-too-large": ("http://127.0.0.1:99999/e:abc", "port"),
    "port-not-a-number": ("http://127.0.0.1:abc/e:abc", "port"),
    "port-zero": ("http://127.0.0.1:0", "port"),
    "port-empty": ("http://127.0.0.1:/e", "port"),
    "ipv6-unclosed": ("http://[::1", "host"),
    "ipv6-not-an-address": ("http://[not-v6]:80/", "host"),
    "no-host": ("http:///e:abc", "host"),
    "host-with-space": ("http://a b.example/", "host"),
    "host-non-ascii": ("https://bücher.example/", "xn--"),
    "nul-in-path": ("http://127.0.0.1/e\x00x", "control"),
    "newline-in-path": ("http://127.0.0.1/e\r\nX-Injected: 1", "control"),
    "query": ("https://host.example/e:abc?x=1", "?query"),
    "fragment": ("https://host.example/e:abc#top", "#fragment"),
    "userinfo": ("http://user:s3cret-pw@host.example/e", "password"),
    "user-only": ("http://user@host.example/e", "password"),
    "bad-escape": ("http://host.example/e%zz", "%XX"),
}


@pytest.mark.parametrize(("url", "why"), REFUSED.values(), ids=REFUSED.keys())
def test_an_unusable_env_url_is_refused_saying_why(url: str, why: str) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        base_url(url)

    assert info.value.code == "invalid_env_url"
    assert why in str(info.value)
    assert "s3cret" not in str(info.value) and "user" not in str(info.value).split("(")[0][:8]


@pytest.mark.parametrize(
    "url", ["", "   ", "host.example/e", "ftp://host/e", "//host/e", None, 42]
)
def test_a_missing_scheme_is_missing_required_value(url: object) -> None:
    with pytest.raises(agnost.InvalidArgumentError) as info:
        base_url(url)

    assert info.value.code == "missing_required_value"
    assert "scheme is missing" in str(info.value)


NORMAL = {
    "trimmed-one-slash-removed": (" https://host.example/e:abc/ ", "https://host.example/e:abc"),
    "no-path": ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    "ipv6": ("http://[::1]:8080/e", "http://[::1]:8080/e"),
    "space-encoded": ("http://h.example/my env", "http://h.example/my%20env"),
    "non-ascii-utf8": ("http://h.example/é/x", "http://h.example/%C3%A9/x"),
    "escape-kept": ("http://h.example/a%2Fb%20c", "http://h.example/a%2Fb%20c"),
    "unreserved-escape-decoded": ("http://h.example/%7Euser%41", "http://h.example/~userA"),
    "reserved-kept": ("http://h.example/e:abc;v=1@x", "http://h.example/e:abc;v=1@x"),
    "quotes-encoded": ('http://h.example/a"<b>', "http://h.example/a%22%3Cb%3E"),
}


@pytest.mark.parametrize(("url", "expected"), NORMAL.values(), ids=NORMAL.keys())
def test_a_usable_env_url_gets_one_normal_form(url: str, expected: str) -> None:
    assert base_url(url) == expected
    if not expected.endswith("/"):  # a fixpoint: normalising twice changes nothing
        assert base_url(expected) == expected


def test_the_client_refuses_at_construction() -> None:
    with pytest.raises(agnost.InvalidArgumentError):
        agnost.create_client("http://127.0.0.1:99999", "key", storage=agnost.MemoryStore())
