"""The OpenAPI viewer at /v1/docs renders the document in a real browser, from files the
server serves itself (no CDN: this machine has no internet, so a CDN would show nothing)."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.support import ServerProcess

T = 15_000


def test_the_api_docs_render_every_tag(browser: Browser, web_server: ServerProcess) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(web_server.url + "/v1/docs")
    for tag in ("accounts", "people", "groups", "conversations", "operations"):
        expect(page.get_by_role("heading", name=tag)).to_be_visible(timeout=T)
    expect(page.get_by_text("/v1/conversations/{conversation_id}/messages").first).to_be_visible()
    assert errors == []
    page.close()
