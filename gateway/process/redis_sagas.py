"""The saga log and the idempotency keys in Redis, so that replicas share them: a write
whose replica died is finished by another, and a key sent to two replicas places one
order.

A saga is one hash (its JSON ``body``, and ``state``, ``owner``, ``lease_until`` as
fields of their own, so a take-over is one atomic script that never rewrites the body);
unfinished sagas are kept in a set; a key is a plain string set with NX; a lease (a
hold's on an item at a store) is a string set with NX and an expiry, so a holder that
dies frees it. Unlike the
cache (``adapters.redis_store``), this is a record the gateway relies on: a Redis
failure fails the write (before its first step) rather than being skipped.
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from resolvers.commerce.sagas import UNFINISHED, SagaRecord

_TAKE = """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= ARGV[4] and state ~= ARGV[5] then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'lease_until')) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'lease_until', ARGV[2])
return 1
"""
_UNLEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_REPLACE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class RedisSagaLog:
    def __init__(self, redis: Redis, prefix: str = "mosaic:saga:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._unfinished = f"{prefix}unfinished"

    def _saga(self, saga_id: str) -> str:
        return f"{self._prefix}s:{saga_id}"

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}key:{kind}:{key}"

    async def save(self, record: SagaRecord) -> None:
        fields = {
            "body": record.dump(),
            "state": record.state,
            "owner": record.owner,
            "lease_until": repr(record.lease_until),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._saga(record.id), mapping=fields)  # type: ignore[arg-type]
            if record.state in UNFINISHED:
                pipe.sadd(self._unfinished, record.id)
            else:
                pipe.srem(self._unfinished, record.id)
            await pipe.execute()

    async def load(self, saga_id: str) -> SagaRecord | None:
        raw = await self._redis.hgetall(self._saga(saga_id))
        if not raw:
            return None
        fields = {_text(name): _text(value) for name, value in raw.items()}
        record = SagaRecord.load(fields["body"])
        record.owner = fields["owner"]
        record.lease_until = float(fields["lease_until"])
        return record

    async def delete(self, saga_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._saga(saga_id))
            pipe.srem(self._unfinished, saga_id)
            await pipe.execute()

    async def get_key(self, kind: str, key: str) -> str | None:
        value = await self._redis.get(self._key(kind, key))
        return _text(value) if value is not None else None

    async def claim_key(self, kind: str, key: str, saga_id: str) -> str:
        await self._redis.set(self._key(kind, key), saga_id, nx=True)
        return await self.get_key(kind, key) or saga_id

    async def replace_key(self, kind: str, key: str, old: str, new: str) -> bool:
        done: Any = await self._redis.eval(_REPLACE, 1, self._key(kind, key), old, new)
        return bool(done)

    async def take(self, saga_id: str, owner: str, until: float, now: float) -> bool:
        taken: Any = await self._redis.eval(
            _TAKE, 1, self._saga(saga_id), owner, repr(until), repr(now), *UNFINISHED
        )
        return bool(taken)

    async def unfinished(self) -> list[str]:
        members = await self._redis.smembers(self._unfinished)
        return sorted(_text(m) for m in members)

    async def lease(self, name: str, owner: str, until: float) -> bool:
        """SET NX with the lease's remaining time as its expiry: Redis frees it then."""
        ms = max(1, int((until - time.time()) * 1000))
        key = f"{self._prefix}lease:{name}"
        if await self._redis.set(key, owner, nx=True, px=ms):
            return True
        return _text(await self._redis.get(key) or b"") == owner

    async def unlease(self, name: str, owner: str) -> None:
        await self._redis.eval(_UNLEASE, 1, f"{self._prefix}lease:{name}", owner)

    async def close(self) -> None:
        """The connection is the runtime's, shared with the cache; it closes it."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
