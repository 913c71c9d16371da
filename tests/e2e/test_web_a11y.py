"""Accessibility of the web client (issue 13): axe-core finds no serious or critical
violation on any main screen, in light and dark, on a desktop and on a phone; and what
axe cannot judge is checked by hand: tap targets on a phone, one <h1>, the message log
as a live region, conversation rows named with their preview and time, and where focus
goes (after logging in, leaving a group, being removed; messages reachable by keys)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from websockets.sync.client import connect

from tests.e2e.test_web_client import PASSWORD, T, conversation, message, person, send
from tests.e2e.test_web_defects import Rest
from tests.support import ServerProcess

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
LOOKS = {
    f"{theme}-{device}": {**size, "color_scheme": theme}
    for theme in ("light", "dark")
    for device, size in (("desktop", DESKTOP), ("phone", PHONE))
}
AXE = Axe()
BLOCKING = ("serious", "critical")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


class Audit:
    """axe-core on each screen a test walks through; every finding is kept, so one run
    reports all of them (rule ids, impact, how many nodes, the first few targets)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.screens: list[str] = []
        self.found: list[str] = []

    def check(self, screen: str) -> None:
        self.screens.append(screen)
        violations = AXE.run(self.page).response["violations"]
        for v in violations:
            if v["impact"] in BLOCKING:
                targets = ", ".join(str(n["target"][0]) for n in v["nodes"][:3])
                self.found.append(
                    f"{screen}: {v['id']} ({v['impact']}, {len(v['nodes'])}): {targets}"
                )


@contextmanager
def reader(url: str, peer: Rest) -> Iterator[Callable[[str, str], None]]:
    """`peer` on a WebSocket of its own, to mark messages read (reads travel only there)."""
    token = peer.http.headers["Authorization"].removeprefix("Bearer ")
    with connect(url.replace("http", "ws", 1) + "/v1/ws") as ws:
        ws.send(json.dumps({"type": "hello", "token": token, "since": 0}))
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"

        def read(cid: str, mid: str) -> None:
            ws.send(json.dumps({"type": "read", "conversation_id": cid, "message_id": mid}))

        yield read


class Scene:
    """Someone in a browser with a one-to-one chat (bob) and a group (bob, carol), both
    with messages in them, set up through the API."""

    def __init__(self, browser: Browser, url: str, **context: Any) -> None:
        self.url = url
        self.page, self.username = person(browser, url, "me", **context)
        self.me = Rest.of(self.page, url)
        self.bob = Rest.sign_up(url, "bob", "Bob Builder")
        self.carol = Rest.sign_up(url, "carol", "Carol Singer")
        self.direct = self.bob.direct(self.me.user_id)
        self.bob.post(self.direct, "hello from bob")
        group = self.bob.call(
            "POST", "/groups", {"name": "Team", "members": [self.me.user_id, self.carol.user_id]}
        )
        self.group = str(group["conversation_id"])
        self.carol.post(self.group, "carol here")
        self.bob.post(self.group, "bob here")
        expect(conversation(self.page, "Bob Builder")).to_contain_text("hello from bob", timeout=T)
        expect(conversation(self.page, "Team")).to_contain_text("bob here", timeout=T)

    @property
    def phone(self) -> bool:
        return self.page.viewport_size["width"] < 720  # type: ignore[index]

    def open(self, title: str) -> None:
        if self.phone and self.page.locator("#btn-back").is_visible():
            self.page.get_by_role("button", name="Back to conversation list").click()
        conversation(self.page, title).click()
        expect(self.page.get_by_label("Message", exact=True)).to_be_visible(timeout=T)


