"""core.push: the rules of push notifications, without I/O."""

from __future__ import annotations

import random
import re

import pytest

from hubbub.core import push
from hubbub.core.errors import HubbubError

POINT = push.b64url(b"\x04" + b"\x01" * 64)
AUTH = push.b64url(b"\x02" * 16)


def test_topic_is_short_url_safe_and_per_conversation() -> None:
    for cid in (1, 383409284328718337, (1 << 63) - 1):
        topic = push.topic_for(cid)
        assert len(topic) <= 32
        assert re.fullmatch(r"[A-Za-z0-9_\-]+", topic)
    assert push.topic_for(5) == push.topic_for(5) != push.topic_for(6)


def test_urgency_direct_high_group_normal_read_low() -> None:
    assert push.urgency_for("direct") == "high"
    assert push.urgency_for("group") == "normal"
    assert push.read_notification(1, 0).urgency == "low"


def _note(level: push.PreviewLevel, body: str = "hello there") -> push.Notification:
    return push.message_notification(
        level,
        conversation_id=7,
        kind="direct",
        message_id=9,
        seq=3,
        sender_id=11,
        unread=4,
        sender_name="Ann",
        body=body,
    )


def test_preview_levels_reveal_what_they_say() -> None:
    base = {
        "type": "message",
        "conversation_id": "7",
        "message_id": "9",
        "seq": 3,
        "sender_id": "11",
        "unread": 4,
        "conversation_kind": "direct",
    }
    assert _note("none").payload == base
    assert _note("sender").payload == {**base, "sender_name": "Ann"}
    assert _note("full").payload == {**base, "sender_name": "Ann", "preview": "hello there"}
    assert _note("full").ttl == push.TTL_SECONDS


def test_a_group_push_names_the_group_only_with_the_sender() -> None:
    def group(level: push.PreviewLevel) -> dict[str, object]:
        return push.message_notification(
            level, conversation_id=7, kind="group", message_id=9, seq=3, sender_id=11,
            unread=1, sender_name="Ann", body="hi all", group_name="Climbing",
        ).payload  # fmt: skip

    assert group("none")["conversation_kind"] == "group"
    assert "group_name" not in group("none") and "sender_name" not in group("none")
    assert group("sender")["group_name"] == "Climbing" and "preview" not in group("sender")
    assert group("full")["group_name"] == "Climbing" and group("full")["preview"] == "hi all"


def test_preview_is_cut_to_about_100_characters() -> None:
    preview = _note("full", "x" * 500).payload["preview"]
    assert len(preview) == push.PREVIEW_CHARS and preview.endswith("\u2026")


def test_smaller_drops_the_preview_once() -> None:
    small = push.smaller(_note("full"))
    assert small is not None and "preview" not in small.payload
    assert push.smaller(small) is None


def test_read_payload() -> None:
    assert push.read_notification(7, 2).payload == {
        "type": "read",
        "conversation_id": "7",
        "unread": 2,
    }


def test_recipients_never_the_sender() -> None:
    assert push.recipients([1, 2, 3], 2) == [1, 3]
    assert push.recipients([2], 2) == []


def test_mute() -> None:
    assert push.is_muted(-1, 10**13)
    assert push.is_muted(2000, 1000)
    assert not push.is_muted(1000, 2000)
    assert not push.is_muted(0, 1) and not push.is_muted(None, 1)
    assert push.check_muted_until(None) == 0
    assert push.check_muted_until(-1) == -1
    assert push.check_muted_until(2155.0) == 2155
    for bad in (-5, 1.5, True, float("inf"), 1 << 60):
        with pytest.raises(HubbubError):
            push.check_muted_until(bad)


def _verdict(**kw: object) -> push.Verdict:
    args: dict[str, object] = {
        "acked_seq": 0,
        "seq": 5,
        "read_upto": 0,
        "message_id": 100,
        "muted": False,
        "live": False,
        "created_ms": 1000,
        "now_ms": 1000,
        "delay_ms": 10_000,
    }
    args.update(kw)
    return push.verdict(**args)  # type: ignore[arg-type]


def test_verdict() -> None:
    assert _verdict() == "send"  # no live socket: at once
    assert _verdict(live=True) == "wait"
    assert _verdict(live=True, now_ms=11_000) == "send"  # silent past the delay
    assert _verdict(acked_seq=5) == "skip"
    assert _verdict(read_upto=100) == "skip"
    assert _verdict(muted=True) == "skip"


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://push.example/x",
        "ftp://push.example/x",
        "https:///nohost",
        "https://user:pw@push.example/x",
        "https://push.example/" + "a" * 2048,
        "https://push.example/a b",
        "https://push.example:99999/x",
        "https://push.exämple/x",
    ],
)
def test_bad_endpoints(endpoint: str) -> None:
    with pytest.raises(HubbubError):
        push.check_endpoint(endpoint)


def test_good_endpoint() -> None:
    assert push.check_endpoint("https://fcm.googleapis.com/fcm/send/abc") == "fcm.googleapis.com"
    assert push.origin("https://push.example:8443/a/b") == "https://push.example:8443"


@pytest.mark.parametrize(
    ("p256dh", "auth"),
    [
        (push.b64url(b"\x04" + b"\x01" * 63), AUTH),  # too short
        (push.b64url(b"\x02" + b"\x01" * 64), AUTH),  # compressed-point prefix
        ("not base64!", AUTH),
        (POINT, push.b64url(b"\x02" * 15)),
        (POINT, "%%%"),
    ],
)
def test_bad_keys(p256dh: str, auth: str) -> None:
    with pytest.raises(HubbubError):
        push.check_webpush_keys(p256dh, auth)


def test_good_keys_with_or_without_padding() -> None:
    push.check_webpush_keys(POINT, AUTH)
    push.check_webpush_keys(POINT + "=", AUTH + "==")


def test_apns_and_fcm_tokens() -> None:
    push.check_apns("ab" * 32, "com.example.app")
    push.check_fcm("f" * 30 + ":APA91b")
    for bad in ("zz" * 32, "ab" * 31, "a" * 65):
        with pytest.raises(HubbubError):
            push.check_apns(bad, "com.example.app")
    with pytest.raises(HubbubError):
        push.check_apns("ab" * 32, "bad topic")
    for bad in ("short", "a" * 30 + " x", "x" * 5000):
        with pytest.raises(HubbubError):
            push.check_fcm(bad)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
        "224.0.0.1", "100.64.0.1", "::1", "fe80::1", "fc00::1", "::", "::ffff:127.0.0.1",
        "ff02::1",
    ],
)  # fmt: skip
def test_private_addresses_refused(address: str) -> None:
    assert not push.is_public_address(address)


def test_public_addresses() -> None:
    assert push.is_public_address("8.8.8.8")
    assert push.is_public_address("2606:4700:4700::1111")
    assert push.literal_address("[::1]") == "::1"
    assert push.literal_address("push.example") is None


def test_backoff_grows_with_jitter_and_is_bounded() -> None:
    rng = random.Random(1)
    assert 0.25 <= push.backoff_s(0, rng) <= 0.5
    assert 2 <= push.backoff_s(3, rng) <= 4
    assert push.backoff_s(50, rng) <= push.BACKOFF_CAP_S
    assert push.retry_after_s("7") == 7
    assert push.retry_after_s("99999") == 3600
    assert push.retry_after_s(None, 5) == 5
    assert push.retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", 9) == 9
