"""Defects of the web client found by using it as people do (issue 13), each pinned by a
browser test against a real server: unread counts after a catch-up, group read marks
after a member leaves, right-to-left text, drafts, presence while disconnected, and
recovering from a lost connection."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_web_client import (
    PASSWORD,
    T,
    conversation,
    message,
    open_conversation,
    person,
    send,
    start_chat,
    status_of,
)
from tests.support import ServerProcess


class Rest:
    """Someone who only uses the REST API (quicker to set up than another browser)."""

    def __init__(self, url: str, token: str, user_id: str, username: str = "") -> None:
        self.http = httpx.Client(
            base_url=f"{url}/v1", headers={"Authorization": f"Bearer {token}"}, timeout=15
        )
        self.user_id = user_id
        self.username = username

    @classmethod
    def sign_up(cls, url: str, prefix: str, display_name: str | None = None) -> Rest:
        username = f"{prefix}{uuid.uuid4().hex[:6]}"
        user = {"username": username, "password": PASSWORD}
        if display_name:
            user["display_name"] = display_name
        httpx.post(f"{url}/v1/users", json=user).raise_for_status()
        s = httpx.post(f"{url}/v1/sessions", json={"username": username, "password": PASSWORD})
        s.raise_for_status()
        return cls(url, s.json()["token"], s.json()["user_id"], username)

    @classmethod
    def of(cls, page: Page, url: str) -> Rest:
        """The person logged in on `page`, through the API with the page's own token."""
        auth = json.loads(page.evaluate("localStorage.getItem('hubbub.auth')"))
        return cls(url, auth["token"], auth["user_id"])

    def call(self, method: str, path: str, body: Any = None) -> Any:
        r = self.http.request(method, path, json=body)
        r.raise_for_status()
        return r.json() if r.content else None

    def direct(self, user_id: str) -> str:
        c = self.call("POST", "/conversations/direct", {"user_id": user_id})
        return str(c["conversation_id"])

    def post(self, cid: str, body: str) -> str:
        payload = {"client_msg_id": uuid.uuid4().hex, "body": body}
        m = self.call("POST", f"/conversations/{cid}/messages", payload)
        return str(m["message_id"])

    def unread(self) -> dict[str, int]:
        """The server's unread_count of every conversation."""
        convs = self.call("GET", "/conversations")["conversations"]
        return {c["conversation_id"]: int(c["unread_count"]) for c in convs}


class Frames:
    """Every frame of the page's WebSockets, both ways, as Playwright saw them."""

    def __init__(self, page: Page) -> None:
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        page.on("websocket", self._watch)

    def _watch(self, ws: Any) -> None:
        ws.on("framesent", lambda payload: self.sent.append(json.loads(payload)))
        ws.on("framereceived", lambda payload: self.received.append(json.loads(payload)))

    def last_ready(self) -> dict[str, Any] | None:
        readies = [f for f in self.received if f.get("type") == "ready"]
        return readies[-1] if readies else None

    def caught_up(self) -> bool:
        """The client acked the head of its last `ready`: the catch-up was handled (its
        ack goes out after the frames it covers were processed)."""
        ready = self.last_ready()
        if ready is None:
            return False
        if ready["head"] == 0:
            return True
        return any(f.get("type") == "ack" and f["seq"] >= ready["head"] for f in self.sent)


