"""The browser view at ``/_emulator/ui`` in a real headless Chromium (Debian's ``chromium``
and ``chromium-driver``, which ``.ci/run`` installs): see a user, open it, sign a session
out with the button, follow an outbox link."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from agnost.emulator import Emulator

from .conftest import AUTH, PASSWORD

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

UI = "/_emulator/ui"


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _binary("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = _binary("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no chromium/chromedriver binary on PATH"
    " (Debian: apt-get install chromium chromium-driver; .ci/run installs them)",
)


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium with its own temporary profile, closed after the test."""
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    profile = tempfile.mkdtemp(prefix="agnost-ui-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        f"--user-data-dir={profile}",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root otherwise
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _post(emu: Emulator, path: str, body: dict[str, str]) -> requests.Response:
    return requests.post(
        emu.base_url + AUTH + path,
        json=body,
        headers={"X-Client-Key": emu.client_key, "User-Agent": "pytest-ui-browser"},
        timeout=10,
    )


def test_browse_sign_out_and_follow_an_outbox_link(browser: Any) -> None:
    with Emulator(database=":memory:", hash_cost=4, email_confirmation=True) as emu:
        _post(emu, "/signup-email", {"email": "ada@example.com", "password": PASSWORD})
        message = emu.outbox(recipient="ada@example.com")[-1]
        # Bob confirms his email through his link's access token (the grant): his session.
        _post(emu, "/signup-email", {"email": "bob@example.com", "password": PASSWORD})
        grant = requests.get(
            emu.base_url + AUTH + "/grant",
            params={"key": emu.outbox(recipient="bob@example.com")[-1].access_token},
            headers={"X-Client-Key": emu.client_key},
            timeout=10,
        )
        assert grant.status_code == 200, grant.text
        kept = grant.json()["session"]["token"]
        answer = _post(emu, "/signin-email", {"email": "bob@example.com", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        ended = answer.json()["session"]["token"]

        browser.get(emu.base_url + UI)
        users = browser.find_element(By.ID, "users").text
        assert "ada@example.com" in users and "bob@example.com" in users

        row = next(
            r for r in browser.find_elements(By.CSS_SELECTOR, "#users tr") if "bob@" in r.text
        )
        row.find_element(By.CSS_SELECTOR, "a.user-link").click()
        WebDriverWait(browser, 30).until(lambda d: "/_emulator/ui/users/" in d.current_url)
        assert "bob@example.com" in browser.find_element(By.TAG_NAME, "h1").text
        sessions = browser.find_elements(By.CSS_SELECTOR, "#sessions tr.session")
        assert len(sessions) == 2

        listed = requests.get(
            emu.base_url + AUTH + "/sessions",
            headers={"X-Client-Key": emu.client_key, "Session": kept},
            timeout=10,
        ).json()
        ended_print = next(s["token"] for s in listed if s["token"] != kept)[:12]
        target = browser.find_element(
            By.CSS_SELECTOR, f'#sessions tr.session[data-fingerprint="{ended_print}"]'
        )
        target.find_element(By.CSS_SELECTOR, "button.sign-out").click()
        WebDriverWait(browser, 30).until(lambda d: "?signed_out=" in d.current_url)

        assert "Signed out one session" in browser.find_element(By.CSS_SELECTOR, ".flash").text
        left = browser.find_elements(By.CSS_SELECTOR, "#sessions tr.session")
        assert len(left) == 1 and left[0].get_attribute("data-fingerprint") != ended_print
        assert browser.current_url.endswith("?signed_out=one")

        def user_status(token: str) -> int:
            return requests.get(
                emu.base_url + AUTH + "/user",
                headers={"X-Client-Key": emu.client_key, "Session": token},
                timeout=10,
            ).status_code

        assert user_status(ended) == 401
        assert user_status(kept) == 200

        browser.get(emu.base_url + UI)
        link = next(
            a
            for a in browser.find_elements(By.CSS_SELECTOR, "a.outbox-link")
            if a.get_attribute("href") == message.link
        )
        link.click()
        WebDriverWait(browser, 30).until(lambda d: d.current_url == message.link)
        assert "email-confirm" in browser.find_element(By.TAG_NAME, "body").text
