"""A new release of the client reaches the browser on its next load, whole: client files
are served `no-cache` (revalidated each time), so neither the HTTP cache nor the service
worker's network-first fetch keeps running an old module beside new ones."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from playwright.sync_api import Browser, expect
from starlette.applications import Starlette

from hubbub.api.static import static_routes
from hubbub.app import WEB_DIR
from tests.support import free_port

T = 15_000


@contextlib.contextmanager
def client_files_server(web_dir: Path) -> Iterator[str]:
    """Only the client's files (static_routes, as `hubbub serve` has them), from web_dir."""
    port = free_port()
    config = uvicorn.Config(
        Starlette(routes=static_routes(web_dir)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the file server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def test_a_changed_client_file_is_used_on_the_next_load(browser: Browser, tmp_path: Path) -> None:
    web = tmp_path / "web"
    shutil.copytree(WEB_DIR, web)
    deployed = time.time() - 3600  # an hour ago: a browser would guess minutes of freshness
    for path in web.rglob("*"):
        os.utime(path, (deployed, deployed))
    with client_files_server(web) as url:
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)  # not logged in: the login screen, and no API is needed
        expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=T)
        assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        expect(page).to_have_title("Hubbub")
        module = web / "views" / "auth.js"  # a module the page imports, not the entry
        old, new = "document.title = 'Hubbub';", "document.title = 'Hubbub 2';"
        text = module.read_text()
        assert old in text
        module.write_text(text.replace(old, new))
        page.reload()
        expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=T)
        expect(page).to_have_title("Hubbub 2", timeout=T)
        context.close()
