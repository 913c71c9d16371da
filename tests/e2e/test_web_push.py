"""Web Push in the web client, in real headless Chromium against a real `hubbub serve`.

Headless Chromium cannot subscribe to a real push service, so PushManager's subscribe()
and getSubscription() are stubbed (an init script): the subscription they hand out has an
endpoint on the local push service of tests/push_service.py and keys from a real P-256 key
pair made here, so the server accepts it and its pushes can be decrypted. Everything else
is real: the permission (granted through the browser context), the settings, the REST
calls, the service worker, and the pushes, which are delivered to the worker through the
DevTools protocol (ServiceWorker.deliverPushMessage) and shown as notifications that the
page reads back with registration.getNotifications(). A notification click cannot be
made through DevTools: the worker's real notificationclick handler is run with a
NotificationEvent dispatched in the worker (Playwright evaluates code there), and the
where-to-go rules it uses (sw-push.js) are called in the worker directly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Worker, expect

from tests.e2e.test_web_client import PASSWORD, T, open_conversation, person, send, start_chat
from tests.push_service import BrowserSubscription, PushService, make_ca
from tests.support import ServerProcess

pytestmark = pytest.mark.timeout(180)
R = TypeVar("R")

# PushManager stubbed in every page of a context (see the file).
STUB = (Path(__file__).parent / "push_stub.js").read_text()

NOTIFICATIONS = """() => navigator.serviceWorker.ready
  .then((r) => r.getNotifications())
  .then((ns) => ns.map((n) => (
    { title: n.title, body: n.body, tag: n.tag, data: n.data, icon: n.icon })))"""


class PushThread:
    """The local push service (asyncio) on a thread of its own: Playwright's sync API
    holds this thread's event loop."""

    def __init__(self, service: PushService) -> None:
        self.service = service
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, R], timeout: float = 20.0) -> R:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.call(self.service.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def push(tmp_path: Path) -> Iterator[PushThread]:
    ca, _ = make_ca(tmp_path)
    service = PushService(ca)
    thread = PushThread(service)
    thread.call(service.start())
    yield thread
    thread.close()
    assert service.violations == []


@pytest.fixture
def push_server(
    tmp_path: Path, push: PushThread, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServerProcess]:
    """`hubbub serve` that accepts endpoints on 127.0.0.1 and trusts the push service's CA."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "push-ca.pem"))
    s = ServerProcess(
        tmp_path / "data", 4.0, "--push-allow-private-endpoints", "--push-delay", "1",
        "--push-contact", "mailto:ops@example.com",
    ).start()  # fmt: skip
    push.service.server_key = httpx.get(f"{s.url}/v1/push/vapid-public-key").json()["key"]
    yield s
    s.stop()
    assert "Traceback" not in s.log(), s.log()[-5000:]


def stub_push(context: BrowserContext, sub: BrowserSubscription) -> None:
    keys = sub.body()["keys"]
    init = {"endpoint": sub.endpoint, "p256dh": keys["p256dh"], "auth": keys["auth"]}
    context.add_init_script(STUB.replace("})(INIT)", f"}})({json.dumps(init)})"))


def pushing_person(
    browser: Browser, url: str, prefix: str, sub: BrowserSubscription, grant: bool = True
) -> tuple[Page, str]:
    """person() whose browser context has the PushManager stub (and, if `grant`, the
    notifications permission); the page has an active service worker."""
    page, username = person(browser, url, prefix)
    context = page.context
    if grant:
        context.grant_permissions(["notifications"], origin=url)
    stub_push(context, sub)
    page.reload()
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    return page, username


def token(page: Page) -> str:
    return str(page.evaluate("() => JSON.parse(localStorage.getItem('hubbub.auth')).token"))


def server_subscriptions(url: str, bearer: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/v1/push/subscriptions", headers={"Authorization": f"Bearer {bearer}"})
    r.raise_for_status()
    subs: list[dict[str, Any]] = r.json()["subscriptions"]
    return subs


def wait_until(check: Any, what: str, page: Page, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(100)


def notifications_switch(page: Page) -> Any:
    return page.get_by_role("switch", name="Notifications")


def open_settings(page: Page) -> None:
    if page.get_by_role("switch", name="Notifications").is_hidden():
        page.get_by_role("button", name="Settings").click()
    expect(notifications_switch(page)).to_be_visible(timeout=T)


def turn_on(page: Page) -> None:
    open_settings(page)
    expect(notifications_switch(page)).to_have_attribute("aria-checked", "false")
    notifications_switch(page).click()
    expect(notifications_switch(page)).to_have_attribute("aria-checked", "true", timeout=T)
    expect(page.locator("#notify-state")).to_contain_text("even when Hubbub is closed", timeout=T)


def stub_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate("() => window.__pushStub.load()")
    return state


# ---------- (a) subscribing, turning off, logging out ----------


def test_turning_notifications_on_subscribes_and_off_unsubscribes(
    browser: Browser, push_server: ServerProcess, push: PushThread
) -> None:
    url = push_server.url
    sub = push.service.new_subscription("on-off")
    page, _ = pushing_person(browser, url, "pat", sub)
    bearer = token(page)
    assert server_subscriptions(url, bearer) == []  # off by default
    turn_on(page)
    # subscribed with the server's VAPID key, and registered for this device
    stub = stub_state(page)
    assert stub["active"] and stub["key"] == push.service.server_key
    subs = server_subscriptions(url, bearer)
    assert [(s["kind"], s["endpoint"]) for s in subs] == [("webpush", sub.endpoint)]
    device = page.evaluate("() => JSON.parse(localStorage.getItem('hubbub.auth')).device_id")
    assert subs[0]["device_id"] == device
    # it stays on across a reload, without subscribing again or a second registration
    page.reload()
    open_settings(page)
    expect(notifications_switch(page)).to_have_attribute("aria-checked", "true", timeout=T)
    page.wait_for_timeout(500)
    assert [s["subscription_id"] for s in server_subscriptions(url, bearer)] == [
        subs[0]["subscription_id"]
    ]
    assert stub_state(page)["subscribed"] == 1
    # off: the browser unsubscribes and the server forgets it
    notifications_switch(page).click()
    expect(notifications_switch(page)).to_have_attribute("aria-checked", "false", timeout=T)
    wait_until(lambda: server_subscriptions(url, bearer) == [], "the DELETE", page)
    assert stub_state(page)["active"] is False
    expect(page.locator("#notify-state")).to_have_text("Off")


def test_logging_out_unsubscribes_before_the_token_goes(
    browser: Browser, push_server: ServerProcess, push: PushThread
) -> None:
    url = push_server.url
    sub = push.service.new_subscription("logout")
    page, username = pushing_person(browser, url, "lou", sub)
    turn_on(page)
    # a second device of the same user watches the list
    other = httpx.post(
        f"{url}/v1/sessions",
        json={"username": username, "password": "correct horse 1", "device_name": "watcher"},
    ).json()["token"]
    assert len(server_subscriptions(url, other)) == 1
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("dialog").get_by_role("button", name="Log out").click()  # confirmed
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=T)
    assert server_subscriptions(url, other) == []
    assert stub_state(page)["active"] is False
    assert stub_state(page)["unsubscribed"] >= 1


def test_a_changed_browser_subscription_is_registered_again_at_start(
    browser: Browser, push_server: ServerProcess, push: PushThread
) -> None:
    url = push_server.url
    sub = push.service.new_subscription("moved")
    page, _ = pushing_person(browser, url, "mov", sub)
    bearer = token(page)
    turn_on(page)
    # the push service moved the subscription while the app was closed
    moved = push.service.new_subscription("moved-2")
    page.evaluate(
        "(e) => { const s = window.__pushStub.load(); s.endpoint = e; window.__pushStub.save(s); }",
        moved.endpoint,
    )
    page.reload()
    wait_until(
        lambda: [s["endpoint"] for s in server_subscriptions(url, bearer)] == [moved.endpoint],
        "the new endpoint on the server",
        page,
    )
    # while the app is open: the worker's pushsubscriptionchange tells the page, which
    # registers the browser's new subscription (Chromium does not fire the event itself:
    # it is dispatched in the worker, with no old subscription to subscribe again from)
    again = push.service.new_subscription("moved-3")
    page.evaluate(
        "(e) => { const s = window.__pushStub.load(); s.endpoint = e; window.__pushStub.save(s); }",
        again.endpoint,
    )
    worker(page).evaluate(
        "() => { self.dispatchEvent(new ExtendableEvent('pushsubscriptionchange')); }"
    )
    wait_until(
        lambda: [s["endpoint"] for s in server_subscriptions(url, bearer)] == [again.endpoint],
        "the endpoint from pushsubscriptionchange on the server",
        page,
    )


def test_permission_refused_is_said_plainly_and_nothing_is_subscribed(
    browser: Browser, push_server: ServerProcess, push: PushThread
) -> None:
    url = push_server.url
    sub = push.service.new_subscription("refused")
    page, _ = pushing_person(browser, url, "ref", sub, grant=False)
    page.context.add_init_script(
        "Notification.requestPermission = async () => 'denied';"
        "Object.defineProperty(Notification, 'permission', { get: () => 'denied' });"
    )
    page.reload()
    open_settings(page)
    expect(page.locator("#notify-state")).to_contain_text("blocked", timeout=T)
    notifications_switch(page).click()
    expect(notifications_switch(page)).to_have_attribute("aria-checked", "false")
    expect(page.locator("#notify-state")).to_contain_text("Allow them there")
    page.wait_for_timeout(300)
    assert server_subscriptions(url, token(page)) == []
    assert stub_state(page)["subscribed"] == 0


# ---------- (b) the service worker's handling, pushes delivered through DevTools ----------


def worker_registration(page: Page, url: str) -> tuple[CDPSession, str]:
    """A DevTools session and the id of the app's service worker registration."""
    cdp = page.context.new_cdp_session(page)
    regs: dict[str, dict[str, Any]] = {}

    def updated(event: dict[str, Any]) -> None:
        for r in event["registrations"]:
            regs[r["registrationId"]] = r

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")
    found = wait_until(
        lambda: [
            rid
            for rid, r in regs.items()
            if r["scopeURL"].startswith(url) and not r.get("isDeleted")
        ],
        "the service worker registration",
        page,
    )
    return cdp, found[0]


def deliver(cdp: CDPSession, url: str, registration: str, data: str) -> None:
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": url, "registrationId": registration, "data": data},
    )


