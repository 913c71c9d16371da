"""Remake docs/screenshot.png: a fresh server, three people and a group, and one of
them in Chromium at desktop width (the README shows it).

    .venv/bin/python scripts/screenshot.py [--dark] [--out docs/screenshot.png]

Everything goes through the real API and the real web client; nothing is drawn by hand.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 - as the browser tests
from tests.support import ServerProcess  # noqa: E402 - the repository's own server runner

PASSWORD = "correct horse 1"


class Person:
    def __init__(self, url: str, username: str, display_name: str) -> None:
        user = {"username": username, "password": PASSWORD, "display_name": display_name}
        httpx.post(f"{url}/v1/users", json=user).raise_for_status()
        login = httpx.post(f"{url}/v1/sessions", json={"username": username, "password": PASSWORD})
        login.raise_for_status()
        self.username, self.user_id = username, login.json()["user_id"]
        self.http = httpx.Client(
            base_url=f"{url}/v1", headers={"Authorization": f"Bearer {login.json()['token']}"}
        )

    def call(self, method: str, path: str, body: object = None) -> dict:
        r = self.http.request(method, path, json=body)
        r.raise_for_status()
        return r.json() if r.content else {}

    def say(self, cid: str, body: str) -> None:
        self.call("POST", f"/conversations/{cid}/messages",
                  {"client_msg_id": uuid.uuid4().hex, "body": body})  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    p.add_argument("--dark", action="store_true")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", 10.0).start()
        try:
            shoot(server.url, a.out, a.dark)
        finally:
            server.stop()


def shoot(url: str, out: Path, dark: bool) -> None:
    alice = Person(url, "alice", "Alice Liddell")
    bob = Person(url, "bob", "Bob Marley")
    carol = Person(url, "carol", "Carol King")
    team = alice.call("POST", "/groups", {"name": "Weekend trip",
                                          "members": [bob.user_id, carol.user_id]})  # fmt: skip
    bob.say(team["conversation_id"], "Who's bringing the tent?")
    carol.say(team["conversation_id"], "Me! And *marshmallows*")
    direct = alice.call("POST", "/conversations/direct", {"user_id": bob.user_id})
    cid = direct["conversation_id"]
    bob.say(cid, "Hey Alice! Did you see the photos from Saturday?")
    alice.say(cid, "Yes! The one at the lake is *amazing*")
    bob.say(cid, "I put them all here: https://example.com/album")
    alice.say(cid, "Thanks! Same time next week?")
    bob.say(cid, "_Definitely._ I'll bring the `tent` this time")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 720},
                                color_scheme="dark" if dark else "light")  # fmt: skip
        page.goto(url)
        page.get_by_label("Username", exact=True).fill("alice")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.locator("#conv-list a.conv").filter(has_text="Bob Marley").click()
        expect(page.locator("p.body").filter(has_text="tent")).to_have_count(1, timeout=15_000)
        page.mouse.move(0, 0)
        page.screenshot(path=str(out))
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
