"""Direct messages over WebSocket and HTTP: ack, delivery, idempotency, limits, bad input."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from hubbub.client import ApiError
from tests.support import ServerProcess, another_device, messages_of, new_user, run


def test_direct_message_reaches_peer_and_all_own_devices(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        a2 = await another_device(a)
        wa, wa2, wb = await a.connect(), await a2.connect(), await b.connect()
        sent = await wa.send_message("hello bob", to=b.user_id)
        got = await wb.expect("message", message_id=sent["message_id"])
        assert got["body"] == "hello bob" and got["sender_id"] == a.user_id
        assert got["conversation_id"] == sent["conversation_id"] and got["kind"] == "direct"
        assert got["ts"] == sent["ts"] and got["client_msg_id"] == sent["client_msg_id"]
        # the sender's devices hold the message in their inbox too, same seq on both
        mine = await wa.expect("message", message_id=sent["message_id"])
        mine2 = await wa2.expect("message", message_id=sent["message_id"])
        assert mine["seq"] == mine2["seq"] == 1
        for ws in (wa, wa2, wb):
            await ws.close()
        for api in (a, a2, b):
            await api.aclose()

    run(body())


def test_http_send_path_is_idempotent_with_the_websocket_path(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wb = await b.connect()
        conv = (await a.direct(b.user_id))["conversation_id"]
        first = await a.post_message(conv, "over http", client_msg_id="k1")
        assert first["conversation_id"] == conv and first["client_msg_id"] == "k1"
        again = await a.post_message(conv, "over http", client_msg_id="k1")
        assert again["message_id"] == first["message_id"] and again["ts"] == first["ts"]
        wa = await a.connect()
        via_ws = await wa.send_message("over http", conversation_id=conv, client_msg_id="k1")
        assert via_ws["message_id"] == first["message_id"]
        frames = await wb.collect(0.5)
        delivered = [f for f in frames if f["type"] == "message"]
        assert [f["message_id"] for f in delivered] == [first["message_id"]]
        assert (await wb.collect(0)) == []
        await wa.close()
        await wb.close()
        await a.aclose()
        await b.aclose()

    run(body())


def test_same_client_msg_id_from_another_user_is_a_different_message(
    server: ServerProcess,
) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wa, wb = await a.connect(), await b.connect()
        one = await wa.send_message("from a", to=b.user_id, client_msg_id="shared")
        two = await wb.send_message("from b", to=a.user_id, client_msg_id="shared")
        assert one["message_id"] != two["message_id"]
        await wa.close()
        await wb.close()

    run(body())


def test_body_limits_and_unicode_round_trip(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wa, wb = await a.connect(), await b.connect()
        prefix = "héllo 🌍 \u200b 中文 \U0010fffd"
        text = prefix + "🙂" * (100_000 - len(prefix))
        assert len(text) == 100_000
        sent = await wa.send_message(text, to=b.user_id, timeout=20)
        got = await wb.expect("message", message_id=sent["message_id"], timeout=20)
        assert got["body"] == text
        history = await b.history(sent["conversation_id"], limit=1)
        assert history[0]["body"] == text
        with pytest.raises(ApiError) as too_big:
            await wa.send_message("🙂" * 100_001, to=b.user_id, timeout=20)
        assert too_big.value.code == "too_large"
        for bad in ("", "nul \x00 inside"):
            with pytest.raises(ApiError) as refused:
                await wa.send_message(bad, to=b.user_id)
            assert refused.value.code == "bad_request"
        with pytest.raises(ApiError) as long_id:
            await wa.send_message("x", to=b.user_id, client_msg_id="k" * 65)
        assert long_id.value.code == "bad_request"
        await wa.close()
        await wb.close()

    run(body())


def test_bad_frames_get_errors_and_change_nothing(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wa = await a.connect()
        junk = [
            "not json",
            "[1, 2]",
            "42",
            json.dumps({"type": "nope"}),
            json.dumps({"type": "send", "client_msg_id": "c1"}),
            json.dumps({"type": "send", "client_msg_id": "c2", "body": 5, "to": b.user_id}),
            json.dumps({"type": "send", "client_msg_id": "c3", "body": "x", "to": 12}),
            json.dumps({"type": "send", "client_msg_id": "c4", "body": "x", "to": "abc"}),
            json.dumps({"type": "send", "client_msg_id": "c5", "body": "x"}),
            json.dumps(
                {
                    "type": "send",
                    "client_msg_id": "c6",
                    "body": "x",
                    "to": b.user_id,
                    "conversation_id": "1",
                }
            ),
            json.dumps({"type": "send", "client_msg_id": "c7", "body": "x", "to": "99999"}),
            json.dumps(
                {"type": "send", "client_msg_id": "c8", "body": "x", "conversation_id": "99999"}
            ),
            json.dumps({"type": "ack", "seq": "1"}),
            json.dumps({"type": "ack", "seq": 10**6}),
            json.dumps({"type": "read", "conversation_id": "1", "message_id": "1"}),
            json.dumps({"type": "typing", "conversation_id": "x"}),
            json.dumps({"type": "hello", "token": a.token, "since": 0}),
        ]
        for raw in junk:
            await wa.send_frame(raw)
            err = await wa.expect("error")
            assert err["code"] in ("bad_request", "not_found"), (raw, err)
            sent_id = json.loads(raw).get("client_msg_id") if raw.startswith("{") else None
            if sent_id:
                assert err["client_msg_id"] == sent_id, (raw, err)
        # the connection lives on, and nothing was stored: the first real message is seq 1
        ok = await wa.send_message("still here", to=b.user_id)
        assert (await wa.expect("message", message_id=ok["message_id"]))["seq"] == 1
        assert await a.conversations() != []
        await wa.close()

    run(body())


def test_send_to_a_conversation_you_are_not_in_is_refused(server: ServerProcess) -> None:
    async def body() -> None:
        a, b, c = [await new_user(server.url) for _ in range(3)]
        conv = (await a.direct(b.user_id))["conversation_id"]
        wc = await c.connect()
        with pytest.raises(ApiError) as e:
            await wc.send_message("intruder", conversation_id=conv)
        assert e.value.code == "not_found"
        with pytest.raises(ApiError) as e2:
            await c.post_message(conv, "intruder")
        assert e2.value.status == 404
        with pytest.raises(ApiError) as e3:
            await c.history(conv)
        assert e3.value.status == 404
        assert await a.history(conv) == []
        await wc.close()

    run(body())


def test_note_to_self(server: ServerProcess) -> None:
    async def body() -> None:
        a = await new_user(server.url)
        wa = await a.connect()
        sent = await wa.send_message("remember the milk", to=a.user_id)
        got = await wa.expect("message", message_id=sent["message_id"])
        assert got["seq"] == 1
        later = await wa.collect(0.3)
        assert not [f for f in later if f["type"] == "message"], later  # one entry, not two
        convs = await a.conversations()
        assert convs[0]["peer_id"] == a.user_id and convs[0]["unread_count"] == 0
        await wa.close()

    run(body())


def test_pipelined_sends_keep_their_order(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        wa, wb = await a.connect(), await b.connect()
        futures = [
            await wa.submit(f"m{i}", to=b.user_id, client_msg_id=uuid.uuid4().hex)
            for i in range(200)
        ]
        acks = [await f for f in futures]
        ids = [int(f["message_id"]) for f in acks]
        assert ids == sorted(ids) and len(set(ids)) == 200
        got = await messages_of(wb, 200)
        assert [m["body"] for m in got] == [f"m{i}" for i in range(200)]
        assert [m["seq"] for m in got] == list(range(1, 201))
        await wa.close()
        await wb.close()

    run(body())


def test_longest_body_over_http_even_when_json_escapes_everything(server: ServerProcess) -> None:
    async def body() -> None:
        a, b = await new_user(server.url), await new_user(server.url)
        conv = (await a.direct(b.user_id))["conversation_id"]
        text = "🙂" * 100_000
        payload = json.dumps({"client_msg_id": "long", "body": text})  # ASCII-escaped: 1.2 MB
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            r = await http.post(
                f"/v1/conversations/{conv}/messages",
                content=payload,
                headers={"Authorization": f"Bearer {a.token}"},
            )
        assert r.status_code == 201, r.text
        assert (await b.history(conv, limit=1))[0]["body"] == text

    run(body())
