"""Attachments in the web client, in a real browser against a real server: a photo sent
from a phone (progress, thumbnail, viewer), a file as a download, files dropped and
pasted, an upload the server refuses, and a message with a photo that survives a lost
connection through the outbox (sent once)."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import wave
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from tests.e2e.test_web_client import (
    T,
    conversation,
    message,
    messages,
    open_conversation,
    person,
    send,
    start_chat,
)
from tests.support import ServerProcess

PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True}


def jpeg(width: int, height: int) -> bytes:
    """A real photo-sized JPEG; noise, so it stays big enough to watch it upload."""
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(out, "PNG")
    return out.getvalue()


def tray(page: Page) -> Any:
    return page.get_by_role("list", name="Files to send")


def alert(page: Page) -> Any:
    return page.locator("#app-alert")


def network(cdp: Any, upload_bytes_per_second: int) -> None:
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1,
         "uploadThroughput": upload_bytes_per_second},
    )  # fmt: skip


def throttle_uploads(page: Page, bytes_per_second: int) -> Any:
    """A slow uplink (Chromium's network emulation), so progress is seen moving."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    network(cdp, bytes_per_second)
    return cdp


def unthrottle(cdp: Any) -> None:
    network(cdp, -1)


def loaded_size(img: Any) -> tuple[int, int]:
    """The <img>'s natural size once its bytes really decoded (0 x 0 means broken)."""
    img.page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle(), timeout=T
    )
    w, h = img.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    return int(w), int(h)


