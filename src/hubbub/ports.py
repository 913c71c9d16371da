"""The seams between the services and the engines. Each port has one adapter per engine:

| port              | embedded default (one node)     | cluster                         |
|-------------------|---------------------------------|---------------------------------|
| Store             | adapters/sqlite                 | adapters/postgres               |
| Bus               | adapters/memory_bus             | adapters/redis_bus              |
| PresenceDirectory | adapters/local_presence         | adapters/redis_presence         |
| Discovery         | adapters/local_discovery        | adapters/redis_discovery        |
| RateLimiter       | adapters/memory_limiter         | adapters/redis_limiter          |
| Hasher            | adapters/passwords (argon2id)   | the same                        |
| PushStore         | adapters/sqlite/push            | adapters/postgres/push          |
| PushProvider      | adapters/push/webpush, apns, fcm (one per kind)                    |
| HostResolver      | adapters/push/resolver (the system's resolver)                    |
| MediaStore        | adapters/sqlite/media           | adapters/postgres/media         |
| BlobStore         | adapters/blobs/files            | adapters/blobs/s3               |
| MediaInspector    | adapters/inspector (Pillow, filetype, hachoir, in a thread pool)   |

Guarantees are part of the interface: the contract suites in tests/contract run the same
tests against every adapter of a port. Only the composition root (app.py) names adapters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Protocol

from hubbub.core.discovery import NodeInfo
from hubbub.core.media import (
    Cleaned,
    MediaRecord,
    MediaTotals,
    NewMedia,
    Prepared,
)
from hubbub.core.model import (
    Conversation,
    ConversationSummary,
    Device,
    FormerMembership,
    GroupAdds,
    InboxEntry,
    Message,
    Receipt,
    StoredMessage,
    User,
)
from hubbub.core.push import (
    Notification,
    PreviewLevel,
    PushJob,
    PushKind,
    PushResult,
    Subscription,
)
from hubbub.core.ratelimit import Rule


class Store(Protocol):
    """Durable state. Every mutating call is atomic (all or nothing) and DURABLE BEFORE
    IT RETURNS: when the awaitable completes, the change is committed and on disk
    (fsynced), so the caller may acknowledge it. Adapters batch concurrent calls into one
    transaction (group commit) for throughput; that never weakens the guarantee.

    Refusals raise `HubbubError` and change nothing. Ids are drawn by the store, so ids
    and inbox sequence numbers are ordered as the commits are."""

    # -- lifecycle
    async def open(self) -> None: ...
    async def close(self) -> None:
        """Finish every call already accepted (commit it), then release the engine."""

    # -- accounts and devices
    async def create_user(self, username: str, password_hash: str, display_name: str) -> User:
        """Raises conflict if the username is taken."""

    async def user_by_id(self, user_id: int) -> User | None: ...
    async def search_users(self, prefix: str, limit: int) -> list[User]:
        """Users whose username, or lower-cased display name, starts with `prefix` (given
        in lower case), by username, at most `limit`."""

    async def users_by_ids(self, user_ids: Sequence[int]) -> list[User]:
        """Those of the ids that are users, in no particular order (unknown ids left out)."""

    async def user_by_name(self, username: str) -> User | None: ...
    async def password_hash(self, username: str) -> tuple[int, str] | None:
        """(user_id, password hash) of the username, or None."""

    async def update_profile(
        self,
        user_id: int,
        display_name: str | None,
        retention_days: int | None,
        *,
        set_retention: bool,
        group_adds: GroupAdds | None = None,
    ) -> User:
        """Change what is given (None: unchanged; retention only when set_retention)."""

    async def set_avatar(self, user_id: int, media_id: int | None, since_ms: int) -> User:
        """The user's profile picture is now that upload (None: no picture). not_found
        unless the media is the user's own upload made no earlier than since_ms (the same
        answer for another user's media and an unknown id); unsupported_media unless it is
        an image (core.media.check_avatar_type). Either refusal changes nothing. While an
        upload is a user's picture, MediaStore.visible shows it to every user and purge
        keeps it; a former picture is under the usual rules again."""

    async def create_device(
        self, user_id: int, name: str, token_hash: bytes, max_devices: int
    ) -> tuple[Device, list[int]]:
        """The new device, and the ids of the user's devices logged out to make room:
        with `max_devices` already, the least recently used go (in the same commit)."""

    async def device_by_token(self, token_hash: bytes) -> Device | None:
        """Only devices that are not logged out."""

    async def devices(self, user_id: int) -> list[Device]:
        """The user's devices that are not logged out, most recently used first."""

    async def touch_device(self, user_id: int, device_id: int, now_ms: int) -> None:
        """The device was used at `now_ms` (its token's expiry counts from here)."""

    async def replace_token(self, user_id: int, device_id: int, token_hash: bytes) -> bool:
        """The device's token is now this one (the old one stops working); False if the
        device is logged out."""

    async def revoke_device(self, user_id: int, device_id: int) -> None:
        """Log the device (one of the user's) out; twice is harmless."""

    # -- contacts and presence
    async def put_contact(self, owner_id: int, contact_id: int) -> None: ...
    async def delete_contact(self, owner_id: int, contact_id: int) -> None: ...
    async def contacts(self, owner_id: int) -> list[tuple[User, int]]:
        """Each contact with its stored last_active_at (ms, 0 if never seen)."""

    async def watchers(self, user_id: int) -> list[int]:
        """The users who have `user_id` among their contacts."""

    async def last_active(self, user_id: int) -> int: ...
    async def set_last_active(self, user_id: int, ts: int) -> None: ...

    # -- conversations and groups
    async def direct_conversation(self, user_id: int, peer_id: int) -> Conversation:
        """Get or create; raises not_found if the peer does not exist."""

    async def create_group(
        self, owner_id: int, name: str, member_ids: Sequence[int]
    ) -> Conversation:
        """`member_ids` as core.membership.founding_members made them (owner first, each
        once, within the limit); raises not_found if one of them does not exist."""

    async def add_member(
        self, group_id: int, actor_id: int, user_id: int, max_members: int
    ) -> Conversation:
        """Applies core.membership's rules inside the transaction (membership changes of
        one group are serialized, so the limit holds under concurrent adds). A former
        member who is added back is a member again: their former record goes."""

    async def remove_member(self, group_id: int, actor_id: int, user_id: int) -> Conversation:
        """Applies core.membership.after_removal inside the transaction; returns the group
        as it is afterwards (the heir as owner if the owner left). In the same commit the
        removed user becomes a former member (core.membership.departure): the group's last
        message id and name at that moment are what they keep."""

    async def rename_group(self, group_id: int, actor_id: int, name: str) -> Conversation:
        """Any member may rename the group (core.membership.group_for_change); returns it
        renamed. Former members keep the name it had when they departed."""

    async def former_membership(
        self, user_id: int, conversation_id: int
    ) -> FormerMembership | None:
        """The user's record of a group they left or were removed from, if they have one
        (none once they are added back or delete the chat)."""

    async def former_memberships(self, user_id: int) -> list[FormerMembership]:
        """All of them, in no particular order."""

    async def forget_former(self, user_id: int, conversation_id: int) -> bool:
        """Delete the user's record of a group they are no longer in (the chat goes from
        their list); False if there is none."""

    async def conversation(self, conversation_id: int) -> Conversation | None: ...
    async def conversations(
        self, user_id: int, not_before_ms: int = 0
    ) -> list[ConversationSummary]:
        """Newest activity first; last message and unread count ignore messages older than
        not_before_ms (the user's retention)."""

    async def history(
        self, conversation_id: int, before: int | None, limit: int, not_before_ms: int
    ) -> list[Message]:
        """Newest first, ids < before, at most limit, none older than not_before_ms."""

    # -- the message path
    async def append_message(
        self,
        sender_id: int,
        client_msg_id: str,
        body: str,
        *,
        to_user: int | None,
        conversation_id: int | None,
        media_ids: Sequence[int] = (),
        media_since_ms: int = 0,
    ) -> StoredMessage:
        """Idempotent on (sender_id, client_msg_id) for ever: a repeat returns the original
        with duplicate=True and stores nothing. Otherwise draws a message id, stores the
        message and one inbox entry per participant (seq = that user's head + 1), durably.
        `media_ids`: uploads the message carries, in order, shared in its conversation in
        the same commit; not_found (and nothing stored) unless each was uploaded by the
        sender no earlier than media_since_ms.
        Raises not_found / forbidden when the sender is not a participant."""

    async def inbox_head(self, user_id: int) -> int: ...
    async def inbox_since(self, user_id: int, since: int, limit: int) -> list[InboxEntry]:
        """Retained entries with seq > since, ascending, at most limit."""

    async def ack(self, user_id: int, device_id: int, seq: int) -> list[Receipt]:
        """Store the device cursor; entries newly acked by the user's FIRST device yield
        `delivered` receipts. Raises bad_request past the user's inbox head."""

    async def mark_read(
        self, user_id: int, conversation_id: int, message_id: int
    ) -> Receipt | None:
        """Move the user's read watermark forward; None if it does not move."""

    # -- retention
    async def purge_expired(self, now_ms: int) -> tuple[int, int]:
        """Delete inbox entries past their owner's retention (undelivered ones are kept
        UNDELIVERED_KEEP_DAYS), then message rows no inbox holds. Returns the counts
        (inbox entries, messages)."""


