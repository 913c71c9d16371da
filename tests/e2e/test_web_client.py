"""The web client in a real browser: people sign up, chat, see receipts, typing and
presence, reload, and survive a server restart. Selectors are the accessible names the
client promises (README "Using the web client"), so these tests also guard them."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.support import ServerProcess

PASSWORD = "correct horse 1"
T = 15_000  # ms: generous for a loaded 2-core CI machine; waits end as soon as true


def person(browser: Browser, url: str, prefix: str, **context: Any) -> tuple[Page, str]:
    """A new browser context (its own storage: a different person), signed up."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **context})
    page = context.new_page()
    username = f"{prefix}{uuid.uuid4().hex[:6]}"
    page.goto(url)
    page.get_by_role("tab", name="Sign up").click()
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    return page, username


def start_chat(page: Page, username: str) -> None:
    page.get_by_role("button", name="New chat").click()
    page.get_by_label("Username to chat with").fill(username)
    page.get_by_role("button", name="Start chat").click()
    expect(page.get_by_label("Message", exact=True)).to_be_visible(timeout=T)


def send(page: Page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


def messages(page: Page) -> Any:
    """The messages and group lines of the open chat (not its date and unread lines)."""
    return page.get_by_role("list", name="Messages").locator("li:not(.sep)")


def message(page: Page, text: str) -> Any:
    """A message whose text holds `text`: matched in the body alone, since the time
    follows it ("old 2" then "01:24 PM" reads "old 201:24 PM", which holds "old 20")."""
    return messages(page).filter(has=page.locator("p.body", has_text=text))


def conversation(page: Page, title: str) -> Any:
    """A conversation link: its accessible name starts with the chat's title (then ", N
    unread", the preview and the time), so a title a preview mentions is not matched."""
    return page.get_by_role("list", name="Conversations").get_by_role(
        "link", name=re.compile(f"^{re.escape(title)}(,|$)")
    )


def open_conversation(page: Page, title: str) -> None:
    conversation(page, title).first.click()
    expect(page.get_by_label("Message", exact=True)).to_be_visible(timeout=T)


def status_of(page: Page, text: str) -> Any:
    return message(page, text).locator("[data-status]")


def test_two_people_chat_both_ways_with_receipts(
    browser: Browser, web_server: ServerProcess
) -> None:
    alice, alice_name = person(browser, web_server.url, "alice")
    bob, bob_name = person(browser, web_server.url, "bob")
    start_chat(alice, bob_name)
    send(alice, "hello bob <b>not bold</b>")
    expect(message(alice, "hello bob")).to_have_count(1, timeout=T)
    # bob's list shows the new conversation, live, with one unread message
    expect(conversation(bob, f"{alice_name}, 1 unread")).to_have_count(1, timeout=T)
    expect(conversation(bob, alice_name)).to_contain_text("hello bob")
    open_conversation(bob, alice_name)
    expect(message(bob, "hello bob")).to_have_count(1, timeout=T)
    # text stays text: the markup is shown, not rendered
    expect(message(bob, "<b>not bold</b>")).to_have_count(1)
    assert bob.locator("[role=list][aria-label=Messages] b").count() == 0
    # bob has it open: alice sees it delivered, then read
    expect(status_of(alice, "hello bob")).to_have_attribute("data-status", "read", timeout=T)
    send(bob, "hi alice")
    expect(message(alice, "hi alice")).to_have_count(1, timeout=T)
    expect(status_of(bob, "hi alice")).to_have_attribute(
        "data-status", re.compile("delivered|read"), timeout=T
    )
    # and a long message wraps instead of overflowing the page
    send(alice, "x" * 3000)
    expect(message(bob, "xxxx")).to_have_count(1, timeout=T)
    width = bob.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, width
    alice.context.close()
    bob.context.close()


def test_a_group_of_three(browser: Browser, web_server: ServerProcess) -> None:
    people = [person(browser, web_server.url, p) for p in ("ann", "ben", "cat")]
    (ann, _), (ben, ben_name), (cat, cat_name) = people
    ann.get_by_role("button", name="New group").click()
    ann.get_by_label("Group name").fill("trio")
    ann.get_by_label("Members (usernames, comma separated)").fill(f"{ben_name}, {cat_name}")
    ann.get_by_role("button", name="Create group").click()
    expect(ann.get_by_label("Message", exact=True)).to_be_visible(timeout=T)
    send(ann, "welcome to trio")
    for page in (ben, cat):
        open_conversation(page, "trio")
        expect(message(page, "welcome to trio")).to_have_count(1, timeout=T)
    send(ben, "thanks from ben")
    send(cat, "thanks from cat")
    for page, _ in people:
        for text in ("welcome to trio", "thanks from ben", "thanks from cat"):
            expect(message(page, text)).to_have_count(1, timeout=T)
    for page, _ in people:
        page.context.close()


def test_typing_and_presence(browser: Browser, web_server: ServerProcess) -> None:
    alice, alice_name = person(browser, web_server.url, "alice")
    bob, bob_name = person(browser, web_server.url, "bob")
    start_chat(alice, bob_name)
    send(alice, "are you there?")
    open_conversation(bob, alice_name)
    expect(alice.locator(".presence")).to_have_text("online", timeout=T)
    bob.get_by_label("Message", exact=True).press_sequentially("typing slowly", delay=30)
    expect(alice.get_by_role("status").filter(has_text="is typing")).to_be_visible(timeout=T)
    bob.context.close()  # bob goes away: after the 4 s heartbeat timeout he shows offline
    expect(alice.locator(".presence")).to_contain_text("last seen", timeout=T)
    alice.context.close()


def test_a_reload_keeps_the_history(browser: Browser, web_server: ServerProcess) -> None:
    alice, alice_name = person(browser, web_server.url, "alice")
    bob, bob_name = person(browser, web_server.url, "bob")
    start_chat(alice, bob_name)
    for i in range(3):
        send(alice, f"kept {i}")
    expect(messages(alice).filter(has_text="kept")).to_have_count(3, timeout=T)
    open_conversation(bob, alice_name)  # bob reads them
    expect(status_of(alice, "kept 2")).to_have_attribute("data-status", "read", timeout=T)
    alice.reload()
    expect(alice.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    open_conversation(alice, bob_name)
    expect(messages(alice).filter(has_text="kept")).to_have_count(3, timeout=T)
    # a fresh device of alice (new storage) shows the history and the read marks too
    fresh = browser.new_context().new_page()
    fresh.goto(web_server.url)
    fresh.get_by_label("Username", exact=True).fill(alice_name)
    fresh.get_by_label("Password", exact=True).fill(PASSWORD)
    fresh.get_by_role("button", name="Log in").click()
    open_conversation(fresh, bob_name)
    expect(status_of(fresh, "kept 2")).to_have_attribute("data-status", "read", timeout=T)
    fresh.context.close()
    alice.context.close()
    bob.context.close()


def test_a_restart_is_survived_and_queued_messages_are_sent_once(
    browser: Browser, web_server: ServerProcess
) -> None:
    alice, alice_name = person(browser, web_server.url, "alice")
    bob, bob_name = person(browser, web_server.url, "bob")
    start_chat(alice, bob_name)
    send(alice, "before the restart")
    open_conversation(bob, alice_name)
    web_server.stop()  # the server goes away (both sockets close)
    expect(alice.get_by_role("status").filter(has_text="Reconnecting")).to_be_visible(timeout=T)
    send(alice, "sent while down")
    expect(status_of(alice, "sent while down")).to_have_attribute(
        "data-status", "sending", timeout=T
    )
    web_server.start()  # same port, same data
    expect(status_of(alice, "sent while down")).to_have_attribute(
        "data-status", re.compile("sent|delivered|read"), timeout=30_000
    )
    expect(message(bob, "sent while down")).to_have_count(1, timeout=30_000)
    expect(message(alice, "sent while down")).to_have_count(1)
    bob.reload()  # from the server's point of view too: stored once
    open_conversation(bob, alice_name)
    expect(message(bob, "sent while down")).to_have_count(1, timeout=T)
    alice.context.close()
    bob.context.close()


def test_two_tabs_stay_in_step(browser: Browser, web_server: ServerProcess) -> None:
    """Each tab is a device of the same person: what one reads stops being unread in the
    other, and what one sends appears in the other."""
    alice, alice_name = person(browser, web_server.url, "alice")
    bob, bob_name = person(browser, web_server.url, "bob")
    bob_tab2 = bob.context.new_page()  # same storage: the same person, another device
    bob_tab2.goto(web_server.url)
    expect(bob_tab2.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    start_chat(alice, bob_name)
    send(alice, "one for both tabs")
    expect(conversation(bob_tab2, f"{alice_name}, 1 unread")).to_have_count(1, timeout=T)
    open_conversation(bob, alice_name)  # read in the first tab ...
    expect(message(bob, "one for both tabs")).to_have_count(1, timeout=T)
    expect(conversation(bob_tab2, "unread")).to_have_count(0, timeout=T)  # ... gone here
    send(bob, "from tab one")
    open_conversation(bob_tab2, alice_name)
    expect(message(bob_tab2, "from tab one")).to_have_count(1, timeout=T)
    expect(message(alice, "from tab one")).to_have_count(1, timeout=T)
    alice.context.close()
    bob.context.close()


def test_phone_width_and_installable(browser: Browser, web_server: ServerProcess) -> None:
    alice_page, alice_name = person(browser, web_server.url, "alice")
    page, _ = person(
        browser, web_server.url, "bob", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    start_chat(page, alice_name)  # on a phone the chat replaces the list ...
    expect(page.get_by_role("list", name="Conversations")).to_be_hidden()
    send(page, "from my phone")
    expect(message(page, "from my phone")).to_have_count(1, timeout=T)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("button", name="Back to conversation list").click()  # ... and back
    expect(conversation(page, alice_name)).to_be_visible(timeout=T)
    # installable: a manifest with icons, and a service worker that took control
    manifest = page.request.get(web_server.url + "/manifest.webmanifest").json()
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    for icon in manifest["icons"]:
        assert page.request.get(web_server.url + icon["src"]).ok, icon
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == web_server.url + "/"
    alice_page.context.close()
    page.context.close()
