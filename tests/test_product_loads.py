"""Each Product field declares what it may load (resolvers/loading/field_loads.py), and
prefetch starts what the selected fields declare (of stock and availability, what their
selection needs): a field that loads something it does not declare fails here, so a
new field cannot silently miss prefetch (and cost a list one more round)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from adapters.cache import Served
from gateway.process.runtime import Runtime
from legacy.world import World
from resolvers.graphql.context import MosaicContext
from resolvers.graphql.schema import build_schema
from resolvers.graphql.types.customer import Customer
from resolvers.loading.fetchers import Fetchers, Read
from resolvers.loading.field_loads import Load, declared
from resolvers.loading.loaders import Loaders
from resolvers.loading.reads import Fetch
from tests.conftest import gateway_settings

FIELDS = """{ __type(name: "Product") { fields { name type { ...named } } } }
fragment named on __Type { kind ofType { kind ofType { kind ofType { kind } } } }"""
#: a product's fields asked by federation's entity lookup, which starts no prefetch:
#: what is read is what the field itself loads
ENTITY = "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Product { %s } } }"
LISTED = "query($skus: [ID!]!) { products(skus: $skus) { %s } }"
#: what each Product field declares it loads, by its GraphQL name
FIELD_LOADS = declared(build_schema(), "Product")


@pytest.fixture(scope="module")
async def runtime(systems: dict[str, str]) -> AsyncIterator[Runtime]:
    started = Runtime.start(gateway_settings(systems, cache=False))
    yield started
    await started.close()


class Recorded:
    """The reads a request's loaders make, by fetcher name, with the keys of each."""

    def __init__(self, runtime: Runtime) -> None:
        self.reads: list[tuple[str, list[Any]]] = []
        self.fetchers = Fetchers.of(runtime.sources, self._recording)

    def _recording(self, name: str, source: str, fetch: Fetch) -> Read:
        async def read(keys: Sequence[Any], served: Served) -> Any:
            self.reads.append((name, list(keys)))
            return await fetch(keys)

        return read

    async def run(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        self.reads.clear()
        context = MosaicContext(loaders=Loaders(self.fetchers), customers=Customer)
        result = await build_schema().execute(document, variables, context_value=context)
        assert not result.errors, result.errors
        assert result.data is not None
        return result.data


def selection(field: dict[str, Any]) -> str:
    """The field as asked: an object's gets ``__typename`` below it."""
    kind = field["type"]
    while kind["kind"] in ("NON_NULL", "LIST"):
        kind = kind["ofType"]
    return field["name"] + (" { __typename }" if kind["kind"] in ("OBJECT", "INTERFACE") else "")


async def test_no_product_field_reads_anything_but_the_item_card_and_what_it_declares(
    runtime: Runtime, world: World
) -> None:
    recorded = Recorded(runtime)
    fields = (await recorded.run(FIELDS, {}))["__type"]["fields"]
    sku = world.items[7].no
    undeclared = {}
    for field in fields:  # the representations anew each time: strawberry consumes them
        reps = [{"__typename": "Product", "sku": sku}]
        await recorded.run(ENTITY % selection(field), {"reps": reps})
        read = {name for name, _ in recorded.reads} - {"item"}
        declaration = FIELD_LOADS.get(field["name"])
        declared = {load.loader for load in declaration.loads} if declaration else set()
        if not read <= declared:
            undeclared[field["name"]] = sorted(read - declared)
    assert undeclared == {}
    assert {f["name"] for f in fields} >= set(FIELD_LOADS)  # no declaration of a lost field


async def test_a_list_reads_what_its_selected_fields_declare_once_for_all_its_products(
    runtime: Runtime, world: World
) -> None:
    recorded = Recorded(runtime)
    skus = [item.no for item in world.items[20:23]]
    stock = "stock { onHand inTransit { quantity } location { name } }"  # all it may read
    await recorded.run(LISTED % f"sku price {{ amount }} {stock}", {"skus": skus})
    declared = [load.loader for name in ("price", "stock") for load in FIELD_LOADS[name].loads]
    assert Counter(name for name, _ in recorded.reads) == Counter(
        dict.fromkeys(["item", *declared], 1)
    )
    keys = dict(recorded.reads)
    assert keys["price"] == [(sku, "WEB") for sku in skus]
    assert keys["warehouse_stock"] == skus


def test_a_declaration_names_a_read_that_exists() -> None:
    with pytest.raises(ValueError, match="no loader is called 'prices'"):
        Load("prices")