class Receiver(Protocol):
    """The node's local side of the bus: its connected devices (gateway.hub.Hub)."""

    def deliver(self, user_id: int, frame: bytes, seq: int) -> None: ...
    def close_device(self, device_id: int, code: int, reason: str) -> None: ...


class Bus(Protocol):
    """Routes frames to the devices of users, wherever they are connected.

    `publish(user_id, frame, seq)` hands `frame` to every connected device of the user;
    `seq` is the inbox seq for `message` frames (0 for anything else). It never blocks:
    a networked bus queues the frame and sends it in the background.

    Per-user FIFO: frames published on one node for one user reach each node (and so each
    device) in the order they were published. Frames published on different nodes have no
    order between them (a connection orders them by `seq` and catches up on a gap).

    At-most-once: a frame may be lost (a device not connected, a node not watching yet, a
    networked bus losing its server for a while) but is never delivered twice by the bus.
    The store is the source of truth: a device that sees a gap in `seq` catches up from it.

    Interest: a node receives a user's frames only while it watches that user, and a
    device's close requests only while it watches that device. Watches are reference
    counted per id on the node (one `watch_*` per connected device, one `unwatch_*` when
    it goes). The in-process bus delivers everything to its one receiver and ignores them."""

    async def start(self, receiver: Receiver) -> None: ...
    async def stop(self) -> None:
        """Send what was published (best effort, bounded), then release the connections."""

    def publish(self, user_id: int, frame: bytes, seq: int = 0) -> None: ...
    def publish_close(self, device_id: int, code: int, reason: str) -> None:
        """Close the device's socket, wherever it is (logout)."""

    async def watch_user(self, user_id: int) -> None:
        """This node has a connected device of the user. When the awaitable completes, the
        subscription is active: every frame published for the user after that, on any
        node, reaches this node's receiver (so watch, then register the device, then
        replay the store: the union misses nothing). While the bus's server is unreachable
        it waits for the reconnect; callers that must not wait wrap it in a timeout. The
        interest counts from the call, even when the caller gives up waiting: one that
        does calls unwatch_user."""

    def unwatch_user(self, user_id: int) -> None:
        """One device of the user has gone; when the last one has, frames for the user stop
        reaching this node: soon, and at the latest once a later `watch_*` call on this
        node has completed (until then the receiver ignores frames it has no device for)."""

    async def watch_device(self, device_id: int) -> None:
        """Like watch_user, for `publish_close` requests addressed to the device."""

    def unwatch_device(self, device_id: int) -> None: ...


