"""A request's objects are freed by reference counting as soon as its answer is sent:
none of them is left in a reference cycle for the collector, whether its sources
answered or failed; nor is a refused request's body.

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
from types import FrameType, TracebackType
from typing import Any

import pytest
from graphql.execution import Executor

from adapters.cache import Served
from legacy.examples import examples
from resolvers.graphql.context import MosaicContext
from resolvers.loading.loaders import Loaders
from tests.conftest import SEED, SIZE, _gateway
from tests.gateway_client import run_reference
from tests.simulators import reset_knobs, set_knobs
from tests.test_error_paths import DEEP_BODY, DEEP_VARIABLES, INVALID_UTF8, send

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


@pytest.fixture(params=[False, True], ids=["cold", "cached"])
def own_gateway_url(request: pytest.FixtureRequest, systems: dict[str, str]) -> Iterator[str]:
    """A gateway of its own, without and with the cross-request cache: the failures
    below open its ERP breaker, which the session's gateway must not inherit."""
    yield from _gateway(systems, cache=request.param)


@pytest.mark.parametrize("fault", ["error500", "garbage", "soap_fault"])
@pytest.mark.parametrize("name", ["Customer360", "ProductListing"])
def test_a_request_a_source_failed_leaves_nothing_in_a_reference_cycle(
    own_gateway_url: str,
    systems: dict[str, str],
    name: str,
    fault: str,
    cyclic_garbage: list[Any],
) -> None:
    """The ERP fails (each attempt retried, then given up): the answer says so, and
    neither the request nor any failure's trace is left in a cycle. A failure raised by
    every field that reads it, kept by the retry loop, a task or the cache's settling,
    held the frames it passed through, and those the request (ProductListing: 10,000
    objects)."""
    set_knobs(systems["erp"], fault=fault)
    try:
        result = run_reference(own_gateway_url, name, examples(SEED, SIZE)[name])
    finally:
        reset_knobs(systems["erp"])
    assert {e["extensions"]["source"] for e in result["errors"]} == {"erp"}
    gc.collect()
    kinds = (*REQUEST_KINDS, BaseException, TracebackType)
    kept = [type(o).__qualname__ for o in cyclic_garbage if isinstance(o, kinds)]
    assert kept == []


@pytest.mark.parametrize(
    "body",
    [DEEP_BODY, DEEP_VARIABLES, INVALID_UTF8, b"[1, 2]", b"{"],
    ids=["json-100000-deep", "variables-40-deep", "invalid-utf-8", "not-an-object", "not-json"],
)
def test_a_refused_body_leaves_nothing_in_a_reference_cycle(
    gateway_url: str, body: bytes, cyclic_garbage: list[Any]
) -> None:
    """An exception kept in a local of the frame that raised it is a cycle (exception,
    traceback, frame) holding that frame's body: 500 bodies nested 100,000 deep kept
    290 MB until the collector's next scan, which with the gateway's threshold
    (gateway/process/tuning.py) 500 such small requests never reached."""
    answer = send(gateway_url, "POST", "/graphql", body)
    assert answer.status == 400
    gc.collect()
    kept = [
        type(o).__qualname__
        for o in cyclic_garbage
        if isinstance(o, BaseException | FrameType | TracebackType)
    ]
    assert kept == []
