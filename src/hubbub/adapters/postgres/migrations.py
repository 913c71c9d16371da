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
    (
        3,
        """
        -- A message, in one round trip. The caller holds the advisory locks of every user
        -- it names in p_locked (and of the conversation, for a group), so nothing here
        -- waits. Refusals are answered as a status, before anything is written.
        CREATE FUNCTION hubbub_append(
            p_sender bigint, p_cmid text, p_body text, p_to bigint, p_conv bigint,
            p_message_id bigint, p_new_conv bigint, p_now bigint, p_locked bigint[]
        ) RETURNS TABLE (status text, message_id bigint, conversation_id bigint,
                         kind text, members bigint[], seqs bigint[], body text)
        LANGUAGE plpgsql AS $fn$
        DECLARE
            v_seen_message bigint; v_seen_conv bigint; v_conv bigint; v_kind text;
            v_key text; v_members bigint[];
        BEGIN
            SELECT k.message_id, k.conversation_id INTO v_seen_message, v_seen_conv
                FROM sent_keys k WHERE k.sender_id = p_sender AND k.client_msg_id = p_cmid;
            IF FOUND THEN  -- a repeat: the original (its row may be gone with retention)
                RETURN QUERY SELECT 'duplicate', v_seen_message, v_seen_conv,
                    coalesce((SELECT c.kind FROM conversations c
                              WHERE c.conversation_id = v_seen_conv), 'direct'),
                    NULL::bigint[], NULL::bigint[],
                    (SELECT m.body FROM messages m WHERE m.conversation_id = v_seen_conv
                     AND m.message_id = v_seen_message);
                RETURN;
            END IF;
            IF p_to IS NOT NULL THEN
                v_key := least(p_sender, p_to) || ':' || greatest(p_sender, p_to);
                SELECT c.conversation_id INTO v_conv FROM conversations c
                    WHERE c.direct_key = v_key;
                IF NOT FOUND THEN
                    PERFORM 1 FROM users WHERE user_id = p_to;
                    IF NOT FOUND THEN
                        RETURN QUERY SELECT 'no_user', NULL::bigint, NULL::bigint, NULL::text,
                            NULL::bigint[], NULL::bigint[], NULL::text;
                        RETURN;
                    END IF;
                    INSERT INTO conversations (conversation_id, kind, direct_key, created_at)
                        VALUES (p_new_conv, 'direct', v_key, p_now);
                    INSERT INTO members (conversation_id, user_id, joined_at)
                        SELECT DISTINCT p_new_conv, u, p_now FROM unnest(ARRAY[p_sender, p_to]) u;
                    v_conv := p_new_conv;
                END IF;
            ELSE
                v_conv := p_conv;
            END IF;
            SELECT c.kind INTO v_kind FROM conversations c WHERE c.conversation_id = v_conv;
            SELECT array_agg(m.user_id ORDER BY m.joined_at, m.user_id) INTO v_members
                FROM members m WHERE m.conversation_id = v_conv;
            IF v_kind IS NULL OR v_members IS NULL OR NOT (p_sender = ANY (v_members)) THEN
                RETURN QUERY SELECT 'not_member', NULL::bigint, v_conv, NULL::text,
                    NULL::bigint[], NULL::bigint[], NULL::text;
                RETURN;
            END IF;
            IF NOT (v_members <@ p_locked) THEN  -- members changed: lock them all first
                RETURN QUERY SELECT 'needs_locks', NULL::bigint, v_conv, v_kind,
                    v_members, NULL::bigint[], NULL::text;
                RETURN;
            END IF;
            INSERT INTO sent_keys VALUES (p_sender, p_cmid, p_message_id, v_conv);
            INSERT INTO messages VALUES (v_conv, p_message_id, p_sender, p_cmid, p_body);
            UPDATE conversations SET last_message_id = greatest(last_message_id, p_message_id)
                WHERE conversations.conversation_id = v_conv;
            RETURN QUERY
                WITH heads AS (
                    UPDATE users u SET inbox_head = u.inbox_head + 1
                    WHERE u.user_id = ANY (v_members) RETURNING u.user_id, u.inbox_head
                ), entries AS (
                    INSERT INTO inbox (user_id, seq, conversation_id, message_id)
                    SELECT h.user_id, h.inbox_head, v_conv, p_message_id FROM heads h
                    RETURNING inbox.user_id, inbox.seq
                )
                SELECT 'ok', p_message_id, v_conv, v_kind, array_agg(e.user_id),
                    array_agg(e.seq), NULL::text FROM entries e;
        END
        $fn$;

        -- An ack, in one round trip (the caller holds the user's advisory lock): the
        -- user's head, and the messages newly delivered to the user (none if the ack
        -- moves no watermark). p_seq past the head: status 'past_head'.
        CREATE FUNCTION hubbub_ack(p_user bigint, p_device bigint, p_seq bigint)
        RETURNS TABLE (status text, head bigint, conversation_id bigint, message_id bigint,
                       sender_id bigint)
        LANGUAGE plpgsql AS $fn$
        DECLARE v_head bigint; v_delivered bigint;
        BEGIN
            SELECT u.inbox_head, u.delivered_seq INTO v_head, v_delivered
                FROM users u WHERE u.user_id = p_user;
            v_head := coalesce(v_head, 0);
            IF p_seq > v_head THEN
                RETURN QUERY SELECT 'past_head', v_head, NULL::bigint, NULL::bigint,
                    NULL::bigint;
                RETURN;
            END IF;
            UPDATE devices SET acked_seq = greatest(acked_seq, p_seq)
                WHERE device_id = p_device;
            IF p_seq <= v_delivered THEN
                RETURN;
            END IF;
            UPDATE users SET delivered_seq = p_seq WHERE user_id = p_user;
            RETURN QUERY SELECT 'ok', v_head, m.conversation_id, m.message_id, m.sender_id
                FROM inbox i JOIN messages m ON m.conversation_id = i.conversation_id
                    AND m.message_id = i.message_id
                WHERE i.user_id = p_user AND i.seq > v_delivered AND i.seq <= p_seq;
        END
        $fn$;
        """,
    ),
]