class PresenceDirectory(Protocol):
    """Who is online across all nodes. Each node tracks its own sockets (core.presence)
    and reports its own transitions here; the directory says which of them are
    transitions of the user as a whole, so watchers hear each change exactly once.

    Guarantees: a user is online while some node reported activity within the timeout;
    when a node dies, its users turn offline once their last reported activity is older
    than the timeout, and `expired` hands each such user to exactly one live node."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def online(self, user_id: int, last_active: int) -> bool:
        """This node has the user active. True if no node had before (announce online)."""

    async def refresh(self, user_id: int, last_active: int) -> None:
        """The user is still active here (called at most a few times per timeout)."""

    async def offline(self, user_id: int, last_active: int) -> bool:
        """This node no longer has the user active. True if this call is the one that
        makes the user offline everywhere (announce offline)."""

    async def status(self, user_id: int) -> tuple[bool, int] | None:
        """(online, last_active_at) across nodes, or None if the directory knows nothing."""

    async def statuses(self, user_ids: Sequence[int]) -> dict[int, tuple[bool, int]]:
        """`status` of many users in one round trip; users it knows nothing of are absent."""

    async def expired(self, now_ms: int) -> list[tuple[int, int]]:
        """Users whose every node went silent (a node died): (user_id, last_active),
        each returned by one call on one node only, which announces them offline."""

    async def devices(self, user_id: int, device_ids: Sequence[int]) -> None:
        """This node's devices of the user with a live socket are now exactly these (none:
        empty). Called in order with online/offline, after each change."""

    async def device_live(self, user_id: int, device_id: int) -> bool:
        """Whether some node that still reports the user (its report is younger than the
        timeout) has a socket of the device. A node that died stops counting once its
        report is older than the timeout. The single node's directory answers False:
        its own sockets are the whole truth, and the node asks them first."""


class Discovery(Protocol):
    """Which node a client should connect its WebSocket to.

    `best()` answers `{node_id, ws_url, http_url, connections, updated_ms}` for the
    healthy node with the fewest connections (not in `exclude`), or None when no node is
    healthy. `ws_url`/`http_url` are None when the node has no public URL configured; the
    caller then answers the request's own origin. A node that stops or dies leaves the
    answers within its registration's time to live."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def best(self, exclude: AbstractSet[int] = ...) -> NodeInfo | None: ...


