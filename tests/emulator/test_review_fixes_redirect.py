"""The redirectUrl setting is checked as a URL when it is set, not found broken when a link is
made (issue 8 review, E6): a control character, a space, a bad host or port used to be
accepted and later made the OAuth redirect a 500, a dropped connection or a split header."""

from __future__ import annotations

import pytest

from agnost.emulator import ConfigError, Emulator

from .conftest import Api

REFUSED = [
    "http://x/\r\nSet-Cookie: a=b",
    "http://x/\x00",
    "http://x/\t",
    "http://x y/",
    "http://[::1/",
    "http://[zz]/",
    "https://",
    "http://x:99999/",
    "http://x:0/",
    "http://x:/",
    "http://x:abc/",
    "http://user:secret@x/",
    "http://x\\y/",
    "http://bücher.example/",
    "ftp://x/",
]
ACCEPTED = [
    "http://localhost:3000/auth/callback",
    "https://app.test/cb?from=emulator#done",
    "http://[::1]:8080/",
    "http://127.0.0.1:5173",
    "https://xn--bcher-kva.example/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_an_unusable_redirect_url_is_refused_and_nothing_changes(api: Api, url: str) -> None:
    answer = api.http.patch(api.base_url + "/_emulator/config", json={"redirectUrl": url})

    assert answer.status_code == 400, url
    assert "redirectUrl" in answer.text
    assert api.emulator.config["redirectUrl"] is None
    # The OAuth redirect still works, to the emulator's own page.
    location = api.get("/_auth/github?email=ada@example.com").headers["Location"]
    assert location.startswith(api.base_url + "/_emulator/redirect?")


@pytest.mark.parametrize("url", REFUSED[:4])
def test_an_unusable_redirect_url_is_refused_at_construction(url: str) -> None:
    with pytest.raises(ConfigError, match="redirect_url"):
        Emulator(redirect_url=url)


@pytest.mark.parametrize("url", ACCEPTED)
def test_a_usable_redirect_url_is_used_in_the_oauth_redirect(api: Api, url: str) -> None:
    api.emulator.configure(redirect_url=url)

    answer = api.get("/_auth/github?email=ada@example.com")

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(url.split("#")[0].split("?")[0])
    assert "access_token=" in answer.headers["Location"]
