"""What people reach for every day (issue 13): nothing that cannot be undone happens
without asking, and names made of emoji keep whole initials."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.e2e.test_web_client import T, person
from tests.support import ServerProcess


def test_log_out_asks_first(browser: Browser, web_server: ServerProcess) -> None:
    page, _ = person(browser, web_server.url, "lo")
    logout = page.get_by_role("button", name="Log out")
    logout.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Log out?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(logout).to_be_focused()  # focus goes back to what opened it
    logout.click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(logout).to_be_visible()  # still logged in
    logout.click()
    page.get_by_role("dialog").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=T)
    page.context.close()


def test_leaving_a_group_asks_first(browser: Browser, web_server: ServerProcess) -> None:
    (ann, _), (ben, ben_name) = [person(browser, web_server.url, p) for p in ("ann", "ben")]
    ann.get_by_role("button", name="New group").click()
    ann.get_by_label("Group name").fill("Climbers 🧗")
    ann.get_by_label("Members (usernames, comma separated)").fill(ben_name)
    ann.get_by_role("button", name="Create group").click()
    expect(ann.get_by_label("Message", exact=True)).to_be_visible(timeout=T)
    ann.locator("#btn-groupinfo").click()
    leave = ann.get_by_role("button", name="Leave group")
    leave.click()
    dialog = ann.get_by_role("dialog")
    expect(dialog).to_contain_text("Leave “Climbers 🧗”?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(ann.get_by_label("Message", exact=True)).to_be_visible()  # still in it
    leave.click()
    ann.get_by_role("dialog").get_by_role("button", name="Leave group").click()
    expect(ann.get_by_label("Message", exact=True)).to_be_hidden(timeout=T)  # left
    for page in (ann, ben):
        page.context.close()


def test_initials_are_whole_characters(browser: Browser, web_server: ServerProcess) -> None:
    page = browser.new_context().new_page()
    page.goto(web_server.url)
    got = page.evaluate(
        "async () => { const f = await import('/lib/format.js');"
        " return ['👨‍👩‍👧 Fam 🇫🇷', 'ann lee', '🧗 Climbers', '❤️‍🔥x'].map(f.initials); }"
    )
    assert got == ["👨‍👩‍👧🇫🇷", "AL", "🧗C", "❤️‍🔥"]
    page.context.close()


def test_escape_closes_what_is_open_and_focus_goes_back(
    browser: Browser, web_server: ServerProcess
) -> None:
    (ann, _), (ben, ben_name) = [person(browser, web_server.url, p) for p in ("ann", "ben")]
    for button, field in (("New chat", "Username to chat with"), ("New group", "Group name")):
        ann.get_by_role("button", name=button).click()
        expect(ann.get_by_label(field)).to_be_focused()
        ann.keyboard.press("Escape")
        expect(ann.get_by_label(field)).to_be_hidden()
        expect(ann.get_by_role("button", name=button)).to_be_focused()
    ann.get_by_role("button", name="New group").click()
    ann.get_by_label("Group name").fill("esc")
    ann.get_by_label("Members (usernames, comma separated)").fill(ben_name)
    ann.get_by_role("button", name="Create group").click()
    expect(ann.get_by_label("Message", exact=True)).to_be_visible(timeout=T)
    ann.locator("#btn-groupinfo").click()
    expect(ann.locator("#group-info")).to_be_visible()
    ann.keyboard.press("Escape")
    expect(ann.locator("#group-info")).to_be_hidden()
    expect(ann.locator("#btn-groupinfo")).to_be_focused()
    for page in (ann, ben):
        page.context.close()
