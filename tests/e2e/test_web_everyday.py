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


def _meta_and_text(page: object, text: str) -> dict:
    return page.evaluate(  # type: ignore[attr-defined, no-any-return]
        """(text) => {
          const li = [...document.querySelectorAll('#messages .msg')]
            .find(m => m.querySelector('.body').textContent === text);
          const body = li.querySelector('.body'), meta = li.querySelector('.meta');
          const range = document.createRange(); range.selectNodeContents(body);
          const lines = [...range.getClientRects()].map(r => ({top: r.top, bottom: r.bottom,
            left: r.left, right: r.right}));
          const m = meta.getBoundingClientRect(), b = li.getBoundingClientRect();
          return {lines, meta: {top: m.top, bottom: m.bottom, left: m.left, right: m.right},
                  bubble: {top: b.top, bottom: b.bottom, height: b.height},
                  lineHeight: parseFloat(getComputedStyle(body).lineHeight)};
        }""",
        text,
    )


def test_the_time_shares_a_short_messages_line_and_never_covers_text(
    browser: Browser, web_server: ServerProcess
) -> None:
    from tests.e2e.test_web_client import send, start_chat  # noqa: PLC0415

    (ann, _), (ben, ben_name) = [person(browser, web_server.url, p) for p in ("ann", "ben")]
    start_chat(ann, ben_name)
    long = ("a fairly long message that has to wrap over several lines in the bubble " * 4).strip()
    for text in ("hi", long, "x" * 58):
        send(ann, text)
        ann.wait_for_function(
            "(t) => [...document.querySelectorAll('#messages .msg .body')]"
            ".some(b => b.textContent === t)", arg=text, timeout=T,
        )
    short = _meta_and_text(ann, "hi")
    assert short["bubble"]["height"] < 1.9 * short["lineHeight"] + 14  # one line, not two
    for text in ("hi", long, "x" * 58):
        got = _meta_and_text(ann, text)
        meta = got["meta"]
        assert meta["bottom"] <= got["bubble"]["bottom"] + 0.5
        for line in got["lines"]:  # the time never sits on top of the text
            overlap_x = min(line["right"], meta["right"]) - max(line["left"], meta["left"])
            overlap_y = min(line["bottom"], meta["bottom"]) - max(line["top"], meta["top"])
            assert overlap_x <= 0.5 or overlap_y <= 0.5, (text[:20], line, meta)
    for page in (ann, ben):
        page.context.close()
