"""What an APNs or FCM push says, without I/O: the alert text each preview level allows,
the APNs headers and `aps` body, the FCM v1 message, and how each service's error answer
maps to a PushResult. The providers (adapters/push/apns.py, fcm.py) sign and send these.

The Hubbub payload (core.push.message_notification / read_notification) goes along in
each: beside `aps` for APNs, as FCM `data` (string values). The alert reveals no more
than the payload does: "none" -> a generic line only; "sender" -> the sender's name as
title (a group's name as title, "<sender>: New message" as body); "full" -> the name and
the first ~100 characters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hubbub.core.push import Notification, PushResult, retry_after_s

GENERIC_BODY = "New message"
APNS_MAX_PAYLOAD = 4096  # bytes, for alert and background pushes
APNS_MAX_COLLAPSE_ID = 64  # bytes
APNS_THROTTLE_S = 1.0  # a 429 for one device: wait at least this (then backoff grows it)
APNS_GONE = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered",
                       "ExpiredToken"})  # fmt: skip
APNS_STALE_TOKEN = frozenset({"ExpiredProviderToken", "InvalidProviderToken"})


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def alert_of(payload: Mapping[str, Any]) -> dict[str, str]:
    """The visible alert of a `message` payload: what its preview level let in."""
    text = str(payload.get("preview") or GENERIC_BODY)
    sender, group = payload.get("sender_name"), payload.get("group_name")
    if group and sender:  # a group: its name as title, who said it in the body
        return {"title": str(group), "body": f"{sender}: {text}"}
    alert: dict[str, str] = {"body": text}
    if sender:
        alert["title"] = str(sender)
    return alert


# -- APNs ---------------------------------------------------------------------------------


def apns_headers(topic: str, note: Notification, now_s: float) -> dict[str, str]:
    """Headers of one APNs request (the authorization is added by the provider).

    A `message` is an alert push; priority 10 for high urgency (direct), 5 otherwise.
    A `read` is a background push (content-available, priority 5, as Apple requires for
    background pushes): the app wakes, removes the delivered notifications of that
    thread-id and sets its badge. The collapse id is the conversation's topic, so a burst
    replaces itself on the device."""
    background = note.payload.get("type") == "read"
    collapse = note.topic.encode()[:APNS_MAX_COLLAPSE_ID].decode("ascii", "ignore")
    return {
        "apns-topic": topic,
        "apns-push-type": "background" if background else "alert",
        "apns-priority": "10" if note.urgency == "high" and not background else "5",
        "apns-expiration": str(int(now_s) + note.ttl),
        "apns-collapse-id": collapse,
    }


def apns_body(note: Notification) -> bytes:
    """{"aps": {...}, <the Hubbub payload>}. An alert carries the badge (the unread total),
    the conversation as thread-id, and mutable-content (a notification service extension
    may add the avatar); a background push carries only content-available."""
    payload = note.payload
    if payload.get("type") == "read":
        aps: dict[str, Any] = {"content-available": 1}
    else:
        aps = {
            "alert": alert_of(payload),
            "badge": int(payload.get("unread", 0)),
            "sound": "default",
            "thread-id": str(payload.get("conversation_id", "")),
            "mutable-content": 1,
        }
    return compact({"aps": aps, **payload})


def apns_result(status: int, body: bytes, retry_after: str | None = None) -> PushResult:
    """Apple's answer as a PushResult. A stale provider token (403) is `retry` here: the
    provider renews its token and resends once before it returns this."""
    reason = apns_reason(body)
    if status == 200:
        return PushResult("sent", status)
    if reason in APNS_GONE or status == 410:
        return PushResult("gone", status, detail=reason)
    if status == 413:
        return PushResult("too_large", status, detail=reason)
    if status == 429:  # TooManyRequests is per device token: wait for that job only
        return PushResult("retry", status, retry_after_s(retry_after, APNS_THROTTLE_S), reason)
    if status >= 500 or reason in APNS_STALE_TOKEN:
        return PushResult("retry", status, retry_after_s(retry_after, 0.0), reason)
    return PushResult("failed", status, detail=reason)


def apns_reason(body: bytes) -> str:
    try:
        decoded = json.loads(body) if body else {}
    except ValueError:
        return ""
    return str(decoded.get("reason", "")) if isinstance(decoded, dict) else ""


# -- FCM (HTTP v1) -----------------------------------------------------------------------

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
FCM_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


def fcm_message(token: str, note: Notification) -> dict[str, Any]:
    """{"message": ...} for messages:send: a data message (the app draws the notification
    from `data`, as the service worker does for Web Push, so a `read` can clear it), high
    priority for direct messages (normal for groups and clears), the TTL, and the
    conversation as collapse key."""
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in note.payload.items()}
    return {
        "message": {
            "token": token,
            "data": data,
            "android": {
                "priority": "high" if note.urgency == "high" else "normal",
                "ttl": f"{note.ttl}s",
                "collapse_key": note.topic,
            },
        }
    }


def fcm_error(body: bytes) -> tuple[str, str, list[dict[str, Any]]]:
    """(status, FcmError errorCode, details) of Google's error JSON; blanks if none."""
    try:
        error = json.loads(body).get("error", {}) if body else {}
    except (ValueError, AttributeError):
        return "", "", []
    if not isinstance(error, dict):
        return "", "", []
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    code = next((str(d.get("errorCode", "")) for d in details
                 if d.get("@type") == FCM_ERROR_TYPE), "")  # fmt: skip
    return str(error.get("status", "")), code, details


def fcm_result(status: int, body: bytes, retry_after: str | None = None) -> PushResult:
    """FCM's answer as a PushResult. 404 UNREGISTERED, 403 SENDER_ID_MISMATCH and a 400
    whose field violation is the token remove the subscription; 429 waits for
    Retry-After (a project-wide quota: every FCM push waits); 5xx backs off. (401 is
    handled by the provider: renew the access token, resend once.)"""
    if status == 200:
        return PushResult("sent", status)
    state, code, details = fcm_error(body)
    detail = f"{state} {code}".strip()
    token_refused = any(
        v.get("field") == "message.token"
        for d in details if d.get("@type") == FCM_BAD_REQUEST_TYPE
        for v in d.get("fieldViolations") or [] if isinstance(v, dict)
    ) or (state == "INVALID_ARGUMENT" and b"registration token" in body)  # fmt: skip
    if code in ("UNREGISTERED", "SENDER_ID_MISMATCH") or status == 404 or token_refused:
        return PushResult("gone", status, detail=detail)
    if status == 429:
        return PushResult("throttled", status, retry_after_s(retry_after), detail)
    if status >= 500:
        return PushResult("retry", status, retry_after_s(retry_after, 0.0), detail)
    return PushResult("failed", status, detail=detail)