def shown(page: Page) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = page.evaluate(NOTIFICATIONS)
    return notes


def worker(page: Page) -> Worker:
    for w in page.context.service_workers:
        return w
    return page.context.wait_for_event("serviceworker", timeout=T)


def png_size(url: str) -> tuple[int, int]:
    """The width and height of a data:image/png URL (from its IHDR chunk)."""
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix), url[:60]
    raw = base64.b64decode(url[len(prefix) :])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR"
    return int.from_bytes(raw[16:20]), int.from_bytes(raw[20:24])


def message_push(cid: str, **extra: Any) -> str:
    body = {"type": "message", "conversation_id": cid, "message_id": "9001", "seq": 3,
            "sender_id": "42", "unread": 2, **extra}  # fmt: skip
    return json.dumps(body)


def test_the_worker_shows_replaces_and_clears_notifications(
    browser: Browser, push_server: ServerProcess, push: PushThread
) -> None:
    url = push_server.url
    page, _ = pushing_person(browser, url, "sw", push.service.new_subscription("sw"))
    cdp, reg = worker_registration(page, url)

    deliver(cdp, url, reg, message_push("111", sender_name="Ann", preview="lunch at one?"))
    notes = wait_until(lambda: shown(page), "a notification", page)
    assert len(notes) == 1
    assert notes[0]["title"] == "Ann"
    assert notes[0]["body"] == "lunch at one?"
    assert notes[0]["tag"] == "111"
    assert notes[0]["data"] == {"conversation_id": "111", "message_id": "9001"}
    assert png_size(notes[0]["icon"]) == (192, 192)  # Ann's initials on her colour

    # the next message of the same conversation replaces it: still one
    deliver(cdp, url, reg, message_push("111", sender_name="Ann", preview="or at two"))
    wait_until(lambda: [n["body"] for n in shown(page)] == ["or at two"], "the replacement", page)

    # preview level "sender": the sender, no text; "none": only that something came
    deliver(cdp, url, reg, message_push("222", sender_name="Bo"))
    deliver(cdp, url, reg, message_push("333"))
    wait_until(lambda: len(shown(page)) == 3, "three conversations' notifications", page)
    by_tag = {n["tag"]: n for n in shown(page)}
    assert (by_tag["222"]["title"], by_tag["222"]["body"]) == ("Bo", "New message")
    assert (by_tag["333"]["title"], by_tag["333"]["body"]) == (
        "New message",
        "Open Hubbub to read it.",
    )
    assert by_tag["333"]["icon"].endswith("/icon-192.png")  # who wrote is hidden: app icon

    # a group: its name as title, the sender in the body, the group's avatar
    group = message_push("444", conversation_kind="group", group_name="Climbing club",
                         sender_name="Ann", preview="rope?")  # fmt: skip
    deliver(cdp, url, reg, group)
    note = wait_until(
        lambda: [n for n in shown(page) if n["tag"] == "444"], "the group's notification", page
    )[0]
    assert (note["title"], note["body"]) == ("Climbing club", "Ann: rope?")
    assert png_size(note["icon"]) == (192, 192)
    close = "registration.getNotifications({tag: '444'}).then(ns => ns.forEach(n => n.close()))"
    worker(page).evaluate(close)
    wait_until(lambda: len(shown(page)) == 3, "the group's notification closed", page)
    # the worker draws avatars by the page's own rules
    names = ["Ann", "ann lee", "  Bo  Di Ek ", "Élodie", "😀 party", "", "👨‍👩‍👧 Fam 🇫🇷"]
    page_side = page.evaluate(
        "async (names) => { const f = await import('/lib/format.js');"
        " return names.map(n => [f.initials(n), f.colorFor(n)]); }",
        names,
    )
    worker_side = worker(page).evaluate(
        "(names) => names.map(n => [pushInitials(n), pushColor(n)])", names
    )
    assert worker_side == page_side

    # `read`: that conversation's notification goes, the others stay, nothing new shows
    deliver(cdp, url, reg, json.dumps({"type": "read", "conversation_id": "111", "unread": 1}))
    wait_until(lambda: sorted(n["tag"] for n in shown(page)) == ["222", "333"], "closed", page)

    # malformed payloads still show something (a generic notification), never nothing
    deliver(cdp, url, reg, "this is not json")
    generic = wait_until(
        lambda: [n for n in shown(page) if n["tag"] == "hubbub"], "a generic notification", page
    )
    assert (generic[0]["title"], generic[0]["body"]) == ("New message", "Open Hubbub to read it.")
    deliver(cdp, url, reg, json.dumps({"type": "message", "conversation_id": "<b>x</b>"}))
    deliver(cdp, url, reg, json.dumps(["a", "list"]))
    page.wait_for_timeout(500)
    assert sorted(n["tag"] for n in shown(page)) == ["222", "333", "hubbub"]


