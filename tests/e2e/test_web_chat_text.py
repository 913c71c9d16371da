"""What a message's text looks like in an open chat (issue 13): links that can be clicked,
safely; simple formatting; hostile text that stays text; long messages that fold."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_web_client import T, conversation, message, open_conversation, person
from tests.e2e.test_web_defects import Rest
from tests.support import ServerProcess


def chat_with_sara(browser: Browser, url: str, *bodies: str) -> tuple[Page, Rest]:
    """Bob in a browser, with Sara's messages (sent over REST) open in front of him."""
    bob, _ = person(browser, url, "bob")
    sara = Rest.sign_up(url, "sara")
    cid = sara.direct(Rest.of(bob, url).user_id)
    for body in bodies:
        sara.post(cid, body)
    open_conversation(bob, sara.username)
    return bob, sara


def body_of(page: Page, text: str) -> Any:
    return message(page, text).locator(".body")


def test_links_can_be_clicked_and_only_safe_ones(
    browser: Browser, web_server: ServerProcess
) -> None:
    bob, _ = chat_with_sara(
        browser,
        web_server.url,
        "docs at https://example.org/a_(b)?q=1#x. and (www.example.com/path)",
        "mail mailto:ann@example.org or javascript:alert(1) or JAVASCRIPT://x%0aalert(1)",
        "ftp://files.example.org and data:text/html,<b>x</b> and http:// and www.",
    )
    first = body_of(bob, "docs at")
    links = first.get_by_role("link")
    expect(links).to_have_count(2, timeout=T)
    # the sentence's full stop and the closing parenthesis are not part of the link
    expect(links.nth(0)).to_have_text("https://example.org/a_(b)?q=1#x")
    expect(links.nth(0)).to_have_attribute("href", "https://example.org/a_(b)?q=1#x")
    expect(links.nth(1)).to_have_text("www.example.com/path")
    expect(links.nth(1)).to_have_attribute("href", "https://www.example.com/path")
    for i in range(2):
        expect(links.nth(i)).to_have_attribute("target", "_blank")
        expect(links.nth(i)).to_have_attribute("rel", "noopener noreferrer")
    second = body_of(bob, "mail mailto")
    expect(second.get_by_role("link")).to_have_count(1)
    expect(second.get_by_role("link")).to_have_attribute("href", "mailto:ann@example.org")
    expect(second).to_contain_text("javascript:alert(1)")  # as text, never a link
    third = body_of(bob, "ftp://")
    expect(third).to_have_text(
        "ftp://files.example.org and data:text/html,<b>x</b> and http:// and www."
    )
    expect(third.locator("a, b")).to_have_count(0)
    # no link anywhere in the chat goes anywhere but http(s) and mailto
    hrefs = bob.locator("#messages a").evaluate_all("(els) => els.map((a) => a.href)")
    assert hrefs and all(h.startswith(("https://", "http://", "mailto:")) for h in hrefs), hrefs
    bob.context.close()


def test_formatting_is_drawn_and_html_never_interpreted(
    browser: Browser, web_server: ServerProcess
) -> None:
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    bob, _ = chat_with_sara(
        browser,
        web_server.url,
        "plain *bold* and _italic_ and ~gone~ and `x < y` here",
        "```\nfor (;;) { *not bold* }\n```",
        "nest *bold _both_ bold* end",
        "unbalanced *open _half* snake_case_name 2*3*4 ** __ *",
        hostile,
    )
    plain = body_of(bob, "plain")
    expect(plain.locator("strong")).to_have_text("bold", timeout=T)
    expect(plain.locator("em")).to_have_text("italic")
    expect(plain.locator("s")).to_have_text("gone")
    expect(plain.locator("code")).to_have_text("x < y")
    expect(plain).to_have_text("plain bold and italic and gone and x < y here")
    block = message(bob, "for (;;)").locator("pre code")
    expect(block).to_have_text("for (;;) { *not bold* }")  # no formatting inside a block
    expect(message(bob, "for (;;)").locator("strong")).to_have_count(0)
    nest = body_of(bob, "nest")
    expect(nest.locator("strong em")).to_have_text("both")
    expect(nest.locator("strong")).to_have_text("bold both bold")
    odd = body_of(bob, "unbalanced")
    # markers that do not pair stay as they were typed (the closed pair still counts)
    expect(odd).to_have_text("unbalanced open _half snake_case_name 2*3*4 ** __ *")
    expect(odd.locator("strong")).to_have_text("open _half")
    expect(odd.locator("em")).to_have_count(0)
    evil = body_of(bob, "<img")
    expect(evil).to_have_text(hostile)
    expect(bob.locator("#messages img, #messages script")).to_have_count(0)
    assert bob.evaluate("window.pwned") is None
    bob.context.close()