def wait_until(page: Page, condition: Any, timeout_ms: int = T) -> None:
    """Wait for a condition on what Playwright's handlers saw (they run while it waits)."""
    for _ in range(timeout_ms // 50):
        if condition():
            return
        page.wait_for_timeout(50)
    assert condition()


# JavaScript that dispatches a drag-and-drop or paste of files made in the page: each
# file is [name, type, base64 bytes]
DISPATCH = """([kind, selector, files]) => {
  const dt = new DataTransfer();
  for (const [name, type, b64] of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], name, { type }));
  }
  const target = document.querySelector(selector);
  const init = { bubbles: true, cancelable: true };
  if (kind === 'paste') {
    return target.dispatchEvent(new ClipboardEvent('paste', { ...init, clipboardData: dt }));
  }
  return target.dispatchEvent(new DragEvent(kind, { ...init, dataTransfer: dt }));
}"""


def dispatch(page: Page, kind: str, selector: str, files: list[tuple[str, str, bytes]]) -> bool:
    encoded = [[n, t, base64.b64encode(b).decode()] for n, t, b in files]
    return bool(page.evaluate(DISPATCH, [kind, selector, encoded]))


def test_a_photo_sent_from_a_phone(
    browser: Browser, web_server: ServerProcess, tmp_path: Path
) -> None:
    alice, alice_name = person(browser, web_server.url, "alice", **PHONE)
    bob, bob_name = person(browser, web_server.url, "bob", **PHONE)
    start_chat(alice, bob_name)
    photo = tmp_path / "beach.jpg"
    photo.write_bytes(jpeg(800, 600))
    with alice.expect_file_chooser() as chooser:
        alice.get_by_role("button", name="Attach a file").click()
    chooser.value.set_files(str(photo))
    expect(tray(alice).get_by_role("listitem")).to_have_count(1, timeout=T)
    expect(tray(alice)).to_contain_text("beach.jpg")
    expect(tray(alice)).to_contain_text(re.compile(r"\d+ KB"))
    alice.get_by_label("Message", exact=True).fill("at the beach")
    cdp = throttle_uploads(alice, 150_000)  # bytes/s: the photo takes a few seconds
    alice.get_by_role("button", name="Send").click()
    bar = tray(alice).get_by_role("progressbar", name="Uploading beach.jpg")
    expect(bar).to_be_visible(timeout=T)
    alice.wait_for_function(
        "() => { const p = document.querySelector('#tray progress');"
        " return !!p && p.value > 0 && p.value < p.max; }",
        timeout=T,
    )  # part of the way: the bar moves with the bytes sent
    expect(alice.get_by_role("button", name="Send")).to_be_disabled()
    expect(tray(alice)).to_be_hidden(timeout=30_000)  # uploaded, sent: the tray empties
    unthrottle(cdp)
    expect(message(alice, "at the beach")).to_have_count(1, timeout=T)
    expect(alice.get_by_label("Message", exact=True)).to_have_value("")
    expect(message(alice, "at the beach").locator("[data-status]")).to_have_attribute(
        "data-status", re.compile("sent|delivered|read"), timeout=T
    )

    expect(conversation(bob, alice_name)).to_contain_text("📷 at the beach", timeout=T)
    open_conversation(bob, alice_name)
    bubble = message(bob, "at the beach")
    expect(bubble).to_have_count(1, timeout=T)
    thumb = bubble.get_by_role("button", name="Open photo beach.jpg")
    img = bubble.locator("img[alt='beach.jpg']")
    # the thumbnail really loaded (through a blob: URL: the page never puts the token in a URL)
    assert loaded_size(img) == (320, 240)
    assert img.get_attribute("src").startswith("blob:")
    box = thumb.bounding_box()
    assert box is not None
    assert abs(box["width"] / box["height"] - 800 / 600) < 0.03, box
    assert box["width"] <= 320
    assert bob.evaluate("document.documentElement.scrollWidth") <= 390
    # the box had that size before the bytes came: a second copy, drawn without them
    assert bubble.locator(".att-image").evaluate(
        "(b) => { const c = b.cloneNode(false); b.parentElement.append(c);"
        " const r = c.getBoundingClientRect(); c.remove(); return Math.round(r.height); }"
    ) == round(box["height"])

    thumb.click()
    viewer = bob.get_by_role("dialog", name="beach.jpg")
    expect(viewer).to_be_visible(timeout=T)
    full = viewer.locator("img[alt='beach.jpg']")
    expect(full).to_have_attribute("data-full", "1", timeout=T)
    assert loaded_size(full) == (800, 600)
    expect(viewer.get_by_role("button", name="Close")).to_be_focused()
    bob.keyboard.press("Escape")
    expect(viewer).to_be_hidden(timeout=T)
    expect(thumb).to_be_focused()
    # and the close button closes it too
    thumb.click()
    expect(viewer).to_be_visible(timeout=T)
    viewer.get_by_role("button", name="Close").click()
    expect(viewer).to_be_hidden(timeout=T)
    alice.context.close()
    bob.context.close()


def test_a_file_is_a_download_with_its_name_and_size(
    browser: Browser, web_server: ServerProcess, tmp_path: Path
) -> None:
    alice, alice_name = person(browser, web_server.url, "alice")
    bob, bob_name = person(browser, web_server.url, "bob")
    start_chat(alice, bob_name)
    data = b"%PDF-1.4\n" + b"0" * 1200 + b"\n%%EOF\n"  # 1,216 bytes: "1.2 KB"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(data)
    alice.locator("#file-input").set_input_files(str(pdf))
    expect(tray(alice)).to_contain_text("report.pdf", timeout=T)
    alice.get_by_role("button", name="Send").click()  # no caption: the file alone
    expect(tray(alice)).to_be_hidden(timeout=T)
    expect(conversation(alice, bob_name)).to_contain_text("You: 📎 report.pdf", timeout=T)
    expect(conversation(bob, alice_name)).to_contain_text("📎 report.pdf", timeout=T)
    open_conversation(bob, alice_name)
    link = messages(bob).get_by_role("button", name="Download report.pdf · 1.2 KB")
    expect(link).to_have_count(1, timeout=T)
    expect(link).to_contain_text("report.pdf")
    expect(link).to_contain_text("1.2 KB")
    with bob.expect_download(timeout=T) as download:
        link.click()
    assert download.value.suggested_filename == "report.pdf"
    assert Path(download.value.path()).read_bytes() == data
    # from the history too (a reload draws it from GET /messages, not the live frame)
    bob.reload()
    open_conversation(bob, alice_name)
    expect(messages(bob).get_by_role("button", name="Download report.pdf · 1.2 KB")).to_have_count(
        1, timeout=T
    )
    alice.context.close()
    bob.context.close()


def test_dropped_and_pasted_files_land_in_the_tray(
    browser: Browser, web_server: ServerProcess
) -> None:
    alice, alice_name = person(browser, web_server.url, "alice")
    bob, bob_name = person(browser, web_server.url, "bob")
    start_chat(alice, bob_name)
    notes = ("notes.txt", "text/plain", b"some notes\n")
    dispatch(alice, "dragenter", "#scroller", [notes])
    hint = alice.get_by_text("Drop files here to attach them")
    expect(hint).to_be_visible(timeout=T)
    assert not dispatch(alice, "drop", "#scroller", [notes])  # taken: the browser does not open it
    expect(hint).to_be_hidden()
    expect(tray(alice).get_by_role("listitem")).to_have_count(1, timeout=T)
    expect(tray(alice)).to_contain_text("notes.txt")
    # a pasted screenshot, into the message box
    assert not dispatch(alice, "paste", "#msg-input", [("image.png", "image/png", png(120, 60))])
    expect(tray(alice).get_by_role("listitem")).to_have_count(2, timeout=T)
    expect(tray(alice)).to_contain_text("image.png")
    expect(alice.get_by_label("Message", exact=True)).to_have_value("")  # not pasted as text
    tray(alice).get_by_role("button", name="Remove notes.txt").click()
    expect(tray(alice).get_by_role("listitem")).to_have_count(1)
    alice.get_by_label("Message", exact=True).press("Enter")  # the photo alone
    expect(tray(alice)).to_be_hidden(timeout=T)

    expect(conversation(bob, alice_name)).to_contain_text("📷 Photo", timeout=T)
    open_conversation(bob, alice_name)
    img = messages(bob).locator("img[alt='image.png']")
    expect(img).to_have_count(1, timeout=T)
    assert loaded_size(img) == (120, 60)
    assert len(messages(bob).all()) == 1

    # more than a message can carry: ten are kept, and the page says why
    many = [(f"f{i}.txt", "text/plain", b"x") for i in range(11)]
    dispatch(alice, "drop", "#scroller", many)
    expect(tray(alice).get_by_role("listitem")).to_have_count(10, timeout=T)
    expect(alert(alice)).to_contain_text("at most 10 files")
    alice.context.close()
    bob.context.close()


def test_an_upload_the_server_refuses_sends_nothing(
    browser: Browser, web_server: ServerProcess
) -> None:
    alice, _ = person(browser, web_server.url, "alice")
    bob, bob_name = person(browser, web_server.url, "bob")
    start_chat(alice, bob_name)
    box = alice.get_by_label("Message", exact=True)
    box.fill("look at this")
    page_html = b"<!doctype html><html><script>alert(1)</script></html>"
    alice.locator("#file-input").set_input_files(
        {"name": "page.html", "mimeType": "image/png", "buffer": page_html}
    )  # an HTML file that claims to be a PNG
    with alice.expect_response(
        lambda r: "/v1/media" in r.url and r.request.method == "POST", timeout=T
    ) as answer:
        alice.get_by_role("button", name="Send").click()
    assert answer.value.status == 415
    refusal = answer.value.json()["error"]
    assert refusal["code"] == "unsupported_media"
    expect(alert(alice)).to_contain_text(f"Could not upload page.html: {refusal['message']}")
    expect(tray(alice)).to_contain_text(refusal["message"])
    expect(box).to_have_value("look at this")  # the text is kept
    expect(alice.get_by_role("button", name="Send")).to_be_enabled()
    assert messages(alice).count() == 0  # nothing queued or sent
    # without the file, the text goes alone; the server never stored anything else
    tray(alice).get_by_role("button", name="Remove page.html").click()
    alice.get_by_role("button", name="Send").click()
    expect(message(alice, "look at this")).to_have_count(1, timeout=T)
    alice.reload()
    open_conversation(alice, bob_name)
    expect(messages(alice)).to_have_count(1, timeout=T)
    alice.context.close()
    bob.context.close()


def test_a_photo_message_survives_a_lost_connection_and_is_stored_once(
    browser: Browser, web_server: ServerProcess
) -> None:
    """The outbox carries the attachments: the server's answers to the first send are
    lost with the connection, the same send (same client_msg_id, same media) goes again
    after the reconnect, and the server stores it once."""
    alice, alice_name = person(browser, web_server.url, "alice")
    bob, bob_name = person(browser, web_server.url, "bob")
    start_chat(alice, bob_name)
    sends: list[dict[str, Any]] = []
    sockets: list[WebSocketRoute] = []

    def relay(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        sockets.append(ws)
        first = len(sockets) == 1

        def to_server(msg: str | bytes) -> None:
            frame = json.loads(msg)
            if frame.get("type") == "send":
                sends.append(frame)
            server.send(msg)

        def to_page(msg: str | bytes) -> None:
            frame = json.loads(msg)
            # on the first socket, once the photo went out, the answers are lost
            if first and sends and frame.get("type") in ("sent", "message"):
                return
            ws.send(msg)

        ws.on_message(to_server)
        server.on_message(to_page)

    alice.context.route_web_socket(re.compile(r"/v1/ws"), relay)
    alice.reload()  # the next socket goes through the relay
    open_conversation(alice, bob_name)
    alice.locator("#file-input").set_input_files(
        {"name": "cat.png", "mimeType": "image/png", "buffer": png(64, 48)}
    )
    alice.get_by_label("Message", exact=True).fill("cat photo")
    alice.get_by_role("button", name="Send").click()
    status = message(alice, "cat photo").locator("[data-status]")
    expect(status).to_have_attribute("data-status", "sending", timeout=T)
    wait_until(alice, lambda: len(sends) == 1)
    assert sends[0]["body"] == "cat photo"
    assert len(sends[0]["attachments"]) == 1
    # queued in the outbox (persisted) with its attachment, until the server has it
    outbox = alice.evaluate(
        "Object.entries(localStorage).filter(([k]) => k.endsWith('.outbox')).map(([, v]) => v)[0]"
    )
    assert json.loads(outbox)[0]["attachments"][0]["media_id"] == sends[0]["attachments"][0]
    sockets[0].close(code=1011)  # the connection goes; the client reconnects
    expect(status).to_have_attribute(
        "data-status", re.compile("sent|delivered|read"), timeout=30_000
    )
    assert len(sends) >= 2
    assert sends[-1]["client_msg_id"] == sends[0]["client_msg_id"]
    assert sends[-1]["attachments"] == sends[0]["attachments"]
    open_conversation(bob, alice_name)
    expect(message(bob, "cat photo")).to_have_count(1, timeout=T)
    assert loaded_size(message(bob, "cat photo").locator("img[alt='cat.png']")) == (64, 48)
    bob.reload()  # stored once, from the server's point of view too
    open_conversation(bob, alice_name)
    expect(message(bob, "cat photo")).to_have_count(1, timeout=T)
    send(bob, "nice")  # and the chat goes on
    expect(message(alice, "nice")).to_have_count(1, timeout=T)
    alice.context.close()
    bob.context.close()


def wav(seconds: float, tone: bool) -> bytes:
    """16-bit mono PCM at 44.1 kHz: a tone, or silence (quick to make at any length)."""
    rate = 44_100
    frames = int(rate * seconds)
    if tone:
        samples = b"".join(
            int(8000 * math.sin(2 * math.pi * 440 * i / rate)).to_bytes(2, "little", signed=True)
            for i in range(frames)
        )
    else:
        samples = bytes(2 * frames)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples)
    return out.getvalue()


def test_audio_plays_inline_and_a_long_one_loads_when_asked(
    browser: Browser, web_server: ServerProcess, tmp_path: Path
) -> None:
    """A voice note is fetched with its bubble (the player works at once); a recording
    over the page's bound (8 MB) is fetched only when someone presses Play."""
    alice, alice_name = person(browser, web_server.url, "alice")
    bob, bob_name = person(browser, web_server.url, "bob")
    start_chat(alice, bob_name)
    (tmp_path / "memo.wav").write_bytes(wav(1.0, tone=True))
    (tmp_path / "lecture.wav").write_bytes(wav(100.0, tone=False))  # 8.8 MB
    alice.locator("#file-input").set_input_files(
        [str(tmp_path / "memo.wav"), str(tmp_path / "lecture.wav")]
    )
    alice.get_by_label("Message", exact=True).fill("two recordings")
    alice.get_by_role("button", name="Send").click()
    expect(tray(alice)).to_be_hidden(timeout=30_000)
    expect(conversation(bob, alice_name)).to_contain_text("🎵 two recordings", timeout=T)
    open_conversation(bob, alice_name)
    bubble = message(bob, "two recordings")
    memo = bubble.locator("audio[aria-label='Audio: memo.wav']")
    expect(memo).to_have_attribute("src", re.compile(r"^blob:"), timeout=T)
    expect(memo).to_have_attribute("controls", "")
    bob.wait_for_function("(a) => a.readyState >= 1", arg=memo.element_handle(), timeout=T)
    assert abs(memo.evaluate("(a) => a.duration") - 1.0) < 0.05

    lecture = bubble.locator("audio[aria-label='Audio: lecture.wav']")
    assert lecture.get_attribute("src") is None  # not fetched by being shown
    play = bubble.get_by_role("button", name=re.compile(r"Play audio \(8\.4 MB\)"))
    expect(play).to_be_visible()
    play.click()
    expect(lecture).to_have_attribute("src", re.compile(r"^blob:"), timeout=T)
    expect(lecture).to_be_visible()
    expect(play).to_have_count(0)
    bob.wait_for_function(
        "(a) => !a.paused && a.currentTime > 0", arg=lecture.element_handle(), timeout=T
    )  # it plays, in the page
    assert abs(lecture.evaluate("(a) => a.duration") - 100.0) < 0.5
    alice.context.close()
    bob.context.close()


def test_a_file_over_the_servers_limit_is_refused_with_its_reason(
    browser: Browser, tmp_path: Path
) -> None:
    """413 too_large: the server answers before it has read the body; the page still
    shows its reason (not a network error) and keeps what was typed."""
    server = ServerProcess(tmp_path / "data", 4.0, "--max-upload-bytes", "100000").start()
    try:
        alice, _ = person(browser, server.url, "alice")
        bob, bob_name = person(browser, server.url, "bob")
        start_chat(alice, bob_name)
        alice.get_by_label("Message", exact=True).fill("the big one")
        alice.locator("#file-input").set_input_files(
            {"name": "big.jpg", "mimeType": "image/jpeg", "buffer": jpeg(1200, 900)}
        )
        alice.get_by_role("button", name="Send").click()
        expect(alert(alice)).to_contain_text("Could not upload big.jpg", timeout=T)
        expect(alert(alice)).to_contain_text("over 100000 bytes")
        expect(alice.get_by_label("Message", exact=True)).to_have_value("the big one")
        assert messages(alice).count() == 0
        alice.context.close()
        bob.context.close()
    finally:
        server.stop()
