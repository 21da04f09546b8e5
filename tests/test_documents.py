"""The document cache (gateway/http/documents.py): what clients send again is parsed
once, and a flood of texts sent once each keeps no parsed trees in memory, so the
garbage collector's full passes stay short (the fuzz run's stalls of a second and more
were passes over 1,024 kept trees)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from graphql import DocumentNode

from gateway.http.documents import Documents
from gateway.security.limits import DOCUMENT_CACHE_CHARS, DOCUMENT_CACHE_ENTRIES

MAX_TOKENS = 15_000


@pytest.fixture
def documents() -> Iterator[Documents]:
    kept = Documents(DOCUMENT_CACHE_ENTRIES, DOCUMENT_CACHE_CHARS)
    yield kept
    kept.close()


def unique(n: int) -> str:
    """A query of the shape the fuzz run sends, unique by an alias."""
    return f'{{ a{n}: products(skus: ["S{n}"]) {{ sku name price {{ amount currency }} }} }}'


async def test_a_document_sent_again_is_kept_and_served_as_the_same_tree(
    documents: Documents,
) -> None:
    text = unique(1)
    first = await documents.parsed(text, MAX_TOKENS)
    assert not documents.kept(text)  # seen once: only its hash is remembered
    second = await documents.parsed(text, MAX_TOKENS)
    assert documents.kept(text)
    third = await documents.parsed(text, MAX_TOKENS)
    assert isinstance(first, DocumentNode)
    assert third is second  # from memory, not parsed again


async def test_texts_sent_once_each_keep_no_parsed_trees(documents: Documents) -> None:
    for n in range(200):  # warm up: whatever a first parse allocates for good
        await documents.parsed(unique(n), MAX_TOKENS)
    gc.collect()
    before = len(gc.get_objects())
    for n in range(200, 200 + DOCUMENT_CACHE_ENTRIES):
        await documents.parsed(unique(n), MAX_TOKENS)
    gc.collect()
    grown = len(gc.get_objects()) - before
    # each kept tree is some 60 tracked objects for these: kept, they would be ~60K
    assert grown < 1_000, grown
    assert not any(documents.kept(unique(n)) for n in range(200 + DOCUMENT_CACHE_ENTRIES))


async def test_the_memory_of_texts_seen_once_is_bounded(documents: Documents) -> None:
    first = unique(0)
    await documents.parsed(first, MAX_TOKENS)
    for n in range(1, 4 * DOCUMENT_CACHE_ENTRIES + 1):  # pushes the first one's hash out
        await documents.parsed(unique(n), MAX_TOKENS)
    await documents.parsed(first, MAX_TOKENS)
    assert not documents.kept(first)  # a first sighting again, as if never seen