def walk(scene: Scene, at: Callable[[str], None]) -> None:
    """Through every main screen once it is logged in, calling `at` on each."""
    page = scene.page
    at("conversation list")
    for button, panel, ready in (
        ("New chat", "#panel-newchat", None),
        ("New group", "#panel-newgroup", None),
        ("Settings", "#panel-settings", "#device-list li"),
    ):
        page.get_by_role("button", name=button, exact=True).click()
        if ready:
            expect(page.locator(ready).first).to_be_visible(timeout=T)
        at(f"{button} panel")
        page.locator(panel).get_by_role("button", name="Cancel").click()
    scene.open("Bob Builder")
    expect(message(page, "hello from bob")).to_have_count(1, timeout=T)
    page.locator("#file-input").set_input_files(
        files=[{"name": "lake.png", "mimeType": "image/png", "buffer": png()}]
    )
    send(page, "reply from me")
    mine = message(page, "reply from me")
    expect(mine).to_have_attribute("data-message-id", re.compile(r"\d+"), timeout=T)
    with reader(scene.url, scene.bob) as read:
        read(scene.direct, mine.get_attribute("data-message-id") or "")
        expect(mine.locator("[data-status]")).to_have_attribute("data-status", "read", timeout=T)
    expect(mine.locator(".att-image.loaded")).to_be_visible(timeout=T)
    at("one-to-one chat")
    mine.get_by_role("button", name="Open photo lake.png").click()
    expect(page.get_by_role("dialog", name="lake.png")).to_be_visible(timeout=T)
    at("image viewer")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    scene.open("Team")
    expect(message(page, "carol here").locator(".sender")).to_have_text("Carol Singer", timeout=T)
    at("group chat")
    page.get_by_role("button", name="Group info").click()
    expect(page.locator("#gi-members li")).to_have_count(3, timeout=T)
    at("group info")


@pytest.mark.parametrize("look", LOOKS)
def test_axe_finds_nothing_serious_on_any_screen(
    browser: Browser, web_server: ServerProcess, look: str
) -> None:
    context = browser.new_context(**LOOKS[look])
    page = context.new_page()
    audit = Audit(page)
    page.goto(web_server.url)
    expect(page.get_by_role("tab", name="Log in")).to_be_visible(timeout=T)
    audit.check("log in")
    page.get_by_role("tab", name="Sign up").click()
    audit.check("sign up")
    context.close()
    scene = Scene(browser, web_server.url, **LOOKS[look])
    audit.page = scene.page
    walk(scene, audit.check)
    assert len(audit.screens) == 10
    assert not audit.found, "\n".join(audit.found)
    scene.page.context.close()


# Every colour of the people palette as the page draws it (axe sees only the few people a
# screen shows): an avatar's background under its initials, and a group sender's name on
# the other side's bubble, computed by the browser in the theme at hand.
PALETTE_COLOURS = """async () => {
  const f = await import('/lib/format.js');
  const li = document.createElement('li');
  li.className = 'msg other';
  const name = document.createElement('span');
  name.className = 'sender';
  li.append(name);
  const ul = document.createElement('ul');
  ul.className = 'messages';
  ul.append(li);
  const avatar = document.createElement('span');
  avatar.className = 'avatar';
  document.body.append(ul, avatar);
  const out = [];
  for (let id = 0; id < 720; id++) {  // ids of every hue (and every palette entry)
    name.style.color = f.nameColorFor(String(id));
    avatar.style.background = f.colorFor(String(id));
    out.push([getComputedStyle(avatar).backgroundColor, getComputedStyle(avatar).color,
              getComputedStyle(name).color, getComputedStyle(li).backgroundColor]);
  }
  ul.remove(); avatar.remove();
  return out;
}"""


def luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_avatar_and_sender_colour_has_4_5_to_1(
    browser: Browser, web_server: ServerProcess, theme: str
) -> None:
    context = browser.new_context(**DESKTOP, color_scheme=theme)
    page = context.new_page()
    page.goto(web_server.url)
    expect(page.get_by_role("tab", name="Log in")).to_be_visible(timeout=T)
    poor = set()
    for avatar, initials, name, bubble in page.evaluate(PALETTE_COLOURS):
        if contrast(avatar, initials) < 4.5:
            poor.add(f"initials {initials} on {avatar}: {contrast(avatar, initials):.2f}")
        if contrast(name, bubble) < 4.5:
            poor.add(f"name {name} on {bubble}: {contrast(name, bubble):.2f}")
    assert not poor, "\n".join(sorted(poor))
    context.close()