def test_clicking_a_notification_opens_its_conversation(
    browser: Browser, push_server: ServerProcess, push: PushThread
) -> None:
    url = push_server.url
    alice, alice_name = person(browser, url, "alice")
    bob, bob_name = pushing_person(browser, url, "bob", push.service.new_subscription("click"))
    start_chat(alice, bob_name)
    send(alice, "open me")
    expect(bob.get_by_role("list", name="Conversations").get_by_role("link")).to_have_count(
        1, timeout=T
    )
    cid = bob.evaluate(
        "() => document.querySelector('#conv-list a').getAttribute('href').split('/').pop()"
    )
    cdp, reg = worker_registration(bob, url)
    deliver(cdp, url, reg, message_push(cid, sender_name=alice_name))
    wait_until(lambda: shown(bob), "the notification", bob)
    sw = worker(bob)
    # the rules the click uses
    assert sw.evaluate("chatUrl('123')") == "/#/c/123"
    assert sw.evaluate("chatUrl(null)") == "/"
    assert sw.evaluate("clickedConversation({conversation_id: '5', message_id: '6'})") == "5"
    assert sw.evaluate("clickedConversation({cid: '7'})") == "7"
    assert sw.evaluate("clickedConversation({conversation_id: 'javascript:x'})") is None
    picked = sw.evaluate(
        """(origin) => pickWindow([
          {url: 'https://elsewhere.example/', focused: true, visibilityState: 'visible'},
          {url: origin + '/', focused: false, visibilityState: 'hidden', id: 'a'},
          {url: origin + '/#/c/1', focused: false, visibilityState: 'visible', id: 'b'},
        ], origin).id""",
        url,
    )
    assert picked == "b"
    assert sw.evaluate("pickWindow([], 'http://x')") is None
    # the worker's own handler, with the notification it showed: the open window is told
    # to open the conversation (a dispatched event is not trusted, so focus() may refuse)
    sw.evaluate(
        """async () => {
          const [n] = await self.registration.getNotifications();
          self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
        }"""
    )
    expect(bob).to_have_url(f"{url}/#/c/{cid}", timeout=T)
    expect(bob.get_by_role("list", name="Messages")).to_contain_text("open me", timeout=T)
    wait_until(lambda: shown(bob) == [], "the clicked notification closed", bob)


