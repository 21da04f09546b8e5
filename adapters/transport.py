"""One HTTP exchange with a legacy system, whatever it speaks: every transport failure
becomes the same ``UpstreamError`` for REST and SOAP alike, and so does a reply that
cannot be mapped to records."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from adapters.errors import (
    BadUpstreamResponse,
    UpstreamAuthFailed,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)

#: What a mapping from the wire raises when a field is missing or of the wrong type.
MAPPING_ERRORS = (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, IndexError)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str
    payload: bytes

    @property
    def is_html(self) -> bool:
        return "html" in self.content_type

    def excerpt(self, limit: int = 200) -> str:
        return self.payload[:limit].decode("utf-8", errors="replace")


async def exchange(
    source: str,
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    timeout_s: float,
    **request: Any,
) -> Reply:
    """Send one request; a timeout, a refused or dropped connection, an unreadable
    answer, refused credentials (401, 403) and a 429 raise; any other status is the
    caller's to read."""
    try:
        async with session.request(
            method, url, timeout=aiohttp.ClientTimeout(total=timeout_s), **request
        ) as response:
            payload = await response.read()
            status = response.status
            content_type = response.headers.get("Content-Type", "")
            retry_after = response.headers.get("Retry-After")
    except TimeoutError as exc:
        raise UpstreamTimeout(source, f"no answer within {timeout_s:.2f}s") from exc
    except aiohttp.ClientConnectionError as exc:
        raise UpstreamUnavailable(source, f"cannot reach it ({type(exc).__name__})") from exc
    except aiohttp.ClientError as exc:
        raise BadUpstreamResponse(source, f"unreadable HTTP answer ({exc})") from exc
    if status in (401, 403):
        raise UpstreamAuthFailed(source, f"HTTP {status}: the gateway's credentials were refused")
    if status == 429:
        raise UpstreamRateLimited(source, "rate limit reached", retryAfter=_seconds(retry_after))
    return Reply(status, content_type, payload)


@contextmanager
def mapping(source: str, what: str) -> Iterator[None]:
    """Around a mapping from the wire to records: a missing or mistyped field is the
    source's fault, reported as ``SOURCE_BAD_RESPONSE`` with what was wrong."""
    try:
        yield
    except MAPPING_ERRORS as exc:
        raise BadUpstreamResponse(
            source, f"unexpected {what}: {type(exc).__name__}: {exc}"
        ) from exc


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
