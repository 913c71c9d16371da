"""Settings in the web client: the list of my devices, logging one out from another
(its tab falls back to the login screen at once), who may add me to groups; and the app
runs under its Content-Security-Policy without a single violation."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_web_client import PASSWORD, T, person
from tests.support import ServerProcess


def log_in(browser: Browser, url: str, username: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(url)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    return page


def csp_watch(page: Page, seen: list[str]) -> None:
    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen.append(message.text)

    page.on("console", on_console)


def test_log_out_another_device_from_settings(browser: Browser, web_server: ServerProcess) -> None:
    violations: list[str] = []
    first, username = person(browser, web_server.url, "dev")
    csp_watch(first, violations)
    second = log_in(browser, web_server.url, username)
    csp_watch(second, violations)
    first.get_by_role("button", name="Settings").click()
    devices = first.get_by_role("list", name="Your devices").get_by_role("listitem")
    expect(devices).to_have_count(2, timeout=T)
    expect(devices.filter(has_text="This device")).to_have_count(1)
    first.on("dialog", lambda dialog: dialog.accept())
    first.get_by_role("button", name="Log out Web").click()
    expect(devices).to_have_count(1, timeout=T)
    # the other tab is told at once (its socket closes with 4002) and asks to log in again
    expect(second.get_by_role("button", name="Log in")).to_be_visible(timeout=T)
    # who may add me to groups
    first.get_by_label("Who can add me to groups").select_option("contacts")
    first.get_by_role("button", name="Save", exact=True).click()
    expect(first.get_by_text("Only your contacts can add you to groups.")).to_be_visible(timeout=T)
    first.reload()
    expect(first.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    first.get_by_role("button", name="Settings").click()
    expect(first.get_by_label("Who can add me to groups")).to_have_value("contacts")
    assert violations == []
    first.context.close()
    second.context.close()