class RateLimiter(Protocol):
    """Token buckets by key (core.ratelimit has the arithmetic). `take` returns 0.0 when
    `cost` tokens were taken, else the seconds until they will be there, and then takes
    nothing (a refused action costs the client nothing but the wait). `wait` answers the
    same without taking. Buckets are shared by every node using the same engine (Redis),
    or are this node's own (memory); idle buckets are forgotten once full again, so
    memory follows the keys in recent use."""

    async def take(self, rule: Rule, key: str, cost: int = 1) -> float: ...
    async def wait(self, rule: Rule, key: str, cost: int = 1) -> float: ...


class Hasher(Protocol):
    """Password hashing. Both calls are CPU-bound: callers run them off the event loop."""

    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool:
        """False for a wrong password or an unreadable hash; never raises for either."""


class PushStore(Protocol):
    """Push state, in the same database as the messages (so the outbox is written in the
    message's commit: `Store.append_message` adds one outbox row per subscription of each
    recipient but the sender, collapsed per (subscription, conversation): a newer message
    replaces the pending one and bumps its version). Mutating calls are durable before
    they return, like the Store's.

    Claims are exclusive: a row claimed by `claim` is leased until `now + lease_ms`; no
    other claim (on any node) returns it before the lease runs out, so each push is sent
    by one node, and a node that dies holding a lease has its rows retaken after it.
    A newer message collapsing into a row keeps its lease and its due time (a backoff
    holds for it too). `done` deletes only the version it claimed (a row a newer message
    collapsed into is freed and due at once, not deleted); `retry`/`postpone` reschedule
    the row whatever its version. No call here waits on a lock the message
    path holds while that path waits on it (see the adapters' notes)."""

    async def vapid_keys(self, private_key: str, public_key: str) -> tuple[str, str]:
        """Keep this pair if none is stored yet (insert if absent), then return the
        stored pair: every node of a cluster gets the same one."""

    async def subscribe(self, sub: Subscription) -> Subscription:
        """Store it as the device's one subscription of its kind (replacing any older)."""

    async def subscriptions(self, user_id: int) -> list[Subscription]: ...
    async def unsubscribe(self, user_id: int, subscription_id: int) -> bool:
        """Delete one of the user's subscriptions (and its pending jobs); False if the user
        has none with that id."""

    async def drop_subscription(self, subscription_id: int) -> None:
        """The push service no longer accepts it: delete it and its jobs."""

    async def preview(self, user_id: int) -> PreviewLevel: ...
    async def set_preview(self, user_id: int, level: PreviewLevel) -> None: ...
    async def set_muted(self, user_id: int, conversation_id: int, muted_until: int) -> bool:
        """Mute for the member (0 unmutes, -1 for ever); False if not a member."""

    async def muted_until(self, user_id: int, conversation_id: int) -> int | None:
        """The member's muted_until, or None if not a member."""

    async def claim(self, now_ms: int, lease_ms: int, limit: int) -> list[PushJob]:
        """Due rows (due_at <= now, no live lease), oldest first, leased to the caller."""

    async def done(self, job: PushJob, *, shown: bool) -> None:
        """Sent (or skipped): delete the row if still at the claimed version; `shown`
        remembers that the subscription shows a notification for the conversation."""

    async def retry(self, job: PushJob, due_at: int) -> None:
        """Due again at due_at, one attempt more (release the lease)."""

    async def postpone(self, job: PushJob, due_at: int) -> None:
        """Due again at due_at, attempts unchanged (a live socket has time to ack)."""

    async def depth(self) -> int:
        """Rows in the outbox."""


