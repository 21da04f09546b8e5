"""One pooled JSON-over-HTTP client per REST source, mapping every failure to our errors.

All three REST adapters (CRM, POS, WMS) speak through this, so a refused connection, a
timeout, a 429, a 5xx, an HTML error page or a body that is not JSON becomes the same
``UpstreamError`` subclass whichever system it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp
import orjson

from adapters.config import SourceConfig
from adapters.errors import (
    BadUpstreamResponse,
    UpstreamFault,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.resilience import SourceGuard

T = TypeVar("T")


class JsonClient:
    def __init__(self, source: str, session: aiohttp.ClientSession, config: SourceConfig) -> None:
        self.source = source
        self.session = session
        self.config = config
        self.base_url = config.url.rstrip("/")
        self.headers = {"Accept": "application/json"}
        if config.token:
            self.headers["Authorization"] = f"Bearer {config.token}"
        self.guard = SourceGuard(source, config.timeout_s, config.guard)

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any, *, idempotent: bool = True) -> Any:
        """POST is how these APIs *query* (search, batch-read), so it is retried by
        default; a write must say ``idempotent=False``."""
        return await self.request("POST", path, body=body, idempotent=idempotent)

    async def patch(self, path: str, body: Any) -> Any:
        return await self.request("PATCH", path, body=body, idempotent=False)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path, idempotent=False)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """One guarded call (deadline, timeout, concurrency, retries, breaker)."""
        return await self.guard.call(
            lambda timeout: self._once(method, path, body, params, timeout),
            idempotent=method == "GET" if idempotent is None else idempotent,
        )

    async def _once(
        self, method: str, path: str, body: Any, params: dict[str, str] | None, timeout_s: float
    ) -> Any:
        data = None if body is None else orjson.dumps(body)
        headers = (
            self.headers if data is None else {**self.headers, "Content-Type": "application/json"}
        )
        try:
            async with self.session.request(
                method,
                self.base_url + path,
                data=data,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                payload = await response.read()
                status = response.status
                content_type = response.headers.get("Content-Type", "")
                retry_after = response.headers.get("Retry-After")
        except TimeoutError as exc:
            raise UpstreamTimeout(
                self.source, f"no answer within {timeout_s:.2f}s"
            ) from exc
        except aiohttp.ClientConnectionError as exc:
            raise UpstreamUnavailable(
                self.source, f"cannot reach it ({type(exc).__name__})"
            ) from exc
        except aiohttp.ClientError as exc:
            raise BadUpstreamResponse(self.source, f"unreadable HTTP answer ({exc})") from exc
        if status == 429:
            raise UpstreamRateLimited(
                self.source, "rate limit reached", retryAfter=_seconds(retry_after)
            )
        if status >= 500 and "html" in content_type:
            raise BadUpstreamResponse(self.source, f"HTTP {status} with an HTML page, not JSON")
        if status >= 400:
            raise UpstreamFault(self.source, f"HTTP {status}: {_excerpt(payload)}", status=status)
        if status == 204 or not payload:
            return None
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise BadUpstreamResponse(self.source, f"invalid JSON: {_excerpt(payload)}") from exc

    def parse(self, what: str, build: Callable[[], T]) -> T:
        """Run a mapping from the wire to records; a missing or mistyped field is the
        source's fault, reported as ``SOURCE_BAD_RESPONSE`` with what was wrong."""
        try:
            return build()
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise BadUpstreamResponse(
                self.source, f"unexpected {what}: {type(exc).__name__}: {exc}"
            ) from exc


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _excerpt(payload: bytes, limit: int = 200) -> str:
    return payload[:limit].decode("utf-8", errors="replace")