def wait_until(page: Page, condition: Any, what: str, timeout_ms: int = T) -> None:
    """Wait for a condition on what Playwright's handlers saw (they run while it waits)."""
    for _ in range(timeout_ms // 50):
        if condition():
            return
        page.wait_for_timeout(50)
    assert condition(), f"timed out waiting for {what}"


# every conversation's accessible name, by its title
LABELS = """() => Object.fromEntries([...document.querySelectorAll('#conv-list .conv')].map(
  (a) => [a.querySelector('.conv-title').textContent, a.getAttribute('aria-label')]))"""


def badge(page: Page, title: str) -> Any:
    return conversation(page, title).locator(".badge")


# ---------- 1. unread counts after a catch-up ----------


def test_unread_counts_agree_with_the_server_after_a_catch_up(
    browser: Browser, web_server: ServerProcess
) -> None:
    """bob closes his tab, his friends write, bob comes back: the replayed messages (each
    conversation's last message among them) are already in the server's unread_count
    and must not be counted again, per conversation or in the title's total."""
    url = web_server.url
    bob, _ = person(browser, url, "bob")
    bob_api = Rest.of(bob, url)
    friends = [Rest.sign_up(url, p) for p in ("amy", "cai", "dee")]
    cids = [f.direct(bob_api.user_id) for f in friends]
    for f, cid in zip(friends, cids, strict=True):
        f.post(cid, f"hello from {f.username}")
    expect(bob).to_have_title("(3) Hubbub", timeout=T)
    context = bob.context
    bob.close()  # bob closes his tab ...
    for n, (f, cid) in enumerate(zip(friends, cids, strict=True)):
        for i in range(n + 1):  # 1, 2 and 3 more messages
            f.post(cid, f"while away {i}")
    bob = context.new_page()  # ... and opens it again: a catch-up from his seq
    frames = Frames(bob)
    bob.goto(url)
    wait_until(bob, frames.caught_up, "the catch-up")
    server = bob_api.unread()
    assert [server[c] for c in cids] == [2, 3, 4]
    for f, cid in zip(friends, cids, strict=True):
        expect(badge(bob, f.username)).to_have_text(str(server[cid]), timeout=T)
    expect(bob).to_have_title(f"({sum(server.values())}) Hubbub", timeout=T)
    # all at once too (an expect passes on a value seen in passing)
    labels = bob.evaluate(LABELS)
    pairs = zip(friends, cids, strict=True)
    # (then the preview and the time: "bob12, 2 unread, while away 1, 10:07")
    assert {t: ", ".join(label.split(", ")[:2]) for t, label in labels.items()} == {
        f.username: f"{f.username}, {server[c]} unread" for f, c in pairs
    }
    # and a live message on top counts once more, and once only
    friends[0].post(cids[0], "live again")
    expect(badge(bob, friends[0].username)).to_have_text("3", timeout=T)
    expect(bob).to_have_title("(10) Hubbub", timeout=T)
    assert bob_api.unread()[cids[0]] == 3
    context.close()


# ---------- 2. group read marks never go backwards ----------


def create_group(page: Page, name: str, members: list[str]) -> None:
    page.get_by_role("button", name="New group").click()
    page.get_by_label("Group name").fill(name)
    page.get_by_label("Members (usernames, comma separated)").fill(", ".join(members))
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_label("Message", exact=True)).to_be_visible(timeout=T)


def test_a_group_message_read_by_everyone_stays_read_as_members_come_and_go(
    browser: Browser, web_server: ServerProcess
) -> None:
    """A mark is computed against the members a message went to: a newcomer (who has no
    marks for what came before) and members who leave, down to none, do not take it back;
    a message sent after someone joined waits for them too."""
    url = web_server.url
    ann, _ = person(browser, url, "ann")
    ben, ben_name = person(browser, url, "ben")
    cat, cat_name = person(browser, url, "cat")
    dan = Rest.sign_up(url, "dan")  # never opens the group
    create_group(ann, "quartet", [ben_name, cat_name])
    send(ann, "read by all")
    for page in (ben, cat):
        open_conversation(page, "quartet")
        expect(message(page, "read by all")).to_have_count(1, timeout=T)
    read_by_all = status_of(ann, "read by all")
    expect(read_by_all).to_have_attribute("data-status", "read", timeout=T)
    # dan joins: he has no marks, but the message was not sent to him
    ann.get_by_role("button", name="Group info").click()
    ann.get_by_label("Add member (name or username)").fill(dan.username)
    ann.get_by_role("button", name="Add member").click()
    expect(ann.get_by_role("list", name="Members")).to_contain_text(dan.username, timeout=T)
    expect(read_by_all).to_have_attribute("data-status", "read")
    ann.get_by_role("button", name="Hide details").click()
    # one sent with dan in the group is read only when he reads it too
    send(ann, "after dan joined")
    for page in (ben, cat):
        expect(message(page, "after dan joined")).to_have_count(1, timeout=T)
    after = status_of(ann, "after dan joined")
    expect(after).to_have_attribute("data-status", re.compile("sent|delivered"), timeout=T)
    # cat leaves, ben leaves, ann removes dan: nobody else is left, nothing goes back
    cat.get_by_role("button", name="Group info").click()
    cat.get_by_role("button", name="Leave group").click()
    cat.get_by_role("dialog").get_by_role("button", name="Leave group").click()  # confirmed
    # the chat stays, read only (views/departed.js)
    expect(cat.get_by_role("status").filter(has_text="You left this group.")).to_be_visible(
        timeout=T
    )
    expect(ann.locator("#chat-sub")).not_to_contain_text(cat_name, timeout=T)
    Rest.of(ben, url).call("DELETE", f"/groups/{group_id(ann)}/members/{Rest.of(ben, url).user_id}")
    expect(ann.locator("#chat-sub")).not_to_contain_text(ben_name, timeout=T)
    ann.get_by_role("button", name="Group info").click()
    ann.get_by_role("button", name=f"Remove {dan.username}").click()
    expect(ann.locator("#chat-sub")).to_have_text("You", timeout=T)
    expect(read_by_all).to_have_attribute("data-status", "read")
    ann.reload()  # and after a reload (the marks are kept)
    open_conversation(ann, "quartet")
    expect(status_of(ann, "read by all")).to_have_attribute("data-status", "read", timeout=T)
    expect(status_of(ann, "after dan joined")).not_to_have_attribute("data-status", "read")
    for page in (ann, ben, cat):
        page.context.close()


