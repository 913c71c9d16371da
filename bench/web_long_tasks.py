"""The web client with 500 conversations (issue 13): how long the main thread is blocked.

Starts `hubbub serve`, builds an account with 500 conversations and 5,000 messages through
the API (tests/e2e/big_account.py), opens Debian's Chromium (Playwright) on a fresh
context and measures, with a PerformanceObserver for 'longtask' (tasks over 50 ms):

- login: from the click on "Log in" until the list is drawn (`list_ms`) and until the
  main thread is quiet (`tti_ms`: the end of the last long task before 2 s without one);
- reload: the same after a reload (a returning device);
- open: clicking a conversation until its newest message shows;
- burst: 50 messages from peers, as fast as they go, into 10 conversations (the open one
  among them) until the last is in the list; `main_ms_per_message` is the renderer's
  main-thread task time (CDP Performance.getMetrics TaskDuration) over the burst / 50.

Each phase reports its long tasks (count, total ms, blocking ms over 50 ms each), the HTTP
requests and bytes the server sent (CDP Network: encoded body and headers), WebSocket
frames and bytes received, and GET /v1/users requests. One JSON line is printed and
appended to bench/results/web-long-tasks.jsonl.

    flock /tmp/cpu.lock python bench/web_long_tasks.py [--src DIR] [--label NAME]

`--src` serves another checkout's client (its src/ goes on the server's PYTHONPATH), to
measure the code before a change against the same builder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tests.e2e.big_account import PASSWORD, build, burst, expected_unread, in_thread  # noqa: E402
from tests.support import ServerProcess  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "web-long-tasks.jsonl"
CHROMIUM = os.environ.get("HUBBUB_CHROMIUM", "/usr/bin/chromium")
QUIET_MS = 2000
LIMIT_S = 300  # a phase still busy after this is reported as capped

OBSERVER = """
window.__lt = [];
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) window.__lt.push([e.startTime, e.duration]);
}).observe({ type: 'longtask', buffered: true });
"""


class Net:
    """What the server sent, from CDP Network events (reset per phase)."""

    def __init__(self, cdp: Any) -> None:
        self.urls: dict[str, str] = {}
        self.reset()
        cdp.send("Network.enable")
        cdp.on("Network.requestWillBeSent", self._request)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.webSocketFrameReceived", self._frame)

    def reset(self) -> None:
        self.http_bytes = 0
        self.requests = 0
        self.user_requests = 0
        self.ws_bytes = 0
        self.ws_frames = 0
        self.ws_messages = 0

    def _request(self, e: dict[str, Any]) -> None:
        url = e["request"]["url"]
        self.urls[e["requestId"]] = url
        self.requests += 1
        if "/v1/users/" in url or "/v1/users?" in url:
            self.user_requests += 1

    def _finished(self, e: dict[str, Any]) -> None:
        self.http_bytes += int(e.get("encodedDataLength", 0))

    def _frame(self, e: dict[str, Any]) -> None:
        data = e["response"]["payloadData"]
        self.ws_frames += 1
        self.ws_bytes += len(data.encode())
        if data.startswith('{"type":"message"'):
            self.ws_messages += 1

    def report(self) -> dict[str, int]:
        return {
            "http_requests": self.requests, "http_bytes": self.http_bytes,
            "user_requests": self.user_requests, "ws_frames": self.ws_frames,
            "ws_bytes": self.ws_bytes, "ws_message_frames": self.ws_messages,
        }  # fmt: skip


def now(page: Any) -> float:
    return float(page.evaluate("performance.now()"))


def long_tasks(page: Any, since: float) -> list[tuple[float, float]]:
    return [(s, d) for s, d in page.evaluate("window.__lt || []") if s >= since]


def wait_quiet(page: Any, since: float, ready_at: float) -> tuple[float, bool]:
    """Wait until no long task has run for QUIET_MS after `ready_at` (and none was reported
    for as long, by the wall clock: a blocked page reports late); the time (page clock) the
    main thread became quiet, the end of its last long task or `ready_at`, and whether
    LIMIT_S passed first."""
    deadline = time.monotonic() + LIMIT_S
    count, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        tasks = long_tasks(page, since)
        if len(tasks) != count:
            count, stable_since = len(tasks), time.monotonic()
        quiet_from = max([ready_at, *(s + d for s, d in tasks)])
        if (
            now(page) - quiet_from >= QUIET_MS
            and time.monotonic() - stable_since >= QUIET_MS / 1000
        ):
            return quiet_from, False
        page.wait_for_timeout(200)
    return now(page), True


def task_summary(tasks: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "long_tasks": len(tasks),
        "long_task_ms": round(sum(d for _, d in tasks)),
        "blocking_ms": round(sum(max(0.0, d - 50) for _, d in tasks)),
        "longest_ms": round(max((d for _, d in tasks), default=0)),
    }


def task_duration(cdp: Any) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return next(float(m["value"]) for m in metrics if m["name"] == "TaskDuration")


PREVIEW_SHOWS = """(t) => [...document.querySelectorAll('#conv-list .conv-preview')]
  .some((e) => e.textContent.includes(t))"""
LIST_DRAWN = """(n) => document.querySelectorAll('#conv-list li').length >= n
  && /^\\(\\d+\\) Hubbub$/.test(document.title)"""


def measure(url: str, acct: Any) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    out: dict[str, Any] = {}
    n = len(acct.cids)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.add_init_script(OBSERVER)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        net = Net(cdp)
        page.goto(url)
        page.get_by_label("Username", exact=True).fill(acct.username)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.wait_for_timeout(500)
        net.reset()
        t0 = now(page)
        page.get_by_role("button", name="Log in").click()
        print("logging in", file=sys.stderr)
        page.wait_for_function(LIST_DRAWN, arg=n, timeout=LIMIT_S * 1000, polling=50)
        drawn = now(page)
        quiet, capped = wait_quiet(page, t0, drawn)
        out["login"] = {
            "list_ms": round(drawn - t0),
            "tti_ms": round(quiet - t0),
            "capped": capped,
            "title": page.title(),
            **task_summary(long_tasks(page, t0)),
            **net.report(),
        }

        print("login", out["login"], file=sys.stderr)
        net.reset()
        page.reload()
        t0 = 0.0  # a new document: its clock starts at the navigation
        page.wait_for_function(LIST_DRAWN, arg=n, timeout=LIMIT_S * 1000, polling=50)
        drawn = now(page)
        quiet, capped = wait_quiet(page, t0, drawn)
        out["reload"] = {
            "list_ms": round(drawn),
            "tti_ms": round(quiet),
            "capped": capped,
            **task_summary(long_tasks(page, t0)),
            **net.report(),
        }

        print("reload", out["reload"], file=sys.stderr)
        try:
            open_and_burst(page, cdp, net, acct, out)
        except Exception as e:
            out["error"] = f"{type(e).__name__}: {str(e)[:300]}"
        browser.close()
    return out


def open_and_burst(page: Any, cdp: Any, net: Net, acct: Any, out: dict[str, Any]) -> None:
    # open the conversation at the top of the list (the newest activity)
    top = acct.cids[-1]
    net.reset()
    t0 = now(page)
    page.locator(f'#conv-list a[href="#/c/{top}"]').click(timeout=LIMIT_S * 1000)
    page.locator("#messages li", has_text=acct.last_body[top]).wait_for(timeout=LIMIT_S * 1000)
    shown = now(page)
    quiet, capped = wait_quiet(page, t0, shown)
    out["open"] = {
        "shown_ms": round(shown - t0),
        "tti_ms": round(quiet - t0),
        "capped": capped,
        **task_summary(long_tasks(page, t0)),
        **net.report(),
    }
    print("open", out["open"], file=sys.stderr)
    targets = [top, *acct.cids[:9]]  # the open chat and 9 others far down the list
    net.reset()
    busy0 = task_duration(cdp)
    t0 = now(page)
    bodies = in_thread(burst(acct, targets, 50))
    last = bodies[-1]
    page.wait_for_function(
        PREVIEW_SHOWS,
        arg=last,
        timeout=LIMIT_S * 1000,
        polling=50,
    )
    page.locator("#messages li", has_text=bodies[-10]).wait_for(timeout=LIMIT_S * 1000)
    arrived = now(page)
    quiet, capped = wait_quiet(page, t0, arrived)
    busy = task_duration(cdp) - busy0
    out["burst"] = {
        "arrived_ms": round(arrived - t0),
        "tti_ms": round(quiet - t0),
        "capped": capped,
        "main_ms_per_message": round(busy * 1000 / 50, 1),
        "main_ms": round(busy * 1000),
        **task_summary(long_tasks(page, t0)),
        **net.report(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the hubbub package to serve")
    ap.add_argument("--label", default="")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()
    os.environ["PYTHONPATH"] = str(args.src.resolve())
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", 10.0).start()
        try:
            t = time.monotonic()
            acct = in_thread(build(server.url))
            setup_s = time.monotonic() - t
            result = measure(server.url, acct)
        finally:
            server.stop()
    commit = subprocess.run(["git", "-C", str(args.src), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "-C", str(args.src), "status", "--porcelain", "--", "."],
                           capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    line = {
        "bench": "web_long_tasks", "at": time.strftime("%Y-%m-%dT%H:%M:%S"), "label": args.label,
        "commit": commit + ("+dirty" if dirty else ""), "conversations": len(acct.cids),
        "messages": 5000, "unread": expected_unread(acct), "setup_s": round(setup_s, 1), **result,
    }  # fmt: skip
    print(json.dumps(line))
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
