"""A property-based fuzzer for the WebSocket (hypothesis): every frame type with fields of
every JSON type, arbitrary JSON, and arbitrary bytes, sent by a logged-in device. Whatever
comes in, the server answers with frames of the protocol or closes with a documented
code; it never errs internally, never writes a traceback, never shows the fuzzing user
anything from conversations it is not in, and keeps serving everyone else.

HUBBUB_FUZZ_EXAMPLES raises the number of cases (CI runs a short version)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubbub.client import HubbubClient
from tests.rawws import BINARY, TEXT, RawSocket, frame
from tests.support import ServerProcess, new_user

EXAMPLES = int(os.environ.get("HUBBUB_FUZZ_EXAMPLES", "300"))
DOCUMENTED_CLOSES = {1002, 1007, 1009, 4000}
PROTOCOL_TYPES = {
    "ready", "sent", "message", "receipt", "read_state", "presence", "typing", "pong",
    "error", "group",
}  # fmt: skip


class Fuzzer:
    """One event loop for the whole test: a raw socket of the fuzzing user, reopened
    whenever the server closes it (with a documented code)."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.socket: RawSocket | None = None
        self.cases = 0
        self.closes: dict[int, int] = {}
        self.me, self.peer, self.other, self.mine = self.loop.run_until_complete(self._setup())

    async def _setup(self) -> tuple[HubbubClient, HubbubClient, HubbubClient, set[str]]:
        me, peer, other = [await new_user(self.server.url) for _ in range(3)]
        mine = {(await me.direct(peer.user_id))["conversation_id"]}
        group = await me.create_group("fuzz", [peer.user_id])
        mine.add(group["conversation_id"])
        # a private conversation the fuzzer must never see anything of
        async with await peer.connect() as ws:
            await ws.send_message("private", to=other.user_id)
        return me, peer, other, mine

    async def _open(self) -> RawSocket:
        s = await RawSocket.connect(self.server.port)
        assert await s.upgrade() == 101
        await s.send({"type": "hello", "token": self.me.token, "since": 0})
        return s

    def send(self, payload: bytes, opcode: int) -> list[dict[str, Any]]:
        return self.loop.run_until_complete(self._send(payload, opcode))

    async def _send(self, payload: bytes, opcode: int) -> list[dict[str, Any]]:
        if self.socket is None:
            self.socket = await self._open()
        s = self.socket
        self.cases += 1
        await s.send_raw(frame(opcode, payload) + frame(TEXT, b'{"type":"ping"}'))
        got: list[dict[str, Any]] = []
        while True:  # until the pong that follows the case, or a close
            opcode_in, data = await s.next_frame(timeout=10)
            if opcode_in == 8:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                assert code in DOCUMENTED_CLOSES, (code, payload[:200])
                self.closes[code] = self.closes.get(code, 0) + 1
                s.close()
                self.socket = None
                return got
            if opcode_in != TEXT:
                continue
            f = json.loads(data)
            got.append(f)
            if f["type"] == "pong":
                return got

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
        for c in (self.me, self.peer, self.other):
            self.loop.run_until_complete(c.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def fuzzer(server: ServerProcess) -> Iterator[Fuzzer]:
    f = Fuzzer(server)
    yield f
    print(f"frames fuzzed: {f.cases}; closes by code: {f.closes}")
    f.close()


ids = st.one_of(
    st.text(max_size=25), st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False),
    st.from_regex(r"\A[0-9]{1,20}\Z"), st.lists(st.integers(), max_size=3),
)  # fmt: skip
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
frames = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("send"), "client_msg_id": ids, "body": st.text(max_size=300) | ids},
        optional={"to": ids, "conversation_id": ids, "extra": json_values},
    ),
    st.fixed_dictionaries({"type": st.just("ack"), "seq": ids}),
    st.fixed_dictionaries({"type": st.just("read"), "conversation_id": ids, "message_id": ids}),
    st.fixed_dictionaries({"type": st.just("typing"), "conversation_id": ids}),
    st.fixed_dictionaries({"type": st.just("hello"), "token": ids, "since": ids}),
    st.fixed_dictionaries({"type": st.sampled_from(["ping", "pong", "message", "", "SEND"])}),
    st.dictionaries(st.text(max_size=12), json_values, max_size=6),
    json_values,
)  # fmt: skip


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames)
def test_any_json_frame(fuzzer: Fuzzer, value: Any) -> None:
    payload = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    check(fuzzer, fuzzer.send(payload, TEXT))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=300), st.sampled_from([TEXT, BINARY]))
def test_any_bytes(fuzzer: Fuzzer, payload: bytes, opcode: int) -> None:
    check(fuzzer, fuzzer.send(payload, opcode))


def check(fuzzer: Fuzzer, got: list[dict[str, Any]]) -> None:
    for f in got:
        assert f.get("type") in PROTOCOL_TYPES, f
        assert not (f["type"] == "error" and f.get("code") == "internal"), f
        if f["type"] in ("message", "typing", "receipt", "read_state"):
            assert f["conversation_id"] in fuzzer.mine, f  # nothing of anyone else's


def test_after_the_fuzzing_the_server_serves_everyone(
    fuzzer: Fuzzer, server: ServerProcess
) -> None:
    async def body() -> None:
        async with await fuzzer.peer.connect() as a, await fuzzer.other.connect() as b:
            sent = await a.send_message("still here?", to=fuzzer.other.user_id)
            await b.expect("message", message_id=sent["message_id"], timeout=10)

    fuzzer.loop.run_until_complete(body())
    assert "Traceback" not in server.log()
