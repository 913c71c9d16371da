"""Appearance (issue 13): Settings chooses the same theme as the system, light or dark; a
choice overrides the system, survives a reload (it is in place from the first frame: no
flash of the other theme) and logging out, and axe-core finds nothing serious in either
theme chosen against the system's."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_web_a11y import DESKTOP, Audit, Scene, walk
from tests.e2e.test_web_client import T, person
from tests.support import ServerProcess

PANEL = {"light": "rgb(255, 255, 255)", "dark": "rgb(17, 27, 33)"}  # --panel: the app's own
BAR = {"light": "#0f766e", "dark": "#202c33"}  # <meta name="theme-color">
# The theme when the parser reaches <body> (nothing of the page can be drawn before), and
# what the first frame draws: set before the first paint, no flash of the other theme
FIRST_FRAME = """new MutationObserver((records, observer) => {
  if (!document.body) return;
  observer.disconnect();
  const root = document.documentElement;
  window.firstFrame = { theme: root.dataset.theme };
  requestAnimationFrame(() => Object.assign(window.firstFrame, {
    scheme: getComputedStyle(root).colorScheme,
    background: getComputedStyle(document.body).backgroundColor,
  }));
}).observe(document, { childList: true, subtree: true });"""
FIRST_BACKGROUND = {"light": "rgb(240, 242, 245)", "dark": "rgb(11, 20, 26)"}  # --bg


def choose(page: Page, choice: str) -> None:
    """Settings, Appearance: `choice` ('system', 'light' or 'dark'), then Settings closes."""
    page.get_by_role("button", name="Settings").click()
    page.get_by_label("Appearance").select_option(choice)
    page.locator("#panel-settings").get_by_role("button", name="Cancel").click()


def assert_theme(page: Page, theme: str) -> None:
    expect(page.locator("#app")).to_have_css("background-color", PANEL[theme], timeout=T)
    expect(page.locator("html")).to_have_css("color-scheme", theme)
    expect(page.locator('meta[name="theme-color"]')).to_have_attribute("content", BAR[theme])


def reload_and_assert_first_frame(page: Page, theme: str) -> None:
    page.reload()
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    assert page.evaluate("window.firstFrame") == {
        "theme": theme,
        "scheme": theme,
        "background": FIRST_BACKGROUND[theme],
    }
    assert_theme(page, theme)


def test_a_chosen_theme_overrides_the_system_and_survives_a_reload(
    browser: Browser, web_server: ServerProcess
) -> None:
    page, username = person(browser, web_server.url, "dee", color_scheme="light")
    page.add_init_script(FIRST_FRAME)
    assert_theme(page, "light")
    choose(page, "dark")  # on a light system
    assert_theme(page, "dark")
    reload_and_assert_first_frame(page, "dark")
    page.get_by_role("button", name="Settings").click()
    expect(page.get_by_label("Appearance")).to_have_value("dark")
    page.locator("#panel-settings").get_by_role("button", name="Cancel").click()
    page.emulate_media(color_scheme="dark")
    choose(page, "light")  # on a dark system
    assert_theme(page, "light")
    reload_and_assert_first_frame(page, "light")
    # the choice belongs to the browser: the login screen keeps it after logging out
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("dialog").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("tab", name="Log in")).to_be_visible(timeout=T)
    expect(page.locator(".auth-card")).to_have_css("background-color", PANEL["light"])
    assert username
    page.context.close()


def test_the_system_choice_follows_the_system(browser: Browser, web_server: ServerProcess) -> None:
    page, _ = person(browser, web_server.url, "sys", color_scheme="dark")
    assert_theme(page, "dark")  # nothing chosen yet: the system's
    choose(page, "dark")
    choose(page, "system")
    for scheme in ("light", "dark", "light"):
        page.emulate_media(color_scheme=scheme)
        assert_theme(page, scheme)
    page.context.close()


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_axe_finds_nothing_serious_in_a_theme_chosen_against_the_system(
    browser: Browser, web_server: ServerProcess, theme: str
) -> None:
    system = "light" if theme == "dark" else "dark"
    look: dict[str, Any] = {**DESKTOP, "color_scheme": system}
    scene = Scene(browser, web_server.url, **look)
    choose(scene.page, theme)
    assert_theme(scene.page, theme)
    audit = Audit(scene.page)
    walk(scene, audit.check)
    assert len(audit.screens) == 8
    assert not audit.found, "\n".join(audit.found)
    scene.page.context.close()
