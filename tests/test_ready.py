"""Fields that answer now when their loads are done (resolvers/ready.py), and the
parents that make sure they are: below a prefetching parent nothing is awaited, so
the hundreds of fields of an order history or a stock check complete as plain values.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import AsyncIterator
from inspect import isawaitable
from typing import Any, ClassVar

import pytest

from adapters.errors import UpstreamUnavailable
from gateway.operations import reference_operations
from gateway.runtime import Runtime
from legacy.examples import examples
from resolvers.context import MosaicContext
from resolvers.execution import PlainFieldsExecution
from resolvers.loaders import Loaders
from resolvers.ready import when_loaded
from resolvers.schema import build_schema
from tests.conftest import SEED, SIZE, gateway_settings


def done(value: Any) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


async def test_answers_now_when_every_load_is_done() -> None:
    assert when_loaded([done(2), done(3)], operator.add) == 5


async def test_answers_later_when_a_load_is_still_on_its_way() -> None:
    pending: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    answer = when_loaded([done(2), pending], operator.add)
    assert isawaitable(answer)
    pending.set_result(5)
    assert await answer == 7


async def test_a_failed_load_is_the_fields_error_when_not_partial() -> None:
    failed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    failed.set_exception(UpstreamUnavailable("erp", "connection refused"))
    with pytest.raises(UpstreamUnavailable):
        when_loaded([done(2), failed], operator.add)


class AwaitedPaths(PlainFieldsExecution):
    """Notes the path of every field whose resolver gave an awaitable."""

    paths: ClassVar[list[list[str | int]]] = []

    async def complete_awaitable_value(self, *args: Any) -> Any:
        path = args[3]
        AwaitedPaths.paths.append(path.as_list())
        return await super().complete_awaitable_value(*args)


@pytest.fixture
async def runtime(systems: dict[str, str]) -> AsyncIterator[Runtime]:
    started = Runtime.start(gateway_settings(systems, cache=False))
    yield started
    await started.close()


async def awaited_paths(
    runtime: Runtime, name: str, document: str | None = None, variables: Any = None
) -> list[list[str | int]]:
    AwaitedPaths.paths = []
    schema = build_schema(execution_context_class=AwaitedPaths)
    result = await schema.execute(
        document or reference_operations()[name],
        variable_values=variables or examples(SEED, SIZE)[name],
        context_value=MosaicContext(loaders=Loaders(runtime.fetchers)),
    )
    assert not result.errors
    return AwaitedPaths.paths


async def test_nothing_below_customer360s_orders_is_awaited(runtime: Runtime) -> None:
    paths = await awaited_paths(runtime, "Customer360")
    assert ["customer", "orders"] in paths
    assert [p for p in paths if p[:2] == ["customer", "orders"] and len(p) > 2] == []


@pytest.mark.parametrize("name", ["StockCheck", "ProductListing"])
async def test_nothing_below_a_product_list_is_awaited(runtime: Runtime, name: str) -> None:
    paths = await awaited_paths(runtime, name)
    assert paths == [["products"]]


@pytest.mark.parametrize(
    ("declared", "price"),
    [("", "price(channel: STORE)"), (", $channel: Channel!", "price(channel: $channel)")],
)
async def test_a_selection_through_fragments_and_variables_is_prefetched_too(
    runtime: Runtime, declared: str, price: str
) -> None:
    document = (
        f"query($skus: [ID!]!{declared}) {{ products(skus: $skus) {{ ...card }} }} "
        f"fragment card on Product {{ sku ... on Product {{ {price} {{ amount }} "
        "promotions { code } } }"
    )
    skus = examples(SEED, SIZE)["ProductListing"]["skus"]
    paths = await awaited_paths(runtime, "", document, {"skus": skus, "channel": "APP"})
    assert paths == [["products"]]  # each product's price was the one prefetched
