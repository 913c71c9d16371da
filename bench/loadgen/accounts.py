"""Setting up who talks to whom, over REST (hubbub.client): sign-ups, log-ins (each
log-in is a device with its own token), contacts and groups. Requests go through a small
pool of keep-alive HTTP clients, `concurrency` at a time: a sign-up or log-in costs the
server an argon2 hash (~0.2 s of CPU with the production parameters; see
loadgen/server.py for the cheap ones a started server uses)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from hubbub.client import HubbubClient

PASSWORD = "bench password 1"
SETUP_TIMEOUT_S = 900.0
CONCURRENCY = 16

T = TypeVar("T")


@dataclass
class Account:
    name: str
    user_id: str
    tokens: list[str]  # one per log-in (device)

    @property
    def token(self) -> str:
        return self.tokens[0]


def tag() -> str:
    """A prefix that keeps this run's user names apart from earlier runs'."""
    return f"b{os.getpid()}x{int(time.time()) % 100000}"


async def run_pool(
    base_url: str,
    jobs: Sequence[Callable[[HubbubClient], Awaitable[T]]],
    concurrency: int = CONCURRENCY,
    timeout: float = SETUP_TIMEOUT_S,
) -> list[T]:
    """Run every job with one of `concurrency` HTTP clients; results in job order.
    A job that needs a user's token sets `api.token` first."""
    slots: dict[int, T] = {}
    next_job = iter(range(len(jobs)))

    async def worker() -> None:
        async with HubbubClient(base_url) as api:
            for i in next_job:
                slots[i] = await jobs[i](api)

    workers = [worker() for _ in range(max(1, min(concurrency, len(jobs))))]
    await asyncio.wait_for(asyncio.gather(*workers), timeout)
    return [slots[i] for i in range(len(jobs))]


async def create_accounts(
    base_url: str, names: Sequence[str], logins_each: int = 1, concurrency: int = CONCURRENCY
) -> list[Account]:
    """Sign up every name, then log each in `logins_each` times."""

    def sign_up(name: str) -> Callable[[HubbubClient], Awaitable[str]]:
        async def job(api: HubbubClient) -> str:
            api.token = None
            return str((await api.sign_up(name, PASSWORD))["user_id"])

        return job

    def log_in(name: str) -> Callable[[HubbubClient], Awaitable[str]]:
        async def job(api: HubbubClient) -> str:
            api.token = None
            return str((await api.log_in(name, PASSWORD, device_name="bench"))["token"])

        return job

    ids = await run_pool(base_url, [sign_up(n) for n in names], concurrency)
    tokens = await run_pool(
        base_url, [log_in(n) for n in names for _ in range(logins_each)], concurrency
    )
    return [
        Account(n, uid, tokens[i * logins_each : (i + 1) * logins_each])
        for i, (n, uid) in enumerate(zip(names, ids, strict=True))
    ]


async def add_contacts(
    base_url: str, edges: Sequence[tuple[Account, str]], concurrency: int = CONCURRENCY
) -> None:
    """(account, user id): the account adds that user to its contacts."""

    def add(who: Account, user_id: str) -> Callable[[HubbubClient], Awaitable[bool]]:
        async def job(api: HubbubClient) -> bool:
            api.token = who.token
            await api.add_contact(user_id)
            return True

        return job

    await run_pool(base_url, [add(a, u) for a, u in edges], concurrency)


async def create_groups(
    base_url: str, groups: Sequence[Sequence[Account]], name: str = "bench"
) -> list[str]:
    """One group per member list (the first member creates it); their conversation ids."""

    def make(members: Sequence[Account]) -> Callable[[HubbubClient], Awaitable[str]]:
        async def job(api: HubbubClient) -> str:
            api.token = members[0].token
            g = await api.create_group(name, [m.user_id for m in members[1:]])
            return str(g["conversation_id"])

        return job

    return await run_pool(base_url, [make(m) for m in groups])
