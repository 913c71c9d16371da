"""Profile pictures in storage, on SQLite and PostgreSQL (real engines): `Store.set_avatar`
takes only the user's own recent image uploads (refusals change nothing), every user
read carries the picture, `MediaStore.visible` shows a picture to everyone and only while
it is one, `purge` keeps a picture and forgets a former one as it would any upload, and a
database from before the migration upgrades with no pictures."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import asyncpg
import pytest

from hubbub.adapters.postgres.migrations import MIGRATIONS as PG_MIGRATIONS
from hubbub.adapters.sqlite.migrations import MIGRATIONS as SQLITE_MIGRATIONS
from hubbub.core.clock import DAY_MS, now_ms
from hubbub.core.errors import HubbubError
from hubbub.core.media import NewMedia
from hubbub.core.model import User
from tests.contract.test_media_store_contract import _media, _share
from tests.contract.test_store_contract import (
    AnyStore,
    Backend,
    _users,
    backend,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.timeout(60)
GRACE = DAY_MS


def _photo(user: User, n: int, created_at: int | None = None) -> NewMedia:
    """An image upload with a thumbnail, both blobs new (hex digit n and n + 1)."""
    sha, thumb = f"{n:x}" * 64, f"{n + 1:x}" * 64
    return _media(user, sha, sha + "-k", thumb=(thumb, thumb + "-t"), created_at=created_at)


async def _code(awaitable: object) -> str:
    assert asyncio.iscoroutine(awaitable)
    with pytest.raises(HubbubError) as e:
        await awaitable
    return e.value.code


async def _add(store: AnyStore, *media: NewMedia) -> None:
    for m in media:
        await store.media.add(m)


def test_a_picture_is_ones_own_recent_image_and_refusals_change_nothing(
    backend: Backend,  # noqa: F811
) -> None:
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob = await _users(store, "ann", "bob")
            mine, other = _photo(ann, 1), _photo(ann, 3)
            theirs = _photo(bob, 5)
            old = _photo(ann, 7, created_at=now_ms() - 2 * DAY_MS)
            await _add(store, mine, other, theirs, old)
            pdf = _media(ann, "c" * 64, "c" * 64 + "-k")  # a document
            await store.media.add(pdf)
            since = now_ms() - DAY_MS

            user = await store.set_avatar(ann.user_id, mine.media_id, since)
            assert user.avatar_id == mine.media_id and user.display_name == "Ann"
            assert await _code(store.set_avatar(ann.user_id, theirs.media_id, since)) == "not_found"
            assert await _code(store.set_avatar(ann.user_id, 424242, since)) == "not_found"
            assert await _code(store.set_avatar(ann.user_id, old.media_id, since)) == "not_found"
            assert await _code(store.set_avatar(ann.user_id, pdf.media_id, since)) == (
                "unsupported_media"
            )
            # bob's document is someone else's first: not_found, whatever it is
            bobs_pdf = _media(bob, "d" * 64, "d" * 64 + "-k")
            await store.media.add(bobs_pdf)
            assert await _code(store.set_avatar(ann.user_id, bobs_pdf.media_id, since)) == (
                "not_found"
            )
            again = await store.user_by_id(ann.user_id)
            assert again is not None and again.avatar_id == mine.media_id  # unchanged
            # replaced, then removed
            assert (await store.set_avatar(ann.user_id, other.media_id, since)).avatar_id == (
                other.media_id
            )
            assert (await store.set_avatar(ann.user_id, None, since)).avatar_id is None
            assert (await store.user_by_id(ann.user_id)).avatar_id is None  # type: ignore[union-attr]
        finally:
            await store.close()

    asyncio.run(body())


def test_every_user_read_carries_the_picture(backend: Backend) -> None:  # noqa: F811
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob = await _users(store, "ann", "bob")
            pic = _photo(ann, 1)
            await _add(store, pic)
            await store.set_avatar(ann.user_id, pic.media_id, 0)
            await store.update_profile(ann.user_id, "Ann Z", None, set_retention=False)
            await store.put_contact(bob.user_id, ann.user_id)
            reads = [
                await store.user_by_id(ann.user_id),
                await store.user_by_name("ann"),
                *(await store.users_by_ids([ann.user_id, bob.user_id])),
                *(await store.search_users("an", 10)),
                *[u for u, _ in await store.contacts(bob.user_id)],
                await store.update_profile(ann.user_id, None, None, set_retention=False),
            ]
            pictures = {u.username: u.avatar_id for u in reads if u is not None}
            assert pictures == {"ann": pic.media_id, "bob": None}
            assert sum(1 for u in reads if u and u.username == "ann") == 6
            # a new name keeps the picture; a restart keeps both
            await store.close()
            store = await backend.open()
            kept = await store.user_by_id(ann.user_id)
            assert kept is not None and (kept.display_name, kept.avatar_id) == (
                "Ann Z", pic.media_id,
            )  # fmt: skip
        finally:
            await store.close()

    asyncio.run(body())


def test_a_picture_is_visible_to_everyone_only_while_it_is_one(backend: Backend) -> None:  # noqa: F811
    async def body() -> None:
        store = await backend.open()
        try:
            ann, bob, cy = await _users(store, "ann", "bob", "cy")
            shared, pic = _photo(ann, 1), _photo(ann, 3)
            await _add(store, shared, pic)
            await _share(store, ann, bob, shared, "s1")  # ann's photo, to bob only
            assert await store.media.visible(cy.user_id, shared.media_id, 0) is None
            await store.set_avatar(ann.user_id, pic.media_id, 0)
            seen = await store.media.visible(cy.user_id, pic.media_id, 1 << 62)
            assert seen is not None and seen.thumbnail_key is not None  # thumbnail too
            # another upload of hers is not made public by it
            assert await store.media.visible(cy.user_id, shared.media_id, 0) is None
            # her shared photo as the picture: everyone; replaced: the usual rules again
            await store.set_avatar(ann.user_id, shared.media_id, 0)
            assert await store.media.visible(cy.user_id, shared.media_id, 0) is not None
            assert await store.media.visible(cy.user_id, pic.media_id, 0) is None
            await store.set_avatar(ann.user_id, None, 0)
            assert await store.media.visible(cy.user_id, shared.media_id, 0) is None
            assert await store.media.visible(bob.user_id, shared.media_id, 0) is not None
            assert await store.media.visible(ann.user_id, pic.media_id, 0) is not None
        finally:
            await store.close()

    asyncio.run(body())


def test_purge_keeps_a_picture_and_forgets_a_former_one(backend: Backend) -> None:  # noqa: F811
    async def body() -> None:
        store = await backend.open()
        try:
            (ann,) = await _users(store, "ann")
            pic = _photo(ann, 1)
            await _add(store, pic)
            await store.set_avatar(ann.user_id, pic.media_id, 0)
            later = now_ms() + GRACE + 1000  # long past the grace of an unshared upload
            assert await store.media.purge(later, GRACE) == []
            assert await store.media.visible(ann.user_id, pic.media_id, 0) is not None
            await store.set_avatar(ann.user_id, None, 0)
            assert sorted(await store.media.purge(later, GRACE)) == sorted(
                [pic.blob.sha256 + "-k", pic.thumbnail.sha256 + "-t"]  # type: ignore[union-attr]
            )
            assert await store.media.visible(ann.user_id, pic.media_id, 0) is None
            assert await _code(store.set_avatar(ann.user_id, pic.media_id, 0)) == "not_found"
        finally:
            await store.close()

    asyncio.run(body())


def before_pictures(migrations: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The migrations a database had before the one that added profile pictures."""
    pictures = next(v for v, sql in migrations if "avatar_media_id" in sql)
    return [(v, sql) for v, sql in migrations if v < pictures]


