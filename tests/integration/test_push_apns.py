"""APNs end to end: a real `hubbub serve` pushing over HTTP/2 to a local APNs stand-in
(tests/apns_service.py) that verifies the provider token's ES256 signature with the
team key's public half, its kid/iss/iat, and every header and body rule, and answers
with Apple's status codes and reasons."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hubbub.client import HubbubClient
from hubbub.core.push import topic_for
from tests.apns_service import ApnsService
from tests.push_service import make_ca
from tests.support import ServerProcess, another_device, new_user, run

pytestmark = pytest.mark.timeout(90)
KEY_ID, TEAM_ID, BUNDLE = "ABC123DEFG", "DEF123GHIJ", "com.example.hubbub"


def write_p8(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def apns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApnsService, Path, Path]]:
    tmp = tmp_path_factory.mktemp("apns")
    ca, ca_file = make_ca(tmp)
    key = ec.generate_private_key(ec.SECP256R1())
    service = ApnsService(ca, KEY_ID, TEAM_ID, key.public_key()).start()
    yield service, write_p8(tmp / "AuthKey.p8", key), ca_file
    service.stop()


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory, apns: tuple[ApnsService, Path, Path]
) -> Iterator[ServerProcess]:
    service, p8, ca_file = apns
    mp = pytest.MonkeyPatch()
    mp.setenv("SSL_CERT_FILE", str(ca_file))  # the node trusts the stand-in's CA
    mp.setenv("HUBBUB_APNS_KEY_ID", KEY_ID)  # options also come from the environment
    s = ServerProcess(
        tmp_path_factory.mktemp("node"), 2.0, "--push-delay", "1",
        "--apns-key-file", str(p8), "--apns-team-id", TEAM_ID, "--apns-url", service.url,
    ).start()  # fmt: skip
    mp.undo()
    yield s
    s.stop()
    assert "Traceback" not in s.log(), s.log()[-5000:]
    assert service.violations == []


def device_token() -> str:
    return os.urandom(32).hex()


async def subscribe(service: ApnsService, api: HubbubClient, topic: str = BUNDLE) -> str:
    token = service.register(device_token(), topic)
    await api.request("POST", "/v1/push/subscriptions",
                      json={"kind": "apns", "token": token, "topic": topic})  # fmt: skip
    return token


async def removed(api: HubbubClient, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (await api.request("GET", "/v1/push/subscriptions"))["subscriptions"]:
        assert time.monotonic() < deadline, "the subscription was not removed"
        await asyncio.sleep(0.05)


def test_an_offline_device_gets_an_alert_push_collapsed_per_conversation(
    node: ServerProcess, apns: tuple[ApnsService, Path, Path]
) -> None:
    service = apns[0]

    async def body() -> None:
        ann, bob, cat = await new_user(node.url), await new_user(node.url), await new_user(node.url)
        token = await subscribe(service, bob)
        started = time.time()
        conv = (await ann.direct(bob.user_id or ""))["conversation_id"]
        sent = await ann.post_message(conv, "hello bob")
        (push,) = await service.wait_for(token)
        assert push.at - started < 1.5  # offline: at once
        h = push.headers
        assert (h["apns-topic"], h["apns-push-type"], h["apns-priority"]) == (BUNDLE, "alert", "10")
        assert abs(int(h["apns-expiration"]) - (time.time() + 86_400)) < 60
        assert h["apns-collapse-id"] == topic_for(int(conv))
        assert push.jwt_claims["iss"] == TEAM_ID
        assert push.payload == {
            "aps": {
                "alert": {"title": ann.username, "body": "New message"},  # type: ignore[attr-defined]
                "badge": 1,
                "sound": "default",
                "thread-id": conv,
                "mutable-content": 1,
            },
            "type": "message",
            "conversation_id": conv,
            "message_id": sent["message_id"],
            "seq": 1,
            "sender_id": ann.user_id,
            "unread": 1,
            "conversation_kind": "direct",
            "sender_name": ann.username,  # type: ignore[attr-defined]
        }
        # a second conversation collapses on its own id; a group is priority 5
        group = await cat.create_group("club", [bob.user_id or ""])
        await cat.post_message(group["conversation_id"], "group hello")
        _, gpush = await service.wait_for(token, 2)
        assert gpush.headers["apns-collapse-id"] == topic_for(int(group["conversation_id"]))
        assert gpush.headers["apns-priority"] == "5"
        assert gpush.payload["aps"]["badge"] == 2
        assert len(service.bearers) == 1  # one provider token, reused (not one per push)

    run(body())


def test_preview_levels_shape_the_alert(
    node: ServerProcess, apns: tuple[ApnsService, Path, Path]
) -> None:
    service = apns[0]

    async def body() -> None:
        ann = await new_user(node.url)
        text = "y" * 300
        for level in ("full", "sender", "none"):
            bob = await new_user(node.url)
            await bob.request("PATCH", "/v1/me", json={"push_preview": level})
            token = await subscribe(service, bob)
            await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"], text)
            (push,) = await service.wait_for(token)
            alert, payload = push.payload["aps"]["alert"], push.payload
            if level == "full":
                assert alert["title"] == ann.username  # type: ignore[attr-defined]
                assert len(alert["body"]) == 100 and text.startswith(alert["body"][:-1])
                assert payload["preview"] == alert["body"]
            elif level == "sender":
                assert alert == {"title": ann.username, "body": "New message"}  # type: ignore[attr-defined]
                assert "preview" not in payload
            else:
                assert alert == {"body": "New message"}
                assert "sender_name" not in payload and "preview" not in payload

    run(body())


def test_read_elsewhere_sends_a_background_clear(
    node: ServerProcess, apns: tuple[ApnsService, Path, Path]
) -> None:
    service = apns[0]

    async def body() -> None:
        ann, bob = await new_user(node.url), await new_user(node.url)
        laptop = await another_device(bob, "laptop")
        token = await subscribe(service, bob)
        wl = await laptop.connect(discover=False)
        sent = await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"],
                                      "read me")  # fmt: skip
        await service.wait_for(token)
        got = await wl.expect("message")
        await wl.read(got["conversation_id"], got["message_id"])
        _, clear = await service.wait_for(token, 2)
        assert clear.headers["apns-push-type"] == "background"
        assert clear.headers["apns-priority"] == "5"
        assert clear.headers["apns-collapse-id"] == topic_for(int(sent["conversation_id"]))
        assert clear.payload == {
            "aps": {"content-available": 1},
            "type": "read",
            "conversation_id": sent["conversation_id"],
            "unread": 0,
        }
        await wl.close()

    run(body())


def test_unregistered_and_bad_tokens_remove_the_subscription(
    node: ServerProcess, apns: tuple[ApnsService, Path, Path]
) -> None:
    service = apns[0]

    async def body() -> None:
        ann = await new_user(node.url)
        bob, cat, dan = await new_user(node.url), await new_user(node.url), await new_user(node.url)
        gone = await subscribe(service, bob)
        service.unregistered[gone] = int(time.time() * 1000)  # the app was deleted
        wrong_topic = await subscribe(service, cat)
        service.devices[wrong_topic] = "com.example.other"
        unknown = device_token()  # never registered with APNs: BadDeviceToken
        await dan.request("POST", "/v1/push/subscriptions",
                          json={"kind": "apns", "token": unknown, "topic": BUNDLE})  # fmt: skip
        for who in (bob, cat, dan):
            await ann.post_message((await ann.direct(who.user_id or ""))["conversation_id"], "x")
        for who in (bob, cat, dan):
            await removed(who)
        assert service.statuses(gone) == [(410, "Unregistered")]
        assert service.statuses(wrong_topic) == [(400, "DeviceTokenNotForTopic")]
        assert service.statuses(unknown) == [(400, "BadDeviceToken")]

    run(body())


def test_too_many_requests_for_one_device_is_retried_and_holds_up_no_other(
    node: ServerProcess, apns: tuple[ApnsService, Path, Path]
) -> None:
    service = apns[0]

    async def body() -> None:
        ann, bob, cat = await new_user(node.url), await new_user(node.url), await new_user(node.url)
        busy, other = await subscribe(service, bob), await subscribe(service, cat)
        service.script[busy] = [(429, "TooManyRequests"), (503, "ServiceUnavailable")]
        await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"], "a")
        await ann.post_message((await ann.direct(cat.user_id or ""))["conversation_id"], "b")
        (first,) = await service.wait_for(other)
        (late,) = await service.wait_for(busy, timeout=20)
        assert service.statuses(busy) == [(429, "TooManyRequests"),
                                          (503, "ServiceUnavailable"), (200, "")]  # fmt: skip
        times = [t for t, _, _ in service.attempts[busy]]
        assert times[1] - times[0] >= 0.9  # waited after the 429
        assert first.at < late.at  # the other device was not held up by bob's 429
        assert late.payload["type"] == "message"

    run(body())


def test_an_expired_provider_token_is_renewed_and_the_push_resent(
    node: ServerProcess, apns: tuple[ApnsService, Path, Path]
) -> None:
    service = apns[0]

    async def body() -> None:
        ann, bob = await new_user(node.url), await new_user(node.url)
        token = await subscribe(service, bob)
        await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"], "1")
        await service.wait_for(token)
        old = service.pushes(token)[0].bearer
        service.script[token] = [(403, "ExpiredProviderToken")]
        await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"], "2")
        _, push = await service.wait_for(token, 2)
        assert service.statuses(token)[-2:] == [(403, "ExpiredProviderToken"), (200, "")]
        assert push.bearer != old
        assert push.jwt_claims["iat"] >= service.pushes(token)[0].jwt_claims["iat"]
        assert service.bearers[-1] == push.bearer
        await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"], "3")
        *_, third = await service.wait_for(token, 3)
        assert third.bearer == push.bearer  # the renewed token is kept

    run(body())


def serve_fails(tmp: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """`hubbub serve` with these options exits at once with a usage error, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "hubbub.cli", "serve", "--data-dir", str(tmp / "d"),
         "--port", "0", *args],
        check=False, capture_output=True, text=True, timeout=30, env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def test_bad_apns_options_are_usage_errors(tmp_path: Path) -> None:
    p8 = write_p8(tmp_path / "k.p8", ec.generate_private_key(ec.SECP256R1()))
    rsa_like = tmp_path / "not-a-key.p8"
    rsa_like.write_text("-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(b"x" * 40).decode()
                        + "\n-----END PRIVATE KEY-----\n")  # fmt: skip
    ok = ["--apns-key-id", KEY_ID, "--apns-team-id", TEAM_ID]
    assert "--apns-key-id" in serve_fails(tmp_path, "--apns-key-file", str(p8),
                                          "--apns-team-id", TEAM_ID)  # fmt: skip
    assert "--apns-key-file" in serve_fails(tmp_path, *ok)
    assert "--apns-sandbox" in serve_fails(tmp_path, "--apns-sandbox")
    err = serve_fails(tmp_path, "--apns-key-file", str(p8), "--apns-key-id", "short",
                      "--apns-team-id", TEAM_ID)  # fmt: skip
    assert "--apns-key-id" in err and "10 capital letters" in err
    err = serve_fails(tmp_path, "--apns-key-file", str(rsa_like), *ok)
    assert "--apns-key-file" in err and "not an unencrypted PEM private key" in err
    err = serve_fails(tmp_path, "--apns-key-file", str(p8), *ok, "--apns-sandbox",
                      "--apns-url", "https://127.0.0.1:1")  # fmt: skip
    assert "not both" in err
    err = serve_fails(tmp_path, "--apns-key-file", str(tmp_path / "missing.p8"), *ok)
    assert "does not exist" in err
    err = serve_fails(tmp_path, "--apns-key-file", str(p8), *ok,
                      env={"HUBBUB_APNS_URL": "http://127.0.0.1:1"})  # fmt: skip
    assert "https://" in err


def test_without_credentials_apns_subscriptions_are_kept_and_not_pushed(
    server: ServerProcess,
) -> None:
    """The default node (no --apns-*): subscribing works, pushes are counted, not sent."""

    async def body() -> None:
        ann, bob = await new_user(server.url), await new_user(server.url)
        await bob.request("POST", "/v1/push/subscriptions",
                          json={"kind": "apns", "token": device_token(), "topic": BUNDLE})
        await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"], "hi")
        deadline = time.monotonic() + 10
        while "hubbub_push_unconfigured_total 0.0" in (text := (await bob._http.get(
                "/metrics")).text) or "hubbub_push_unconfigured_total" not in text:
            assert time.monotonic() < deadline, text[-2000:]
            await asyncio.sleep(0.05)
        listed = (await bob.request("GET", "/v1/push/subscriptions"))["subscriptions"]
        assert [s["kind"] for s in listed] == ["apns"]  # kept for when APNs is set up

    run(body())
