"""WebSocket frames a careless or hostile client sends: each gets an `error` frame with
its client_msg_id (the connection lives on), or, where RFC 6455 says so, a close with
the RFC's code; never a server error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.rawws import BINARY, CONTINUATION, TEXT, RawSocket, frame
from tests.support import ServerProcess, new_user, run


@asynccontextmanager
async def session(server: ServerProcess) -> AsyncIterator[tuple[RawSocket, str]]:
    """A logged-in raw socket past `ready`, and another user's id to write to."""
    me, peer = await new_user(server.url), await new_user(server.url)
    s = await RawSocket.connect(server.port)
    assert await s.upgrade() == 101
    await s.send({"type": "hello", "token": me.token, "since": 0})
    assert (await s.next_json())["type"] == "ready"
    try:
        yield s, str(peer.user_id)
    finally:
        s.close()
        await me.aclose()
        await peer.aclose()


async def expect_error(s: RawSocket) -> dict[str, object]:
    while True:
        f = await s.next_json()
        if f["type"] == "error":
            return f


async def still_alive(s: RawSocket) -> bool:
    await s.send({"type": "ping"})
    while (await s.next_json())["type"] != "pong":
        pass
    return True


def test_a_lone_surrogate_is_refused_with_its_client_msg_id(server: ServerProcess) -> None:
    async def body() -> None:
        async with session(server) as (s, peer):
            raw = b'{"type":"send","client_msg_id":"ls-1","to":"%s","body":"x\\ud800y"}' % (
                peer.encode()
            )
            await s.send(raw)
            err = await expect_error(s)
            assert err["code"] == "bad_request" and err["client_msg_id"] == "ls-1"
            assert await still_alive(s)

    run(body())


def test_invalid_utf8_in_a_text_frame_closes_1007(server: ServerProcess) -> None:
    async def body() -> None:
        async with session(server) as (s, peer):
            await s.send(b'{"type":"send","client_msg_id":"u1","to":"%s","body":"\xff"}' % (
                peer.encode()
            ))
            assert await s.close_code() == 1007

    run(body())


def test_deep_nesting_is_a_bad_request_and_the_socket_lives(server: ServerProcess) -> None:
    async def body() -> None:
        async with session(server) as (s, peer):
            deep = b"[" * 3000 + b"]" * 3000
            await s.send(
                b'{"type":"send","client_msg_id":"d1","to":"%s","body":"x","z":%s}'
                % (peer.encode(), deep)
            )
            err = await expect_error(s)
            assert err["code"] == "bad_request" and err["client_msg_id"] == "d1"
            await s.send(b"[" * 100_000)
            assert (await expect_error(s))["code"] == "bad_request"
            assert await still_alive(s)

    run(body())


def test_an_empty_conversation_id_is_a_bad_request(server: ServerProcess) -> None:
    async def body() -> None:
        async with session(server) as (s, _):
            await s.send(
                {"type": "send", "client_msg_id": "c1", "conversation_id": "", "body": "hi"}
            )
            err = await expect_error(s)
            assert err == {
                "type": "error",
                "code": "bad_request",
                "message": "conversation_id is not a valid id",
                "client_msg_id": "c1",
            }

    run(body())


def test_fragments_are_joined_and_interleaving_is_a_protocol_error(server: ServerProcess) -> None:
    async def body() -> None:
        async with session(server) as (s, peer):
            whole = json.dumps(
                {"type": "send", "client_msg_id": "f1", "to": peer, "body": "in three parts"}
            ).encode()
            parts = [whole[:10], whole[10:20], whole[20:]]
            await s.send_raw(frame(TEXT, parts[0], fin=False))
            await s.send_raw(frame(CONTINUATION, parts[1], fin=False))
            await s.send_raw(frame(CONTINUATION, parts[2], fin=True))
            while (f := await s.next_json())["type"] != "sent":
                pass
            assert f["client_msg_id"] == "f1"
            await s.send_raw(frame(TEXT, b'{"type":', fin=False))
            await s.send_raw(frame(BINARY, b'{"type":"ping"}'))  # a new message inside it
            assert await s.close_code() == 1002

    run(body())
