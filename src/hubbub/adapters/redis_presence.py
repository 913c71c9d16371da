"""The PresenceDirectory on Redis, for many nodes.

Per user a hash `{prefix}:p:{user_id}`: one field per node holding the user's last
activity seen there (ms), negated once that node has reported the user offline (a
logout must not leave the user online until the timeout). A user is online while some
positive field is younger than the timeout.
A sorted set `{prefix}:p:deadlines` scores each user by its newest activity + timeout;
every node sweeps it (`expired`), and ZREM decides which single node announces a user
whose nodes all went silent (a node that died cannot announce its own users). Each
change is one Lua script, so two nodes never both announce the same transition.
Per user a hash `{prefix}:pd:{user_id}`: one field per node, the ids of the user's devices
with a socket there (comma-separated; no field when none). A device counts as live while
the same node's field in `p:` is positive and younger than the timeout, so the devices of
a node that died stop counting with its users' presence. Both hashes expire together.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import redis.asyncio as redis

from hubbub.core.clock import now_ms

_ONLINE = """
local now, timeout, node = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local before = false
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local seen = tonumber(fields[i + 1])
  if fields[i] ~= node and seen > 0 and seen + timeout > now then before = true end
end
redis.call('HSET', KEYS[1], node, ARGV[4])
redis.call('PEXPIRE', KEYS[1], timeout * 4)
redis.call('PEXPIRE', KEYS[3], timeout * 4)
redis.call('ZADD', KEYS[2], 'GT', tonumber(ARGV[4]) + timeout, ARGV[5])
if before then return 0 end
return 1
"""

_REFRESH = """
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 4)
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[2]) * 4)
redis.call('ZADD', KEYS[2], 'GT', tonumber(ARGV[4]) + tonumber(ARGV[2]), ARGV[5])
return 1
"""

_DEVICES = """
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 4)
return 1
"""

_OFFLINE = """
local now, timeout, node = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
redis.call('HSET', KEYS[1], node, -tonumber(ARGV[4]))
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local seen = tonumber(fields[i + 1])
  if seen > 0 and seen + timeout > now then return 0 end
end
return redis.call('ZREM', KEYS[2], ARGV[5])
"""

_CLAIM = """
local now, timeout = tonumber(ARGV[1]), tonumber(ARGV[2])
local score = redis.call('ZSCORE', KEYS[2], ARGV[3])
if not score or tonumber(score) > now then return -1 end
local newest = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local seen = tonumber(fields[i + 1])
  if seen > 0 and seen + timeout > now then return -1 end
  if math.abs(seen) > newest then newest = math.abs(seen) end
end
if redis.call('ZREM', KEYS[2], ARGV[3]) == 1 then return newest end
return -1
"""


class RedisPresenceDirectory:
    def __init__(self, url: str, node_id: int, timeout_ms: int, prefix: str = "hubbub") -> None:
        self.node = str(node_id)
        self.timeout_ms = timeout_ms
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
        self._online = self._redis.register_script(_ONLINE)
        self._refresh = self._redis.register_script(_REFRESH)
        self._offline = self._redis.register_script(_OFFLINE)
        self._claim = self._redis.register_script(_CLAIM)
        self._devices = self._redis.register_script(_DEVICES)
        self._deadlines = f"{prefix}:p:deadlines"

    def _key(self, user_id: int) -> str:
        return f"{self.prefix}:p:{user_id}"

    def _devices_key(self, user_id: int) -> str:
        return f"{self.prefix}:pd:{user_id}"

    async def start(self) -> None:
        await self._redis.ping()

    async def stop(self) -> None:
        # bounded: shutdown must never wait on Redis
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._redis.aclose(), 2.0)

    def _args(self, user_id: int, last_active: int, now_ms: int) -> list[int | str]:
        return [now_ms, self.timeout_ms, self.node, last_active, user_id]

    async def online(self, user_id: int, last_active: int) -> bool:
        keys = [self._key(user_id), self._deadlines, self._devices_key(user_id)]
        return bool(await self._online(keys, self._args(user_id, last_active, last_active)))

    async def refresh(self, user_id: int, last_active: int) -> None:
        keys = [self._key(user_id), self._deadlines, self._devices_key(user_id)]
        await self._refresh(keys, self._args(user_id, last_active, last_active))

    async def offline(self, user_id: int, last_active: int) -> bool:
        keys = [self._key(user_id), self._deadlines]
        now = now_ms()
        return bool(await self._offline(keys, self._args(user_id, last_active, now)))

    async def status(self, user_id: int) -> tuple[bool, int] | None:
        return (await self.statuses([user_id])).get(user_id)

    async def statuses(self, user_ids: Sequence[int]) -> dict[int, tuple[bool, int]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.hgetall(self._key(user_id))
            replies = await pipe.execute()
        now = now_ms()
        out = {}
        for user_id, fields in zip(user_ids, replies, strict=True):
            seen = [int(v) for v in fields.values()]
            if seen:
                online = any(v > 0 and v + self.timeout_ms > now for v in seen)
                out[user_id] = (online, max(abs(v) for v in seen))
        return out

    async def devices(self, user_id: int, device_ids: Sequence[int]) -> None:
        listed = ",".join(str(d) for d in sorted(device_ids))
        await self._devices([self._devices_key(user_id)], [self.node, listed, self.timeout_ms])

    async def device_live(self, user_id: int, device_id: int) -> bool:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._devices_key(user_id))
            pipe.hgetall(self._key(user_id))
            by_node, seen = await pipe.execute()
        now = now_ms()
        wanted = str(device_id).encode()
        for node, listed in by_node.items():
            last = int(seen.get(node, 0))
            if last > 0 and last + self.timeout_ms > now and wanted in listed.split(b","):
                return True
        return False

    async def expired(self, now_ms: int) -> list[tuple[int, int]]:
        due = await self._redis.zrangebyscore(self._deadlines, "-inf", now_ms, start=0, num=200)
        gone = []
        for member in due:
            user_id = int(member)  # type: ignore[arg-type]  # members are ids as bytes
            keys = [self._key(user_id), self._deadlines]
            newest = int(await self._claim(keys, [now_ms, self.timeout_ms, user_id]))
            if newest >= 0:
                gone.append((user_id, newest))
        return gone