class PushProvider(Protocol):
    """Sends one notification to one subscription of its `kind` (one provider per kind:
    webpush, apns, fcm). It encrypts and signs as its service
    requires and maps the answer to a PushResult; it never raises for the service's or
    the network's failures (they are results), and it bounds each request in time.
    `start` opens its HTTP client, `stop` closes it."""

    kind: PushKind

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(self, sub: Subscription, note: Notification) -> PushResult: ...


class HostResolver(Protocol):
    """A host name's addresses (IPv4 and IPv6), as the HTTP client would connect to them;
    an empty list when it does not resolve."""

    async def addresses(self, host: str) -> list[str]: ...


class MediaStore(Protocol):
    """Who uploaded what, which blob holds it, and where it was shared; in the same
    database as the messages (so a message and its attachments commit together:
    `Store.append_message` records them). Mutating calls are durable before they return.

    Blobs are reference counted: each upload holds one reference on its blob and one on
    its thumbnail's. A blob's row exists exactly while references remain; its file is
    deleted only after its row is (`purge` returns the keys to delete), so a row always
    names a file that exists. No call here waits on a lock the message path holds while
    that path waits on it (see the adapters' notes)."""

    async def cleaned(self, original_sha256: str) -> Cleaned | None:
        """What an earlier upload of these original bytes was stored as, if any."""

    async def blob_key(self, sha256: str) -> str | None:
        """The key of the blob with this content, if one is stored."""

    async def add(self, media: NewMedia) -> dict[str, str]:
        """Record the upload and take its blob references, all or nothing. A BlobRef with
        a key makes the blob if none has its hash; one without expects it (MissingBlob if
        it is gone: put it and call again). Returns sha256 -> the key the blob is under
        (another upload's, when two put the same content at once: delete yours)."""

    async def uploaded_since(self, user_id: int, since_ms: int) -> int:
        """Bytes the user uploaded since then (for the daily quota)."""

    async def visible(
        self, user_id: int, media_id: int, not_before_id: int
    ) -> MediaRecord | None:
        """The upload, if the user uploaded it or is a member of a conversation holding a
        message (id >= not_before_id, the user's retention) that carries it, or a former
        member of one whose message carrying it they were there for (id <= their
        departure point); else None, the same as for an id that does not exist."""

    async def purge(self, now_ms: int, grace_ms: int) -> list[str]:
        """Forget the shares of messages that are gone, then the uploads older than
        grace_ms that no message carries, then the blobs nothing references. Returns the
        keys of the blobs whose rows were deleted (delete those files)."""

    async def keys(self) -> set[str]:
        """Every blob key the rows name (to sweep files that no row names)."""

    async def totals(self) -> MediaTotals: ...


class BlobStore(Protocol):
    """Files under keys, written once and never changed. `put` is durable when it
    returns (a crash after it keeps the file); putting a key twice is harmless; `delete`
    of a missing key is harmless. Keys are [0-9a-z-]. The storage failing (a full disk,
    the service unreachable) raises OSError, from any call."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def put(self, key: str, source: str) -> None:
        """Store the file at path `source` under key (the source may be moved away)."""

    def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes start..end (inclusive) of the blob, in chunks; FileNotFoundError if the
        key is not stored."""

    async def delete(self, key: str) -> None: ...
    async def keys(self, older_than_ms: int) -> list[str]:
        """Stored keys whose files were written before that time (for sweeping)."""


class MediaInspector(Protocol):
    """Makes an upload ready to store, off the event loop and bounded (in time by the
    size limits, in memory by the pixel budget, in concurrency by its pool: past its
    queue it refuses `unavailable`). Refusals (a type claim the bytes do not bear out, a
    damaged image, a decompression bomb) are HubbubErrors and leave no file behind."""

    async def prepare(self, path: str, claimed: str | None, sha256: str, size: int) -> Prepared:
        """What the file at `path` is (sniffed), and for an image its cleaned copy and a
        thumbnail (new files beside it); other files are stored as uploaded."""

    def close(self) -> None: ...
