"""The crash harness: concurrent direct, group and HTTP senders; kill -9 at a random
moment; restart; every sender resends everything it attempted with the same
client_msg_id; then every acknowledged message must be in history and in every
participant's inbox exactly once, gap-free, in each sender's order.

A single node is killed itself; a cluster (two nodes on PostgreSQL and Redis) has one of
a node, Redis or PostgreSQL killed each round, in turn. A short version runs in CI
(tests/integration/test_crash_harness.py); the long one is one command:

    .venv/bin/python -m tests.crash_harness --rounds 200 [--cluster] [--seed N]

It prints one JSON line: rounds, messages attempted, acknowledged and checked, and what
failed (nothing, or the check that did).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

from hubbub.client import ApiError, Connection, HubbubClient
from tests.pg_server import PostgresServer, create_database, find_bindir
from tests.redis_server import RedisServer
from tests.support import ServerProcess, new_user

log = logging.getLogger("crash-harness")
DROPPED = (
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
    websockets.ConnectionClosed,
    ApiError,
    httpx.HTTPError,
)
WINDOW = 8
SERVE = ("--rate-limits", "off")  # the senders flood on purpose


@dataclass
class Sent:
    """One attempted message: its key, where it went, and the id the server gave it."""

    cmid: str
    conversation: str  # "d:<receiver>" for direct, else the conversation id
    message_id: str | None = None
    first_try: bool = False  # acknowledged when first sent (not refused, not cut off)


@dataclass
class Sender:
    api: HubbubClient
    kind: str  # "ws-direct", "ws-group", "http"
    target: str  # a user id (direct) or a conversation id (group, http)
    attempts: list[Sent] = field(default_factory=list)

    def new(self) -> Sent:
        key = self.target if self.kind != "ws-direct" else f"d:{self.target}"
        s = Sent(f"{self.kind}-{uuid.uuid4().hex[:16]}", key)
        self.attempts.append(s)
        return s


class Target:
    """What the harness kills: a node, or a piece of a cluster."""

    urls: list[str]

    def kill_one(self, round_no: int) -> str:
        raise NotImplementedError

    def recover(self) -> None:
        raise NotImplementedError

    def logs(self) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SingleNode(Target):
    def __init__(self, root: Path) -> None:
        self.node = ServerProcess(root / "node", 2.0, *SERVE).start()
        self.urls = [self.node.url]

    def kill_one(self, round_no: int) -> str:
        self.node.kill9()
        return "node"

    def recover(self) -> None:
        self.node.start()

    def logs(self) -> list[str]:
        return [self.node.log()]

    def close(self) -> None:
        self.node.stop()


class Cluster(Target):
    def __init__(self, root: Path) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.pg = PostgresServer(bindir).start()
        self.redis = RedisServer(root / "redis").start()
        dsn = create_database(self.pg, f"crash_{uuid.uuid4().hex[:8]}")
        shared = ("--database-url", dsn, "--redis-url", self.redis.url, *SERVE)
        self.nodes = [
            ServerProcess(root / f"node{n}", 2.0, *shared, "--node-id", str(n)).start()
            for n in (1, 2)
        ]
        self.urls = [n.url for n in self.nodes]
        self._down: Callable[[], None] = lambda: None

    def kill_one(self, round_no: int) -> str:
        victim = ("node1", "redis", "node2", "postgres")[round_no % 4]
        if victim.startswith("node"):
            node = self.nodes[int(victim[-1]) - 1]
            node.kill9()
            self._down = node.start
        elif victim == "redis":
            self.redis.kill()
            self._down = self.redis.start
        else:
            self.pg.crash()
            self._down = self.pg.start
        return victim

    def recover(self) -> None:
        self._down()
        self._down = lambda: None

    def logs(self) -> list[str]:
        return [n.log() for n in self.nodes]

    def close(self) -> None:
        for n in self.nodes:
            n.stop()
        self.redis.stop()
        self.pg.stop()


async def retry(work: Callable[[], Awaitable[Any]], seconds: float = 60.0) -> Any:
    """`work()` until it succeeds (a node restarting, storage coming back), bounded."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await work()
        except DROPPED:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


