"""Push rows to records, shared by both SQL push stores: they select these columns in
this order (o = push_outbox, s = push_subscriptions, d = devices, mem = members,
u = the subscriber, c = conversations, m = messages, su = the sender)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubbub.adapters.media_rows import decode_attachments
from hubbub.core.media import describe
from hubbub.core.push import DEFAULT_PREVIEW, PREVIEW_LEVELS, PushJob, Subscription

SUBSCRIPTION_COLUMNS = (
    "s.subscription_id, s.user_id, s.device_id, s.kind, s.endpoint, s.p256dh, s.auth,"
    " s.token, s.topic, s.created_at"
)
# a member who left the conversation since counts as muted for ever (not pushed)
JOB_COLUMNS = (
    f"{SUBSCRIPTION_COLUMNS}, o.kind, o.conversation_id, coalesce(c.kind, 'direct'),"
    " coalesce(c.name, ''),"
    " o.message_id, o.seq, o.version, o.created_at, o.attempts, coalesce(d.acked_seq, 0),"
    " coalesce(mem.read_upto, 0), coalesce(mem.muted_until, -1), u.push_preview,"
    " coalesce(m.sender_id, 0), coalesce(su.display_name, ''), coalesce(m.body, ''),"
    " m.attachments"
)
SUBSCRIPTION_FIELDS = 10


def subscription_from_row(row: Sequence[Any]) -> Subscription:
    sid, user_id, device_id, kind, endpoint, p256dh, auth, token, topic, created = row[:10]
    return Subscription(
        int(sid), int(user_id), int(device_id), kind, endpoint, p256dh, auth, token, topic,
        int(created),
    )  # fmt: skip


def job_from_row(row: Sequence[Any], unread: int) -> PushJob:
    (kind, cid, ckind, cname, message_id, seq, version, created, attempts, acked, read_upto, muted,
     preview, sender_id, sender_name, body, attachments) = row[SUBSCRIPTION_FIELDS:]  # fmt: skip
    return PushJob(
        subscription_from_row(row),
        kind,
        int(cid),
        ckind,
        cname,
        int(message_id),
        int(seq),
        int(version),
        int(created),
        int(attempts),
        int(acked),
        int(read_upto),
        int(muted),
        preview if preview in PREVIEW_LEVELS else DEFAULT_PREVIEW,
        int(sender_id),
        sender_name,
        describe(body, decode_attachments(attachments)),  # what a preview shows of it
        unread,
    )
