"""Tools on an open chat's messages (issue 13): a message's menu (Copy text, Copy link,
Info, by mouse, right click or keyboard) and finding a message in the loaded history."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_web_chat_text import chat_with_sara
from tests.e2e.test_web_client import T, message, open_conversation, person, send, start_chat
from tests.support import ServerProcess


def menu(page: Page) -> object:
    return page.get_by_role("menu", name="Message actions")


def clipboard(page: Page) -> str:
    return str(page.evaluate("navigator.clipboard.readText()"))


def test_the_message_menu_copies_and_tells_when_it_was_read(
    browser: Browser, web_server: ServerProcess
) -> None:
    url = web_server.url
    alice, alice_name = person(browser, url, "alice")
    bob, bob_name = person(browser, url, "bob")
    alice.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    start_chat(alice, bob_name)
    send(alice, "see https://example.org/x please")
    bubble = message(alice, "see https://example.org/x")
    expect(bubble.locator("[data-status]")).to_have_attribute("data-status", "delivered", timeout=T)
    open_conversation(bob, alice_name)
    expect(bubble.locator("[data-status]")).to_have_attribute("data-status", "read", timeout=T)
    # the keyboard: the bubble's button opens the menu on its first item
    button = bubble.get_by_role("button", name="Message options")
    button.focus()
    alice.keyboard.press("Enter")
    items = menu(alice).get_by_role("menuitem")
    expect(items).to_have_text(["Copy text", "Copy link", "Info"])
    expect(items.nth(0)).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "true")
    for want in (1, 2, 0):
        alice.keyboard.press("ArrowDown")
        expect(items.nth(want)).to_be_focused()
    alice.keyboard.press("End")
    expect(items.nth(2)).to_be_focused()
    alice.keyboard.press("Escape")
    expect(menu(alice)).to_be_hidden()
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")
    alice.keyboard.press("Enter")
    alice.keyboard.press("Enter")  # Copy text
    expect(alice.get_by_role("status").filter(has_text="Text copied")).to_be_visible(timeout=T)
    assert clipboard(alice) == "see https://example.org/x please"
    expect(button).to_be_focused()
    # right click: the same menu, where the pointer is
    bubble.locator(".body").click(button="right", position={"x": 8, "y": 8})
    menu(alice).get_by_role("menuitem", name="Copy link").click()
    expect(alice.get_by_role("status").filter(has_text="Link copied")).to_be_visible(timeout=T)
    assert clipboard(alice) == "https://example.org/x"
    # without the Clipboard API (refused), the copy is made by hand
    alice.evaluate(
        "async () => { await navigator.clipboard.writeText('something else');"
        " navigator.clipboard.writeText = () => Promise.reject(new Error('no')); }"
    )
    bubble.locator(".body").click(button="right", position={"x": 8, "y": 8})
    menu(alice).get_by_role("menuitem", name="Copy text").click()
    expect(alice.get_by_role("status").filter(has_text="Text copied")).to_be_visible(timeout=T)
    assert clipboard(alice) == "see https://example.org/x please"
    # Info: sent, delivered and read, with the time the read receipt came
    bubble.locator(".body").click(button="right", position={"x": 8, "y": 8})
    menu(alice).get_by_role("menuitem", name="Info").click()
    info = alice.get_by_role("dialog", name="Message info")
    expect(info).to_contain_text("Sent")
    expect(info.locator("dd").nth(2)).to_have_text(re.compile(r"^Yes \d"))  # read, at a time
    expect(info.locator("dt")).to_have_text(["Sent", "Delivered", "Read"])
    alice.keyboard.press("Escape")
    expect(info).to_have_count(0)
    # someone else's message: who sent it
    bob_bubble = message(bob, "see https://example.org/x")
    bob_bubble.hover()
    bob_bubble.get_by_role("button", name="Message options").click()
    menu(bob).get_by_role("menuitem", name="Info").click()
    expect(bob.get_by_role("dialog", name="Message info")).to_contain_text(f"From{alice_name}")
    for page in (alice, bob):
        page.context.close()


def test_find_a_message_in_the_loaded_history(browser: Browser, web_server: ServerProcess) -> None:
    long_text = "start " + "lorem ipsum dolor sit amet " * 60 + "and an apple at the end"
    bob, _ = chat_with_sara(
        browser, web_server.url, "apple pie", "banana", "Apple juice", long_text
    )
    expect(message(bob, "start lorem")).to_have_count(1, timeout=T)
    bob.get_by_role("button", name="Search").click()
    box = bob.get_by_role("searchbox", name="Search in this chat")
    expect(box).to_be_focused()
    box.fill("apple")
    count = bob.locator("#chat-search-count")
    expect(count).to_have_text("1 of 3")
    marks = bob.locator("#messages mark")
    expect(marks).to_have_text(["apple", "Apple", "apple"])  # case does not matter
    current = bob.locator("#messages mark.current")
    # the newest first: it sits in the folded long message, which unfolds
    expect(current).to_be_in_viewport()
    expect(message(bob, "start lorem").get_by_role("button", name="Show less")).to_be_visible()
    box.press("Enter")
    expect(count).to_have_text("2 of 3")
    expect(message(bob, "Apple juice").locator("mark.current")).to_have_count(1)
    box.press("Enter")
    expect(count).to_have_text("3 of 3")
    expect(message(bob, "apple pie").locator("mark.current")).to_have_count(1)
    box.press("Enter")
    expect(count).to_have_text("1 of 3")  # round again
    box.press("Shift+Enter")
    expect(count).to_have_text("3 of 3")
    box.fill("zzz")
    expect(count).to_have_text("No matches")
    expect(marks).to_have_count(0)
    box.fill("banana")
    expect(count).to_have_text("1 of 1")
    box.press("Escape")
    expect(box).to_be_hidden()
    expect(marks).to_have_count(0)
    expect(bob.get_by_role("button", name="Search")).to_be_focused()
    expect(message(bob, "banana").locator(".body")).to_have_text("banana")  # as it was
    bob.context.close()
