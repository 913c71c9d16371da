"""The web client at scale (issue 13), in real Chromium against a real server: an account
with 500 conversations and 5,000 messages logs in on a fresh browser without replaying
its inbox, fetches names in batches, opens a chat from its history over REST, and takes a
burst of 50 messages touching only the rows they change; and a logged-in user whose
server is down at load sees the app as last seen with "Connecting…", not the login form.
How long the main thread is blocked is measured in bench/web_long_tasks.py, not here."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.big_account import PASSWORD, build, burst, expected_unread, in_thread, unread_wanted
from tests.e2e.test_web_client import T, conversation, message, messages, person
from tests.e2e.test_web_defects import Frames, Rest, badge, wait_until
from tests.support import ServerProcess

BIG = 60_000  # ms: the first draw of 500 rows on a loaded 2-core machine

# rows of the list that change from now on (their text, or their place), by href
WATCH_ROWS = """() => {
  window.__touched = new Set();
  const list = document.getElementById('conv-list');
  new MutationObserver((records) => {
    for (const r of records) {
      const row = (li) => window.__touched.add(li.querySelector('a').getAttribute('href'));
      const at = r.target.nodeType === Node.TEXT_NODE ? r.target.parentElement : r.target;
      if (at === list) for (const n of r.addedNodes) row(n);
      else if (at.closest('#conv-list > li')) row(at.closest('#conv-list > li'));
    }
  }).observe(list, { subtree: true, childList: true, characterData: true, attributes: true });
}"""


def rows(page: Page) -> Any:
    return page.locator("#conv-list > li")


def test_a_fresh_browser_with_500_conversations_and_5000_messages(
    browser: Browser, web_server: ServerProcess
) -> None:
    url = web_server.url
    acct = in_thread(build(url))
    total = expected_unread(acct)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    frames = Frames(page)
    user_requests: list[str] = []
    page.on("request", lambda r: user_requests.append(r.url) if "/v1/users" in r.url else None)
    page.goto(url)
    page.get_by_label("Username", exact=True).fill(acct.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # the list, its unread counts and last messages come over REST
    expect(rows(page)).to_have_count(500, timeout=BIG)
    expect(page).to_have_title(f"({total}) Hubbub", timeout=BIG)
    top = acct.cids[-1]  # the last conversation written to: near the top
    expect(page.locator(f'#conv-list a[href="#/c/{top}"]')).to_contain_text(acct.last_body[top])
    # a fresh device starts where its list was read, the inbox head: nothing replayed
    wait_until(page, frames.caught_up, "the ready and its ack")
    hello = next(f for f in frames.sent if f["type"] == "hello")
    assert hello["since"] == frames.last_ready()["head"] > 0  # type: ignore[index]
    assert [f for f in frames.received if f["type"] == "message"] == []
    # the peers' names, fetched a hundred at a time, not one request each
    for name in acct.peer_names.values():
        expect(conversation(page, name)).to_have_count(1, timeout=T)
    assert user_requests and len(user_requests) <= 2, user_requests
    assert all("/v1/users/batch?ids=" in u for u in user_requests), user_requests

    # open a group with 2 unread: its history comes over REST, newest at the bottom
    i = next(n for n in range(len(acct.cids) - 60, len(acct.cids)) if unread_wanted(n, 10) == 2)
    cid = acct.cids[i]
    page.locator(f'#conv-list a[href="#/c/{cid}"]').click()
    expect(message(page, acct.last_body[cid])).to_have_count(1, timeout=T)
    expect(messages(page)).to_have_count(10)
    expect(page).to_have_title(f"({total - 2}) Hubbub", timeout=T)  # read: 2 fewer

    # a burst of 50 into the open chat and 4 others far down the list
    others = [acct.cids[n] for n in range(4) if unread_wanted(n, 10) < 10]
    page.evaluate(WATCH_ROWS)
    bodies = in_thread(burst(acct, [cid, *others], 50))
    in_open = [b for n, b in enumerate(bodies) if n % (1 + len(others)) == 0]
    expect(message(page, in_open[-1])).to_have_count(1, timeout=T)
    shown = page.locator("#messages li .body").all_text_contents()
    assert [t for t in shown if t.startswith("burst")] == in_open  # in order, once each
    per_other = len(bodies) // (1 + len(others))
    for other in others:
        want = unread_wanted(acct.cids.index(other), 10) + per_other
        expect(badge(page, acct.title[other])).to_have_text(str(want), timeout=T)
    new_total = total - 2 + per_other * len(others)
    expect(page).to_have_title(f"({new_total}) Hubbub", timeout=T)
    # only the rows the burst changed were touched (moved up, or their writer's presence
    # dot): not the other ~490
    touched = set(page.evaluate("[...window.__touched]"))
    direct_of = {acct.writer[c]: c for c in acct.cids[: len(acct.peer_names)]}
    changed = {cid, *others, *(direct_of[acct.writer[c]] for c in [cid, *others])}
    assert touched <= {f"#/c/{c}" for c in changed}, touched
    assert {f"#/c/{c}" for c in others} <= touched
    context.close()


def test_the_app_as_last_seen_shows_while_the_server_is_down_at_load(
    browser: Browser, web_server: ServerProcess
) -> None:
    url = web_server.url
    page, _ = person(browser, url, "alice")
    alice = Rest.of(page, url)
    bob = Rest.sign_up(url, "bob")
    cid = bob.direct(alice.user_id)
    bob.post(cid, "before the outage")
    expect(conversation(page, bob.username)).to_contain_text("before the outage", timeout=T)
    # the service worker has the app's files (a load without the server needs them)
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=T)
    web_server.stop()
    page.reload()
    # the app, the list as last seen, and "Connecting…": never the login form
    expect(page.get_by_role("status").filter(has_text="Connecting…")).to_be_visible(timeout=T)
    expect(conversation(page, bob.username)).to_contain_text("before the outage")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    assert json.loads(page.evaluate("localStorage.getItem('hubbub.auth')"))["token"]
    web_server.start()  # back: it connects by itself, and live messages come
    expect(page.get_by_role("status").filter(has_text="Connecting")).to_have_count(
        0, timeout=30_000
    )
    bob.post(cid, "after the outage")
    expect(conversation(page, f"{bob.username}, 2 unread")).to_contain_text(
        "after the outage", timeout=T
    )
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    page.context.close()


def test_a_fresh_login_reads_the_list_once_and_replays_what_came_after_it(
    browser: Browser, web_server: ServerProcess
) -> None:
    """The list answer carries the inbox head it was read at; a fresh device says hello
    from there, so a message stored between the list and the hello is replayed (shown
    once, counted once), and the list is not fetched again to cover that gap."""
    url = web_server.url
    sara = Rest.sign_up(url, "sara")
    bob = Rest.sign_up(url, "bob")
    cid = sara.direct(bob.user_id)
    sara.post(cid, "before the list")
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    frames = Frames(page)
    heads: list[int] = []

    def list_then_a_message(route: Any) -> None:
        response = route.fetch()
        heads.append(response.json()["head"])
        sara.post(cid, "after the list")  # stored once the list was read, before hello
        route.fulfill(response=response)

    page.route(f"{url}/v1/conversations", list_then_a_message)
    page.goto(url)
    page.get_by_label("Username", exact=True).fill(bob.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(badge(page, sara.username)).to_have_text("2", timeout=T)  # the server's count
    assert bob.unread() == {cid: 2}
    hellos = [f for f in frames.sent if f.get("type") == "hello"]
    assert heads and hellos[0]["since"] == heads[0] == 1, (heads, hellos)
    open_row = conversation(page, sara.username)
    open_row.click()
    for body in ("before the list", "after the list"):
        expect(message(page, body)).to_have_count(1, timeout=T)
    page.close()