class Harness:
    def __init__(self, target: Target, rng: random.Random) -> None:
        self.target = target
        self.rng = rng
        self.senders: list[Sender] = []
        self.members: dict[str, list[HubbubClient]] = {}  # conversation -> its members
        self.acked = 0

    def url(self, i: int) -> str:
        return self.target.urls[i % len(self.target.urls)]

    async def setup(self) -> None:
        await retry(self._setup)

    async def _setup(self) -> None:
        self.senders, self.members = [], {}
        receiver = await new_user(self.url(0))
        direct = [await new_user(self.url(i)) for i in range(3)]
        group_senders = [await new_user(self.url(i)) for i in range(2)]
        listeners = [await new_user(self.url(i)) for i in range(2)]
        http = [await new_user(self.url(i)) for i in range(2)]
        group = await group_senders[0].create_group(
            "crash", [m.user_id or "" for m in (*group_senders[1:], *listeners, receiver)]
        )
        gid = group["conversation_id"]
        self.members[gid] = [*group_senders, *listeners, receiver]
        for s in direct:
            self.senders.append(Sender(s, "ws-direct", receiver.user_id or ""))
            self.members[f"d:{receiver.user_id}:{s.user_id}"] = [s, receiver]
        for s in group_senders:
            self.senders.append(Sender(s, "ws-group", gid))
        for s in http:
            conv = (await s.direct(receiver.user_id or ""))["conversation_id"]
            self.senders.append(Sender(s, "http", conv))
            self.members[conv] = [s, receiver]

    async def _stream(self, i: int, sender: Sender, stop: asyncio.Event) -> None:
        """Send until the server dies under us (or the round ends), WINDOW in flight."""
        with contextlib.suppress(*DROPPED):
            if sender.kind == "http":
                await self._post_until(i, sender, stop)
                return
            ws = await Connection.open(
                self.url(i).replace("http", "ws", 1) + "/v1/ws", sender.api.token or "", 0
            )
            try:
                while not stop.is_set():
                    batch = [
                        (m := sender.new(), await self._submit(ws, sender, m))
                        for _ in range(WINDOW)
                    ]
                    for m, future in batch:
                        frame = await asyncio.wait_for(future, 30)
                        if frame["type"] != "sent":
                            return  # e.g. unavailable while storage is down
                        m.message_id, m.first_try = frame["message_id"], True
                        self.acked += 1
            finally:
                with contextlib.suppress(Exception):
                    await ws.close()

    async def _submit(self, ws: Connection, sender: Sender, m: Sent) -> asyncio.Future[Any]:
        if sender.kind == "ws-direct":
            return await ws.submit(m.cmid, to=sender.target, client_msg_id=m.cmid)
        return await ws.submit(m.cmid, conversation_id=sender.target, client_msg_id=m.cmid)

    async def _post_until(self, i: int, sender: Sender, stop: asyncio.Event) -> None:
        api = HubbubClient(self.url(i), token=sender.api.token)
        try:
            while not stop.is_set():
                m = sender.new()
                answer = await api.request(
                    "POST",
                    f"/v1/conversations/{sender.target}/messages",
                    json={"client_msg_id": m.cmid, "body": m.cmid},
                )
                m.message_id, m.first_try = answer["message_id"], True
                self.acked += 1
        finally:
            await api.aclose()

    async def round(self, round_no: int) -> str:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self._stream(i, s, stop)) for i, s in enumerate(self.senders)]
        goal = self.acked + self.rng.randint(20, 300)
        deadline = time.monotonic() + self.rng.uniform(0.3, 5.0)
        while self.acked < goal and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        victim = await asyncio.to_thread(self.target.kill_one, round_no)
        log.info("round %d: killed %s after %d acks", round_no, victim, self.acked)
        await asyncio.sleep(self.rng.uniform(0, 0.5))
        await asyncio.to_thread(self.target.recover)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        await self.resend()
        return victim

    async def resend(self) -> None:
        """Every sender resends what it attempted that has no final id yet, with the same
        client_msg_id; what was acknowledged before must come back with the same id."""
        for i, sender in enumerate(self.senders):
            pending = [m for m in sender.attempts if m.message_id is None]
            for m in pending:
                m.message_id = await retry(lambda m=m, i=i, s=sender: self._once(i, s, m))

    async def _once(self, i: int, sender: Sender, m: Sent) -> str:
        api = HubbubClient(self.url(i), token=sender.api.token)
        try:
            if sender.kind == "ws-direct":
                conv = (await api.direct(sender.target))["conversation_id"]
            else:
                conv = sender.target
            answer = await api.request(
                "POST",
                f"/v1/conversations/{conv}/messages",
                json={"client_msg_id": m.cmid, "body": m.cmid},
            )
            return str(answer["message_id"])
        finally:
            await api.aclose()

    async def verify(self) -> int:
        """Every attempted message once in history and in every participant's inbox, in
        each sender's order, inboxes gap-free. Returns how many messages were checked."""
        checked = 0
        expected: dict[str, list[str]] = {}  # user_id -> cmids of their conversations
        for sender in self.senders:
            for m in sender.attempts:
                assert m.message_id is not None, m
                for member in self._members_of(sender, m):
                    expected.setdefault(member.user_id or "", []).append(m.cmid)
                checked += 1
        final = {m.cmid: m.message_id for s in self.senders for m in s.attempts}
        users = {u.user_id: u for ms in self.members.values() for u in ms}
        for user_id, user in users.items():
            inbox = await retry(lambda user=user: self._inbox(user))
            seqs = [e["seq"] for e in inbox]
            assert seqs == list(range(1, len(inbox) + 1)), f"gap in {user_id}'s inbox"
            cmids = [e["client_msg_id"] for e in inbox]
            assert len(cmids) == len(set(cmids)), f"a message twice in {user_id}'s inbox"
            assert sorted(cmids) == sorted(expected.get(user_id or "", [])), "lost or extra"
            for e in inbox:
                assert final[e["client_msg_id"]] == e["message_id"], "changed message id"
        for sender in self.senders:  # each sender's order, in its conversation's history
            conv = await self._conversation_of(sender)
            history = await retry(lambda s=sender, c=conv: self._history(s.api, c))
            # a device's sends keep their order; one refused (storage away) and sent again
            # later may land after sends that went through meanwhile, as for any client
            first = {m.cmid for m in sender.attempts if m.first_try}
            mine = [h["client_msg_id"] for h in reversed(history) if h["client_msg_id"] in first]
            assert mine == [m.cmid for m in sender.attempts if m.first_try], (
                f"order of {sender.kind}"
            )
            stored = {h["client_msg_id"] for h in history if h["sender_id"] == sender.api.user_id}
            assert stored == {m.cmid for m in sender.attempts}, f"history of {sender.kind}"
        return checked

    def _members_of(self, sender: Sender, m: Sent) -> list[HubbubClient]:
        if sender.kind == "ws-direct":
            return self.members[f"d:{sender.target}:{sender.api.user_id}"]
        return self.members[sender.target]

    async def _conversation_of(self, sender: Sender) -> str:
        if sender.kind != "ws-direct":
            return sender.target
        return str((await retry(lambda: sender.api.direct(sender.target)))["conversation_id"])

    async def _inbox(self, user: HubbubClient) -> list[dict[str, Any]]:
        ws = await Connection.open(
            self.url(0).replace("http", "ws", 1) + "/v1/ws", user.token or "", 0
        )
        try:
            return [await ws.expect("message", timeout=30) for _ in range(ws.head)]
        finally:
            await ws.close()

    async def _history(self, api: HubbubClient, conv: str) -> list[dict[str, Any]]:
        page: list[dict[str, Any]] = []
        before = None
        while True:
            got = await api.history(conv, before=before, limit=100)
            page.extend(got)
            if len(got) < 100:
                return page
            before = got[-1]["message_id"]


