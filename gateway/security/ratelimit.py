"""Rate limiting per client: a token bucket each, in this process or in Redis.

A client may make ``rate`` requests per second on average and ``burst`` at once. The
client is who it says it is: its API key, else its bearer token, else its IP address
(behind a proxy, run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips`` so
the IP is the client's, not the proxy's). Credentials are hashed before they become a
key. A refused request is a 429 with ``Retry-After`` and a GraphQL error coded
``RATE_LIMITED``, answered before anything is parsed or any source is asked.

With Redis, the buckets live there and every replica draws on the same ones: a client
spreading requests over replicas gets the same limit as against one. The bucket is
updated by one Lua script on Redis's own clock, so replicas need not agree on the time.
When Redis fails, requests are let through (logged): the limit protects the legacy
systems, and the per-source guards still do.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.errors import ErrorCode

logger = logging.getLogger("mosaic.ratelimit")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: float = 0.0


class RateLimiter(Protocol):
    async def take(self, client: str) -> Decision: ...


class MemoryBuckets:
    """Token buckets in this process; the least recently seen clients are forgotten
    first (a forgotten client starts with a full bucket, as a new one does)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def take(self, client: str) -> Decision:
        now = self._clock()
        tokens, at = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        allowed = tokens >= 1
        self._buckets[client] = (tokens - 1 if allowed else tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return Decision(True) if allowed else Decision(False, (1 - tokens) / self.rate)


#: KEYS[1] the bucket; ARGV rate per second, burst. Returns {allowed, retry after ms}.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(now - at, 0) * rate / 1000)
local allowed, wait = 0, math.ceil((1 - tokens) * 1000 / rate)
if tokens >= 1 then
  allowed, wait, tokens = 1, 0, tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
"""


class RedisBuckets:
    """Token buckets in Redis, shared by every replica."""

    def __init__(
        self, redis: Redis, rate: float, burst: int, prefix: str = "mosaic:ratelimit:"
    ) -> None:
        self.rate, self.burst, self._prefix = rate, burst, prefix
        self._script = redis.register_script(TOKEN_BUCKET)

    async def take(self, client: str) -> Decision:
        try:
            allowed, wait_ms = await self._script(
                keys=[self._prefix + client], args=[repr(self.rate), self.burst]
            )
        except RedisError as error:
            logger.warning("rate limit in Redis unavailable (%s): request let through", error)
            return Decision(True)
        return Decision(bool(allowed), int(wait_ms) / 1000)


def client_key(scope: Scope) -> str:
    """Who is asking: API key, else bearer token (both hashed), else IP address."""
    headers = Headers(scope=scope)
    api_key = headers.get("x-api-key")
    if api_key:
        return "key:" + _digest(api_key)
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + _digest(token.strip())
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def too_many_requests(retry_after_s: float) -> JSONResponse:
    seconds = max(1, math.ceil(retry_after_s))
    body = {
        "errors": [
            {
                "message": f"too many requests: retry after {seconds} s",
                "extensions": {"code": ErrorCode.RATE_LIMITED, "retryAfterS": seconds},
            }
        ]
    }
    return JSONResponse(body, 429, {"Retry-After": str(seconds)})


class RateLimited:
    """An ASGI endpoint behind the client's rate limit. The limiter is looked up per
    request because it belongs to the runtime, which exists only once the app runs."""

    def __init__(self, endpoint: ASGIApp, limiter: LimiterSource) -> None:
        self._endpoint = endpoint
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self._limiter()
        if scope["type"] == "http" and limiter is not None:
            decision = await limiter.take(client_key(scope))
            if not decision.allowed:
                await too_many_requests(decision.retry_after_s)(scope, receive, send)
                return
        await self._endpoint(scope, receive, send)


class LimiterSource(Protocol):
    def __call__(self) -> RateLimiter | None: ...


def rate_limiter(redis: Redis | None, rate: float, burst: int) -> RateLimiter | None:
    """The limiter the settings ask for: none when the rate is 0."""
    if rate <= 0:
        return None
    return RedisBuckets(redis, rate, burst) if redis is not None else MemoryBuckets(rate, burst)
