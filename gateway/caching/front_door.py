"""The response cache's front door: a request whose very bytes, from the same caller,
were answered with a kept answer is answered again before GraphQL runs at all.

A kept answer (``gateway.caching.response_cache``) saves resolving a query again, but a
request that finds it still went through all of GraphQL on the way: the body decoded,
the document looked up, a context and its loaders made, a dozen extensions entered and
left, the result encoded. For the same bytes from the same caller all of that comes out
the same every time: the same document, variables and operation, so the same limits
passed, the same cache key. So once a request has been answered from a kept answer,
or its answer kept, its bytes are remembered with that answer's key, and the next
request with those bytes gets the kept body as it is, under the same rules as any hit:
only while every value under it is fresh and unchanged. When it no longer holds, the
request goes the usual way, which renews the answer once for all its askers.

What the key holds is what decides the answer: the caller (the whole principal, which
the auth gate in front found for this very request), the method, the query string, the
body, and the headers the answer depends on: the media type answered (``Accept``), the
body's ``Content-Type`` and ``X-Channel``. Everything in front of /graphql runs for a
hit as for any request: the request id, the log line and metrics, the rate limit, the
body limit, authentication. In debug mode a response lists its upstream calls, which
a hit would not: the door stays shut.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from gateway.caching.response_cache import Answer, ResponseCache
from gateway.http.graphql_http import content_type
from gateway.observability.requests import current_request
from gateway.security.auth import principal_from

#: the request headers, besides the caller's credentials, that a kept answer depends on
ANSWER_HEADERS = (b"accept", b"content-type", b"x-channel")


@dataclass(slots=True)
class Passage:
    """What GraphQL made of one request, for the door to remember: the kept answer it
    was given or that was kept from it, its key, and its operation's name."""

    key: Hashable | None = None
    answer: Answer | None = None
    operation: str = ""


_passage: ContextVar[Passage | None] = ContextVar("mosaic_front_door", default=None)


def note(key: Hashable, answer: Answer, operation: str) -> None:
    """The response cache answered this request with ``answer``, kept under ``key``, or
    kept its answer there (``gateway.caching.extensions.ResponseCaching``)."""
    passage = _passage.get()
    if passage is not None:
        passage.key, passage.answer, passage.operation = key, answer, operation


def request_key(request: Request, body: bytes) -> Hashable:
    """Who asks, and the bytes that decide the answer (a digest: a body may be large)."""
    scope = request.scope
    digest = hashlib.blake2b(body, digest_size=16)
    digest.update(b"\0" + scope["method"].encode() + b"\0" + scope["query_string"])
    for name, value in scope["headers"]:
        if name in ANSWER_HEADERS:
            digest.update(b"\0" + name + b":" + value)
    return principal_from(request), digest.digest()


async def kept(
    cache: ResponseCache, request: Request, media: str
) -> tuple[Hashable, Response | None]:
    """This request's key, and the kept answer for it when there is one that holds."""
    key = request_key(request, await request.body())  # starlette keeps it for GraphQL
    found = await cache.for_request(key, cache.clock())
    if found is None:
        return key, None
    answer, operation = found
    record = current_request.get()
    if record is not None:
        record.operation, record.outcome = operation, "ok"
        record.answered_from_cache = True
    return key, Response(answer.body, media_type=content_type(media))


@contextmanager
def passage() -> Iterator[Passage]:
    """GraphQL runs the request inside; what it made of it is noted in the passage."""
    noted = Passage()
    token = _passage.set(noted)
    try:
        yield noted
    finally:
        _passage.reset(token)


def remember(cache: ResponseCache, key: Hashable, noted: Passage, response: Response) -> None:
    """The next request with ``key`` comes in at the door, if this one's response is the
    very body of the kept answer GraphQL noted (and so what a hit sends)."""
    answer = noted.answer
    if (
        noted.key is not None
        and answer is not None
        and response.status_code == 200
        and getattr(response, "body", None) == answer.body  # a stream has no body
    ):
        cache.remember(key, noted.key, noted.operation)
