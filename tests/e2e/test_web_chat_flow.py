"""Finding one's way in an open chat (issue 13): date lines, the chat opening at its first
unread message under an "N unread messages" line, a "Jump to latest" button that counts
what came while scrolled up (and never yanks the view), a group's events as lines, and a
group one left staying read only (across reloads and devices) until one deletes it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_web_client import (
    PASSWORD,
    T,
    conversation,
    message,
    messages,
    open_conversation,
    person,
    send,
)
from tests.e2e.test_web_client_devices import log_in
from tests.e2e.test_web_defects import Rest, create_group
from tests.support import ServerProcess

DAYS = """(locale) => import('/lib/days.js').then(({ dayLabel }) => {
  const now = new Date(2025, 2, 14, 12).getTime();  // Friday 14 March 2025, noon
  const days = [new Date(2025, 2, 14, 0, 1), new Date(2025, 2, 13, 23, 59),
    new Date(2025, 2, 11, 9), new Date(2025, 2, 4, 9), new Date(2024, 11, 31, 9)];
  return days.map((d) => dayLabel(d.getTime(), now, locale));
})"""


def separators(page: Page) -> object:
    return page.get_by_role("list", name="Messages").get_by_role("separator")


def test_date_lines_name_the_day_in_the_users_language(
    browser: Browser, web_server: ServerProcess
) -> None:
    url = web_server.url
    bob, bob_name = person(browser, url, "bob")
    assert bob.evaluate(DAYS, "en-US") == [
        "Today",
        "Yesterday",
        "Tuesday",
        "March 4",
        "December 31, 2024",
    ]
    assert bob.evaluate(DAYS, "de-DE") == [
        "Heute",
        "Gestern",
        "Dienstag",
        "4. März",
        "31. Dezember 2024",
    ]
    sara = Rest.sign_up(url, "sara")
    cid = sara.direct(Rest.of(bob, url).user_id)
    for body in ("one", "two", "three"):
        sara.post(cid, body)
    open_conversation(bob, sara.username)
    expect(message(bob, "three")).to_have_count(1, timeout=T)
    # one day, one line, above its first message (then where the unread ones start)
    expect(separators(bob)).to_have_text(["Today", "3 unread messages"])
    expect(separators(bob).first).to_have_accessible_name("Today")
    expect(bob.locator("#messages > li").first.get_by_role("separator")).to_have_count(1)
    # the same messages seen a day later (the browser's clock a day ahead) were yesterday's
    later = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US").new_page()
    later.clock.install(time=datetime.now() + timedelta(days=1))
    later.goto(url)
    later.get_by_label("Username", exact=True).fill(bob_name)
    later.get_by_label("Password", exact=True).fill(PASSWORD)
    later.get_by_role("button", name="Log in").click()
    open_conversation(later, sara.username)
    expect(separators(later)).to_have_text(["Yesterday"], timeout=T)  # read by now
    for page in (bob, later):
        page.context.close()


def scroll_top(page: Page) -> int:
    return int(page.locator("#scroller").evaluate("(el) => Math.round(el.scrollTop)"))


def test_a_chat_opens_at_its_first_unread_and_jump_to_latest_counts_new_ones(
    browser: Browser, web_server: ServerProcess
) -> None:
    url = web_server.url
    bob, _ = person(browser, url, "bob")
    bob_id = Rest.of(bob, url).user_id
    sara, tom = Rest.sign_up(url, "sara"), Rest.sign_up(url, "tom")
    cid = sara.direct(bob_id)
    for i in range(1, 21):
        sara.post(cid, f"old {i}")
    open_conversation(bob, sara.username)  # read up to "old 20"
    expect(message(bob, "old 20")).to_have_count(1, timeout=T)
    tom.post(tom.direct(bob_id), "meanwhile")
    open_conversation(bob, tom.username)
    for i in range(1, 26):
        sara.post(cid, f"new {i}")
    expect(conversation(bob, f"{sara.username}, 25 unread")).to_have_count(1, timeout=T)
    open_conversation(bob, sara.username)
    line = bob.get_by_role("separator", name="25 unread messages")
    expect(line).to_be_in_viewport(timeout=T)
    expect(message(bob, "new 1").first).to_be_in_viewport()
    expect(message(bob, "new 25")).not_to_be_in_viewport()  # not opened at the bottom
    order = bob.locator("#messages > li").evaluate_all("(els) => els.map((e) => e.textContent)")
    at = next(i for i, t in enumerate(order) if t == "25 unread messages")
    assert order[at - 1].startswith("old 20") and order[at + 1].startswith("new 1"), order
    # scrolled up: the button is there; new messages are counted and do not move the view
    jump = bob.locator("#jump-latest")
    expect(jump).to_have_accessible_name("Jump to latest")
    top = scroll_top(bob)
    sara.post(cid, "newer A")
    sara.post(cid, "newer B")
    expect(jump).to_have_accessible_name("Jump to latest, 2 new messages", timeout=T)
    expect(jump).to_contain_text("2")
    expect(message(bob, "newer B")).to_have_count(1)
    assert scroll_top(bob) == top
    expect(line).to_be_in_viewport()
    jump.click()
    expect(message(bob, "newer B")).to_be_in_viewport(timeout=T)
    expect(jump).to_be_hidden()
    expect(bob.get_by_label("Message", exact=True)).to_be_focused()
    # at the bottom, a new message scrolls into view as before
    sara.post(cid, "at the bottom")
    expect(message(bob, "at the bottom")).to_be_in_viewport(timeout=T)
    expect(jump).to_be_hidden()
    bob.context.close()


def sys_line(page: Page, text: str) -> object:
    return messages(page).filter(has_text=re.compile(f"^{re.escape(text)}$"))


def test_group_events_are_lines_and_a_removed_member_keeps_the_chat_read_only(
    browser: Browser, web_server: ServerProcess
) -> None:
    url = web_server.url
    ann, ann_name = person(browser, url, "ann")
    ben, ben_name = person(browser, url, "ben")
    cat = Rest.sign_up(url, "cat")
    create_group(ann, "trio", [ben_name])
    send(ann, "hi all")
    open_conversation(ben, "trio")
    expect(message(ben, "hi all")).to_have_count(1, timeout=T)
    # ann adds cat: each side says who did it
    ann.get_by_role("button", name="Group info").click()
    ann.get_by_label("Add member (name or username)").fill(cat.username)
    ann.get_by_role("button", name="Add member").click()
    expect(sys_line(ann, f"You added {cat.username}")).to_have_count(1, timeout=T)
    expect(sys_line(ben, f"{ann_name} added {cat.username}")).to_have_count(1, timeout=T)
    # cat leaves (over the API)
    cid = re.search(r"#/c/(\d+)$", ann.url).group(1)  # type: ignore[union-attr]
    cat.call("DELETE", f"/groups/{cid}/members/{cat.user_id}")
    expect(sys_line(ann, f"{cat.username} left")).to_have_count(1, timeout=T)
    expect(sys_line(ben, f"{cat.username} left")).to_have_count(1, timeout=T)
    # ann removes ben: ben keeps the chat, read only, after his list is fetched again too
    with ben.expect_response(lambda r: r.url.endswith("/v1/conversations"), timeout=T):
        ann.get_by_role("button", name=f"Remove {ben_name}").click()
    expect(sys_line(ann, f"You removed {ben_name}")).to_have_count(1, timeout=T)
    expect(sys_line(ben, f"{ann_name} removed you")).to_have_count(1, timeout=T)
    notice = ben.get_by_role("status").filter(has_text="You were removed from this group.")
    expect(notice).to_be_visible()
    expect(ben.get_by_label("Message", exact=True)).to_be_hidden()
    expect(message(ben, "hi all")).to_be_visible()
    expect(conversation(ben, "trio")).to_have_count(1)
    expect(ben.get_by_role("alert")).to_be_hidden()  # no "no longer in that group" toast
    # each line is said once, whatever else refreshed the group meanwhile
    for page, text in ((ann, f"You added {cat.username}"), (ben, f"{cat.username} left")):
        expect(sys_line(page, text)).to_have_count(1)
    # ann leaves: "You left", in place of her composer
    ann.get_by_role("button", name="Leave group").click()
    ann.get_by_role("dialog").get_by_role("button", name="Leave group").click()
    expect(ann.get_by_role("status").filter(has_text="You left this group.")).to_be_visible(
        timeout=T
    )
    expect(sys_line(ann, "You left")).to_have_count(1)
    expect(ann.get_by_role("button", name="Leave group")).to_be_hidden()
    for page in (ann, ben):
        page.context.close()


def test_a_group_one_left_stays_read_only_across_reloads_and_devices_until_deleted(
    browser: Browser, web_server: ServerProcess
) -> None:
    url = web_server.url
    ben, ben_name = person(browser, url, "ben")
    ben2 = log_in(browser, url, ben_name)  # his second device
    ann = Rest.sign_up(url, "ann")
    ben_id = Rest.of(ben, url).user_id
    group = ann.call("POST", "/groups", {"name": "reading", "members": [ben_id]})
    cid = group["conversation_id"]
    ann.post(cid, "chapter one")
    open_conversation(ben, "reading")
    expect(message(ben, "chapter one")).to_have_count(1, timeout=T)
    ben.get_by_role("button", name="Group info").click()
    ben.get_by_role("button", name="Leave group").click()
    ben.get_by_role("dialog").get_by_role("button", name="Leave group").click()
    left = "You left this group."
    expect(ben.get_by_role("status").filter(has_text=left)).to_be_visible(timeout=T)
    # the group goes on without him: a message and a new name he must not see
    ann.post(cid, "chapter two")
    ann.call("PATCH", f"/groups/{cid}", {"name": "secret"})
    ben.reload()
    for page in (ben, ben2):  # after a reload, and on his other device: the same chat
        conversation(page, "reading").click()
        expect(page.get_by_role("status").filter(has_text=left)).to_be_visible(timeout=T)
        expect(message(page, "chapter one")).to_have_count(1, timeout=T)
        expect(message(page, "chapter two")).to_have_count(0)
        expect(page.get_by_label("Message", exact=True)).to_be_hidden()
        expect(conversation(page, "secret")).to_have_count(0)
    # he deletes it: gone here, from his other device, and after a reload
    ben.get_by_role("button", name="Delete chat").click()
    ben.get_by_role("dialog").get_by_role("button", name="Delete chat").click()
    expect(conversation(ben, "reading")).to_have_count(0, timeout=T)
    expect(conversation(ben2, "reading")).to_have_count(0, timeout=T)
    expect(ben2.get_by_role("status").filter(has_text=left)).to_be_hidden()
    ben.reload()
    expect(ben.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    expect(conversation(ben, "reading")).to_have_count(0)
    for page in (ben, ben2):
        page.context.close()
