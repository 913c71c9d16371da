"""Browser tests: Debian's Chromium driven by Playwright against a real `hubbub serve`.

Playwright cannot download its own browser here, so the tests pass `executable_path`
(`HUBBUB_CHROMIUM`, default /usr/bin/chromium). Without that browser the tests are skipped,
except in CI (CI=true) or with HUBBUB_REQUIRE_BROWSER=1, where a missing browser fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess

CHROMIUM = os.environ.get("HUBBUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("HUBBUB_REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # module scope, not session: Playwright's sync API keeps an event loop running while
    # it is open, and every later test that calls asyncio.run() would fail
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if _browser_required():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only for browser tests

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[ServerProcess]:
    s = ServerProcess(tmp_path / "data", 4.0).start()
    yield s
    s.stop()