def test_the_longest_message_renders(browser: Browser, web_server: ServerProcess) -> None:
    """100,000 characters (the server's limit) full of markers and links: it renders (the
    work is linear), and every character is there."""
    unit = "*a _b ~d https://x.org/e_ www.f.io *g* `c` <i>h</i> "
    body = (unit * (100_000 // len(unit) + 1))[:100_000]
    bob, _ = chat_with_sara(browser, web_server.url, body)
    bubble = bob.locator("#messages .msg .body")
    expect(bubble).to_have_count(1, timeout=T)
    # every character is there but the markers that paired ("*g*", "`c`", "_b … e_": 6 of
    # each 52), as text
    length = bubble.evaluate("(el) => el.textContent.length")
    assert 100_000 * 46 // 52 - 10 <= length <= 100_000, length
    assert bubble.locator("a").count() > 2000
    assert bubble.locator("strong").count() > 1000
    assert bubble.locator("i").count() == 0
    bob.context.close()


def test_a_long_message_folds_with_read_more(browser: Browser, web_server: ServerProcess) -> None:
    long_text = "start " + "lorem ipsum dolor sit amet " * 185 + "the end"  # ~5,000 characters
    many_lines = "\n".join(f"line {i}" for i in range(1, 21))
    bob, _ = chat_with_sara(browser, web_server.url, "short one", long_text, many_lines)
    long_msg = message(bob, "start lorem")
    expect(long_msg).to_have_count(1, timeout=T)
    box = long_msg.bounding_box()
    assert box and box["height"] < 360, box  # folded: a dozen lines, not a 1,352 px bubble
    more = long_msg.get_by_role("button", name="Read more")
    expect(more).to_have_attribute("aria-expanded", "false")
    expect(message(bob, "short one").get_by_role("button", name="Read more")).to_have_count(0)
    # the keyboard reaches it and unfolds the text in place
    more.focus()
    bob.keyboard.press("Enter")
    less = long_msg.get_by_role("button", name="Show less")
    expect(less).to_be_focused()
    expect(less).to_have_attribute("aria-expanded", "true")
    opened = long_msg.bounding_box()
    assert opened and opened["height"] > 2 * box["height"], (box, opened)
    expect(long_msg.get_by_text("the end")).to_be_visible()
    bob.keyboard.press("Space")
    expect(long_msg.get_by_role("button", name="Read more")).to_be_focused()
    # twenty short lines fold too
    expect(message(bob, "line 20").get_by_role("button", name="Read more")).to_be_visible()
    bob.context.close()


def test_the_list_preview_reads_as_the_chat_shows_it(
    browser: Browser, web_server: ServerProcess
) -> None:
    """A preview is one line of what the reader sees: formatting markers gone, nothing
    interpreted ("<b>" stays those characters)."""
    bob, sara = chat_with_sara(browser, web_server.url, "*bold* and _it_ with `<b>code</b>`")
    preview = conversation(bob, sara.username).locator(".conv-preview")
    expect(preview).to_have_text("bold and it with <b>code</b>", timeout=T)
    expect(conversation(bob, sara.username).locator("b, strong")).to_have_count(0)
    bob.context.close()
