"""Starting a list's loads before its parent has answered.

``products(skus)`` must read the item cards first (an unknown SKU is null), and only
then would graphql-core resolve each product's price, promotions and stock: a second
round, one more ERP latency on the critical path. But the SKUs are known up front, so
the root resolver looks at what the query selects below it and starts those loads at
once; the field resolvers later find them in the request's loaders, already on their
way. Same calls, one round fewer. The root then waits for them too (they are in the
same round, so this costs no time): the fields below find their loads done and answer
as plain values (:mod:`resolvers.loading.ready`) instead of a few hundred awaitables.

The selection is read through strawberry's public ``Info.selected_fields``, so this
works the same under either executor (``MOSAIC_EXECUTOR``) and touches no internals.
It converts the selection below the field, arguments included, each time a list is
prefetched (once per request for a listing, once per customer for order histories):
about 40 microseconds for ProductListing's or Customer360's selection, a fifth of a
percent of such a request's CPU.

What each product field loads is not restated here: the fields declare it
(:mod:`resolvers.loading.field_loads`, in ``resolvers/graphql/types/product.py``), and
this module starts what the selected fields declare, as the request's schema holds them,
for every SKU of the list at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

from graphql.pyutils import Path
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from resolvers.graphql.context import Info
from resolvers.loading.field_loads import Declared, declared
from resolvers.loading.loaders import Loaders

#: the reads with no key but the one ``ALL`` (the whole store and warehouse lists)
KEYLESS = frozenset({"stores", "warehouses"})
#: Location's fields a stock level answers from its count alone: ``store:<location>``
#: and ``warehouse:<site>`` are the count's own, and so is the kind
COUNT_OWN_FIELDS = frozenset({"id", "kind", "__typename"})


def _fields(selections: Sequence[Selection]) -> Iterator[SelectedField]:
    """The fields selected, through fragments and inline fragments."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)


def _start(future: asyncio.Future[Any], started: list[asyncio.Future[Any]]) -> None:
    # A prefetched load nobody ends up awaiting (its product turned out unknown) must
    # not log "exception never retrieved" if its source failed.
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    started.append(future)


def _below(info: Info, path: Sequence[str]) -> list[SelectedField]:
    """The fields selected under ``path`` (field names) below the current field."""
    fields = list(_fields(info.selected_fields))
    for name in path:
        fields = [f for parent in fields for f in _fields(parent.selections) if f.name == name]
    return fields


def selected(info: Info, path: Sequence[str]) -> bool:
    """Whether the selection below the current field reaches ``path`` (field names)."""
    return bool(_below(info, path))


def product_reads(fields: Sequence[SelectedField]) -> frozenset[str]:
    """The loaders ``Product.stock`` or ``Product.availability`` (``fields``: one of them,
    under one or more nodes) read besides the item card: only what the selection below
    asks for. Stock: the counts; the directory of stores and warehouses only for a
    location's details (its name, address, hours...) or to place shipments (a
    destination is a store or a warehouse: the directory says which); the shipments
    only for ``inTransit``. Availability: the warehouses' stock only for ``online``, the
    stores' stock and list (which are open, where) only for ``nearest``."""
    below = [f for field in fields for f in _fields(field.selections)]
    names = {f.name for f in below}
    if any(field.name == "availability" for field in fields):
        online = {"warehouse_stock"} if "online" in names else set()
        return frozenset(online | ({"store_stock", "stores"} if "nearest" in names else set()))
    details = {d.name for f in below if f.name == "location" for d in _fields(f.selections)}
    reads = {"warehouse_stock", "store_stock"}
    if "inTransit" in names:
        reads |= {"inbound", *KEYLESS}
    if details - COUNT_OWN_FIELDS:
        reads |= KEYLESS
    return frozenset(reads)


def field_reads(info: Info, declaration: Declared) -> frozenset[str]:
    """The loaders the field being resolved needs, by its declaration's rule (such as
    :func:`product_reads`), worked out once per request and place in the answer: every
    product of a list has the same selection below it, and converting it costs some 10
    microseconds a product."""

    def needed() -> frozenset[str]:
        fields = list(_fields(info.selected_fields))
        return frozenset(load.loader for load in declaration.needed(fields))

    return info.context.loaders.planned(_place(info.path), needed)


def _place(path: Path | None) -> tuple[tuple[str, str | None], ...]:
    """A field's place in the answer without list indices: the response keys and the
    type of the object each was asked of. Fields at one place have one selection (the
    types tell apart the branches of an abstract type, which may select differently)."""
    place: list[tuple[str, str | None]] = []
    while path is not None:
        if isinstance(path.key, str):
            place.append((path.key, path.typename))
        path = path.prev
    return tuple(place)


def prefetch_products(
    info: Info, skus: Sequence[str], under: Sequence[str] = ()
) -> list[asyncio.Future[Any]]:
    """Start the loads the selection below a product list will make: the products'
    item cards and whatever their selected fields read. ``under`` is the path from the
    current field to the products (``("lines", "product")`` from a list of orders).
    Gives the loads started, for :func:`arrived`; none when nothing below is selected."""
    loaders: Loaders = info.context.loaders
    products = _below(info, under)
    started: list[asyncio.Future[Any]] = []
    if not products:
        return started
    _start(loaders.item.load_many(skus), started)
    product_loads = declared(info.schema, "Product")
    for field in (f for product in products for f in _fields(product.selections)):
        declaration = product_loads.get(field.name)
        if declaration is not None:
            channel = field.arguments.get("channel")
            asked = getattr(channel, "value", channel) or info.context.channel
            for load in declaration.needed([field]):
                _start(load.many(loaders, skus, asked), started)
    return started


async def arrived(loads: Sequence[asyncio.Future[Any]]) -> None:
    """Wait until the prefetched loads have answered; one that failed is not raised
    here: the fields that read it report it on their own path."""
    for load in loads:
        # one wait per batch, not per key: a batch's futures are done together
        if not load.done():
            await asyncio.wait((load,))