def _append_with_push_jobs() -> str:
    """Migration 3's hubbub_append, which also writes the push outbox rows of the
    message in the same statement (one per subscription of each recipient but the
    sender; the caller holds every member's advisory lock, so these rows are covered) and
    answers how many it wrote. Derived from the applied text so the two cannot drift."""
    v3 = MIGRATIONS[2][1]
    start = v3.index("CREATE FUNCTION hubbub_append(")
    body = v3[start : v3.index("$fn$;", start) + len("$fn$;")]
    replacements = [
        ("kind text, members bigint[], seqs bigint[], body text)",
         "kind text, members bigint[], seqs bigint[], body text,\n"
         "                         pushes integer)"),
        ("NULL::bigint[], NULL::bigint[],\n                    (SELECT m.body",
         "NULL::bigint[], NULL::bigint[],\n                    (SELECT m.body"),
        ("AND m.message_id = v_seen_message);", "AND m.message_id = v_seen_message), 0;"),
        ("NULL::bigint[], NULL::bigint[], NULL::text;", "NULL::bigint[], NULL::bigint[],"
         " NULL::text, 0;"),
        ("v_members, NULL::bigint[], NULL::text;", "v_members, NULL::bigint[], NULL::text, 0;"),
        ("RETURNING inbox.user_id, inbox.seq\n                )",
         "RETURNING inbox.user_id, inbox.seq\n"
         "                ), jobs AS (\n"
         "                    INSERT INTO push_outbox (subscription_id, conversation_id, kind,\n"
         "                        user_id, device_id, message_id, seq, created_at, due_at)\n"
         "                    SELECT s.subscription_id, v_conv, 'message', e.user_id,\n"
         "                        s.device_id, p_message_id, e.seq, p_now, p_now\n"
         "                    FROM entries e JOIN push_subscriptions s ON s.user_id = e.user_id\n"
         "                    WHERE e.user_id <> p_sender\n"
         # a constraint, not columns: `kind` is also an OUT column of the function
         "                    ON CONFLICT ON CONSTRAINT push_outbox_pkey DO UPDATE SET\n"
         "                        message_id = excluded.message_id, seq = excluded.seq,\n"
         "                        created_at = excluded.created_at,\n"
         "                        due_at = greatest(push_outbox.due_at, excluded.due_at),\n"
         "                        version = push_outbox.version + 1\n"
         "                    RETURNING 1\n"
         "                )"),
        ("array_agg(e.seq), NULL::text FROM entries e;",
         "array_agg(e.seq), NULL::text,\n"
         "                    (SELECT count(*)::integer FROM jobs) FROM entries e;"),
    ]  # fmt: skip
    for old, new in replacements:
        assert old in body, old
        body = body.replace(old, new)
    return (
        "DROP FUNCTION hubbub_append(bigint, text, text, bigint, bigint, bigint, bigint,"
        " bigint, bigint[]);\n" + body
    )


