"""Versioned schema migrations. Append a new (version, sql) pair; never edit an applied one.

Layout notes:
- `inbox` is the per-user message sync queue: (user_id, seq) -> message_id, seq 1, 2, 3...
  without gaps per user. A user's head (last seq handed out) is
  max(users.inbox_head, newest seq in inbox): retention pins `users.inbox_head` before it
  deletes entries, so seqs are never reused; between purges the writer keeps heads in
  memory and the column is not touched per message.
- `sent_keys` makes sends idempotent for ever: it outlives the message rows retention
  deletes, so a late retry still gets the original message_id.
- Ids are Snowflake integers (time-ordered), so "older than N days" is an id range.
"""

from __future__ import annotations

import sqlite3
import time

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE users (
            user_id        INTEGER PRIMARY KEY,
            username       TEXT    NOT NULL UNIQUE,
            display_name   TEXT    NOT NULL,
            password_hash  TEXT    NOT NULL,
            retention_days INTEGER,
            inbox_head     INTEGER NOT NULL DEFAULT 0,
            delivered_seq  INTEGER NOT NULL DEFAULT 0,
            last_active_at INTEGER NOT NULL DEFAULT 0,
            created_at     INTEGER NOT NULL
        );
        CREATE TABLE devices (
            device_id  INTEGER PRIMARY KEY,
            user_id    INTEGER NOT NULL REFERENCES users(user_id),
            name       TEXT    NOT NULL,
            token_hash BLOB    NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER,
            acked_seq  INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX devices_by_user ON devices(user_id);
        CREATE TABLE contacts (
            owner_id   INTEGER NOT NULL,
            contact_id INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (owner_id, contact_id)
        ) WITHOUT ROWID;
        CREATE INDEX contacts_by_contact ON contacts(contact_id, owner_id);
        CREATE TABLE conversations (
            conversation_id INTEGER PRIMARY KEY,
            kind            TEXT    NOT NULL CHECK (kind IN ('direct', 'group')),
            direct_key      TEXT    UNIQUE,
            name            TEXT,
            owner_id        INTEGER,
            created_at      INTEGER NOT NULL,
            last_message_id INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE members (
            conversation_id INTEGER NOT NULL,
            user_id         INTEGER NOT NULL,
            joined_at       INTEGER NOT NULL,
            read_upto       INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (conversation_id, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX members_by_user ON members(user_id, conversation_id);
        CREATE TABLE messages (
            message_id      INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL,
            sender_id       INTEGER NOT NULL,
            client_msg_id   TEXT    NOT NULL,
            body            TEXT    NOT NULL
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id, message_id);
        CREATE TABLE sent_keys (
            sender_id       INTEGER NOT NULL,
            client_msg_id   TEXT    NOT NULL,
            message_id      INTEGER NOT NULL,
            conversation_id INTEGER NOT NULL,
            PRIMARY KEY (sender_id, client_msg_id)
        ) WITHOUT ROWID;
        CREATE TABLE inbox (
            user_id    INTEGER NOT NULL,
            seq        INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            PRIMARY KEY (user_id, seq)
        ) WITHOUT ROWID;
        CREATE INDEX inbox_by_message ON inbox(message_id);
        """,
    ),
    (
        2,
        """
        ALTER TABLE devices ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN group_adds TEXT NOT NULL DEFAULT 'everyone';
        """,
    ),
    (
        3,
        # push: see adapters/sqlite/push.py. The outbox holds at most one row per
        # (subscription, conversation, kind): a newer message collapses into it.
        """
        ALTER TABLE users ADD COLUMN push_preview TEXT NOT NULL DEFAULT 'sender';
        ALTER TABLE members ADD COLUMN muted_until INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE push_keys (
            name        TEXT    PRIMARY KEY,
            private_key TEXT    NOT NULL,
            public_key  TEXT    NOT NULL,
            created_at  INTEGER NOT NULL
        );
        CREATE TABLE push_subscriptions (
            subscription_id INTEGER PRIMARY KEY,
            user_id         INTEGER NOT NULL,
            device_id       INTEGER NOT NULL,
            kind            TEXT    NOT NULL CHECK (kind IN ('webpush', 'apns', 'fcm')),
            endpoint        TEXT,
            p256dh          TEXT,
            auth            TEXT,
            token           TEXT,
            topic           TEXT,
            created_at      INTEGER NOT NULL,
            UNIQUE (device_id, kind)
        );
        CREATE INDEX push_subscriptions_by_user ON push_subscriptions(user_id);
        CREATE TABLE push_outbox (
            subscription_id INTEGER NOT NULL,
            conversation_id INTEGER NOT NULL,
            kind            TEXT    NOT NULL CHECK (kind IN ('message', 'read')),
            user_id         INTEGER NOT NULL,
            device_id       INTEGER NOT NULL,
            message_id      INTEGER NOT NULL,
            seq             INTEGER NOT NULL,
            created_at      INTEGER NOT NULL,
            due_at          INTEGER NOT NULL,
            lease_until     INTEGER NOT NULL DEFAULT 0,
            attempts        INTEGER NOT NULL DEFAULT 0,
            version         INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (subscription_id, conversation_id, kind)
        ) WITHOUT ROWID;
        CREATE INDEX push_outbox_due ON push_outbox(due_at);
        CREATE TABLE push_shown (
            user_id         INTEGER NOT NULL,
            conversation_id INTEGER NOT NULL,
            subscription_id INTEGER NOT NULL,
            PRIMARY KEY (user_id, conversation_id, subscription_id)
        ) WITHOUT ROWID;
        """,
    ),
    (
        4,
        # media: see adapters/sqlite/media.py. A blob row exists while `refs` > 0 (each
        # upload holds one on its file and one on its thumbnail); its file goes after it.
        """
        ALTER TABLE messages ADD COLUMN attachments TEXT;
        CREATE TABLE blobs (
            sha256     TEXT    PRIMARY KEY,
            blob_key   TEXT    NOT NULL UNIQUE,
            size       INTEGER NOT NULL,
            refs       INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE media (
            media_id        INTEGER PRIMARY KEY,
            uploader_id     INTEGER NOT NULL,
            sha256          TEXT    NOT NULL,
            size            INTEGER NOT NULL,
            original_sha256 TEXT    NOT NULL,
            original_size   INTEGER NOT NULL,
            content_type    TEXT    NOT NULL,
            filename        TEXT,
            width           INTEGER,
            height          INTEGER,
            duration_ms     INTEGER,
            thumb_sha256    TEXT,
            created_at      INTEGER NOT NULL
        );
        CREATE INDEX media_by_uploader ON media(uploader_id, created_at);
        CREATE INDEX media_unshared ON media(created_at);
        CREATE TABLE media_originals (
            original_sha256 TEXT    PRIMARY KEY,
            sha256          TEXT    NOT NULL,
            size            INTEGER NOT NULL,
            content_type    TEXT    NOT NULL,
            width           INTEGER,
            height          INTEGER,
            duration_ms     INTEGER,
            thumb_sha256    TEXT,
            thumb_size      INTEGER
        );
        CREATE TABLE message_media (
            media_id        INTEGER NOT NULL,
            message_id      INTEGER NOT NULL,
            conversation_id INTEGER NOT NULL,
            PRIMARY KEY (media_id, message_id)
        ) WITHOUT ROWID;
        CREATE INDEX message_media_by_message ON message_media(message_id);
        """,
    ),
    (
        5,
        # the people directory: display names searched by prefix, case-insensitively.
        # name_key is display_name.casefold(), written by the store (SQLite's lower() knows
        # only ASCII); rows from before it are filled in by SqliteStore.open.
        """
        ALTER TABLE users ADD COLUMN name_key TEXT;
        CREATE INDEX users_by_name_key ON users(name_key);
        """,
    ),
    (
        6,
        # profile pictures: the media id of one of the user's own image uploads. While it
        # is someone's picture, an upload is readable by every user and never purged
        # (adapters/sqlite/media.py: visible, purge ask this index).
        """
        ALTER TABLE users ADD COLUMN avatar_media_id INTEGER;
        CREATE INDEX users_by_avatar ON users(avatar_media_id) WHERE avatar_media_id IS NOT NULL;
        """,
    ),
    (
        7,
        # former members (core.membership.departure): who left or was removed from a
        # group, how, the newest message id they may still read, and the group's name
        # then. Written with the members row's delete; gone when they are added back or
        # delete the chat.
        """
        CREATE TABLE former_members (
            conversation_id INTEGER NOT NULL,
            user_id         INTEGER NOT NULL,
            how             TEXT    NOT NULL CHECK (how IN ('left', 'removed')),
            upto_message_id INTEGER NOT NULL,
            name            TEXT,
            departed_at     INTEGER NOT NULL,
            PRIMARY KEY (conversation_id, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX former_members_by_user ON former_members(user_id, conversation_id);
        """,
    ),
]


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply every migration not applied yet, each in its own transaction."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    applied = []
    for version, sql in MIGRATIONS:
        if version in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?)", (version, int(time.time() * 1000))
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(version)
    fill_name_keys(conn)
    return applied


def fill_name_keys(conn: sqlite3.Connection) -> None:
    """users.name_key of the rows from before migration 5 (casefold is Python's, not
    SQL's); a no-op once every row has one."""
    rows = conn.execute("SELECT user_id, display_name FROM users WHERE name_key IS NULL")
    missing = [(name.casefold(), user_id) for user_id, name in rows]
    if missing:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE users SET name_key = ? WHERE user_id = ?", missing)
        conn.execute("COMMIT")
