"""Persisted operations: automatic persisted queries (APQ), and trusted documents.

**APQ** (Apollo's protocol, which Apollo Client, Relay setups and most routers speak):
a client sends ``extensions.persistedQuery = {version: 1, sha256Hash}`` without the
document; if the gateway knows the hash it runs the document it stored, else it answers
``PersistedQueryNotFound`` (code ``PERSISTED_QUERY_NOT_FOUND``, status 200 as Apollo
Server does, so caches and clients treat it as an answer) and the client sends the hash
with the document once, which the gateway checks and stores. Repeat requests then carry
a hash instead of kilobytes, and fit a cacheable GET. Stored documents live in this
process, or in Redis so that a document registered through one replica runs by hash on
any other.

**Trusted documents** (for mobile apps in production): only the operations in a folder
of ``.graphql`` files run, each known by the sha256 of its file's text. A client sends
the hash (or the identical text); any other document is refused with
``PERSISTED_QUERY_NOT_IN_LIST`` before it is parsed, and nothing is registered.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from strawberry.http import GraphQLRequestData

from adapters.errors import (
    BadPersistedQuery,
    PersistedQueryNotFound,
    PersistedQueryNotInList,
    PersistedQueryNotSupported,
)

logger = logging.getLogger("mosaic.persisted")

APQ_VERSION = 1
SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


class DocumentStore(Protocol):
    async def get(self, digest: str) -> str | None: ...

    async def put(self, digest: str, document: str) -> None: ...


class MemoryDocuments:
    """This process's registered documents, the least recently used dropped first."""

    def __init__(self, max_documents: int = 10_000) -> None:
        self.max_documents = max_documents
        self._documents: OrderedDict[str, str] = OrderedDict()

    async def get(self, digest: str) -> str | None:
        document = self._documents.get(digest)
        if document is not None:
            self._documents.move_to_end(digest)
        return document

    async def put(self, digest: str, document: str) -> None:
        self._documents[digest] = document
        self._documents.move_to_end(digest)
        while len(self._documents) > self.max_documents:
            self._documents.popitem(last=False)


class RedisDocuments:
    """Registered documents shared by every replica. A document is only ever stored
    under its own hash, so any replica may trust what any other stored. When Redis
    fails, a lookup misses: the client sends the document again, and is served."""

    def __init__(self, redis: Redis, keep_s: int = 7 * 86_400, prefix: str = "mosaic:apq:"):
        self._redis = redis
        self._keep_s = keep_s
        self._prefix = prefix

    async def get(self, digest: str) -> str | None:
        try:
            raw = await self._redis.getex(self._prefix + digest, ex=self._keep_s)
        except RedisError as error:
            logger.warning("persisted query lookup in Redis failed (%s)", error)
            return None
        return raw.decode() if isinstance(raw, bytes) else raw

    async def put(self, digest: str, document: str) -> None:
        try:
            await self._redis.set(self._prefix + digest, document.encode(), ex=self._keep_s)
        except RedisError as error:
            logger.warning("persisted query not stored in Redis (%s)", error)


def trusted_documents(folder: Path) -> dict[str, str]:
    """sha256 of each ``.graphql`` file's text -> the text, for every file in ``folder``
    and below."""
    documents = {sha256(p.read_text()): p.read_text() for p in sorted(folder.rglob("*.graphql"))}
    if not documents:
        raise ValueError(f"no .graphql documents in {folder}: nothing could run")
    return documents


class PersistedQueries:
    """Turns a request that names a document by hash into one that carries it, or
    refuses it. ``store`` None switches APQ off; ``trusted`` set allows only those
    documents."""

    def __init__(
        self, store: DocumentStore | None, trusted: Mapping[str, str] | None = None
    ) -> None:
        self._store = store
        self._trusted = trusted

    async def resolve(self, request: GraphQLRequestData) -> None:
        digest = _asked_hash(request.extensions)
        if self._trusted is not None:
            request.query = self._trusted_document(digest, request.query)
        elif digest is not None:
            request.query = await self._automatic(digest, request.query)

    def _trusted_document(self, digest: str | None, query: str | None) -> str | None:
        assert self._trusted is not None
        if digest is None and query is None:
            return None  # nothing to run: strawberry says so
        digest = digest or sha256(query or "")
        document = self._trusted.get(digest)
        if document is None or (query is not None and query != document):
            raise PersistedQueryNotInList(
                "this gateway runs trusted documents only, and this is not one of them"
            )
        return document

    async def _automatic(self, digest: str, query: str | None) -> str:
        if self._store is None:
            raise PersistedQueryNotSupported()
        if query is None:
            document = await self._store.get(digest)
            if document is None:
                raise PersistedQueryNotFound()
            return document
        if sha256(query) != digest:
            raise BadPersistedQuery("provided sha does not match query")
        await self._store.put(digest, query)
        return query


def _asked_hash(extensions: dict[str, Any] | None) -> str | None:
    asked = (extensions or {}).get("persistedQuery")
    if asked is None:
        return None
    if not isinstance(asked, dict) or asked.get("version") != APQ_VERSION:
        raise BadPersistedQuery(f"persistedQuery must be {{version: {APQ_VERSION}, sha256Hash}}")
    digest = asked.get("sha256Hash")
    if not isinstance(digest, str) or not SHA256.fullmatch(digest):
        raise BadPersistedQuery("sha256Hash must be 64 lowercase hex digits")
    return digest