MIGRATIONS.append(
    (
        4,
        # push: see adapters/postgres/push.py. The outbox holds at most one row per
        # (subscription, conversation, kind): a newer message collapses into it.
        """
        ALTER TABLE users ADD COLUMN push_preview TEXT NOT NULL DEFAULT 'sender';
        ALTER TABLE members ADD COLUMN muted_until BIGINT NOT NULL DEFAULT 0;
        CREATE TABLE push_keys (
            name        TEXT   PRIMARY KEY,
            private_key TEXT   NOT NULL,
            public_key  TEXT   NOT NULL,
            created_at  BIGINT NOT NULL
        );
        CREATE TABLE push_subscriptions (
            subscription_id BIGINT PRIMARY KEY,
            user_id         BIGINT NOT NULL,
            device_id       BIGINT NOT NULL,
            kind            TEXT   NOT NULL CHECK (kind IN ('webpush', 'apns', 'fcm')),
            endpoint        TEXT,
            p256dh          TEXT,
            auth            TEXT,
            token           TEXT,
            topic           TEXT,
            created_at      BIGINT NOT NULL,
            UNIQUE (device_id, kind)
        );
        CREATE INDEX push_subscriptions_by_user ON push_subscriptions(user_id);
        CREATE TABLE push_outbox (
            subscription_id BIGINT  NOT NULL,
            conversation_id BIGINT  NOT NULL,
            kind            TEXT    NOT NULL CHECK (kind IN ('message', 'read')),
            user_id         BIGINT  NOT NULL,
            device_id       BIGINT  NOT NULL,
            message_id      BIGINT  NOT NULL,
            seq             BIGINT  NOT NULL,
            created_at      BIGINT  NOT NULL,
            due_at          BIGINT  NOT NULL,
            lease_until     BIGINT  NOT NULL DEFAULT 0,
            attempts        INTEGER NOT NULL DEFAULT 0,
            version         INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (subscription_id, conversation_id, kind)
        );
        CREATE INDEX push_outbox_due ON push_outbox(due_at);
        CREATE TABLE push_shown (
            user_id         BIGINT NOT NULL,
            conversation_id BIGINT NOT NULL,
            subscription_id BIGINT NOT NULL,
            PRIMARY KEY (user_id, conversation_id, subscription_id)
        );
        """
        + _append_with_push_jobs(),
    )
)
MIGRATIONS.append(
    (
        5,
        # media: see adapters/postgres/media.py. A blob row exists while `refs` > 0 (each
        # upload holds one on its file and one on its thumbnail); its file goes after it.
        """
        ALTER TABLE messages ADD COLUMN attachments TEXT;
        CREATE TABLE blobs (
            sha256     TEXT   PRIMARY KEY,
            blob_key   TEXT   NOT NULL UNIQUE,
            size       BIGINT NOT NULL,
            refs       BIGINT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE media (
            media_id        BIGINT PRIMARY KEY,
            uploader_id     BIGINT NOT NULL,
            sha256          TEXT   NOT NULL,
            size            BIGINT NOT NULL,
            original_sha256 TEXT   NOT NULL,
            original_size   BIGINT NOT NULL,
            content_type    TEXT   NOT NULL,
            filename        TEXT,
            width           INTEGER,
            height          INTEGER,
            duration_ms     BIGINT,
            thumb_sha256    TEXT,
            created_at      BIGINT NOT NULL
        );
        CREATE INDEX media_by_uploader ON media(uploader_id, created_at);
        CREATE INDEX media_unshared ON media(created_at);
        CREATE TABLE media_originals (
            original_sha256 TEXT   PRIMARY KEY,
            sha256          TEXT   NOT NULL,
            size            BIGINT NOT NULL,
            content_type    TEXT   NOT NULL,
            width           INTEGER,
            height          INTEGER,
            duration_ms     BIGINT,
            thumb_sha256    TEXT,
            thumb_size      BIGINT
        );
        CREATE TABLE message_media (
            media_id        BIGINT NOT NULL,
            message_id      BIGINT NOT NULL,
            conversation_id BIGINT NOT NULL,
            PRIMARY KEY (media_id, message_id)
        );
        CREATE INDEX message_media_by_message ON message_media(message_id);
        """,
    ),
)
MIGRATIONS.append(
    (
        6,
        # the people directory: usernames and display names searched by prefix. name_key
        # is display_name.casefold(), written by the store (lower() follows the database's
        # locale, which may know only ASCII); older rows are filled in by PostgresStore.open.
        """
        ALTER TABLE users ADD COLUMN name_key TEXT;
        CREATE INDEX users_by_username_prefix ON users(username text_pattern_ops);
        CREATE INDEX users_by_name_key ON users(name_key text_pattern_ops);
        """,
    )
)
MIGRATIONS.append(
    (
        7,
        # A batch's sends and acks, each kind in one round trip (engine.py, "bulk"): the
        # same functions called in a loop, in the order given, so a batch runs them exactly
        # as it would one statement at a time. Row n of the answer belongs to input n.
        """
        CREATE FUNCTION hubbub_append_many(
            p_sender bigint[], p_cmid text[], p_body text[], p_to bigint[], p_conv bigint[],
            p_message_id bigint[], p_new_conv bigint[], p_now bigint, p_locked bigint[]
        ) RETURNS TABLE (n integer, status text, message_id bigint, conversation_id bigint,
                         kind text, members bigint[], seqs bigint[], body text,
                         pushes integer)
        LANGUAGE plpgsql AS $fn$
        BEGIN
            FOR i IN 1 .. coalesce(array_length(p_sender, 1), 0) LOOP
                RETURN QUERY SELECT i, a.* FROM hubbub_append(p_sender[i], p_cmid[i],
                    p_body[i], p_to[i], p_conv[i], p_message_id[i], p_new_conv[i], p_now,
                    p_locked) a;
            END LOOP;
        END
        $fn$;
        CREATE FUNCTION hubbub_ack_many(p_user bigint[], p_device bigint[], p_seq bigint[])
        RETURNS TABLE (n integer, status text, head bigint, conversation_id bigint,
                       message_id bigint, sender_id bigint)
        LANGUAGE plpgsql AS $fn$
        BEGIN
            FOR i IN 1 .. coalesce(array_length(p_user, 1), 0) LOOP
                RETURN QUERY SELECT i, a.* FROM hubbub_ack(p_user[i], p_device[i], p_seq[i]) a;
            END LOOP;
        END
        $fn$;
        """,
    )
)

