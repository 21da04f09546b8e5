"""One HTTP exchange with a legacy system, whatever it speaks: every transport failure
becomes the same ``UpstreamError`` for REST and SOAP alike, and so does a reply that
cannot be mapped to records."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from adapters.errors import (
    BadUpstreamResponse,
    UpstreamAuthFailed,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.transport.error_bodies import ErrorReader, UpstreamSays

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

    def says(self, read_error: ErrorReader | None) -> UpstreamSays | None:
        """The source's own words in an error body, when ``read_error`` knows its shape."""
        if read_error is None or self.is_html:
            return None
        try:
            return read_error(orjson.loads(self.payload))
        except orjson.JSONDecodeError:
            return None

    def describe(self, read_error: ErrorReader | None) -> tuple[str, dict[str, str]]:
        """``HTTP <status>: <the source's words>``, and what else it said (its category,
        code, correlation id) as extensions; an excerpt of the body when it has no words
        we know."""
        said = self.says(read_error)
        if said is None:
            return f"HTTP {self.status}: {self.excerpt()}", {}
        return f"HTTP {self.status}: {said.message}", said.extensions


async def exchange(
    source: str,
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    timeout_s: float,
    *,
    read_error: ErrorReader | None = None,
    now: Callable[[], float] = time.time,
    **request: Any,
) -> Reply:
    """Send one request; a timeout, a refused or dropped connection, an unreadable
    answer, refused credentials (401, 403) and a 429 raise, with what the source said
    (``read_error`` reads its error bodies); any other status is the caller's to read.
    ``now`` is the wall clock an HTTP-date ``Retry-After`` is measured against when the
    answer has no ``Date`` of its own."""
    try:
        async with session.request(
            method, url, timeout=aiohttp.ClientTimeout(total=timeout_s), **request
        ) as response:
            payload = await response.read()
            status = response.status
            content_type = response.headers.get("Content-Type", "")
            retry_after = response.headers.get("Retry-After")
            sent_at = response.headers.get("Date")
    except TimeoutError as exc:
        raise UpstreamTimeout(source, f"no answer within {timeout_s:.2f}s") from exc
    except aiohttp.ClientConnectionError as exc:
        raise UpstreamUnavailable(source, f"cannot reach it ({type(exc).__name__})") from exc
    except aiohttp.ClientError as exc:
        raise BadUpstreamResponse(source, f"unreadable HTTP answer ({type(exc).__name__})") from exc
    reply = Reply(status, content_type, payload)
    if status in (401, 403):
        said = reply.says(read_error)
        words = f" ({said.message})" if said else ""
        raise UpstreamAuthFailed(
            source,
            f"HTTP {status}: the gateway's credentials were refused{words}",
            **(said.extensions if said else {}),
        )
    if status == 429:
        message, extensions = reply.describe(read_error)
        wait = retry_after_seconds(retry_after, sent_at, now)
        raise UpstreamRateLimited(
            source, f"rate limit reached; {message}", retryAfter=wait, **extensions
        )
    return reply


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


def retry_after_seconds(
    value: str | None, sent_at: str | None, now: Callable[[], float] = time.time
) -> float | None:
    """``Retry-After`` in seconds from now: it is a number of seconds, or an HTTP-date
    (RFC 9110), measured against the answer's own ``Date`` (so the source's clock and
    ours need not agree), else against ``now``. None when absent or unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    at = _http_date(value)
    if at is None:
        return None
    reference = _http_date(sent_at) if sent_at else None
    return max(0.0, at - (now() if reference is None else reference))


def _http_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
