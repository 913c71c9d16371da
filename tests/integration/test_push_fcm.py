"""FCM end to end: a real `hubbub serve` authorised as a service account (an RS256
assertion exchanged for an access token) pushing to a local stand-in of Google's token
endpoint and the FCM HTTP v1 API (tests/fcm_service.py) that verifies the assertion with
the account's public key, the bearer and the message, and answers in Google's error
JSON."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hubbub.client import HubbubClient
from hubbub.core.push import topic_for
from tests.fcm_service import FcmService
from tests.integration.test_push_apns import removed, serve_fails
from tests.push_service import make_ca
from tests.support import ServerProcess, another_device, new_user, run

pytestmark = pytest.mark.timeout(90)
PROJECT, EMAIL = "hubbub-test", "pusher@hubbub-test.iam.gserviceaccount.com"


def key_file(path: Path, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, token_uri: str
             ) -> Path:  # fmt: skip
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip
    path.write_text(json.dumps({
        "type": "service_account", "project_id": PROJECT, "private_key_id": "k1",
        "private_key": pem, "client_email": EMAIL, "client_id": "1", "token_uri": token_uri,
    }))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def fcm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FcmService, Path, Path]]:
    tmp = tmp_path_factory.mktemp("fcm")
    ca, ca_file = make_ca(tmp)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    service = FcmService(ca, PROJECT, EMAIL, key.public_key()).start()
    yield service, key_file(tmp / "service-account.json", key, service.token_uri), ca_file
    service.stop()


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory, fcm: tuple[FcmService, Path, Path]
) -> Iterator[ServerProcess]:
    service, account, ca_file = fcm
    mp = pytest.MonkeyPatch()
    mp.setenv("SSL_CERT_FILE", str(ca_file))
    mp.setenv("HUBBUB_FCM_SERVICE_ACCOUNT_FILE", str(account))  # from the environment
    s = ServerProcess(tmp_path_factory.mktemp("node"), 2.0, "--push-delay", "1",
                      "--fcm-url", service.url).start()  # fmt: skip
    mp.undo()
    yield s
    s.stop()
    assert "Traceback" not in s.log(), s.log()[-5000:]
    assert service.violations == []


async def subscribe(service: FcmService, api: HubbubClient, known: bool = True) -> str:
    token = secrets.token_urlsafe(24) + ":APA91b" + secrets.token_urlsafe(60)
    if known:
        service.devices.add(token)
    await api.request("POST", "/v1/push/subscriptions", json={"kind": "fcm", "token": token})
    return token


def test_an_offline_device_gets_a_data_message_by_preview_level(
    node: ServerProcess, fcm: tuple[FcmService, Path, Path]
) -> None:
    service = fcm[0]

    async def body() -> None:
        ann = await new_user(node.url)
        for level in ("sender", "full", "none"):
            bob = await new_user(node.url)
            await bob.request("PATCH", "/v1/me", json={"push_preview": level})
            token = await subscribe(service, bob)
            conv = (await ann.direct(bob.user_id or ""))["conversation_id"]
            started = time.time()
            sent = await ann.post_message(conv, "z" * 150)
            (push,) = await service.wait_for(token)
            assert push.at - started < 1.5
            data = push.message["data"]
            expected = {"type": "message", "conversation_id": conv,
                        "message_id": sent["message_id"], "seq": "1",
                        "sender_id": ann.user_id, "unread": "1",
                        "conversation_kind": "direct"}  # fmt: skip
            if level != "none":
                expected["sender_name"] = ann.username  # type: ignore[attr-defined]
            if level == "full":
                expected["preview"] = "z" * 99 + "\u2026"
            assert data == expected
            assert push.message["android"] == {"priority": "high", "ttl": "86400s",
                                               "collapse_key": topic_for(int(conv))}  # fmt: skip
        # a group: normal priority, its own collapse key
        cat = await new_user(node.url)
        token = await subscribe(service, cat)
        group = await ann.create_group("club", [cat.user_id or ""])
        await ann.post_message(group["conversation_id"], "hi all")
        (gpush,) = await service.wait_for(token)
        assert gpush.message["android"]["priority"] == "normal"
        assert gpush.message["android"]["collapse_key"] == topic_for(int(group["conversation_id"]))
        assert len(service.assertions) == 1  # one access token for all of them

    run(body())


def test_read_elsewhere_sends_a_clearing_data_message(
    node: ServerProcess, fcm: tuple[FcmService, Path, Path]
) -> None:
    service = fcm[0]

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
        assert clear.message["data"] == {"type": "read",
                                         "conversation_id": sent["conversation_id"],
                                         "unread": "0"}  # fmt: skip
        assert clear.message["android"]["priority"] == "normal"
        await wl.close()

    run(body())


def test_unregistered_and_invalid_tokens_remove_the_subscription(
    node: ServerProcess, fcm: tuple[FcmService, Path, Path]
) -> None:
    service = fcm[0]

    async def body() -> None:
        ann, bob, cat = await new_user(node.url), await new_user(node.url), await new_user(node.url)
        gone = await subscribe(service, bob)
        service.unregistered.add(gone)
        invalid = await subscribe(service, cat, known=False)
        for who in (bob, cat):
            await ann.post_message((await ann.direct(who.user_id or ""))["conversation_id"], "x")
        await removed(bob)
        await removed(cat)
        assert service.statuses(gone) == [404] and service.statuses(invalid) == [400]

    run(body())


def test_429_waits_for_retry_after_and_5xx_backs_off(
    node: ServerProcess, fcm: tuple[FcmService, Path, Path]
) -> None:
    service = fcm[0]

    async def body() -> None:
        ann, bob = await new_user(node.url), await new_user(node.url)
        token = await subscribe(service, bob)
        service.script[token] = [(429, {"Retry-After": "2"}), (503, {})]
        await ann.post_message((await ann.direct(bob.user_id or ""))["conversation_id"], "q")
        (push,) = await service.wait_for(token, timeout=20)
        assert service.statuses(token) == [429, 503, 200]
        (t429, _), (t503, _), _ = service.attempts[token]
        assert t503 - t429 >= 1.9  # Retry-After honoured
        assert push.message["data"]["type"] == "message"

    run(body())


def test_a_refused_access_token_is_renewed_and_one_near_expiry_replaced(
    node: ServerProcess, fcm: tuple[FcmService, Path, Path]
) -> None:
    service = fcm[0]

    async def body() -> None:
        ann, bob = await new_user(node.url), await new_user(node.url)
        token = await subscribe(service, bob)
        conv = (await ann.direct(bob.user_id or ""))["conversation_id"]
        before = len(service.assertions)
        service.token_lifetime_s = 304  # the next token is "near expiry" 4 s after it is issued
        service.script[token] = [(401, {})]  # the current token is refused (revoked)
        await ann.post_message(conv, "1")
        (first,) = await service.wait_for(token)
        assert service.statuses(token) == [401, 200]
        assert len(service.assertions) == before + 1  # renewed once, and the push resent
        await ann.post_message(conv, "2")
        _, second = await service.wait_for(token, 2)
        assert second.bearer == first.bearer  # cached
        await asyncio.sleep(4.5)  # let the token reach its refresh margin (no event to wait on)
        service.token_lifetime_s = 3599
        await ann.post_message(conv, "3")
        *_, third = await service.wait_for(token, 3)
        assert third.bearer != second.bearer and len(service.assertions) == before + 2

    run(body())


def test_bad_fcm_options_are_usage_errors(tmp_path: Path) -> None:
    not_json = tmp_path / "sa.json"
    not_json.write_text("{")
    ec_key = key_file(tmp_path / "ec.json", ec.generate_private_key(ec.SECP256R1()),
                      "https://oauth2.googleapis.com/token")  # fmt: skip
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"project_id": "p"}))
    assert "is not JSON" in serve_fails(tmp_path, "--fcm-service-account-file", str(not_json))
    assert "not an RSA key" in serve_fails(tmp_path, "--fcm-service-account-file", str(ec_key))
    err = serve_fails(tmp_path, "--fcm-service-account-file", str(partial))
    assert "client_email" in err and "private_key" in err
    assert "--fcm-url" in serve_fails(tmp_path, "--fcm-url", "https://127.0.0.1:1")
    assert "does not exist" in serve_fails(
        tmp_path, env={"HUBBUB_FCM_SERVICE_ACCOUNT_FILE": os.fspath(tmp_path / "none.json")}
    )
