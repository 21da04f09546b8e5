"""What a field loads, declared on the field itself.

A field that reads more than its object carries (a product's price, its stock) states
its loads once, in its metadata (``strawberry.field(metadata=declare(...))``), and makes
them through that declaration; :mod:`resolvers.loading.prefetch` reads the same
declarations, from the schema the request runs on, to start a whole list's loads before
the list's objects answer. So a new field cannot load something prefetch does not know
of: ``tests/test_product_loads.py`` resolves every Product field and fails when one
reads anything it does not declare.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from strawberry.schema.base import BaseSchema
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.nodes import SelectedField

from adapters.transport.batching import unique
from resolvers.loading.dataloader import DataLoader
from resolvers.loading.loaders import Loaders
from resolvers.loading.reads import ALL, READS

#: where a field's metadata keeps its loads
METADATA_KEY = "mosaic.loads"

#: a load's key from the object's key and the channel asked
Key = Callable[[str, str], Hashable]
#: which of a field's loads its selection needs (by loader name), from the field as
#: selected under one or more objects
Needs = Callable[[Sequence[SelectedField]], frozenset[str]]


def by_key(key: str, channel: str) -> Hashable:
    return key


def by_key_and_channel(key: str, channel: str) -> Hashable:
    return (key, channel)


def whole(key: str, channel: str) -> Hashable:
    """A key-less read's one key (the store list): the same for every object."""
    return ALL


@dataclass(frozen=True, slots=True)
class Load:
    """One load a field makes: the loader (named like its fetcher) and its key."""

    loader: str
    key: Key = by_key

    def __post_init__(self) -> None:
        if self.loader not in READS:
            raise ValueError(f"no loader is called {self.loader!r}")

    def one(self, loaders: Loaders, key: str, channel: str) -> asyncio.Future[Any]:
        """The load for one object, as its field awaits it."""
        loader: DataLoader[Hashable, Any] = getattr(loaders, self.loader)
        return loader.load(self.key(key, channel))

    def one_if(
        self, needed: frozenset[str], loaders: Loaders, key: str, channel: str
    ) -> asyncio.Future[Any]:
        """:meth:`one` where the field's selection needs this load (``needed``: loader
        names), else a load already done with nothing: what the selection does not
        show is not asked of any source."""
        if self.loader in needed:
            return self.one(loaders, key, channel)
        unread: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        unread.set_result(None)
        return unread

    def many(self, loaders: Loaders, keys: Iterable[str], channel: str) -> asyncio.Future[Any]:
        """The loads for a list of objects, started together (prefetch)."""
        loader: DataLoader[Hashable, Any] = getattr(loaders, self.loader)
        return loader.load_many(unique(self.key(key, channel) for key in keys))


@dataclass(frozen=True, slots=True)
class Declared:
    """What a field may load, in the order it reads them, and where its selection
    decides which of them it needs, the rule that picks them."""

    loads: tuple[Load, ...]
    needs: Needs | None = None

    def needed(self, fields: Sequence[SelectedField]) -> tuple[Load, ...]:
        """The loads the field needs, as ``fields`` select it."""
        if self.needs is None:
            return self.loads
        names = self.needs(fields)
        return tuple(load for load in self.loads if load.loader in names)


def declare(declared: Declared) -> dict[str, Declared]:
    """A field's metadata saying what it may load."""
    return {METADATA_KEY: declared}


@lru_cache(maxsize=32)
def declared(schema: BaseSchema, type_name: str) -> Mapping[str, Declared]:
    """The loads the fields of the schema's type ``type_name`` declare, by the fields'
    GraphQL names; worked out once per schema (naming the fields anew for every list
    prefetched was some 3 % of a product page's CPU)."""
    definition = schema.get_type_by_name(type_name)
    assert isinstance(definition, StrawberryObjectDefinition), type_name
    names = schema.config.name_converter
    return {
        names.from_field(field): field.metadata[METADATA_KEY]
        for field in definition.fields
        if METADATA_KEY in field.metadata
    }
