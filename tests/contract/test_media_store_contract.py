"""The MediaStore port's guarantees, on SQLite and PostgreSQL (real engines): blobs are
reference counted across uploads of anyone, a blob row goes only with its last
reference (and `purge` names its key exactly once), a message carries only its sender's
recent uploads and shares them in the same commit, visibility follows membership and
retention, and concurrent uploads of the same bytes end on one blob."""

from __future__ import annotations

import asyncio

import pytest

from hubbub.core.clock import DAY_MS, now_ms
from hubbub.core.errors import HubbubError
from hubbub.core.media import BlobRef, MissingBlob, NewMedia
from hubbub.core.model import User
from tests.contract.test_store_contract import (
    AnyStore,
    Backend,
    _users,
    backend,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.timeout(60)
GRACE = DAY_MS
_ids = iter(range(10_000, 10**9))


def _media(
    user: User,
    sha: str,
    key: str | None,
    *,
    thumb: tuple[str, str | None] | None = None,
    original: str | None = None,
    created_at: int | None = None,
    size: int = 100,
) -> NewMedia:
    return NewMedia(
        media_id=next(_ids),
        uploader_id=user.user_id,
        original_sha256=original or sha,
        original_size=size,
        blob=BlobRef(sha, size, key),
        content_type="image/png" if thumb else "application/pdf",
        filename="f.bin",
        width=4 if thumb else None,
        height=3 if thumb else None,
        duration_ms=None,
        thumbnail=BlobRef(thumb[0], 10, thumb[1]) if thumb else None,
        created_at=now_ms() if created_at is None else created_at,
    )


async def _share(store: AnyStore, sender: User, to: User, media: NewMedia, key: str) -> int:
    sent = await store.append_message(
        sender.user_id, key, "", to_user=to.user_id, conversation_id=None,
        media_ids=[media.media_id], media_since_ms=0,
    )  # fmt: skip
    return sent.message_id


def test_same_bytes_from_two_users_are_one_blob_with_two_references(
    backend: Backend,  # noqa: F811
) -> None:
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob = await _users(store, "ann", "bob")
            first = _media(ann, "a" * 64, "a" * 64 + "-k1")
            assert await store.media.add(first) == {"a" * 64: "a" * 64 + "-k1"}
            # bob's upload expects the blob (no key): it takes a reference on ann's
            second = _media(bob, "a" * 64, None)
            assert await store.media.add(second) == {"a" * 64: "a" * 64 + "-k1"}
            totals = await store.media.totals()
            assert (totals.blobs, totals.bytes_stored, totals.bytes_referenced) == (1, 100, 200)
            # ann's upload is forgotten (never shared, past the grace): bob's stays whole
            later = now_ms() + GRACE + 1000
            await _share(store, bob, ann, second, "m1")
            assert await store.media.purge(later, GRACE) == []
            assert await store.media.visible(ann.user_id, first.media_id, 0) is None
            kept = await store.media.visible(bob.user_id, second.media_id, 0)
            assert kept is not None and kept.blob_key == "a" * 64 + "-k1"
            assert (await store.media.totals()).blobs == 1
        finally:
            await store.close()

    asyncio.run(body())


def test_a_blob_goes_with_its_last_reference_and_its_key_is_named_once(
    backend: Backend,  # noqa: F811
) -> None:
    async def body() -> None:
        store = await backend.open()
        try:
            (ann,) = await _users(store, "ann")
            sha, thumb = "b" * 64, "c" * 64
            one = _media(ann, sha, sha + "-k", thumb=(thumb, thumb + "-t"))
            two = _media(ann, sha, None, thumb=(thumb, None))
            await store.media.add(one)
            await store.media.add(two)
            assert await store.media.cleaned(sha) is not None  # the original's mapping
            later = now_ms() + GRACE + 1000
            keys = await store.media.purge(later, GRACE)
            assert sorted(keys) == [sha + "-k", thumb + "-t"]
            assert await store.media.purge(later, GRACE) == []
            assert await store.media.blob_key(sha) is None
            assert await store.media.cleaned(sha) is None  # no mapping to a deleted blob
            assert await store.media.keys() == set()
            # an upload that expected the blob now learns it is gone
            with pytest.raises(MissingBlob) as gone:
                await store.media.add(_media(ann, sha, None))
            assert gone.value.sha256 == sha
            assert await store.media.visible(ann.user_id, one.media_id, 0) is None
        finally:
            await store.close()

    asyncio.run(body())


def test_recent_unshared_uploads_are_kept(backend: Backend) -> None:  # noqa: F811
    async def body() -> None:
        store = await backend.open()
        try:
            (ann,) = await _users(store, "ann")
            fresh = _media(ann, "d" * 64, "d" * 64 + "-k")
            await store.media.add(fresh)
            assert await store.media.purge(now_ms(), GRACE) == []
            assert await store.media.visible(ann.user_id, fresh.media_id, 0) is not None
        finally:
            await store.close()

    asyncio.run(body())


def test_a_message_carries_only_its_senders_recent_uploads(backend: Backend) -> None:  # noqa: F811
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob = await _users(store, "ann", "bob")
            mine = _media(ann, "e" * 64, "e" * 64 + "-k", thumb=("f" * 64, "f" * 64 + "-t"))
            theirs = _media(bob, "1" * 64, "1" * 64 + "-k")
            old = _media(ann, "2" * 64, "2" * 64 + "-k", created_at=now_ms() - 2 * DAY_MS)
            for m in (mine, theirs, old):
                await store.media.add(m)
            for ids, since in (([theirs.media_id], 0), ([mine.media_id, 999], 0),
                               ([old.media_id], now_ms() - DAY_MS)):  # fmt: skip
                with pytest.raises(HubbubError) as refused:
                    await store.append_message(
                        ann.user_id, f"k{ids[0]}", "", to_user=bob.user_id,
                        conversation_id=None, media_ids=ids, media_since_ms=since,
                    )  # fmt: skip
                assert refused.value.code == "not_found"
            assert await store.inbox_head(bob.user_id) == 0  # nothing half-stored
            sent = await store.append_message(
                ann.user_id, "ok", "look", to_user=bob.user_id, conversation_id=None,
                media_ids=[mine.media_id], media_since_ms=now_ms() - DAY_MS,
            )  # fmt: skip
            (carried,) = sent.message.attachments
            assert carried.media_id == str(mine.media_id)
            assert (carried.sha256, carried.width, carried.height) == ("e" * 64, 4, 3)
            (entry,) = await store.inbox_since(bob.user_id, 0, 10)
            assert entry.message.attachments == sent.message.attachments
            again = await store.append_message(
                ann.user_id, "ok", "look", to_user=bob.user_id, conversation_id=None,
                media_ids=[mine.media_id], media_since_ms=0,
            )  # fmt: skip
            assert again.duplicate and again.message.attachments == sent.message.attachments
            # shared: bob sees it; a stranger does not
            (carol,) = await _users(store, "carol")
            assert await store.media.visible(bob.user_id, mine.media_id, 0) is not None
            assert await store.media.visible(carol.user_id, mine.media_id, 0) is None
            # bob's retention starts after the message: he no longer sees it
            after = sent.message_id + 1
            assert await store.media.visible(bob.user_id, mine.media_id, after) is None
            # the uploader always does
            assert await store.media.visible(ann.user_id, mine.media_id, 1 << 62) is not None
        finally:
            await store.close()

    asyncio.run(body())


def test_group_members_see_shared_media_and_a_removed_member_only_what_they_were_there_for(
    backend: Backend,  # noqa: F811
) -> None:
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob, cy, dee = await _users(store, "ann", "bob", "cy", "dee")
            members = [ann.user_id, bob.user_id, cy.user_id]
            group = await store.create_group(ann.user_id, "g", members)
            shared = _media(ann, "3" * 64, "3" * 64 + "-k")
            await store.media.add(shared)
            await store.append_message(
                ann.user_id, "g1", "", to_user=None, conversation_id=group.conversation_id,
                media_ids=[shared.media_id], media_since_ms=0,
            )  # fmt: skip
            assert await store.media.visible(cy.user_id, shared.media_id, 0) is not None
            await store.remove_member(group.conversation_id, ann.user_id, cy.user_id)
            # a former member: what their read-only history shows, not what came after
            assert await store.media.visible(cy.user_id, shared.media_id, 0) is not None
            later = _media(ann, "4" * 64, "4" * 64 + "-k")
            await store.media.add(later)
            sent = await store.append_message(
                ann.user_id, "g2", "", to_user=None, conversation_id=group.conversation_id,
                media_ids=[later.media_id], media_since_ms=0,
            )  # fmt: skip
            assert await store.media.visible(cy.user_id, later.media_id, 0) is None
            assert await store.media.visible(cy.user_id, shared.media_id, sent.message_id) is None
            await store.forget_former(cy.user_id, group.conversation_id)  # chat deleted
            assert await store.media.visible(cy.user_id, shared.media_id, 0) is None
            # a later member sees what the history shows them (all of it)
            await store.add_member(group.conversation_id, ann.user_id, dee.user_id, 100)
            assert await store.media.visible(dee.user_id, shared.media_id, 0) is not None
        finally:
            await store.close()

    asyncio.run(body())


def test_retention_removing_the_last_message_frees_the_blob(backend: Backend) -> None:  # noqa: F811
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob = await _users(store, "ann", "bob")
            media = _media(ann, "4" * 64, "4" * 64 + "-k")
            await store.media.add(media)
            await _share(store, ann, bob, media, "r1")
            soon = now_ms() + GRACE + 1000
            assert await store.media.purge(soon, GRACE) == []  # carried by a message: kept
            for user in (ann, bob):  # both keep a day of history and have fetched it all
                await store.update_profile(user.user_id, None, 1, set_retention=True)
                uid = user.user_id
                device, _ = await store.create_device(uid, "d", b"t%d" % uid, 9)
                await store.ack(uid, device.device_id, await store.inbox_head(uid))
            later = now_ms() + 3 * DAY_MS
            entries, messages = await store.purge_expired(later)
            assert (entries, messages) == (2, 1)
            assert await store.media.purge(later, GRACE) == ["4" * 64 + "-k"]
            assert await store.media.visible(bob.user_id, media.media_id, 0) is None
            assert await store.media.visible(ann.user_id, media.media_id, 0) is None
        finally:
            await store.close()

    asyncio.run(body())


def test_concurrent_uploads_of_the_same_bytes_end_on_one_blob(
    backend: Backend,  # noqa: F811
) -> None:
    async def body() -> None:
        stores = [await backend.open(node_id=n) for n in (1, 2)]
        try:
            users = await _users(stores[0], *[f"u{i}" for i in range(8)])
            sha = "5" * 64
            uploads = [
                _media(u, sha, f"{sha}-{i:04d}", thumb=("6" * 64, f"{'6' * 64}-{i:04d}"))
                for i, u in enumerate(users)
            ]
            results = await asyncio.gather(
                *(stores[i % 2].media.add(m) for i, m in enumerate(uploads))
            )
            winners = {r[sha] for r in results}
            assert len(winners) == 1  # every upload learned the one key that stands
            totals = await stores[0].media.totals()
            assert (totals.blobs, totals.bytes_referenced) == (2, 8 * 100 + 8 * 10)
        finally:
            for store in stores:
                await store.close()

    asyncio.run(body())
