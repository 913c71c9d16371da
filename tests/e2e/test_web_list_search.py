"""Searching the conversation list (issue 13): typing in "Search chats" keeps the chats
whose name, username or last message holds the text, whatever its case or accents; no
match says so; Escape brings every chat back. The unread total does not change."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.e2e.test_web_client import T, conversation, person
from tests.e2e.test_web_defects import Rest
from tests.support import ServerProcess


def test_search_chats_filters_the_list_by_name_username_and_last_message(
    browser: Browser, web_server: ServerProcess
) -> None:
    url = web_server.url
    page, _ = person(browser, url, "alice")
    me = Rest.of(page, url)
    elodie = Rest.sign_up(url, "elo", display_name="Élodie Martin")
    bob = Rest.sign_up(url, "bob", display_name="Bob")
    carol = Rest.sign_up(url, "carol", display_name="Carol")
    elodie.post(elodie.direct(me.user_id), "bonjour")
    bob.post(bob.direct(me.user_id), "see you at the crag")
    me.call("POST", "/groups", {"name": "Climbing club", "members": [carol.user_id]})
    rows = page.locator("#conv-list a.conv")
    expect(rows).to_have_count(3, timeout=T)
    expect(page).to_have_title("(2) Hubbub", timeout=T)
    field = page.get_by_role("searchbox", name="Search chats")

    def shown(text: str, titles: list[str]) -> None:
        field.fill(text)
        expect(rows).to_have_count(len(titles), timeout=T)
        for title in titles:
            expect(conversation(page, title)).to_have_count(1)

    shown("elodie", ["Élodie Martin"])  # accents and case folded
    shown("CLIMB", ["Climbing club"])
    shown("crag", ["Bob"])  # the last message
    shown(bob.username[:5], ["Bob"])  # the username
    field.fill("zzz")
    expect(rows).to_have_count(0, timeout=T)
    expect(page.get_by_role("status").filter(has_text="No chats match “zzz”.")).to_be_visible()
    expect(page).to_have_title("(2) Hubbub")  # what is hidden is still unread
    field.press("Escape")
    expect(field).to_have_value("")
    expect(rows).to_have_count(3, timeout=T)
    expect(page.locator("#conv-nomatch")).to_be_hidden()
    page.context.close()