def group_id(page: Page) -> str:
    """The open chat's conversation id (a group's id is its conversation's), from the URL."""
    m = re.search(r"#/c/(\d+)$", page.url)
    assert m, page.url
    return m.group(1)


# ---------- 3. right-to-left text ----------

ARABIC = "مرحبا، كيف حالك؟"
HEBREW = "שלום לכולם"


def direction(locator: Any) -> str:
    """The direction the browser lays the element out in (dir=auto: from its text)."""
    return str(locator.evaluate("(el) => getComputedStyle(el).direction"))


def expect_direction(locator: Any, want: str) -> None:
    expect(locator).to_be_visible(timeout=T)
    assert direction(locator) == want, locator
    assert locator.evaluate("(el, d) => el.matches(`:dir(${d})`)", want), locator


def test_right_to_left_text_is_laid_out_right_to_left(
    browser: Browser, web_server: ServerProcess
) -> None:
    url = web_server.url
    bob, _ = person(browser, url, "bob")
    sara = Rest.sign_up(url, "sara", display_name="سارة")
    cid = sara.direct(Rest.of(bob, url).user_id)
    sara.post(cid, ARABIC)
    item = conversation(bob, "سارة")
    expect(item).to_have_count(1, timeout=T)
    expect_direction(item.locator(".conv-title"), "rtl")  # a name
    expect_direction(item.locator(".conv-preview"), "rtl")  # the preview
    open_conversation(bob, "سارة")
    expect_direction(bob.locator("#chat-name"), "rtl")
    expect_direction(message(bob, ARABIC).locator(".body"), "rtl")  # the bubble's text
    # ours: English stays left to right, Hebrew goes right to left, even after "You: "
    send(bob, "hello sara")
    expect_direction(message(bob, "hello sara").locator(".body"), "ltr")
    expect(item.locator(".conv-preview")).to_have_text("You: hello sara", timeout=T)
    expect_direction(item.locator(".conv-preview"), "ltr")
    send(bob, HEBREW)
    expect_direction(message(bob, HEBREW).locator(".body"), "rtl")
    expect(item.locator(".conv-preview")).to_have_text(f"You: {HEBREW}", timeout=T)
    expect_direction(item.locator(".conv-preview"), "rtl")
    # mixed text takes the direction of its first strong letter
    send(bob, f"Hubbub {ARABIC}")
    expect_direction(message(bob, f"Hubbub {ARABIC}").locator(".body"), "ltr")
    # the composer follows what is typed in it
    composer = bob.get_by_label("Message", exact=True)
    composer.fill(HEBREW)
    expect_direction(composer, "rtl")
    composer.fill("plain English")
    expect_direction(composer, "ltr")
    bob.context.close()


# ---------- 4. drafts ----------


def composer(page: Page) -> Any:
    return page.get_by_label("Message", exact=True)