MIGRATIONS.append(
    (
        8,
        # profile pictures: the media id of one of the user's own image uploads. While it
        # is someone's picture, an upload is readable by every user and never purged
        # (adapters/postgres/media.py: visible, purge ask this index).
        """
        ALTER TABLE users ADD COLUMN avatar_media_id BIGINT;
        CREATE INDEX users_by_avatar ON users(avatar_media_id)
            WHERE avatar_media_id IS NOT NULL;
        """,
    )
)

MIGRATIONS.append(
    (
        9,
        # former members (core.membership.departure): who left or was removed from a
        # group, how, the newest message id they may still read, and the group's name
        # then. Keyed like `members` (by conversation, for partitioning), and written only
        # by jobs that hold the advisory locks of both the conversation and the user
        # (remove_member, add_member, forget_former), so it adds no lock of its own.
        """
        CREATE TABLE former_members (
            conversation_id BIGINT NOT NULL,
            user_id         BIGINT NOT NULL,
            how             TEXT   NOT NULL CHECK (how IN ('left', 'removed')),
            upto_message_id BIGINT NOT NULL,
            name            TEXT,
            departed_at     BIGINT NOT NULL,
            PRIMARY KEY (conversation_id, user_id)
        );
        CREATE INDEX former_members_by_user ON former_members(user_id, conversation_id);
        """,
    )
)

