"""One pooled JSON-over-HTTP client per REST source, mapping every failure to our errors.

All three REST adapters (CRM, POS, WMS) speak through this, so a refused connection, a
timeout, a 429, a 5xx, an HTML error page or a body that is not JSON becomes the same
``UpstreamError`` subclass whichever system it came from, carrying what the source said
(its error body read by the source's :mod:`adapters.transport.error_bodies` reader).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import msgspec
import orjson

from adapters.checks import Finding
from adapters.config import SourceConfig
from adapters.errors import (
    BadUpstreamResponse,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamFault,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.transport.error_bodies import READERS, ErrorReader
from adapters.transport.exchange import exchange, mapping
from adapters.transport.resilience import Clock, SourceGuard

T = TypeVar("T")

#: A path segment holding an id (it has a digit, and is no API version like ``v3``).
_ID_SEGMENT = re.compile(r"(?<=/)(?!v\d+(?:/|$))[^/]*\d[^/]*")


def auth_headers(config: SourceConfig) -> dict[str, str]:
    """What every request to a REST source carries: JSON wanted, and its bearer token
    when one is configured."""
    headers = {"Accept": "application/json"}
    if config.token is not None:
        headers["Authorization"] = f"Bearer {config.token.get_secret_value()}"
    return headers


class JsonClient:
    def __init__(
        self,
        source: str,
        session: aiohttp.ClientSession,
        config: SourceConfig,
        read_error: ErrorReader | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.source = source
        self.session = session
        self.config = config
        self.base_url = config.url.rstrip("/")
        self.headers = auth_headers(config)
        # the source's own error bodies (HubSpot's, Square's, the WMS's) by its name
        self.read_error = read_error or READERS.get(source)
        self.guard = SourceGuard(source, config.timeout_s, config.guard, clock=clock)

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(
        self,
        path: str,
        body: Any,
        *,
        idempotent: bool = True,
        decoder: msgspec.json.Decoder[Any] | None = None,
    ) -> Any:
        """POST is how these APIs *query* (search, batch-read), so it is retried by
        default; a write must say ``idempotent=False``. ``decoder``: the reply decoded
        straight into its types (a large reply of which a few fields are read), not
        into dicts."""
        return await self.request("POST", path, body=body, idempotent=idempotent, decoder=decoder)

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
        decoder: msgspec.json.Decoder[Any] | None = None,
    ) -> Any:
        """One guarded call (deadline, timeout, concurrency, retries, breaker)."""
        return await self.guard.call(
            lambda timeout: self._once(method, path, body, params, timeout, decoder),
            idempotent=method == "GET" if idempotent is None else idempotent,
            operation=operation_name(method, path),
        )

    async def _once(
        self,
        method: str,
        path: str,
        body: Any,
        params: dict[str, str] | None,
        timeout_s: float,
        decoder: msgspec.json.Decoder[Any] | None,
    ) -> Any:
        data = None if body is None else orjson.dumps(body)
        headers = (
            self.headers if data is None else {**self.headers, "Content-Type": "application/json"}
        )
        reply = await exchange(
            self.source,
            self.session,
            method,
            self.base_url + path,
            timeout_s,
            read_error=self.read_error,
            data=data,
            params=params,
            headers=headers,
        )
        if reply.status >= 500 and reply.is_html:
            raise BadUpstreamResponse(
                self.source, f"HTTP {reply.status} with an HTML page, not JSON"
            )
        if reply.status >= 400:
            message, extensions = reply.describe(self.read_error)
            raise UpstreamFault(self.source, message, status=reply.status, **extensions)
        if reply.status == 204 or not reply.payload:
            return None
        try:
            return orjson.loads(reply.payload) if decoder is None else decoder.decode(reply.payload)
        except msgspec.ValidationError as exc:  # JSON, but not of the types asked for
            raise BadUpstreamResponse(self.source, f"unexpected reply: {exc}") from exc
        except (orjson.JSONDecodeError, msgspec.DecodeError) as exc:
            raise BadUpstreamResponse(self.source, f"invalid JSON: {reply.excerpt()}") from exc

    def parse(self, what: str, build: Callable[[], T]) -> T:
        """Run a mapping from the wire to records; a missing or mistyped field is the
        source's fault, reported as ``SOURCE_BAD_RESPONSE`` with what was wrong."""
        with mapping(self.source, what):
            return build()


def operation_name(method: str, path: str) -> str:
    """``POST /v2/orders/search``; ids in the path become ``{id}``, so the names stay a
    small set (they label metrics)."""
    return f"{method} {_ID_SEGMENT.sub('{id}', path)}"


@dataclass(frozen=True, slots=True)
class Probe:
    """One call ``mosaic sources check`` made: what it found, and the answer if any."""

    finding: Finding
    answer: Any = None


async def probe(
    source: str,
    what: str,
    call: Callable[..., Awaitable[Any]],
    *args: Any,
    absent_ok: bool = False,
) -> Probe:
    """Make one call to see whether the source offers ``what``. Refused credentials
    are a finding about the credentials, a source that cannot be reached or does not
    answer one about the connection (checking further would only repeat it). With
    ``absent_ok`` a 404 in the source's own words (it looked for the thing asked, and
    it is not there) proves the endpoint exists, where a 404 without them (no such
    route) does not."""
    try:
        answer = await call(*args)
    except UpstreamAuthFailed as exc:
        return Probe(Finding(source, "credentials", False, _detail(exc)))
    except (UpstreamUnavailable, UpstreamTimeout) as exc:
        return Probe(Finding(source, "connection", False, _detail(exc)))
    except UpstreamFault as exc:
        own_words = {"upstreamCategory", "upstreamCode"} & set(exc.extensions)
        if absent_ok and exc.extensions.get("status") == 404 and own_words:
            return Probe(
                Finding(source, what, True, "offered (probed with an id that is not there)")
            )
        return Probe(Finding(source, what, False, _detail(exc)))
    except UpstreamError as exc:
        return Probe(Finding(source, what, False, _detail(exc)))
    return Probe(Finding(source, what, True, "offered"), answer)


#: findings after which a check stops: every other call would meet the same
STOPPERS = frozenset({"credentials", "connection"})


def _detail(error: UpstreamError) -> str:
    return error.message.removeprefix(f"{error.source}: ")
