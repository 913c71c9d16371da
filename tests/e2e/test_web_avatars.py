"""Profile pictures in the web client, in a real browser against a real server: set in
Settings with the keyboard only, shown in my header (and live in my other tab), shown to
the other person in their conversation row, chat header and group members after a reload
(one fetch for them all), removed: initials again. axe finds nothing serious on Settings
with the picture control."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.test_web_a11y import Audit
from tests.e2e.test_web_client import T, conversation, open_conversation, person
from tests.e2e.test_web_defects import Rest
from tests.support import ServerProcess


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (480, 360), (240, 160, 20)).save(out, "JPEG", quality=90)
    return out.getvalue()


def focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def tab_to(page: Page, element_id: str, most: int = 30) -> None:
    """Tab (keyboard only) until the element with that id has focus."""
    for _ in range(most):
        if focused_id(page) == element_id:
            return
        page.keyboard.press("Tab")
    assert focused_id(page) == element_id


def shows_picture(avatar: Locator) -> None:
    """The avatar holds a decoded picture (from a blob: URL, alt empty) over its initials."""
    img = avatar.locator("img")
    expect(img).to_have_count(1, timeout=T)
    expect(img).to_have_attribute("alt", "")
    avatar.page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle(), timeout=T
    )
    assert str(img.get_attribute("src")).startswith("blob:")


def shows_initials(avatar: Locator, initials: str) -> None:
    expect(avatar.locator("img")).to_have_count(0, timeout=T)
    expect(avatar).to_have_text(initials, timeout=T)


def test_a_profile_picture_set_and_removed_with_the_keyboard(
    browser: Browser, web_server: ServerProcess
) -> None:
    url = web_server.url
    page, username = person(browser, url, "pic")
    me = Rest.of(page, url)
    other_tab = page.context.new_page()  # another device of mine (each tab is one)
    other_tab.goto(url)
    expect(other_tab.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    bob_page, _ = person(browser, url, "bob")
    bob = Rest.of(bob_page, url)
    cid = bob.direct(me.user_id)
    bob.post(cid, "hi there")
    bob.call("POST", "/groups", {"name": "Crew", "members": [me.user_id]})
    initials = username[:1].upper()
    expect(conversation(bob_page, username)).to_be_visible(timeout=T)
    shows_initials(conversation(bob_page, username).locator(".avatar"), initials)

    # Settings, the file input and its label, all by keyboard
    page.locator("#btn-settings").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#panel-settings")).to_be_visible(timeout=T)
    expect(page.get_by_label("Choose a picture (JPEG, PNG, WebP or GIF)")).to_be_visible()
    expect(page.get_by_role("button", name="Remove picture")).to_be_hidden()
    tab_to(page, "pp-file")
    with page.expect_file_chooser(timeout=T) as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(files=[{"name": "me.jpg", "mimeType": "image/jpeg", "buffer": photo()}])
    expect(page.locator("#pp-status")).to_have_text("Profile picture saved.", timeout=T)
    assert focused_id(page) == "pp-file"  # focus stays where the choice was made
    shows_picture(page.locator("#me-avatar"))
    shows_picture(page.locator("#pp-preview"))
    expect(page.get_by_role("button", name="Remove picture")).to_be_visible()
    picture = str(me.call("GET", "/me")["avatar"])
    # my other tab hears it live (a `profile` frame), no reload
    shows_picture(other_tab.locator("#me-avatar"))

    audit = Audit(page)
    audit.check("Settings with a profile picture")
    assert not audit.found, "\n".join(audit.found)

    # bob, after a reload: my row, my chat's header and the group's members show it,
    # fetched once for all of them
    fetched: list[str] = []
    bob_page.on("request", lambda r: fetched.append(r.url) if "/v1/media/" in r.url else None)
    bob_page.reload()
    row = conversation(bob_page, username)
    shows_picture(row.locator(".avatar"))
    open_conversation(bob_page, username)
    shows_picture(bob_page.locator("#chat-avatar"))
    open_conversation(bob_page, "Crew")
    shows_initials(bob_page.locator("#chat-avatar"), "C")  # a group keeps its initials
    bob_page.get_by_role("button", name="Group info").click()
    member = bob_page.locator("#gi-members li").filter(has_text=f"@{username}")
    shows_picture(member.locator(".avatar"))
    assert fetched == [f"{url}/v1/media/{picture}/thumbnail"], fetched

    # removed, by keyboard: initials again here, and for bob after a reload
    tab_to(page, "pp-remove")
    page.keyboard.press("Enter")
    expect(page.locator("#pp-status")).to_have_text("Profile picture removed.", timeout=T)
    expect(page.get_by_role("button", name="Remove picture")).to_be_hidden()
    assert focused_id(page) == "pp-file"  # not lost to <body> with the button
    shows_initials(page.locator("#me-avatar"), initials)
    shows_initials(other_tab.locator("#me-avatar"), initials)
    assert me.call("GET", "/me")["avatar"] is None
    bob_page.reload()
    shows_initials(conversation(bob_page, username).locator(".avatar"), initials)
    for p in (page, bob_page):
        p.context.close()


def test_a_refused_picture_says_why_and_keeps_the_initials(
    browser: Browser, web_server: ServerProcess
) -> None:
    page, username = person(browser, web_server.url, "pdf")
    page.get_by_role("button", name="Settings").click()
    files: list[dict[str, Any]] = [
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture at all"}
    ]
    page.locator("#pp-file").set_input_files(files=files)
    expect(page.locator("#app-alert")).to_contain_text(
        "That file cannot be a profile picture", timeout=T
    )
    shows_initials(page.locator("#me-avatar"), username[:1].upper())
    expect(page.get_by_role("button", name="Remove picture")).to_be_hidden()
    page.context.close()