def test_a_database_from_before_pictures_upgrades_with_none(backend: Backend) -> None:  # noqa: F811
    """Every migration but the pictures' applied, a user stored, then the store opens."""

    async def older() -> None:
        if backend.kind == "sqlite":
            path = backend.tmp_path / "data"
            path.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path / "hubbub.sqlite3", isolation_level=None)
            conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                         " applied_at INTEGER NOT NULL)")  # fmt: skip
            for version, sql in before_pictures(SQLITE_MIGRATIONS):
                conn.executescript(sql)
                conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
            conn.execute(
                "INSERT INTO users (user_id, username, display_name, password_hash,"
                " created_at, name_key) VALUES (77, 'old', 'Old', 'h', ?, 'old')",
                (int(time.time() * 1000),),
            )
            conn.close()
            return
        conn = await asyncpg.connect(backend.dsn)
        try:
            await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                               " applied_at BIGINT NOT NULL)")  # fmt: skip
            for version, sql in before_pictures(PG_MIGRATIONS):
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, 0)", version)
            await conn.execute(
                "INSERT INTO users (user_id, username, display_name, password_hash,"
                " created_at, name_key) VALUES (77, 'old', 'Old', 'h', $1, 'old')",
                int(time.time() * 1000),
            )
        finally:
            await conn.close()

    async def body() -> None:
        # the older database really lacks the column
        for migrations in (SQLITE_MIGRATIONS, PG_MIGRATIONS):
            assert not any("avatar_media_id" in sql for _, sql in before_pictures(migrations))
        await older()
        store = await backend.open()
        try:
            old = await store.user_by_id(77)
            assert old is not None and (old.username, old.avatar_id) == ("old", None)
            pic = _photo(old, 1)
            await _add(store, pic)
            assert (await store.set_avatar(77, pic.media_id, 0)).avatar_id == pic.media_id
        finally:
            await store.close()

    asyncio.run(body())