# ---------- end to end: the server's real push, decrypted, shown by the worker ----------


def test_a_real_push_from_the_server_is_shown_with_the_chosen_preview(
    browser: Browser, push_server: ServerProcess, push: PushThread
) -> None:
    url = push_server.url
    alice, alice_name = person(browser, url, "alice")
    sub = push.service.new_subscription("e2e")
    bob, bob_name = pushing_person(browser, url, "bob", sub)
    turn_on(bob)
    # bob shows message text in notifications
    bob.get_by_label("What notifications show").select_option("full")
    bob.get_by_role("button", name="Save notification setting").click()
    expect(bob.locator("#settings-status")).to_contain_text("start of the message", timeout=T)
    start_chat(alice, bob_name)
    send(alice, "first")
    expect(bob.get_by_role("list", name="Conversations").get_by_role("link")).to_have_count(
        1, timeout=T
    )
    cdp, reg = worker_registration(bob, url)
    bob.goto("about:blank")  # no socket: the server pushes at once
    send(alice, "are you there?")
    received = push.call(push.service.wait_for("e2e", 1))
    payload = received[0].payload
    assert payload["type"] == "message" and payload["preview"] == "are you there?"
    deliver(cdp, url, reg, json.dumps(payload))
    bob.goto(url)
    notes = wait_until(lambda: shown(bob), "the pushed notification", bob)
    assert [(n["title"], n["body"], n["tag"]) for n in notes] == [
        (alice_name, "are you there?", payload["conversation_id"])
    ]
    # reading it here closes it
    open_conversation(bob, alice_name)
    wait_until(lambda: shown(bob) == [], "the notification closed on reading", bob)


