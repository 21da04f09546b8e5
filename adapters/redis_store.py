"""The cache in Redis, shared by every gateway replica: what one replica fetched, the
others serve without asking the source again.

Values are the adapters' frozen records (or lists of them); they cross the wire as
JSON through one pydantic ``TypeAdapter`` per namespace, never pickle, so a value read
back is validated into the record type it was, and nothing in Redis can make the
gateway run code. Keys are ``{prefix}{namespace}:{key}``; each entry expires in Redis
when it may no longer stand in for its source (``keep_s`` after it was fetched).

Redis is a cache here, not a system of record: when it fails, a read is a miss and a
write is skipped (logged), so a Redis outage costs upstream calls, not answers.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import TypeAdapter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.cache import ABSENT, Entry

logger = logging.getLogger("mosaic.cache")


class Codec:
    """Entries of one namespace to bytes and back: ``{"t": stored_at, "v": value}``,
    or ``{"t": stored_at}`` for a key the source said it does not know."""

    def __init__(self, value_type: Any) -> None:
        self._adapter: TypeAdapter[Any] = TypeAdapter(value_type)

    def encode(self, entry: Entry) -> bytes:
        if entry.value is ABSENT:
            return orjson.dumps({"t": entry.stored_at})
        value = self._adapter.dump_python(entry.value, mode="json")
        return orjson.dumps({"t": entry.stored_at, "v": value})

    def decode(self, raw: bytes | str) -> Entry:
        data = orjson.loads(raw)
        value = self._adapter.validate_python(data["v"]) if "v" in data else ABSENT
        return Entry(value, float(data["t"]))


class RedisStore:
    """A ``CacheStore`` in Redis, for the namespaces it has a codec for."""

    def __init__(
        self, redis: Redis, value_types: Mapping[str, Any], prefix: str = "mosaic:cache:"
    ) -> None:
        self._redis = redis
        self._codecs = {namespace: Codec(t) for namespace, t in value_types.items()}
        self._prefix = prefix

    @property
    def generation(self) -> None:
        """Other replicas write unseen: whether an entry changed is asked each time."""
        return None

    def _key(self, namespace: str, key: str) -> str:
        return f"{self._prefix}{namespace}:{key}"

    def _codec(self, namespace: str) -> Codec:
        codec = self._codecs.get(namespace)
        if codec is None:
            raise KeyError(f"no cache codec for {namespace!r}: declare its value type")
        return codec

    async def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Entry]:
        codec = self._codec(namespace)
        if not keys:
            return {}
        try:
            raws = await self._redis.mget([self._key(namespace, k) for k in keys])
        except RedisError as error:
            logger.warning("cache read from Redis failed (%s): treated as a miss", error)
            return {}
        found: dict[str, Entry] = {}
        for key, raw in zip(keys, raws, strict=True):
            if raw is None:
                continue
            try:
                found[key] = codec.decode(raw)
            except ValueError as error:  # written by another version: refetch it
                logger.warning("unreadable cache entry %s:%s (%s)", namespace, key, error)
        return found

    async def set_many(self, namespace: str, entries: Mapping[str, Entry], keep_s: float) -> None:
        codec = self._codec(namespace)
        now = time.time()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, entry in entries.items():
                    ttl_ms = math.ceil((entry.stored_at + keep_s - now) * 1000)
                    if ttl_ms > 0:
                        pipe.set(self._key(namespace, key), codec.encode(entry), px=ttl_ms)
                await pipe.execute()
        except RedisError as error:
            logger.warning("cache write to Redis failed (%s): skipped", error)

    async def delete(self, namespace: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        try:
            await self._redis.delete(*(self._key(namespace, k) for k in keys))
        except RedisError as error:
            logger.error("cache invalidation in Redis failed (%s): stale up to its TTL", error)
