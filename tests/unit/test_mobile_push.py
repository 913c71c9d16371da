"""core.mobile_push and the APNs provider token: what APNs and FCM pushes say, how the
services' answers map to results, and when the provider token is renewed (no I/O)."""

from __future__ import annotations

import json

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from hubbub.adapters.push.apns import MIN_FORCED_RENEW_S, RENEW_AFTER_S, ProviderToken
from hubbub.core import mobile_push as mp
from hubbub.core import push


def message(level: push.PreviewLevel, kind: str = "direct", body: str = "hello there") -> (
    push.Notification
):
    return push.message_notification(
        level, conversation_id=77, kind=kind, message_id=9, seq=3, sender_id=5, unread=4,
        sender_name="Ann", body=body, group_name="Climbing" if kind == "group" else "",
    )  # fmt: skip


def test_alert_reveals_what_the_preview_level_allows() -> None:
    assert mp.alert_of(message("full").payload) == {"title": "Ann", "body": "hello there"}
    assert mp.alert_of(message("sender").payload) == {"title": "Ann", "body": mp.GENERIC_BODY}
    assert mp.alert_of(message("none").payload) == {"body": mp.GENERIC_BODY}
    group = {"title": "Climbing", "body": "Ann: hello there"}
    assert mp.alert_of(message("full", "group").payload) == group
    assert mp.alert_of(message("sender", "group").payload) == {
        "title": "Climbing", "body": f"Ann: {mp.GENERIC_BODY}"
    }
    assert mp.alert_of(message("none", "group").payload) == {"body": mp.GENERIC_BODY}


def test_apns_alert_push_headers_and_body() -> None:
    note = message("full")
    headers = mp.apns_headers("com.example.app", note, 1_000.5)
    assert headers == {
        "apns-topic": "com.example.app",
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": str(1_000 + push.TTL_SECONDS),
        "apns-collapse-id": push.topic_for(77),
    }
    assert mp.apns_headers("t", message("full", "group"), 0)["apns-priority"] == "5"
    body = json.loads(mp.apns_body(note))
    assert body["aps"] == {
        "alert": {"title": "Ann", "body": "hello there"},
        "badge": 4,
        "sound": "default",
        "thread-id": "77",
        "mutable-content": 1,
    }
    assert {k: v for k, v in body.items() if k != "aps"} == note.payload


def test_apns_read_is_a_background_push() -> None:
    note = push.read_notification(77, 0)
    headers = mp.apns_headers("com.example.app", note, 0)
    assert headers["apns-push-type"] == "background" and headers["apns-priority"] == "5"
    assert headers["apns-collapse-id"] == push.topic_for(77)
    body = json.loads(mp.apns_body(note))
    assert body == {"aps": {"content-available": 1}, **note.payload}


def test_apns_answers_map_to_results() -> None:
    def result(status: int, reason: str = "", retry_after: str | None = None) -> (
        push.PushResult
    ):
        body = json.dumps({"reason": reason}).encode() if reason else b""
        return mp.apns_result(status, body, retry_after)

    assert result(200).outcome == "sent"
    assert result(410, "Unregistered").outcome == "gone"
    assert result(400, "BadDeviceToken").outcome == "gone"
    assert result(400, "DeviceTokenNotForTopic").outcome == "gone"
    assert result(400, "BadCollapseId").outcome == "failed"
    assert result(413, "PayloadTooLarge").outcome == "too_large"
    throttled = result(429, "TooManyRequests")
    assert (throttled.outcome, throttled.retry_after_s) == ("retry", mp.APNS_THROTTLE_S)
    assert result(429, "TooManyRequests", "7").retry_after_s == 7.0
    assert result(403, "ExpiredProviderToken").outcome == "retry"
    assert result(403, "BadCertificate").outcome == "failed"
    assert result(500, "InternalServerError").outcome == "retry"
    assert result(503, "ServiceUnavailable").outcome == "retry"
    assert mp.apns_reason(b"not json") == ""


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_provider_token_is_cached_renewed_before_an_hour_and_once_when_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    clock = Clock()
    token = ProviderToken(key, "ABC123DEFG", "TEAM123456", clock)
    first = token.current()
    header = jwt.get_unverified_header(first)
    assert header == {"alg": "ES256", "kid": "ABC123DEFG", "typ": "JWT"}
    claims = jwt.decode(first, key.public_key(), algorithms=["ES256"])
    assert claims == {"iss": "TEAM123456", "iat": int(clock.now)}
    clock.now += RENEW_AFTER_S - 1
    assert token.current() == first  # not per request
    clock.now += 1
    second = token.current()
    assert second != first and RENEW_AFTER_S < 3600  # renewed before Apple's hour
    token.refused(first)  # an old token's refusal does not renew again
    assert token.current() == second
    token.refused(second)
    third = token.current()
    assert third != second
    token.refused(third)  # a replacement refused at once (a wrong key): no storm
    assert token.current() == third
    clock.now += MIN_FORCED_RENEW_S
    token.refused(third)
    assert token.current() != third


def test_fcm_message_is_data_only_with_string_values() -> None:
    note = message("full")
    body = mp.fcm_message("tok", note)["message"]
    assert body["token"] == "tok"
    assert body["data"] == {**{k: str(v) for k, v in note.payload.items()}}
    assert all(isinstance(v, str) for v in body["data"].values())
    assert body["android"] == {"priority": "high", "ttl": "86400s",
                               "collapse_key": push.topic_for(77)}  # fmt: skip
    assert mp.fcm_message("t", message("none", "group"))["message"]["android"]["priority"] == (
        "normal"
    )
    assert mp.fcm_message("t", push.read_notification(77, 0))["message"]["data"] == {
        "type": "read", "conversation_id": "77", "unread": "0"
    }  # fmt: skip


def fcm_error(status: int, state: str, code: str = "", *extra: dict[str, object]) -> bytes:
    details: list[dict[str, object]] = [{"@type": mp.FCM_ERROR_TYPE, "errorCode": code}] if code \
        else []  # fmt: skip
    return json.dumps({"error": {"code": status, "status": state, "message": "m",
                                 "details": [*details, *extra]}}).encode()  # fmt: skip


def test_fcm_answers_map_to_results() -> None:
    assert mp.fcm_result(200, b'{"name": "projects/p/messages/1"}').outcome == "sent"
    assert mp.fcm_result(404, fcm_error(404, "NOT_FOUND", "UNREGISTERED")).outcome == "gone"
    assert mp.fcm_result(403, fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH")
                         ).outcome == "gone"  # fmt: skip
    token_violation = {"@type": mp.FCM_BAD_REQUEST_TYPE,
                       "fieldViolations": [{"field": "message.token", "description": "bad"}]}
    assert mp.fcm_result(400, fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                                        token_violation)).outcome == "gone"  # fmt: skip
    other = {"@type": mp.FCM_BAD_REQUEST_TYPE,
             "fieldViolations": [{"field": "message.android.ttl", "description": "bad"}]}
    assert mp.fcm_result(400, fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", other)
                         ).outcome == "failed"  # fmt: skip
    busy = mp.fcm_result(429, fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), "9")
    assert (busy.outcome, busy.retry_after_s) == ("throttled", 9.0)
    assert mp.fcm_result(503, fcm_error(503, "UNAVAILABLE", "UNAVAILABLE")).outcome == "retry"
    assert mp.fcm_result(500, b"<html>").outcome == "retry"
