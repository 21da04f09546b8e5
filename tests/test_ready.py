"""Fields that answer now when their loads are done (resolvers/loading/ready.py), and
the parents that make sure they are: below a prefetching parent nothing is awaited, so
the hundreds of fields of an order history or a stock check complete as plain values,
under either executor (prefetching is the resolvers' own,
resolvers/loading/prefetch.py).
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import AsyncIterator
from inspect import isawaitable
from typing import Any

import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from adapters.errors import UpstreamUnavailable
from gateway.operations import reference_operations
from gateway.process.runtime import Runtime
from legacy.examples import examples
from resolvers.engine.execution import PlainFieldsExecution
from resolvers.graphql.context import MosaicContext
from resolvers.graphql.schema import ExecutorName, build_schema
from resolvers.graphql.types.customer import Customer
from resolvers.loading.loaders import Loaders
from resolvers.loading.ready import when_loaded
from tests.conftest import EXECUTORS, SEED, SIZE, gateway_settings


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


#: the path of every field whose resolver gave an awaitable, in the last execution
AWAITED: list[list[str | int]] = []


def noting(
    base: type[StrawberryGraphQLCoreExecutionContext],
) -> type[StrawberryGraphQLCoreExecutionContext]:
    """``base``, noting in :data:`AWAITED` every field whose resolver gave an awaitable."""

    class Noting(base):  # type: ignore[valid-type,misc]
        async def complete_awaitable_value(self, *args: Any) -> Any:
            AWAITED.append(args[3].as_list())
            return await super().complete_awaitable_value(*args)

    return Noting


#: prefetching is the resolvers' own: it holds under either executor
NOTING: dict[ExecutorName, type[StrawberryGraphQLCoreExecutionContext]] = {
    "fast": noting(PlainFieldsExecution),
    "standard": noting(StrawberryGraphQLCoreExecutionContext),
}


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> ExecutorName:
    name: ExecutorName = request.param
    return name


@pytest.fixture
async def runtime(systems: dict[str, str]) -> AsyncIterator[Runtime]:
    started = Runtime.start(gateway_settings(systems, cache=False))
    yield started
    await started.close()


async def awaited_paths(
    runtime: Runtime,
    executor: ExecutorName,
    name: str,
    document: str | None = None,
    variables: Any = None,
) -> list[list[str | int]]:
    AWAITED.clear()
    schema = build_schema(executor=executor, execution_context_class=NOTING[executor])
    result = await schema.execute(
        document or reference_operations()[name],
        variable_values=variables or examples(SEED, SIZE)[name],
        context_value=MosaicContext(loaders=Loaders(runtime.fetchers), customers=Customer),
    )
    assert not result.errors
    return list(AWAITED)


async def test_nothing_below_customer360s_orders_is_awaited(
    runtime: Runtime, executor: ExecutorName
) -> None:
    paths = await awaited_paths(runtime, executor, "Customer360")
    assert ["customer", "orders"] in paths
    assert [p for p in paths if p[:2] == ["customer", "orders"] and len(p) > 2] == []


@pytest.mark.parametrize("name", ["StockCheck", "ProductListing"])
async def test_nothing_below_a_product_list_is_awaited(
    runtime: Runtime, executor: ExecutorName, name: str
) -> None:
    paths = await awaited_paths(runtime, executor, name)
    assert paths == [["products"]]


@pytest.mark.parametrize(
    ("declared", "price"),
    [("", "price(channel: STORE)"), (", $channel: Channel!", "price(channel: $channel)")],
)
async def test_a_selection_through_fragments_and_variables_is_prefetched_too(
    runtime: Runtime, executor: ExecutorName, declared: str, price: str
) -> None:
    document = (
        f"query($skus: [ID!]!{declared}) {{ products(skus: $skus) {{ ...card }} }} "
        f"fragment card on Product {{ sku ... on Product {{ {price} {{ amount }} "
        "promotions { code } } }"
    )
    skus = examples(SEED, SIZE)["ProductListing"]["skus"]
    variables = {"skus": skus, "channel": "APP"}
    paths = await awaited_paths(runtime, executor, "", document, variables)
    assert paths == [["products"]]  # each product's price was the one prefetched
