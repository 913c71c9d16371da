"""An account with many conversations, built through the API (issue 13: the browser test
in test_web_scale.py and bench/web_long_tasks.py): one person with 500 conversations
(direct chats with a few peers, the rest groups the peers made, each with one more peer)
and 5,000 messages the peers wrote, some of them read. Only a few people sign up (each
costs the server two argon2 hashes), so it is built in well under a minute.

The builder runs its own event loop (asyncio.run) in a thread: Playwright's sync API
keeps one running in the test's thread."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hubbub.client import Connection, HubbubClient

PASSWORD = "correct horse 1"
BIG_SINCE = 9007199254740991  # "no backlog" (docs/protocol.md §6.2)
T = TypeVar("T")


@dataclass
class BigAccount:
    url: str
    username: str
    user_id: str
    peer_tokens: dict[str, str]  # peer user id -> token
    peer_names: dict[str, str]  # peer user id -> username
    cids: list[str] = field(default_factory=list)  # in the order their messages were sent
    writer: dict[str, str] = field(default_factory=dict)  # cid -> the peer who writes there
    last_body: dict[str, str] = field(default_factory=dict)  # cid -> its newest message
    title: dict[str, str] = field(default_factory=dict)  # cid -> how the list names it


def in_thread(coro: Any) -> Any:
    """Run a coroutine to completion on a fresh event loop in another thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _gather_limited(jobs: list[Any], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return list(await asyncio.gather(*(one(j) for j in jobs)))


async def _person(url: str, prefix: str) -> tuple[HubbubClient, str, str]:
    api = HubbubClient(url)
    username = f"{prefix}{uuid.uuid4().hex[:6]}"
    await api.sign_up(username, PASSWORD)
    s = await api.log_in(username, PASSWORD, "builder")
    return api, username, str(s["user_id"])


async def _pipeline(conn: Connection, sends: list[tuple[str, str]]) -> list[str]:
    """Send (cid, body) in order without waiting for each `sent`; their message ids."""
    futures = [await conn.submit(body, conversation_id=cid) for cid, body in sends]
    ids = []
    for f in futures:
        frame = await asyncio.wait_for(f, 60)
        assert frame["type"] == "sent", frame
        ids.append(str(frame["message_id"]))
    return ids


def unread_wanted(i: int, per_conv: int) -> int:
    """How many of conversation i's messages stay unread: 0, 1 or 2, every 50th all."""
    return per_conv if i % 50 == 7 else i % 3


async def build(
    url: str, conversations: int = 500, messages: int = 5000, peers: int = 24
) -> BigAccount:
    me_api, me_name, me_id = await _person(url, "big")
    made = await _gather_limited([_person(url, f"peer{i}x") for i in range(peers)], 4)
    apis = {uid: api for api, _, uid in made}
    acct = BigAccount(url, me_name, me_id, {uid: str(api.token) for uid, api in apis.items()},
                      {uid: name for _, name, uid in made})  # fmt: skip
    uids = list(apis)
    # direct chats with every peer, then groups: peer k makes groups with me and peer k+1
    # (at most 20 each: the groups_per_user rate limit's burst)
    for uid in uids:
        c = await apis[uid].direct(me_id)
        acct.cids.append(str(c["conversation_id"]))
        acct.writer[acct.cids[-1]] = uid
        acct.title[acct.cids[-1]] = acct.peer_names[uid]
    jobs, owners, names = [], [], []
    for n in range(conversations - peers):
        owner = uids[n % peers]
        other = uids[(n + 1) % peers]
        name = f"group {n:03d}"
        jobs.append(apis[owner].create_group(name, [me_id, other]))
        owners.append(owner)
        names.append(name)
    groups = await _gather_limited(jobs, 8)
    for g, owner, name in zip(groups, owners, names, strict=True):
        acct.cids.append(str(g["conversation_id"]))
        acct.writer[acct.cids[-1]] = owner
        acct.title[acct.cids[-1]] = name
    per_conv = messages // conversations
    mids = await _write(acct, apis, per_conv)
    await _read_most(acct, me_api, mids, per_conv)
    for api in [me_api, *apis.values()]:
        await api.aclose()
    return acct


async def _write(
    acct: BigAccount, apis: dict[str, HubbubClient], per_conv: int
) -> dict[str, list[str]]:
    """`per_conv` messages in every conversation, round by round; their ids by cid."""
    sends: dict[str, list[tuple[str, str]]] = {uid: [] for uid in apis}
    for r in range(per_conv):  # round r: message r of every conversation
        for i, cid in enumerate(acct.cids):
            body = f"message {r} in {acct.title[cid]} ({i})"
            sends[acct.writer[cid]].append((cid, body))
            acct.last_body[cid] = body
    conns = {uid: await api.connect(BIG_SINCE, discover=False) for uid, api in apis.items()}
    try:
        ids = await asyncio.gather(*(_pipeline(conns[u], sends[u]) for u in apis))
    finally:
        for conn in conns.values():
            await conn.close()
    mids: dict[str, list[str]] = {cid: [] for cid in acct.cids}
    for uid, got in zip(apis, ids, strict=True):
        for (cid, _), mid in zip(sends[uid], got, strict=True):
            mids[cid].append(mid)
    return mids


async def _read_most(
    acct: BigAccount, me_api: HubbubClient, mids: dict[str, list[str]], per_conv: int
) -> None:
    """The account reads all but unread_wanted() of each conversation (on a device of its
    own), and the server's unread counts say so."""
    me_conn = await me_api.connect(BIG_SINCE, discover=False)
    try:
        for i, cid in enumerate(acct.cids):
            keep = unread_wanted(i, per_conv)
            if keep < per_conv:
                await me_conn.read(cid, mids[cid][per_conv - keep - 1])
        for _ in range(50):  # the reads are applied in order: wait for the last
            convs = await me_api.conversations()
            if sum(int(c["unread_count"]) for c in convs) == expected_unread(acct, per_conv):
                return
            await asyncio.sleep(0.2)
        raise AssertionError("the reads did not all apply")
    finally:
        await me_conn.close()


def expected_unread(acct: BigAccount, per_conv: int = 10) -> int:
    return sum(unread_wanted(i, per_conv) for i in range(len(acct.cids)))


async def burst(acct: BigAccount, targets: list[str], count: int = 50) -> list[str]:
    """`count` messages from the peers, as fast as they go, spread over `targets` in turn;
    their bodies in the order sent."""
    by_writer: dict[str, list[tuple[str, str]]] = {}
    bodies = []
    for n in range(count):
        cid = targets[n % len(targets)]
        body = f"burst {n:02d} to {acct.title[cid]}"
        by_writer.setdefault(acct.writer[cid], []).append((cid, body))
        bodies.append(body)
    conns = {}
    for uid in by_writer:
        api = HubbubClient(acct.url, acct.peer_tokens[uid])
        conns[uid] = (api, await api.connect(BIG_SINCE, discover=False))
    try:
        await asyncio.gather(*(_pipeline(conns[u][1], s) for u, s in by_writer.items()))
    finally:
        for api, conn in conns.values():
            await conn.close()
            await api.aclose()
    return bodies