# every control a finger or a keyboard reaches, drawn, with its size; a link inside a
# message's text is inline (WCAG 2.5.5 exempts those)
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'button, a[href], input:not([type=file]), select, textarea, [role=tab], [role=switch]')]
  .filter((el) => el.getClientRects().length && !el.closest('.msg .body'))
  .map((el) => { const r = el.getBoundingClientRect();
    const name = el.id || el.getAttribute('aria-label') || el.textContent.trim().slice(0, 30);
    return [name || el.tagName, Math.round(r.width), Math.round(r.height)]; })
  .filter(([, w, h]) => w < 44 || h < 44)"""


def test_every_tap_target_on_a_phone_is_44_px(browser: Browser, web_server: ServerProcess) -> None:
    small: list[str] = []

    def measure(page: Page, screen: str) -> None:
        small.extend(f"{screen}: {n} {w}x{h}" for n, w, h in page.evaluate(SMALL_TARGETS))

    context = browser.new_context(**LOOKS["light-phone"])
    page = context.new_page()
    page.goto(web_server.url)
    expect(page.get_by_role("tab", name="Log in")).to_be_visible(timeout=T)
    measure(page, "log in")
    page.get_by_role("tab", name="Sign up").click()
    measure(page, "sign up")
    context.close()
    scene = Scene(browser, web_server.url, **LOOKS["light-phone"])
    walk(scene, lambda screen: measure(scene.page, screen))
    assert not small, "\n".join(small)
    scene.page.context.close()


def test_every_screen_has_one_h1(browser: Browser, web_server: ServerProcess) -> None:
    context = browser.new_context(**LOOKS["dark-desktop"])
    page = context.new_page()
    page.goto(web_server.url)
    h1 = page.get_by_role("heading", level=1)
    expect(h1).to_have_count(1, timeout=T)
    page.get_by_role("tab", name="Sign up").click()
    expect(h1).to_have_count(1)
    context.close()
    scene = Scene(browser, web_server.url, **LOOKS["dark-desktop"])
    counts: dict[str, int] = {}
    h1 = scene.page.get_by_role("heading", level=1)
    walk(scene, lambda screen: counts.update({screen: h1.count()}))
    assert counts == dict.fromkeys(counts, 1), counts
    assert len(counts) == 8
    scene.page.context.close()


def test_conversation_rows_are_named_with_their_preview_and_time(
    browser: Browser, web_server: ServerProcess
) -> None:
    scene = Scene(browser, web_server.url, **DESKTOP)
    page = scene.page
    for title, unread, preview in (
        ("Bob Builder", 1, "hello from bob"),
        ("Team", 2, "Bob Builder: bob here"),
    ):
        row = conversation(page, title)
        time = row.locator(".conv-time").text_content()
        assert time and re.search(r"\d:\d\d", time), time
        expect(row).to_have_accessible_name(f"{title}, {unread} unread, {preview}, {time}")
    # what I wrote myself says so
    scene.open("Bob Builder")
    send(page, "on my way")
    row = conversation(page, "Bob Builder")
    expect(row).to_have_accessible_name(re.compile(r"^Bob Builder, You: on my way, \d"), timeout=T)
    page.context.close()


def test_the_message_log_is_live_and_its_messages_reachable_by_keys(
    browser: Browser, web_server: ServerProcess
) -> None:
    scene = Scene(browser, web_server.url, **DESKTOP)
    page = scene.page
    scene.open("Bob Builder")
    log = page.get_by_role("log", name="Bob Builder")
    expect(log).to_have_attribute("aria-live", "polite")
    # the messages (the list also holds date and unread lines)
    in_log = log.get_by_role("list", name="Messages").locator("li.msg")
    expect(in_log).to_have_count(1, timeout=T)
    # a message that comes in lands in the live region, named as a screen reader says it
    scene.bob.post(scene.direct, "are you there?")
    expect(in_log.nth(1)).to_have_accessible_name(
        re.compile(r"^Bob Builder: are you there\?, \d{1,2}:\d\d"), timeout=T
    )
    send(page, "yes I am")
    expect(in_log.nth(2)).to_have_accessible_name(
        re.compile(r"^You: yes I am, \d{1,2}:\d\d( [AP]M)?, (sent|delivered)$"), timeout=T
    )
    # the log is one Tab stop, the newest message; arrows move through the messages
    page.get_by_label("Message", exact=True).focus()
    page.keyboard.press("Shift+Tab")  # the attach button
    page.keyboard.press("Shift+Tab")
    expect(in_log.nth(2)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(in_log.nth(1)).to_be_focused()
    page.keyboard.press("Home")
    expect(in_log.nth(0)).to_be_focused()
    expect(in_log.nth(0)).to_have_attribute("tabindex", "0")
    expect(log.locator("li[tabindex='0']")).to_have_count(1)
    page.keyboard.press("ArrowUp")  # the first stays
    expect(in_log.nth(0)).to_be_focused()
    page.keyboard.press("End")
    expect(in_log.nth(2)).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Tab")  # out of the log at once: it holds one stop
    expect(page.get_by_role("button", name="Attach a file")).to_be_focused()
    page.keyboard.press("Shift+Tab")  # and back to the message that was current
    expect(in_log.nth(1)).to_be_focused()
    page.context.close()


def focused(page: Page) -> str:
    """What has focus, for assertion messages: never 'BODY'."""
    return str(page.evaluate("(e => e.id || e.outerHTML.slice(0, 80))(document.activeElement)"))


def test_focus_never_falls_to_the_page_body(browser: Browser, web_server: ServerProcess) -> None:
    scene = Scene(browser, web_server.url, **DESKTOP)
    page = scene.page
    rows = page.locator("#conv-list a.conv")
    # logging in: the newest conversation has focus
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("dialog").get_by_role("button", name="Log out").click()
    page.get_by_label("Username", exact=True).fill(scene.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(rows.first).to_be_focused(timeout=T)
    expect(rows.first).to_have_accessible_name(re.compile("^Team"))
    # removing members (I own this group): the next member's button, then the field
    me = Rest.of(page, scene.url)  # logging out ended the first session's token
    owned = me.call(
        "POST", "/groups", {"name": "Mine", "members": [scene.bob.user_id, scene.carol.user_id]}
    )
    expect(conversation(page, "Mine")).to_have_count(1, timeout=T)
    scene.open("Mine")
    page.get_by_role("button", name="Group info").click()
    page.get_by_role("button", name=f"Remove {scene.bob.username}").click()
    expect(page.locator("#gi-members li")).to_have_count(2, timeout=T)
    expect(page.get_by_role("button", name=f"Remove {scene.carol.username}")).to_be_focused()
    page.get_by_role("button", name=f"Remove {scene.carol.username}").click()
    expect(page.locator("#gi-members li")).to_have_count(1, timeout=T)
    expect(page.get_by_label("Add member (name or username)")).to_be_focused()
    assert owned["conversation_id"]
    # leaving a group
    scene.open("Team")
    page.get_by_role("button", name="Group info").click()
    page.get_by_role("button", name="Leave group").click()
    page.get_by_role("dialog").get_by_role("button", name="Leave group").click()
    # the chat stays, read only: the notice that replaced the Leave button has focus
    notice = page.get_by_role("status").filter(has_text="You left this group.")
    expect(notice).to_be_focused(timeout=T)
    expect(conversation(page, "Team")).to_have_count(1)
    # being removed while typing
    club = scene.bob.call("POST", "/groups", {"name": "Club", "members": [scene.me.user_id]})
    expect(conversation(page, "Club")).to_have_count(1, timeout=T)
    scene.open("Club")
    page.get_by_label("Message", exact=True).fill("half a thou")
    scene.bob.call("DELETE", f"/groups/{club['group_id']}/members/{scene.me.user_id}")
    # the composer being typed in is gone: its notice takes focus
    removed = page.get_by_role("status").filter(has_text="You were removed from this group.")
    expect(removed).to_be_focused(timeout=T)
    assert "chat-notice" in focused(page), focused(page)
    page.context.close()


def test_on_a_phone_focus_follows_the_pane_and_group_info_covers_it(
    browser: Browser, web_server: ServerProcess
) -> None:
    scene = Scene(browser, web_server.url, **PHONE)
    page = scene.page
    conversation(page, "Team").click()
    # the row is hidden with the list: the chat's name has focus, and Back returns to the row
    expect(page.get_by_role("heading", name="Team")).to_be_focused(timeout=T)
    page.get_by_role("button", name="Group info").click()
    panel = page.get_by_role("complementary", name="Group info")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None
    assert (box["x"], box["width"]) == (0, 390), box  # no sliver of the chat beside it
    page.get_by_role("button", name="Hide details").click()
    page.get_by_role("button", name="Back to conversation list").click()
    expect(conversation(page, "Team")).to_be_focused(timeout=T)
    page.context.close()