async def run_harness(
    rounds: int, cluster: bool, seed: int, root: Path, keep: Path | None = None
) -> dict[str, Any]:
    rng = random.Random(seed)
    target: Target = await asyncio.to_thread(Cluster if cluster else SingleNode, root)
    harness = Harness(target, rng)
    victims: dict[str, int] = {}
    result: dict[str, Any] = {"rounds": rounds, "cluster": cluster, "seed": seed}
    try:
        await harness.setup()
        for n in range(rounds):
            victim = await harness.round(n)
            victims[victim] = victims.get(victim, 0) + 1
        result["checked"] = await harness.verify()
        result["failed"] = None
    except AssertionError as e:
        result["failed"] = str(e)
    except DROPPED as e:  # the service never came back within the bounds
        result["failed"] = f"no answer after round {sum(victims.values())}: {e!r}"
    finally:
        result["acked_before_kills"] = harness.acked
        result["attempted"] = sum(len(s.attempts) for s in harness.senders)
        result["victims"] = victims
        crashes = [
            log for log in target.logs() if "Traceback" in log and "Exception in ASGI" in log
        ]
        result["server_crashes"] = len(crashes)
        if (result.get("failed") or crashes) and keep is not None:
            _keep_logs(target, keep)
        await asyncio.to_thread(target.close)
    return result


def _keep_logs(target: Target, where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    for n, text in enumerate(target.logs()):
        (where / f"node{n + 1}.log").write_text(text)
    if isinstance(target, Cluster):
        (where / "postgres.log").write_text(target.pg.log())


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--cluster", action="store_true", help="two nodes on PostgreSQL and Redis")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep-logs", type=Path, help="where the servers' logs go if a check fails")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    with tempfile.TemporaryDirectory(prefix="hubbub-crash-") as root:
        result = asyncio.run(run_harness(a.rounds, a.cluster, seed, Path(root), a.keep_logs))
    print(json.dumps(result))
    return 0 if result["failed"] is None and not result["server_crashes"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
