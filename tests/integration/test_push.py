"""Web Push end to end: real `hubbub serve` processes pushing to a local push service
(tests/push_service.py) that checks the VAPID JWT with the server's public key and
decrypts each payload with the subscription's private key, as a browser would."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import trustme

from hubbub.client import ApiError, HubbubClient
from hubbub.core.push import topic_for
from tests.bus_fixtures import redis_server, redis_url  # noqa: F401 - fixtures
from tests.pg_server import PostgresServer, create_database
from tests.push_service import BrowserSubscription, PushService, make_ca
from tests.support import ServerProcess, another_device, new_user, run

pytestmark = pytest.mark.timeout(90)
DELAY = 1.0  # --push-delay in these tests


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    return make_ca(tmp_path_factory.mktemp("ca"))


def push_server(path: Path, ca_file: Path, *extra: str) -> ServerProcess:
    return ServerProcess(
        path, 2.0, "--push-allow-private-endpoints", "--push-delay", str(DELAY),
        "--push-contact", "mailto:ops@example.com", *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory,
    ca: tuple[trustme.CA, Path],
) -> Iterator[ServerProcess]:
    mp = pytest.MonkeyPatch()
    mp.setenv("SSL_CERT_FILE", str(ca[1]))  # the server trusts the push service's CA
    s = push_server(tmp_path_factory.mktemp("push"), ca[1]).start()
    mp.undo()
    yield s
    s.stop()
    assert "Traceback" not in s.log(), s.log()[-5000:]


Body = Callable[[PushService, str], Awaitable[None]]


def with_push(ca: tuple[trustme.CA, Path], url: str, body: Body) -> None:
    async def go() -> None:
        service = await PushService(ca[0]).start()
        try:
            async with HubbubClient(url) as anon:
                service.server_key = (await anon.request("GET", "/v1/push/vapid-public-key"))["key"]
            await body(service, url)
            assert service.violations == []
        finally:
            await service.stop()

    run(go())


async def subscribe(service: PushService, api: HubbubClient, name: str) -> str:
    sub = service.new_subscription(name)
    out = await api.request("POST", "/v1/push/subscriptions", json=sub.body())
    return str(out["subscription_id"])


async def quiet(service: PushService, name: str, seconds: float) -> None:
    """Nothing arrives for `name` within `seconds` (the rule says it must not)."""
    before = len(service.pushes(name))
    await asyncio.sleep(seconds)
    assert len(service.pushes(name)) == before, service.pushes(name)[before:]


# -- the rules -----------------------------------------------------------------------------


def test_offline_device_is_pushed_at_once_and_the_senders_own_devices_never(
    node: ServerProcess, ca: tuple[trustme.CA, Path]
) -> None:
    async def body(service: PushService, url: str) -> None:
        ann, bob = await new_user(url), await new_user(url)
        await subscribe(service, ann, "ann-phone")  # the sender's own: never pushed
        await subscribe(service, bob, "bob-phone")
        ws = await ann.connect(discover=False)
        started = time.time()
        sent = await ws.send_message("hello bob, this is a message", to=bob.user_id)
        (push,) = await service.wait_for("bob-phone")
        assert push.at - started < 1.5  # no live socket: at once
        assert push.payload == {
            "type": "message",
            "conversation_id": sent["conversation_id"],
            "message_id": sent["message_id"],
            "seq": 1,
            "sender_id": ann.user_id,
            "unread": 1,
            "conversation_kind": "direct",
            "sender_name": ann.username,  # type: ignore[attr-defined]
        }  # the default preview level is "sender": no body
        assert push.headers["Urgency"] == "high" and int(push.headers["TTL"]) == 86_400
        await quiet(service, "ann-phone", 0.5)
        assert service.pushes("ann-phone") == []
        listed = await bob.request("GET", "/v1/push/subscriptions")
        assert [s["kind"] for s in listed["subscriptions"]] == ["webpush"]
        metrics = (await bob._http.get("/metrics")).text
        assert "hubbub_push_sent_total" in metrics or "hubbub_push_sent " in metrics
        await ws.close()

    with_push(ca, node.url, body)


def test_an_acking_socket_is_not_pushed_a_silent_one_is_after_the_delay(
    node: ServerProcess, ca: tuple[trustme.CA, Path]
) -> None:
    async def body(service: PushService, url: str) -> None:
        ann, bob = await new_user(url), await new_user(url)
        await subscribe(service, bob, "bob-live")
        wa, wb = await ann.connect(discover=False), await bob.connect(discover=False)
        await wa.send_message("you are here", to=bob.user_id)
        got = await wb.expect("message")
        await wb.ack(got["seq"])
        await quiet(service, "bob-live", DELAY + 1.0)  # acked in time: no push
        # the socket stays open but does not ack: pushed once the delay has passed
        started = time.time()
        sent = await wa.send_message("are you there?", to=bob.user_id)
        await wb.expect("message")
        (push,) = await service.wait_for("bob-live", timeout=DELAY + 5)
        assert push.payload["message_id"] == sent["message_id"]
        assert push.at - started >= DELAY * 0.9
        await wa.close()
        await wb.close()

    with_push(ca, node.url, body)


def test_read_elsewhere_prevents_the_push_and_clears_a_shown_one(
    node: ServerProcess, ca: tuple[trustme.CA, Path]
) -> None:
    async def body(service: PushService, url: str) -> None:
        ann, bob = await new_user(url), await new_user(url)
        bob_laptop = await another_device(bob, "laptop")
        await subscribe(service, bob, "bob-phone2")  # offline phone
        await subscribe(service, bob_laptop, "bob-laptop")  # a live, silent socket
        wa = await ann.connect(discover=False)
        wl = await bob_laptop.connect(discover=False)
        sent = await wa.send_message("read me", to=bob.user_id)
        await service.wait_for("bob-phone2")  # the phone is pushed at once
        got = await wl.expect("message")
        await wl.read(got["conversation_id"], got["message_id"])  # read on the laptop
        # the phone gets a low-urgency `read` push that clears it; the laptop nothing
        pushes = await service.wait_for("bob-phone2", 2)
        clear = pushes[1]
        assert clear.payload == {
            "type": "read",
            "conversation_id": sent["conversation_id"],
            "unread": 0,
        }
        assert clear.headers["Urgency"] == "low"
        assert clear.headers["Topic"] == pushes[0].headers["Topic"]
        await quiet(service, "bob-laptop", DELAY + 1.0)
        await wa.close()
        await wl.close()

    with_push(ca, node.url, body)


def test_a_burst_collapses_on_one_topic_and_mute_silences(
    node: ServerProcess, ca: tuple[trustme.CA, Path]
) -> None:
    async def body(service: PushService, url: str) -> None:
        ann, bob, cat = await new_user(url), await new_user(url), await new_user(url)
        await subscribe(service, bob, "bob-burst")
        await subscribe(service, cat, "cat-group")
        group = await ann.create_group("club", [bob.user_id or "", cat.user_id or ""])
        wa = await ann.connect(discover=False)
        # the push service is slow: the first push waits, unanswered, while nine more
        # messages commit; then it fails (503). The nine collapsed into the pending row
        # (its lease held by the request in flight, so nothing else was sent), and the
        # retry carries the newest. Without the collapse the nine would have gone out.
        gate = service.hold("bob-burst")
        service.script["/push/bob-burst"] = [503]
        await wa.send_message("burst 0", to=bob.user_id)
        await service.wait_held("bob-burst")
        for i in range(1, 10):
            await wa.send_message(f"burst {i}", to=bob.user_id)
        gate.set()
        await service.wait_for("bob-burst", timeout=15)
        await quiet(service, "bob-burst", 1.0)
        (push,) = service.pushes("bob-burst")  # one notification for the burst
        assert push.payload["seq"] == 10 and push.payload["unread"] == 10
        assert push.headers["Topic"] == topic_for(int(push.payload["conversation_id"]))
        # a group: normal urgency; then muted: nothing
        gid = group["conversation_id"]
        await wa.send_message("group hello", conversation_id=gid)
        (gpush,) = await service.wait_for("cat-group")
        assert gpush.headers["Urgency"] == "normal"
        group_fields = (gpush.payload["conversation_kind"], gpush.payload["group_name"])
        assert group_fields == ("group", "club")
        out = await cat.request("PATCH", f"/v1/conversations/{gid}", json={"muted_until": -1})
        assert out == {"conversation_id": gid, "muted_until": -1}
        listed = {c["conversation_id"]: c for c in await cat.conversations()}
        assert listed[gid]["muted_until"] == -1  # every device of cat's sees the mute
        assert "muted_until" in (await bob.conversations())[0]  # bob's: not muted
        assert (await bob.conversations())[0]["muted_until"] is None
        await wa.send_message("muted now", conversation_id=gid)
        await quiet(service, "cat-group", 1.5)
        await cat.request("PATCH", f"/v1/conversations/{gid}", json={"muted_until": None})
        await wa.send_message("unmuted", conversation_id=gid)
        assert len(await service.wait_for("cat-group", 2)) == 2
        await wa.close()

    with_push(ca, node.url, body)


def test_preview_levels(node: ServerProcess, ca: tuple[trustme.CA, Path]) -> None:
    async def body(service: PushService, url: str) -> None:
        ann = await new_user(url)
        long_body = "x" * 300
        for level, name in (("full", "pv-full"), ("sender", "pv-sender"), ("none", "pv-none")):
            bob = await new_user(url)
            await bob.request("PATCH", "/v1/me", json={"push_preview": level})
            assert (await bob.me())["settings"]["push_preview"] == level
            await subscribe(service, bob, name)
            await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"],
                                   long_body)  # fmt: skip
            (push,) = await service.wait_for(name)
            p = push.payload
            assert ("sender_name" in p) == (level != "none")
            assert ("preview" in p) == (level == "full")
            if level == "full":
                assert len(p["preview"]) == 100 and long_body.startswith(p["preview"][:-1])
        with pytest.raises(ApiError) as e:
            await ann.request("PATCH", "/v1/me", json={"push_preview": "everything"})
        assert e.value.status == 400
        # a photo without a caption is previewed as what it is
        photo = await ann.upload(_tiny_jpeg(), content_type="image/jpeg")
        full = await new_user(url)
        await full.request("PATCH", "/v1/me", json={"push_preview": "full"})
        await subscribe(service, full, "pv-photo")
        await ann.post_message((await ann.direct(full.user_id or ""))["conversation_id"], "",
                               attachments=[photo["media_id"]])  # fmt: skip
        (push,) = await service.wait_for("pv-photo")
        assert push.payload["preview"] == "\U0001f4f7 Photo"

    with_push(ca, node.url, body)


def _tiny_jpeg() -> bytes:
    import io  # noqa: PLC0415

    from PIL import Image  # noqa: PLC0415

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "JPEG")
    return buf.getvalue()


# -- push services that fail -----------------------------------------------------------------


def test_410_removes_the_subscription(node: ServerProcess, ca: tuple[trustme.CA, Path]) -> None:
    async def body(service: PushService, url: str) -> None:
        ann, bob = await new_user(url), await new_user(url)
        await subscribe(service, bob, "gone")
        service.script["/push/gone"] = [410]
        await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"], "hi")
        deadline = time.monotonic() + 10
        while (await bob.request("GET", "/v1/push/subscriptions"))["subscriptions"]:
            assert time.monotonic() < deadline, "the subscription was not removed"
            await asyncio.sleep(0.1)
        assert [s for _, s in service.attempts["/push/gone"]] == [410]

    with_push(ca, node.url, body)


def test_5xx_is_retried_until_it_recovers_and_429_waits_for_retry_after(
    node: ServerProcess, ca: tuple[trustme.CA, Path]
) -> None:
    async def body(service: PushService, url: str) -> None:
        ann, bob, cat = await new_user(url), await new_user(url), await new_user(url)
        await subscribe(service, bob, "flaky")
        await subscribe(service, cat, "busy")
        service.script["/push/flaky"] = [503, 500, 502]
        service.script["/push/busy"] = [(429, {"Retry-After": "2"})]
        await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"], "a")
        await ann.post_message((await ann.direct(cat.user_id or ""))["conversation_id"], "b")
        (push,) = await service.wait_for("flaky", timeout=20)
        assert [s for _, s in service.attempts["/push/flaky"]] == [503, 500, 502, 201]
        times = [t for t, _ in service.attempts["/push/flaky"]]
        assert times[2] - times[1] >= 0.4  # backed off
        (push,) = await service.wait_for("busy", timeout=10)
        (t429, _), (t201, _) = service.attempts["/push/busy"]
        assert t201 - t429 >= 1.9  # Retry-After honoured
        assert push.payload["type"] == "message"

    with_push(ca, node.url, body)


def test_a_crash_between_commit_and_push_still_pushes_once_after_restart(
    tmp_path: Path, ca: tuple[trustme.CA, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca[1]))
    # a short lease: if the kill lands while the push is in flight, its claim is retaken
    server = push_server(tmp_path / "crash", ca[1], "--push-lease", "2").start()

    async def body(service: PushService, url: str) -> None:
        ann, bob = await new_user(url), await new_user(url)
        await subscribe(service, bob, "after-crash")
        service.script["/push/after-crash"] = [503]  # the push does not get out...
        sent = await ann.post_message(
            (await ann.direct(bob.user_id or ""))["conversation_id"], "survive"
        )
        deadline = time.monotonic() + 10
        while not service.attempts.get("/push/after-crash"):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        server.kill9()  # ...and the node dies with the job in its outbox
        server.start()
        (push,) = await service.wait_for("after-crash", timeout=20)
        assert push.payload["message_id"] == sent["message_id"]
        await quiet(service, "after-crash", 1.5)  # exactly once

    try:
        with_push(ca, server.url, body)
    finally:
        server.stop()


# -- the REST additions: bad input and ownership ------------------------------------------


def test_bad_subscriptions_are_refused_and_nothing_is_stored(server: ServerProcess) -> None:
    """The default node: private endpoints refused."""

    async def body() -> None:
        api = await new_user(server.url)
        key = (await api.request("GET", "/v1/push/vapid-public-key"))["key"]
        assert len(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))) == 65
        sub = BrowserSubscription("https://127.0.0.1:9/push/x").body()
        bad_bodies = [
            sub,  # loopback: refused without --push-allow-private-endpoints
            {**sub, "endpoint": "https://10.0.0.7/x"},
            {**sub, "endpoint": "https://[::1]/x"},
            {**sub, "endpoint": "https://localhost/x"},  # resolves to loopback
            {**sub, "endpoint": "http://push.example.com/x"},
            {**sub, "endpoint": "https://push.example.com/" + "a" * 2100},
            {**sub, "keys": {"p256dh": "AAAA", "auth": sub["keys"]["auth"]}},
            {**sub, "keys": {"p256dh": sub["keys"]["p256dh"], "auth": "AAAA"}},
            {**sub, "keys": None},
            {"kind": "apns", "token": "zz", "topic": "com.example.app"},
            {"kind": "apns", "token": "ab" * 32},
            {"kind": "fcm", "token": "short"},
            {"kind": "smoke-signal", "token": "x" * 30},
            {"kind": "webpush"},
        ]
        for bad in bad_bodies:
            with pytest.raises(ApiError) as e:
                await api.request("POST", "/v1/push/subscriptions", json=bad)
            assert (e.value.status, e.value.code) == (400, "bad_request"), bad
        assert (await api.request("GET", "/v1/push/subscriptions"))["subscriptions"] == []
        # apns and fcm are stored (their providers come later); one per kind per device
        apns = {"kind": "apns", "token": "ab" * 32, "topic": "com.example.app"}
        first = await api.request("POST", "/v1/push/subscriptions", json=apns)
        second = await api.request("POST", "/v1/push/subscriptions", json=apns)
        fcm = await api.request("POST", "/v1/push/subscriptions",
                                json={"kind": "fcm", "token": "f" * 40})  # fmt: skip
        listed = (await api.request("GET", "/v1/push/subscriptions"))["subscriptions"]
        assert {s["subscription_id"] for s in listed} == {
            second["subscription_id"],
            fcm["subscription_id"],
        }
        assert first["subscription_id"] != second["subscription_id"]
        # someone else's id: 404, as an unknown one; the owner's: 204
        other = await new_user(server.url)
        for who, sid in ((other, fcm["subscription_id"]), (api, "12345"), (api, "x")):
            with pytest.raises(ApiError) as e:
                await who.request("DELETE", f"/v1/push/subscriptions/{sid}")
            assert e.value.status in (400, 404)
        assert await api.request("DELETE", f"/v1/push/subscriptions/{fcm['subscription_id']}") \
            is None  # fmt: skip
        # mute: bad values and non-members refused
        conv = (await api.direct(other.user_id or ""))["conversation_id"]
        for bad_mute in ({"muted_until": -2}, {"muted_until": "soon"}, {}):
            with pytest.raises(ApiError) as e:
                await api.request("PATCH", f"/v1/conversations/{conv}", json=bad_mute)
            assert e.value.status == 400, bad_mute
        stranger = await new_user(server.url)
        with pytest.raises(ApiError) as e:
            await stranger.request("PATCH", f"/v1/conversations/{conv}", json={"muted_until": -1})
        assert e.value.status == 404
        # logout removes the device's subscriptions
        await api.log_out()
        again = await another_device(api, "again")
        assert (await again.request("GET", "/v1/push/subscriptions"))["subscriptions"] == []

    run(body())


def test_two_nodes_on_postgres_send_each_push_once(
    postgres_server: PostgresServer,
    tmp_path: Path,
    ca: tuple[trustme.CA, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca[1]))
    dsn = create_database(postgres_server, f"push_{uuid.uuid4().hex[:10]}")
    one = push_server(tmp_path / "one", ca[1], "--database-url", dsn, "--node-id", "1").start()
    two = push_server(tmp_path / "two", ca[1], "--database-url", dsn, "--node-id", "2").start()

    async def body(service: PushService, url: str) -> None:
        async with HubbubClient(two.url) as anon:  # the cluster shares one VAPID key
            assert (await anon.request("GET", "/v1/push/vapid-public-key"))[
                "key"
            ] == service.server_key
        ann = await new_user(one.url)
        ann_two = HubbubClient(two.url, ann.token)
        names = [f"pg-{i}" for i in range(12)]
        for i, name in enumerate(names):
            bob = await new_user(one.url if i % 2 else two.url)
            await subscribe(service, bob, name)
            conv = (await ann.direct(bob.user_id or ""))["conversation_id"]
            sender = ann if i % 2 else ann_two  # commits on both nodes
            await sender.post_message(conv, f"to {name}")
            await sender.post_message(conv, f"again to {name}")
        for name in names:
            await service.wait_for(name, timeout=20)
        await asyncio.sleep(1.5)
        for name in names:
            seqs = [p.payload["seq"] for p in service.pushes(name)]
            assert seqs in ([2], [1, 2]), (name, seqs)  # never twice for one entry
        await ann_two.aclose()

    try:
        with_push(ca, one.url, body)
    finally:
        one.stop()
        two.stop()
    for node in (one, two):
        assert "Traceback" not in node.log(), node.log()[-3000:]


def test_in_a_cluster_only_the_device_with_a_socket_waits(
    postgres_server: PostgresServer,
    redis_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
    ca: tuple[trustme.CA, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bob's laptop has a socket on node two and does not ack; his phone has none. Ann
    writes through node one: the phone is pushed at once, the laptop after the delay.
    (Node one knows of the laptop's socket only through the presence directory.)"""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca[1]))
    dsn = create_database(postgres_server, f"push_{uuid.uuid4().hex[:10]}")
    delay = 4.0
    shared = ("--database-url", dsn, "--redis-url", redis_url, "--push-delay", str(delay))
    one = push_server(tmp_path / "one", ca[1], *shared, "--node-id", "1").start()
    two = push_server(tmp_path / "two", ca[1], *shared, "--node-id", "2").start()

    async def body(service: PushService, url: str) -> None:
        ann, bob_laptop = await new_user(one.url), await new_user(two.url)
        bob_phone = await another_device(bob_laptop, "phone")
        await subscribe(service, bob_laptop, "cl-laptop")
        await subscribe(service, bob_phone, "cl-phone")
        laptop = await bob_laptop.connect(discover=False)  # on node two
        conv = (await ann.direct(bob_laptop.user_id or ""))["conversation_id"]
        started = time.time()
        sent = await ann.post_message(conv, "are you at your desk?")  # through node one
        await laptop.expect("message")  # shown on the laptop, never acked
        (phone,) = await service.wait_for("cl-phone", timeout=delay)
        assert phone.payload["message_id"] == sent["message_id"]
        assert phone.at - started < delay / 2  # at once, not after the delay
        assert service.pushes("cl-laptop") == []
        (late,) = await service.wait_for("cl-laptop", timeout=delay + 5)
        assert late.at - started >= delay * 0.9  # the live socket had its time to ack
        await laptop.close()

    try:
        with_push(ca, one.url, body)
    finally:
        one.stop()
        two.stop()
    for node in (one, two):
        assert "Traceback" not in node.log(), node.log()[-3000:]


def test_413_is_sent_again_without_the_preview(
    node: ServerProcess, ca: tuple[trustme.CA, Path]
) -> None:
    async def body(service: PushService, url: str) -> None:
        ann, bob = await new_user(url), await new_user(url)
        await bob.request("PATCH", "/v1/me", json={"push_preview": "full"})
        await subscribe(service, bob, "small")
        service.script["/push/small"] = [413]
        await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"], "hi")
        (push,) = await service.wait_for("small")
        assert "preview" not in push.payload and push.payload["sender_name"]
        assert [s for _, s in service.attempts["/push/small"]] == [413, 201]

    with_push(ca, node.url, body)