MIGRATIONS.append(
    (
        10,
        # A read (mark_read) as one statement that answers a status instead of raising,
        # like hubbub_append and hubbub_ack, and a batch's reads in one round trip. Before
        # this a read was five statements and a savepoint, each a round trip, while its
        # batch held its advisory locks: a wave of reads after a reconnect held the other
        # node's writer at its lock statement for a second. The caller holds the user's
        # key (members row of the reader, the reader's push_shown and push_outbox rows).
        """
        CREATE FUNCTION hubbub_read(p_user bigint, p_conv bigint, p_message bigint,
                                    p_now bigint)
        RETURNS TABLE (status text, senders bigint[], cleared integer)
        LANGUAGE plpgsql AS $fn$
        DECLARE
            v_upto bigint;
            v_senders bigint[];
            v_cleared integer;
        BEGIN
            SELECT m.read_upto INTO v_upto FROM members m
                WHERE m.conversation_id = p_conv AND m.user_id = p_user;
            IF NOT FOUND THEN
                RETURN QUERY SELECT 'no_conversation'::text, NULL::bigint[], 0;
                RETURN;
            END IF;
            IF NOT EXISTS (SELECT 1 FROM messages m
                           WHERE m.conversation_id = p_conv AND m.message_id = p_message) THEN
                RETURN QUERY SELECT 'no_message'::text, NULL::bigint[], 0;
                RETURN;
            END IF;
            IF p_message <= v_upto THEN
                RETURN QUERY SELECT 'old'::text, NULL::bigint[], 0;
                RETURN;
            END IF;
            v_senders := ARRAY(
                SELECT DISTINCT m.sender_id FROM messages m
                WHERE m.conversation_id = p_conv AND m.message_id > v_upto
                  AND m.message_id <= p_message AND m.sender_id <> p_user);
            UPDATE members m SET read_upto = p_message
                WHERE m.conversation_id = p_conv AND m.user_id = p_user;
            -- each subscription that was shown a push for the conversation gets a `read`
            -- job, so the notification is cleared there too
            WITH shown AS (
                DELETE FROM push_shown ps WHERE ps.user_id = p_user
                    AND ps.conversation_id = p_conv RETURNING ps.subscription_id
            ), queued AS (
                INSERT INTO push_outbox AS o (subscription_id, conversation_id, kind,
                    user_id, device_id, message_id, seq, created_at, due_at)
                SELECT s.subscription_id, p_conv, 'read', s.user_id, s.device_id,
                       p_message, 0, p_now, p_now
                FROM shown JOIN push_subscriptions s USING (subscription_id)
                ON CONFLICT (subscription_id, conversation_id, kind) DO UPDATE SET
                    message_id = excluded.message_id, created_at = excluded.created_at,
                    due_at = greatest(o.due_at, excluded.due_at), version = o.version + 1
                RETURNING 1
            ) SELECT count(*) INTO v_cleared FROM queued;
            RETURN QUERY SELECT 'read'::text, v_senders, v_cleared;
        END
        $fn$;
        CREATE FUNCTION hubbub_read_many(p_user bigint[], p_conv bigint[],
                                         p_message bigint[], p_now bigint)
        RETURNS TABLE (n integer, status text, senders bigint[], cleared integer)
        LANGUAGE plpgsql AS $fn$
        BEGIN
            FOR i IN 1 .. coalesce(array_length(p_user, 1), 0) LOOP
                RETURN QUERY SELECT i, r.* FROM hubbub_read(p_user[i], p_conv[i],
                    p_message[i], p_now) r;
            END LOOP;
        END
        $fn$;
        """,
    )
)

