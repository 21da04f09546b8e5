"""A request's objects are freed by reference counting as soon as its answer is sent:
none of them is left in a reference cycle for the collector.

Under load a request outlives many collections of the youngest generation; whatever
of it sits in a cycle is promoted and waits for a collection of the oldest, which
walks the whole heap. graphql-core's executor made one such cycle per operation (its
own bound methods in ``async_helpers``), which held the whole request: at 64
concurrent Customer360s a worker kept 360,000 dead objects and spent a fifth of its
CPU collecting them (resolvers/graphql/execution_context.py). The gateway here runs in
this process, so its garbage is this process's.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from graphql.execution import Executor

from adapters.cache import Served
from legacy.examples import examples
from resolvers.graphql.context import MosaicContext
from resolvers.loading.loaders import Loaders
from tests.conftest import SEED, SIZE
from tests.gateway_client import run_reference

#: what one request makes and nothing outlives: finding one in a cycle means the
#: request was kept whole
REQUEST_KINDS = (MosaicContext, Loaders, Served, Executor)


@pytest.fixture
def cyclic_garbage() -> Iterator[list[Any]]:
    """Everything the collector finds unreachable from here on (kept, not freed)."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest.mark.parametrize("name", ["Customer360", "ProductListing", "StockCheck"])
def test_a_request_leaves_nothing_in_a_reference_cycle(
    each_executor_url: str, name: str, cyclic_garbage: list[Any]
) -> None:
    result = run_reference(each_executor_url, name, examples(SEED, SIZE)[name])
    assert "errors" not in result
    gc.collect()
    kept = [type(o).__qualname__ for o in cyclic_garbage if isinstance(o, REQUEST_KINDS)]
    assert kept == []
