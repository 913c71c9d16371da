"""Tabs follow each other's logins: a tab that follows a new login from another tab and
cannot reach the server shows the app as last seen ("Connecting…", never the login form)
and keeps retrying until it can."""

from __future__ import annotations

import json

import httpx
from playwright.sync_api import Browser, expect

from tests.e2e.test_web_client import PASSWORD, T, person
from tests.support import ServerProcess


def test_a_tab_following_another_tabs_login_retries_until_the_server_answers(
    browser: Browser, web_server: ServerProcess
) -> None:
    page, name = person(browser, web_server.url, "alice")
    other = page.context.new_page()  # a second tab: the same storage
    other.goto(web_server.url)
    expect(other.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    page.route("**/v1/me", lambda route: route.abort())  # the first tab cannot reach the server
    session = httpx.post(
        web_server.url + "/v1/sessions",
        json={"username": name, "password": PASSWORD, "device_name": "another login"},
    ).json()
    auth = {k: session[k] for k in ("token", "user_id", "device_id")}
    # the second tab logs in anew: the first one follows, and cannot load the profile
    other.evaluate("(a) => localStorage.setItem('hubbub.auth', a)", json.dumps(auth))
    # the app as last seen, "Connecting…": not the login form (the session is good)
    connecting = page.get_by_role("status").filter(has_text="Connecting…")
    expect(connecting).to_be_visible(timeout=T)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    page.unroute("**/v1/me")  # the server is back: the next retry gets in
    expect(connecting).to_have_count(0, timeout=T)
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    page.context.close()


def test_a_server_that_never_answers_at_load_is_a_lost_connection_not_loading_for_ever(
    browser: Browser, web_server: ServerProcess
) -> None:
    """The profile request hangs (the server took the connection and says nothing): after
    the client's request timeout the app as last seen shows with "Connecting…" and keeps
    retrying; the page's clock is fast-forwarded, not waited out."""
    page, _ = person(browser, web_server.url, "alice")
    hung: list[object] = []

    def take_and_say_nothing(route: object) -> None:
        hung.append(route)

    page.route("**/v1/me", take_and_say_nothing)
    page.clock.install()
    page.reload()
    expect(page.get_by_text("Loading Hubbub…")).to_be_visible(timeout=T)
    timeout_ms = page.evaluate("import('/net/rest.js').then((m) => m.REQUEST_TIMEOUT_MS)")
    page.clock.run_for(timeout_ms + 100)
    connecting = page.get_by_role("status").filter(has_text="Connecting…")
    expect(connecting).to_be_visible(timeout=T)
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    assert hung  # the request was made and left hanging
    page.unroute("**/v1/me")  # the server answers again: the next retry gets in
    page.clock.run_for(30_000)
    expect(connecting).to_have_count(0, timeout=T)
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=T)
    page.context.close()