MIGRATIONS.append(
    (
        11,
        # A send that answers needs_locks (a group whose members this node did not know)
        # wrote nothing; the sender's later sends in the same call are answered 'deferred'
        # and not run, so the caller runs them all in the next batch, in order, with the
        # keys it lacked. Before this, one needs_locks made the writer undo its whole
        # batch and run it again with a savepoint and a round trip per job (while holding
        # every key of the batch): after a node's start, that was each group's first send.
        """
        CREATE OR REPLACE FUNCTION hubbub_append_many(
            p_sender bigint[], p_cmid text[], p_body text[], p_to bigint[], p_conv bigint[],
            p_message_id bigint[], p_new_conv bigint[], p_now bigint, p_locked bigint[]
        ) RETURNS TABLE (n integer, status text, message_id bigint, conversation_id bigint,
                         kind text, members bigint[], seqs bigint[], body text,
                         pushes integer)
        LANGUAGE plpgsql AS $fn$
        DECLARE
            v_waiting bigint[] := '{}';  -- senders whose earlier send needs more locks
            r record;
        BEGIN
            FOR i IN 1 .. coalesce(array_length(p_sender, 1), 0) LOOP
                IF p_sender[i] = ANY (v_waiting) THEN
                    RETURN QUERY SELECT i, 'deferred'::text, NULL::bigint, NULL::bigint,
                        NULL::text, NULL::bigint[], NULL::bigint[], NULL::text, 0;
                ELSIF p_to[i] IS NOT NULL THEN  -- direct: its two users are always locked
                    RETURN QUERY SELECT i, a.* FROM hubbub_append(p_sender[i], p_cmid[i],
                        p_body[i], p_to[i], p_conv[i], p_message_id[i], p_new_conv[i],
                        p_now, p_locked) a;
                ELSE  -- a group send may answer needs_locks: look at its answer
                    SELECT * INTO r FROM hubbub_append(p_sender[i], p_cmid[i], p_body[i],
                        p_to[i], p_conv[i], p_message_id[i], p_new_conv[i], p_now,
                        p_locked);
                    IF r.status = 'needs_locks' THEN
                        v_waiting := v_waiting || p_sender[i];
                    END IF;
                    RETURN QUERY SELECT i, r.status, r.message_id, r.conversation_id,
                        r.kind, r.members, r.seqs, r.body, r.pushes;
                END IF;
            END LOOP;
        END
        $fn$;
        """,
    )
)


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
    await fill_name_keys(conn)
    return applied


async def fill_name_keys(conn: asyncpg.Connection) -> None:
    """users.name_key of the rows from before migration 6 (casefold is Python's); a no-op
    once every row has one. Concurrent nodes may both fill a row: with the same value."""
    rows = await conn.fetch("SELECT user_id, display_name FROM users WHERE name_key IS NULL")
    if rows:
        await conn.executemany(
            "UPDATE users SET name_key = $1 WHERE user_id = $2 AND name_key IS NULL",
            [(r["display_name"].casefold(), r["user_id"]) for r in rows],
        )


async def migrate_url(dsn: str) -> list[int]:
    """`migrate` on a connection of its own (the `hubbub migrate` command)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
