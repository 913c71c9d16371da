"""Finding people (issue 13): New chat, New group's members and group info's Add member
find people by the start of their display name or @username as you type (GET
/v1/users/search), in an ARIA combobox picked by mouse or keys; a username typed in full
still works with Enter. Oneself is not offered, members are marked, "No one found" says
so, a stale search is cancelled, and a 429 pauses searching calmly, then tries once more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from tests.e2e.test_web_a11y import DESKTOP, Audit
from tests.e2e.test_web_appearance import assert_theme, choose
from tests.e2e.test_web_client import T, person
from tests.e2e.test_web_defects import Rest
from tests.support import ServerProcess

NEW_CHAT = "Name or username to chat with"
ADD_MEMBER = "Add member (name or username)"
MEMBERS = "Members (usernames, comma separated)"


def is_search(url: str) -> bool:
    return "/v1/users/search?" in url


def listbox(page: Page, name: str) -> Any:
    return page.get_by_role("listbox", name=name, exact=True)


def note(page: Page, field_id: str) -> Any:
    return page.locator(f"#{field_id}-people-note")


class People:
    """Me in a browser, and on the API: Bobby Tables (@bt...), Bob Marley (@marley...),
    Carol Singer and Dan Brown; a group Bobby made with me and Carol in it."""

    def __init__(self, browser: Browser, url: str, **context: Any) -> None:
        self.url = url
        self.page, self.username = person(browser, url, "me", **context)
        self.me = Rest.of(self.page, url)
        self.bobby = Rest.sign_up(url, "bt", "Bobby Tables")
        self.marley = Rest.sign_up(url, "marley", "Bob Marley")
        self.carol = Rest.sign_up(url, "carol", "Carol Singer")
        self.dan = Rest.sign_up(url, "dan", "Dan Brown")

    def group(self) -> str:
        members = [self.me.user_id, self.carol.user_id]
        g = self.bobby.call("POST", "/groups", {"name": "Team", "members": members})
        return str(g["conversation_id"])


@pytest.fixture
def people(browser: Browser, web_server: ServerProcess) -> Iterator[People]:
    p = People(browser, web_server.url, **DESKTOP)
    yield p
    p.page.context.close()


def test_find_by_display_name_or_username_and_pick_with_the_keyboard(people: People) -> None:
    page = people.page
    page.get_by_role("button", name="New chat").click()
    field = page.get_by_role("combobox", name=NEW_CHAT)
    expect(field).to_be_focused()
    found = listbox(page, "People to chat with").get_by_role("option")
    # by the start of a display name: both Bobs, with their usernames
    field.fill("Bob")
    expect(found).to_have_count(2, timeout=T)
    expect(field).to_have_attribute("aria-expanded", "true")
    expect(found.filter(has_text="Bobby Tables")).to_contain_text(f"@{people.bobby.username}")
    expect(found.filter(has_text="Bob Marley")).to_contain_text(f"@{people.marley.username}")
    # Escape closes the list, not the panel
    field.press("Escape")
    expect(field).to_have_attribute("aria-expanded", "false")
    expect(field).to_be_visible()
    # by the start of a username, with or without the @: only Bob Marley
    field.fill("@marl")
    expect(found).to_have_count(1, timeout=T)
    expect(found).to_contain_text("Bob Marley")
    # keys only: Down makes him the active option, Enter opens the chat with him
    field.press("ArrowDown")
    expect(found).to_have_attribute("aria-selected", "true")
    expect(field).to_have_attribute("aria-activedescendant", str(found.get_attribute("id")))
    field.press("Enter")
    expect(page.locator("#chat-name")).to_have_text("Bob Marley", timeout=T)
    expect(page.locator("#panel-newchat")).to_be_hidden()
    expect(page.locator("#nc-username")).to_have_value("")  # hidden: no role to find it by
    # a username typed in full and Enter, as before
    page.get_by_role("button", name="New chat").click()
    field.fill(people.dan.username)
    field.press("Enter")
    expect(page.locator("#chat-name")).to_have_text("Dan Brown", timeout=T)


def test_oneself_is_not_offered_and_no_one_found_says_so(people: People) -> None:
    page = people.page
    mel = Rest.sign_up(people.url, "mel", "Mel Gibson")
    page.get_by_role("button", name="New chat").click()
    field = page.get_by_role("combobox", name=NEW_CHAT)
    found = listbox(page, "People to chat with").get_by_role("option")
    # "me" starts my username and Mel's: only Mel is offered
    with page.expect_response(lambda r: is_search(r.url)) as answer:
        field.fill("me")
    assert {u["username"] for u in answer.value.json()["users"]} == {
        people.username,
        mel.username,
    }
    expect(found).to_have_count(1, timeout=T)
    expect(found).to_contain_text("Mel Gibson")
    # nobody
    field.fill("zzqx")
    expect(note(page, "nc-username")).to_have_text("No one found", timeout=T)
    expect(note(page, "nc-username")).to_be_visible()
    expect(field).to_have_attribute("aria-expanded", "false")
    # one character: no search at all, and the note goes
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if is_search(r.url) else None)
    field.fill("z")
    expect(note(page, "nc-username")).to_be_hidden()
    field.fill("")
    assert requests == []


def test_add_a_member_found_by_name_in_group_info(people: People) -> None:
    page = people.page
    people.group()
    page.get_by_role("list", name="Conversations").get_by_role("link", name="Team").click()
    page.get_by_role("button", name="Group info").click()
    members = page.locator("#gi-members li")
    expect(members).to_have_count(3, timeout=T)
    field = page.get_by_role("combobox", name=ADD_MEMBER)
    found = listbox(page, "People to add").get_by_role("option")
    # Carol is in already: marked, and not pickable
    field.fill("Car")
    expect(found).to_have_count(1, timeout=T)
    expect(found).to_contain_text("already in the group")
    expect(found).to_have_attribute("aria-disabled", "true")
    field.press("ArrowDown")
    expect(field).not_to_have_attribute("aria-activedescendant", str(found.get_attribute("id")))
    # Dan is not: a click adds him, and the member list shows him
    field.fill("Dan")
    expect(found).to_contain_text("Dan Brown", timeout=T)
    found.click()
    expect(members).to_have_count(4, timeout=T)
    expect(members.filter(has_text="Dan Brown")).to_contain_text(f"@{people.dan.username}")
    expect(field).to_have_value("")
    expect(field).to_be_focused()
    # me: not offered (my username is found, and left out)
    field.fill(people.username)
    expect(note(page, "gi-add-input")).to_have_text("No one found", timeout=T)


def test_a_new_group_takes_members_found_by_name(people: People) -> None:
    page = people.page
    page.get_by_role("button", name="New group").click()
    page.get_by_label("Group name").fill("Bobs")
    field = page.get_by_role("combobox", name=MEMBERS)
    found = listbox(page, "People to add to the group").get_by_role("option")
    field.fill("Bobby")
    expect(found).to_have_count(1, timeout=T)
    field.press("ArrowDown")
    field.press("Enter")
    expect(field).to_have_value(f"{people.bobby.username}, ")
    # the next one after the comma; who is listed already is not offered again
    field.press_sequentially("Bob")
    expect(found).to_have_count(1, timeout=T)
    expect(found).to_contain_text("Bob Marley")
    found.click()
    expect(field).to_have_value(f"{people.bobby.username}, {people.marley.username}, ")
    page.get_by_role("button", name="Create group").click()
    expect(page.locator("#chat-name")).to_have_text("Bobs", timeout=T)
    page.get_by_role("button", name="Group info").click()
    expect(page.locator("#gi-members li")).to_have_count(3, timeout=T)


def test_an_older_search_is_cancelled_by_a_newer_one(people: People) -> None:
    page = people.page
    held: list[Route] = []  # the answer to "Bo" never comes: its request waits here

    def hold(route: Route) -> None:  # a named function: Playwright counts its parameters
        held.append(route)

    page.route(lambda url: url.endswith("/v1/users/search?q=Bo"), hold)
    page.get_by_role("button", name="New chat").click()
    field = page.get_by_role("combobox", name=NEW_CHAT)
    with page.expect_request(lambda r: r.url.endswith("?q=Bo")):
        field.fill("Bo")
    with page.expect_event("requestfailed", lambda r: r.url.endswith("?q=Bo")):
        field.fill("Bobby")  # the "Bo" request is cancelled
    found = listbox(page, "People to chat with").get_by_role("option")
    expect(found).to_have_count(1, timeout=T)
    expect(found).to_contain_text("Bobby Tables")
    assert len(held) == 1
    page.unroute_all(behavior="ignoreErrors")


def test_axe_finds_nothing_serious_with_the_list_open(people: People) -> None:
    page = people.page
    audit = Audit(page)
    for theme in ("light", "dark"):
        choose(page, theme)
        assert_theme(page, theme)
        page.get_by_role("button", name="New chat").click()
        field = page.get_by_role("combobox", name=NEW_CHAT)
        field.fill("Bob")
        found = listbox(page, "People to chat with").get_by_role("option")
        expect(found).to_have_count(2, timeout=T)
        field.press("ArrowDown")
        expect(found.first).to_have_attribute("aria-selected", "true")
        audit.check(f"people found, {theme}")
        field.press("Escape")
        field.press("Escape")
        expect(page.locator("#panel-newchat")).to_be_hidden()
    assert not audit.found, "\n".join(audit.found)


def test_too_many_searches_pause_calmly_then_search_once_more(
    browser: Browser, tmp_path: Path
) -> None:
    # the server's own limiter, made small: 2 searches, then 1 per 2 s
    server = ServerProcess(tmp_path / "data", 4.0, "--rate-limit", "searches_per_user=2/0.5")
    server.start()
    try:
        page, _ = person(browser, server.url, "me", **DESKTOP)
        Rest.sign_up(server.url, "bt", "Bobby Tables")
        searches: list[Request] = []
        page.on("request", lambda r: searches.append(r) if is_search(r.url) else None)
        page.get_by_role("button", name="New chat").click()
        field = page.get_by_role("combobox", name=NEW_CHAT)
        found = listbox(page, "People to chat with").get_by_role("option")
        for term in ("Bo", "Bob"):
            with page.expect_response(lambda r: is_search(r.url)) as answer:
                field.fill(term)
            assert answer.value.status == 200
            expect(found).to_have_count(1, timeout=T)
        with page.expect_response(lambda r: is_search(r.url)) as answer:
            field.fill("Bobb")
        assert answer.value.status == 429
        assert int(answer.value.headers["retry-after"]) >= 1
        expect(note(page, "nc-username")).to_contain_text("Too many searches just now")
        # after Retry-After the same term is searched once more, and found
        expect(found).to_contain_text("Bobby Tables", timeout=T)
        expect(note(page, "nc-username")).not_to_contain_text("Too many")
        answers = [(r.url.rsplit("=", 1)[1], r.response().status) for r in searches]  # type: ignore[union-attr]
        assert answers == [("Bo", 200), ("Bob", 200), ("Bobb", 429), ("Bobb", 200)]
        expect(page.locator("#alert-box")).to_be_hidden()  # no error toast
        page.context.close()
    finally:
        server.stop()