def test_muting_a_conversation_from_its_header(
    browser: Browser, push_server: ServerProcess, push: PushThread
) -> None:
    url = push_server.url
    alice, alice_name = person(browser, url, "alice")
    bob, bob_name = person(browser, url, "bob")
    start_chat(alice, bob_name)
    send(alice, "hi")
    open_conversation(bob, alice_name)
    mute = bob.get_by_role("button", name="Mute", exact=True)
    expect(mute).to_have_attribute("aria-expanded", "false")
    mute.focus()
    bob.keyboard.press("Enter")
    expect(mute).to_have_attribute("aria-expanded", "true")
    choices = bob.get_by_role("group", name="Mute this chat")
    expect(choices.get_by_role("button", name="For 1 hour")).to_be_focused()
    bob.keyboard.press("Escape")
    expect(choices).to_be_hidden()
    expect(mute).to_be_focused()
    mute.click()
    bob.locator("#chat-name").click()  # a click elsewhere closes it too
    expect(choices).to_be_hidden()
    mute.click()
    with bob.expect_request(lambda r: r.method == "PATCH") as patch:
        choices.get_by_role("button", name="For 8 hours").click()
    until = json.loads(patch.value.post_data or "")["muted_until"]
    assert abs(until - time.time() * 1000 - 8 * 3600_000) < 60_000
    unmute = bob.get_by_role("button", name="Unmute")
    expect(unmute).to_be_focused(timeout=T)
    expect(bob.locator("#chat-muted")).to_contain_text("Muted until", timeout=T)
    # what the server stored (PATCH's answer) is shown, and still after a reload
    bob.reload()
    open_conversation(bob, alice_name)
    expect(bob.locator("#chat-muted")).to_contain_text("Muted until", timeout=T)
    with bob.expect_response(lambda r: r.request.method == "PATCH") as answer:
        bob.get_by_role("button", name="Unmute").click()
    assert json.loads(answer.value.request.post_data or "") == {"muted_until": None}
    assert answer.value.json()["muted_until"] is None
    expect(bob.get_by_role("button", name="Mute", exact=True)).to_be_visible(timeout=T)
    expect(bob.locator("#chat-muted")).to_be_hidden()
    bob.get_by_role("button", name="Mute", exact=True).click()
    with bob.expect_response(lambda r: r.request.method == "PATCH") as answer:
        choices.get_by_role("button", name="Always").click()
    assert answer.value.json()["muted_until"] == -1
    expect(bob.locator("#chat-muted")).to_have_text("Muted", timeout=T)
    row = bob.locator("#conv-list a.conv")
    muted_label = re.compile(f"^{re.escape(alice_name)}, muted, ")  # then preview and time
    expect(row).to_have_attribute("aria-label", muted_label, timeout=T)
    expect(row.locator(".conv-muted")).to_be_visible()
    # bob's other device learns the mute from the server's conversation list
    laptop = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    laptop.goto(url)
    laptop.get_by_label("Username", exact=True).fill(bob_name)
    laptop.get_by_label("Password", exact=True).fill(PASSWORD)
    laptop.get_by_role("button", name="Log in").click()
    other_row = laptop.locator("#conv-list a.conv")
    expect(other_row).to_have_attribute("aria-label", muted_label, timeout=T)
    open_conversation(laptop, alice_name)
    expect(laptop.locator("#chat-muted")).to_have_text("Muted", timeout=T)
    expect(laptop.get_by_role("button", name="Unmute")).to_be_visible()
