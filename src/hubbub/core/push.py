"""Push notification rules, without I/O: what a subscription may be, what a payload
reveals at each preview level, the Web Push headers (Topic, Urgency, TTL), when a job is
due, who is pushed, and which endpoint addresses are refused.

The dispatcher (services/push.py) applies these; the providers (adapters/push/) only
encrypt, sign and send what they are handed.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from hubbub.core.errors import bad_request

PushKind = Literal["webpush", "apns", "fcm"]
PUSH_KINDS: tuple[PushKind, ...] = ("webpush", "apns", "fcm")
PreviewLevel = Literal["full", "sender", "none"]
PREVIEW_LEVELS: tuple[PreviewLevel, ...] = ("full", "sender", "none")
DEFAULT_PREVIEW: PreviewLevel = "sender"
Urgency = Literal["very-low", "low", "normal", "high"]

MAX_ENDPOINT_CHARS = 2048
P256_POINT_BYTES = 65  # an uncompressed P-256 point: 0x04 || X || Y
AUTH_SECRET_BYTES = 16
MAX_APNS_TOPIC_CHARS = 255
MAX_FCM_TOKEN_CHARS = 4096
APNS_TOKEN_HEX = re.compile(r"^[0-9a-fA-F]{64,200}$")
FCM_TOKEN = re.compile(r"^[A-Za-z0-9_:\-.]{20,4096}$")
APNS_TOPIC = re.compile(r"^[A-Za-z0-9.\-]{1,255}$")
PREVIEW_CHARS = 100
TTL_SECONDS = 86_400  # a day: a phone off for longer gets the next one instead
MUTED_FOREVER = -1
MAX_ATTEMPTS = 8  # 5xx and network errors: then the job is dropped (counted)
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 300.0


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: int
    user_id: int
    device_id: int
    kind: PushKind
    endpoint: str | None = None  # webpush
    p256dh: str | None = None  # webpush, base64url
    auth: str | None = None  # webpush, base64url
    token: str | None = None  # apns, fcm
    topic: str | None = None  # apns (the app's bundle id)
    created_at: int = 0


@dataclass(frozen=True, slots=True)
class Notification:
    """One push to one subscription: the decrypted payload and its delivery headers."""

    payload: dict[str, Any]
    topic: str
    urgency: Urgency
    ttl: int = TTL_SECONDS


# -- validating subscriptions ------------------------------------------------------------


def b64url_decode(value: str, what: str) -> bytes:
    """Base64url without padding (padding tolerated), as browsers give the keys."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_\-]*={0,2}", value):
        raise bad_request(f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise bad_request(f"{what} is not base64url") from None


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def check_endpoint(endpoint: str) -> str:
    """An https URL with a host, at most MAX_ENDPOINT_CHARS; returns its host."""
    if len(endpoint) > MAX_ENDPOINT_CHARS:
        raise bad_request(f"endpoint is over {MAX_ENDPOINT_CHARS} characters")
    if not endpoint.isascii() or any(ch.isspace() or ord(ch) < 0x21 for ch in endpoint):
        raise bad_request("endpoint must be an ASCII URL without spaces")
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
        _ = parts.port  # raises for a bad port
    except ValueError:
        raise bad_request("endpoint is not a URL") from None
    if parts.scheme != "https":
        raise bad_request("endpoint must be an https URL")
    if not host:
        raise bad_request("endpoint has no host")
    if parts.username is not None or parts.password is not None:
        raise bad_request("endpoint must not carry credentials")
    return host


def check_webpush_keys(p256dh: str, auth: str) -> None:
    point = b64url_decode(p256dh, "keys.p256dh")
    if len(point) != P256_POINT_BYTES or point[0] != 0x04:
        raise bad_request("keys.p256dh must be an uncompressed P-256 point (65 bytes)")
    if len(b64url_decode(auth, "keys.auth")) != AUTH_SECRET_BYTES:
        raise bad_request(f"keys.auth must be {AUTH_SECRET_BYTES} bytes")


def check_apns(token: str, topic: str) -> None:
    if not APNS_TOKEN_HEX.fullmatch(token) or len(token) % 2:
        raise bad_request("token must be the device token in hex (32..100 bytes)")
    if not APNS_TOPIC.fullmatch(topic):
        raise bad_request("topic must be the app's bundle id")


def check_fcm(token: str) -> None:
    if not FCM_TOKEN.fullmatch(token):
        raise bad_request("token must be an FCM registration token (20..4096 characters)")


def origin(endpoint: str) -> str:
    """scheme://host[:port] of an endpoint: the VAPID `aud`, and the key of a push
    service's Retry-After."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, unspecified, multicast and reserved
    addresses (IPv4-mapped IPv6 judged as its IPv4): an endpoint there is refused unless
    private endpoints are allowed, so the server cannot be made to reach internal hosts."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_ADDRESS_SPACE)
    )


_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


def literal_address(host: str) -> str | None:
    """The host as an IP address string if it is one (brackets stripped), else None."""
    bare = host.strip("[]")
    try:
        return str(ipaddress.ip_address(bare.split("%", 1)[0]))
    except ValueError:
        return None


# -- what a push says ----------------------------------------------------------------


def topic_for(conversation_id: int) -> str:
    """The Web Push Topic (and collapse key) of a conversation: 11 characters of the
    URL-safe base64 alphabet (RFC 8030 allows at most 32), the same for every push of
    the conversation, so a burst replaces itself on the device."""
    return b64url(conversation_id.to_bytes(8, "big"))


def urgency_for(kind: str) -> Urgency:
    """High for a direct message, normal for a group."""
    return "high" if kind == "direct" else "normal"


def preview_of(body: str) -> str:
    """The first PREVIEW_CHARS characters of a body (an ellipsis when cut)."""
    return body if len(body) <= PREVIEW_CHARS else body[: PREVIEW_CHARS - 1] + "\u2026"


def message_notification(
    level: PreviewLevel,
    *,
    conversation_id: int,
    kind: str,
    message_id: int,
    seq: int,
    sender_id: int,
    unread: int,
    sender_name: str,
    body: str,
    group_name: str = "",
) -> Notification:
    """A `message` push. "none" reveals only that something came in which conversation
    (and whether direct or group, which the Urgency shows anyway); "sender" adds who sent
    it and a group's name; "full" adds the first ~100 characters too."""
    payload: dict[str, Any] = {
        "type": "message",
        "conversation_id": str(conversation_id),
        "message_id": str(message_id),
        "seq": seq,
        "sender_id": str(sender_id),
        "unread": unread,
        "conversation_kind": "group" if kind == "group" else "direct",
    }
    if level in ("sender", "full"):
        payload["sender_name"] = sender_name
        if kind == "group":
            payload["group_name"] = group_name
    if level == "full":
        payload["preview"] = preview_of(body)
    return Notification(payload, topic_for(conversation_id), urgency_for(kind))


def read_notification(conversation_id: int, unread: int) -> Notification:
    """A `read` push: the conversation was read elsewhere; clear what is shown."""
    payload = {"type": "read", "conversation_id": str(conversation_id), "unread": unread}
    return Notification(payload, topic_for(conversation_id), "low")


def smaller(note: Notification) -> Notification | None:
    """The same push without its preview (after a 413), or None if there is none."""
    if "preview" not in note.payload:
        return None
    payload = {k: v for k, v in note.payload.items() if k != "preview"}
    return Notification(payload, note.topic, note.urgency, note.ttl)


# -- when and whom ----------------------------------------------------------------------


def is_muted(muted_until: int | None, now_ms: int) -> bool:
    """-1 mutes for ever; a time in ms mutes until then; 0 or None is not muted."""
    if not muted_until:
        return False
    return muted_until == MUTED_FOREVER or muted_until > now_ms


def check_muted_until(value: float | None) -> int:
    """The stored form of `muted_until`: -1 (for ever), a time in ms, or 0 (unmuted).
    A JSON number with no fraction counts as the integer (booleans do not)."""
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and (
        value == MUTED_FOREVER or 0 <= value <= 1 << 53
    ):
        return value
    raise bad_request("muted_until must be a time in ms, -1 (for ever) or null")


def recipients(members: Iterable[int], sender_id: int) -> list[int]:
    """Who is pushed for a message: every member but the sender (none of the sender's
    own devices)."""
    return [m for m in members if m != sender_id]


Verdict = Literal["send", "skip", "wait"]


def verdict(
    *,
    acked_seq: int,
    seq: int,
    read_upto: int,
    message_id: int,
    muted: bool,
    live: bool,
    created_ms: int,
    now_ms: int,
    delay_ms: int,
) -> Verdict:
    """What to do with a `message` job now. Skip: the device has the entry (acked), the
    user read the conversation on some device, or it is muted. Wait: a live socket got
    it and has `delay_ms` from the commit to ack it. Send: otherwise."""
    if acked_seq >= seq or read_upto >= message_id or muted:
        return "skip"
    if live and now_ms < created_ms + delay_ms:
        return "wait"
    return "send"


def backoff_s(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: up to BASE * 2^attempt, capped."""
    bound = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2**attempt))
    return (rng or random).uniform(bound / 2, bound)


def retry_after_s(header: str | None, default: float = 60.0) -> float:
    """Seconds from a Retry-After header (delta seconds; an HTTP date counts as the
    default), bounded to an hour."""
    if header is None:
        return default
    value = header.strip()
    if value.isdigit():
        return float(min(int(value), 3600))
    return default


JobKind = Literal["message", "read"]


@dataclass(frozen=True, slots=True)
class PushJob:
    """One outbox row as claimed, with what the dispatcher needs to decide and to build
    the payload (read in the claim): the device's ack watermark, the user's read
    watermark, mute and preview settings, the message and its sender, the unread total."""

    subscription: Subscription
    kind: JobKind
    conversation_id: int
    conversation_kind: str
    conversation_name: str  # a group's name ("" for direct conversations)
    message_id: int  # `read` jobs: the read watermark
    seq: int  # `read` jobs: 0
    version: int  # bumped by each newer message collapsed into this row
    created_at: int  # ms of the commit of the newest message in it
    attempts: int
    acked_seq: int
    read_upto: int
    muted_until: int
    preview: PreviewLevel
    sender_id: int
    sender_name: str
    body: str
    unread: int


Outcome = Literal["sent", "gone", "too_large", "throttled", "retry", "refused", "failed"]


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a provider made of one send. sent: accepted (200/201). gone: the service no
    longer knows the subscription (404/410, 401/403): delete it. too_large: 413. throttled:
    429, wait `retry_after_s` before sending to that service again. retry: 5xx or a network
    error. refused: an endpoint the node must not reach (a private address). failed: any
    other refusal of this one request (400 and the like): drop it, keep the subscription."""

    outcome: Outcome
    status: int = 0
    retry_after_s: float = 0.0
    detail: str = ""
