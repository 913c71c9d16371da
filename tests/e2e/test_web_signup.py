"""Signing up and logging in as people do it (issue 13): Enter does what the screen says,
names are taken the way people type them, and refusals read as sentences."""

from __future__ import annotations

import uuid

import httpx
from playwright.sync_api import Browser, expect

from tests.e2e.test_web_client import PASSWORD, T
from tests.support import ServerProcess


def test_enter_signs_up_in_sign_up_mode_and_names_are_normalised(
    browser: Browser, web_server: ServerProcess
) -> None:
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.goto(web_server.url)
    name = f"Ann{uuid.uuid4().hex[:6]}"
    page.get_by_role("tab", name="Sign up").click()
    expect(page.get_by_role("tab", name="Sign up")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("Display name")).to_be_visible()
    page.get_by_label("Username", exact=True).fill(f" @{name} ")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password", exact=True).press("Enter")  # not a click: Enter
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    found = httpx.get(f"{web_server.url}/v1/users", params={"username": name.lower()},
                      headers={"Authorization": f"Bearer {_token(page)}"})  # fmt: skip
    assert found.status_code == 200 and found.json()["username"] == name.lower()


def test_enter_logs_in_in_log_in_mode_and_refusals_are_sentences(
    browser: Browser, web_server: ServerProcess
) -> None:
    page = browser.new_context().new_page()
    page.goto(web_server.url)
    expect(page.get_by_label("Display name")).to_be_hidden()  # log in is the default
    page.get_by_label("Username", exact=True).fill(f"nobody{uuid.uuid4().hex[:6]}")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password", exact=True).press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible(timeout=T)
    text = alert.inner_text()
    assert text[0].isupper(), text
    # a username the server refuses, in sign-up mode: its rule, as a sentence
    page.get_by_role("tab", name="Sign up").click()
    page.get_by_label("Username", exact=True).fill("x")
    page.get_by_label("Password", exact=True).press("Enter")
    expect(alert).to_contain_text("Username must be", timeout=T)
    # the arrow keys move between the tabs
    page.get_by_role("tab", name="Sign up").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Log in")).to_be_focused()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def _token(page: object) -> str:
    auth = page.evaluate(  # type: ignore[attr-defined]
        "() => { for (const k of Object.keys(localStorage)) {"
        " const v = localStorage.getItem(k); if (v && v.includes('token')) return v; } }"
    )
    import json  # noqa: PLC0415

    return str(json.loads(auth)["token"])