def test_drafts_survive_switching_chats_and_a_reload(
    browser: Browser, web_server: ServerProcess
) -> None:
    url = web_server.url
    bob, _ = person(browser, url, "bob")
    bob_id = Rest.of(bob, url).user_id
    amy, cai = Rest.sign_up(url, "amy"), Rest.sign_up(url, "cai")
    for friend in (amy, cai):
        friend.post(friend.direct(bob_id), f"hi from {friend.username}")
    open_conversation(bob, amy.username)
    composer(bob).fill("half a thought for amy")
    open_conversation(bob, cai.username)  # another chat: its own (empty) draft
    expect(composer(bob)).to_have_value("")
    composer(bob).fill("line one for cai\nline two")
    open_conversation(bob, amy.username)  # and back
    expect(composer(bob)).to_have_value("half a thought for amy")
    bob.reload()  # kept in storage too
    expect(bob.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    expect(composer(bob)).to_have_value("half a thought for amy", timeout=T)
    open_conversation(bob, cai.username)
    expect(composer(bob)).to_have_value("line one for cai\nline two")
    # sending clears the draft, here, after switching and after a reload
    bob.get_by_role("button", name="Send").click()
    expect(message(bob, "line two")).to_have_count(1, timeout=T)
    expect(composer(bob)).to_have_value("")
    open_conversation(bob, amy.username)
    expect(composer(bob)).to_have_value("half a thought for amy")
    open_conversation(bob, cai.username)
    expect(composer(bob)).to_have_value("")
    bob.reload()
    expect(bob.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    expect(composer(bob)).to_have_value("", timeout=T)
    open_conversation(bob, amy.username)
    expect(composer(bob)).to_have_value("half a thought for amy")
    bob.context.close()


# ---------- 5. presence while our socket is down ----------


def banner(page: Page) -> Any:
    return page.locator("#banner")


def test_presence_is_not_shown_while_disconnected_and_comes_back(
    browser: Browser, web_server: ServerProcess
) -> None:
    """While alice's own socket is down she hears no presence or typing: the header says
    nothing of bob rather than a stale "online", and says it again once she is back."""
    alice, alice_name = person(browser, web_server.url, "alice")
    bob, bob_name = person(browser, web_server.url, "bob")
    start_chat(alice, bob_name)
    presence = alice.locator("#chat-presence")
    dot = conversation(alice, bob_name).locator(".dot")
    expect(presence).to_have_text("online", timeout=T)
    expect(dot).to_be_visible()
    start_chat(bob, alice_name)
    composer(bob).press_sequentially("still typing", delay=30)
    typing = alice.locator("#typing")
    expect(typing).to_contain_text("is typing", timeout=T)
    alice.context.set_offline(True)  # the browser goes offline: her socket goes
    expect(banner(alice)).to_be_visible(timeout=T)
    expect(presence).to_be_hidden()
    expect(presence).not_to_have_text("online")
    expect(dot).to_be_hidden()
    expect(alice.locator("#chat-sub")).to_have_text(f"@{bob_name}")
    expect(typing).to_have_text("", timeout=2000)  # (a typing frame lasts 5 s)
    alice.context.set_offline(False)  # back: presence is heard again
    expect(banner(alice)).to_be_hidden(timeout=T)
    expect(presence).to_have_text("online", timeout=T)
    expect(dot).to_be_visible()
    alice.context.close()
    bob.context.close()


# ---------- 6. reconnecting ----------


def test_reconnecting_waits_at_most_5_s_and_can_be_hurried(
    browser: Browser, web_server: ServerProcess
) -> None:
    """The page's clock is paused during the outage (Playwright's fake timers), so no
    backoff timer fires unless the test moves time on: each try after a failed one comes
    within 5 s of (page) time however long the server is away, and Retry now, the tab
    shown again and the browser back online each reconnect at once, clearing the banner
    the moment the socket is ready."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.clock.install()
    sockets: list[Any] = []

    def opened(ws: Any) -> None:  # (Playwright cannot take a builtin method as a handler)
        sockets.append(ws)

    page.on("websocket", opened)
    user = Rest.sign_up(web_server.url, "amy")
    page.goto(web_server.url)
    page.get_by_label("Username", exact=True).fill(user.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    wait_until(page, lambda: bool(sockets), "the socket")
    retry = page.get_by_role("button", name="Retry now")
    expect(banner(page)).to_be_hidden(timeout=T)
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)

    def try_failed() -> bool:
        return sockets[-1].is_closed()

    web_server.stop()
    expect(page.get_by_role("status").filter(has_text="Reconnecting")).to_be_visible(timeout=T)
    expect(retry).to_be_visible()
    for n in range(8):  # the backoff grows to 5 s and no further
        wait_until(page, try_failed, f"try {n} to fail")
        tries = len(sockets)
        page.clock.run_for(5_100)
        wait_until(page, lambda: len(sockets) > tries, f"a try within 5 s after try {n}")  # noqa: B023
    wait_until(page, try_failed, "the last try to fail")
    web_server.start()  # back (same port, same data); the page's timers stand still
    retry.click()
    expect(banner(page)).to_be_hidden(timeout=5_000)
    for hurry in ("document.dispatchEvent(new Event('visibilitychange'))",
                  "window.dispatchEvent(new Event('online'))"):  # fmt: skip
        web_server.stop()
        expect(banner(page)).to_be_visible(timeout=T)
        wait_until(page, try_failed, "a try to fail")
        web_server.start()
        page.evaluate(hurry)  # the tab is shown again / the browser is back online
        expect(banner(page)).to_be_hidden(timeout=5_000)
    context.close()
