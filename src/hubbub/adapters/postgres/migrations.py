"""Versioned schema migrations for PostgreSQL. Append a new (version, sql) pair; never edit
an applied one. Each migration runs in its own transaction under a transaction-scoped
advisory lock, so nodes starting at once apply each version exactly once.

Layout notes:
- Laid out for partitioning: every big table leads its primary key with the key it would be
  partitioned (and sharded) by: messages (conversation_id, message_id), inbox (user_id,
  seq), members (conversation_id, user_id), contacts (owner_id, contact_id), sent_keys
  (sender_id, client_msg_id). No unique index spans a partition key it does not lead with,
  and `inbox` repeats conversation_id so its joins to messages use messages' primary key.
- `inbox` is the per-user message sync queue: (user_id, seq) -> message, seq 1, 2, 3...
  without gaps per user. `users.inbox_head` IS the head (the last seq handed out): a
  writer draws the next seq with UPDATE ... RETURNING, whose row lock serializes the
  writers of one user across nodes. Retention deletes entries but never lowers the head,
  so seqs are never reused.
- `sent_keys` makes sends idempotent for ever: it outlives the message rows retention
  deletes, so a late retry still gets the original message_id.
- Ids are Snowflake BIGINTs (time-ordered), so "older than N days" is an id range.
"""

from __future__ import annotations

import time

import asyncpg

# one 64-bit key for pg_advisory_xact_lock: "hubbub-migrations"
MIGRATION_LOCK = 0x6875626275622D6D

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE users (
            user_id        BIGINT  PRIMARY KEY,
            username       TEXT    NOT NULL UNIQUE,
            display_name   TEXT    NOT NULL,
            password_hash  TEXT    NOT NULL,
            retention_days INTEGER,
            inbox_head     BIGINT  NOT NULL DEFAULT 0,
            delivered_seq  BIGINT  NOT NULL DEFAULT 0,
            last_active_at BIGINT  NOT NULL DEFAULT 0,
            created_at     BIGINT  NOT NULL
        );
        CREATE TABLE devices (
            device_id  BIGINT  PRIMARY KEY,
            user_id    BIGINT  NOT NULL REFERENCES users(user_id),
            name       TEXT    NOT NULL,
            token_hash BYTEA   NOT NULL UNIQUE,
            created_at BIGINT  NOT NULL,
            revoked_at BIGINT,
            acked_seq  BIGINT  NOT NULL DEFAULT 0
        );
        CREATE INDEX devices_by_user ON devices(user_id);
        CREATE TABLE contacts (
            owner_id   BIGINT NOT NULL,
            contact_id BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (owner_id, contact_id)
        );
        CREATE INDEX contacts_by_contact ON contacts(contact_id, owner_id);
        CREATE TABLE conversations (
            conversation_id BIGINT  PRIMARY KEY,
            kind            TEXT    NOT NULL CHECK (kind IN ('direct', 'group')),
            direct_key      TEXT    UNIQUE,
            name            TEXT,
            owner_id        BIGINT,
            created_at      BIGINT  NOT NULL,
            last_message_id BIGINT  NOT NULL DEFAULT 0
        );
        CREATE TABLE members (
            conversation_id BIGINT NOT NULL,
            user_id         BIGINT NOT NULL,
            joined_at       BIGINT NOT NULL,
            read_upto       BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (conversation_id, user_id)
        );
        CREATE INDEX members_by_user ON members(user_id, conversation_id);
        CREATE TABLE messages (
            conversation_id BIGINT NOT NULL,
            message_id      BIGINT NOT NULL,
            sender_id       BIGINT NOT NULL,
            client_msg_id   TEXT   NOT NULL,
            body            TEXT   NOT NULL,
            PRIMARY KEY (conversation_id, message_id)
        );
        CREATE TABLE sent_keys (
            sender_id       BIGINT NOT NULL,
            client_msg_id   TEXT   NOT NULL,
            message_id      BIGINT NOT NULL,
            conversation_id BIGINT NOT NULL,
            PRIMARY KEY (sender_id, client_msg_id)
        );
        CREATE TABLE inbox (
            user_id         BIGINT NOT NULL,
            seq             BIGINT NOT NULL,
            conversation_id BIGINT NOT NULL,
            message_id      BIGINT NOT NULL,
            PRIMARY KEY (user_id, seq)
        );
        CREATE INDEX inbox_by_conversation ON inbox(user_id, conversation_id, seq);
        CREATE INDEX inbox_by_message ON inbox(conversation_id, message_id);
        """,
    ),
    (
        2,
        """
        ALTER TABLE devices ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN group_adds TEXT NOT NULL DEFAULT 'everyone';
        """,
    ),
]


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply every migration not applied yet, each in its own transaction; returns the
    versions this call applied (none if another node got there first)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
        )
    applied = []
    for version, sql in MIGRATIONS:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            done = await conn.fetchval(
                "SELECT 1 FROM schema_migrations WHERE version = $1", version
            )
            if done:
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations VALUES ($1, $2)",
                version,
                int(time.time() * 1000),
            )
        applied.append(version)
    return applied


async def migrate_url(dsn: str) -> list[int]:
    """`migrate` on a connection of its own (the `hubbub migrate` command)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
