"""A query whose client has gone is stopped: no further call goes to any system, the
calls already sent finish without counting against their source, and the access line
says 499 ``client_gone``. A mutation is carried through whatever its client does
(gateway/http/client_gone.py)."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.types import Message

from gateway.http.client_gone import unless_gone
from gateway.operations import reference_operations
from legacy.examples import click_and_collect, examples
from legacy.world import World
from tests.conftest import SEED, SIZE, _gateway
from tests.fresh import erp_orders, fresh_env
from tests.gateway_client import metric, run_reference, scrape, total
from tests.simulators import call_count, clear_calls, reset_knobs, set_knobs
from tests.test_observability import log_lines
from tests.timing import poll_until

#: Customer360's ERP rounds: the customer with its orders and invoices, then the
#: products and prices of their lines
ORDERS_ROUND = {
    "Customer:ReadMultiple",
    "SalesOrder:ReadMultiple",
    "PostedSalesInvoice:ReadMultiple",
}


@pytest.fixture(scope="module")
def own_gateway_url(systems: dict[str, str]) -> Iterator[str]:
    """A gateway of its own, without the cross-request cache: its ERP guard's state is
    this module's to read."""
    yield from _gateway(systems, cache=False)


@contextmanager
def client(url: str, name: str, variables: dict[str, Any], request_id: str) -> Iterator[None]:
    """The reference operation ``name`` sent as ``request_id`` by a client that closes
    its connection, unanswered, when the block ends."""
    body = json.dumps({"query": reference_operations()[name], "variables": variables}).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        f"X-Request-Id: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port)) as connection:
        connection.sendall(head + body)
        yield


def erp_in_flight(url: str) -> float:
    return metric(url, "mosaic_upstream_in_flight", source="erp")


def test_a_query_whose_client_leaves_asks_the_systems_nothing_more(
    own_gateway_url: str, systems: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The client leaves while the ERP answers Customer360's orders: the calls under way
    are answered, the products and prices of their lines are never asked for, the
    request is counted as its client's, and the ERP's breaker and error rate have not
    moved."""
    erp, variables = systems["erp"], examples(SEED, SIZE)["Customer360"]
    run_reference(own_gateway_url, "Customer360", variables)  # warm: the WSDLs read
    gone = {"operation": "Customer360", "outcome": "client_gone"}
    counted = metric(own_gateway_url, "mosaic_requests_total", **gone)
    clear_calls(erp)
    set_knobs(erp, latency_ms=400)
    try:
        with client(own_gateway_url, "Customer360", variables, "leaves-during-the-erp"):
            poll_until(
                lambda: erp_in_flight(own_gateway_url) == len(ORDERS_ROUND),
                what="the ERP's round out",
            )
        (line,) = log_lines(capsys, "leaves-during-the-erp", "mosaic.access")
        poll_until(lambda: erp_in_flight(own_gateway_url) == 0, what="the ERP's round in")
    finally:
        reset_knobs(erp)
    assert (line["status"], line["operation"], line["outcome"]) == (
        499,
        "Customer360",
        "client_gone",
    )
    assert metric(own_gateway_url, "mosaic_requests_total", **gone) == counted + 1
    assert set(call_count(erp)) == ORDERS_ROUND  # not ItemCard, SalesPrices, ...
    guard = erp_guard(own_gateway_url)
    assert (guard["breaker"], guard["recent_error_rate"]) == ("closed", 0.0)


@pytest.fixture(scope="module")
def one_at_a_time_url(systems: dict[str, str]) -> Iterator[str]:
    """A gateway that sends the ERP one call at a time: the others wait for its slot."""
    yield from _gateway(systems, cache=False, erp_max_concurrency=1)


def test_the_calls_of_a_query_still_waiting_for_a_slot_are_never_sent(
    one_at_a_time_url: str, systems: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Of the ERP round under way when the client leaves, one call is out and two wait
    for the ERP's slot: the one out is answered, the two waiting are never sent (their
    DataLoader batches are the request's tasks, stopped with it)."""
    erp, variables = systems["erp"], examples(SEED, SIZE)["Customer360"]
    run_reference(one_at_a_time_url, "Customer360", variables)  # warm: the WSDLs read
    clear_calls(erp)
    set_knobs(erp, latency_ms=400)
    try:
        with client(one_at_a_time_url, "Customer360", variables, "leaves-the-queue"):
            poll_until(lambda: erp_in_flight(one_at_a_time_url) == 1, what="one ERP call out")
        (line,) = log_lines(capsys, "leaves-the-queue", "mosaic.access")
        series = scrape(one_at_a_time_url)  # the ERP still at work on the call out
        poll_until(lambda: erp_in_flight(one_at_a_time_url) == 0, what="that call answered")
    finally:
        reset_knobs(erp)
    assert line["status"] == 499
    erp_only = {"source": "erp"}
    out = total(series, "mosaic_upstream_in_flight", **erp_only)
    assert (out, total(series, "mosaic_upstream_queued", **erp_only)) == (1, 0)
    assert sum(call_count(erp).values()) == 1


def erp_guard(url: str) -> dict[str, Any]:
    """The ERP guard's state as /readyz shows it."""
    with urllib.request.urlopen(url + "/readyz", timeout=10) as response:
        state: dict[str, Any] = json.loads(response.read())["sources"]["erp"]
    return state


def test_a_mutation_whose_client_leaves_is_carried_through(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """placeOrder's client leaves while the ERP works on it: the order is placed all the
    same, as it would have been had the client stayed to hear it."""
    variables = click_and_collect(world)
    contact_id = variables["input"]["customerId"].split(":")[1]
    customer_no = next(c.erp_customer_no for c in world.crm_contacts if c.id == contact_id)
    assert customer_no
    with fresh_env(world, tmp_path) as env:
        before = len(erp_orders(env["erp"], customer_no))
        set_knobs(env["erp"], latency_ms=300)
        with client(env["gateway"], "ClickAndCollect", variables, "leaves-its-order"):
            poll_until(lambda: erp_in_flight(env["gateway"]) > 0, what="the ERP at work")
        (line,) = log_lines(capsys, "leaves-its-order", "mosaic.access")
        reset_knobs(env["erp"])
        after = len(erp_orders(env["erp"], customer_no))
    assert (line["status"], line["outcome"]) == (200, "ok")
    assert after == before + 1


# --- the rule on its own ---------------------------------------------------------------


class Client:
    """An ASGI ``receive`` past the request's body: it says ``http.disconnect`` once
    :meth:`leave` is called."""

    def __init__(self) -> None:
        self.gone = asyncio.Event()

    def leave(self) -> None:
        self.gone.set()

    async def receive(self) -> Message:
        await self.gone.wait()
        return {"type": "http.disconnect"}


async def test_an_answer_ready_before_the_client_leaves_is_given() -> None:
    async def answer() -> str:
        return "answer"

    assert await unless_gone(answer(), Client().receive, lambda: False) == "answer"


async def test_a_query_is_cancelled_when_its_client_leaves() -> None:
    client_, started, cancelled = Client(), asyncio.Event(), asyncio.Event()

    async def query() -> str:
        started.set()
        try:
            await asyncio.Event().wait()  # an upstream call that never ends
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    running = asyncio.ensure_future(unless_gone(query(), client_.receive, lambda: False))
    await started.wait()
    client_.leave()
    assert await running is None
    assert cancelled.is_set()


async def test_a_write_goes_on_when_its_client_leaves() -> None:
    client_, started, asked, may_end = Client(), asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def write() -> str:
        started.set()
        await may_end.wait()
        return "written"

    def writes() -> bool:
        asked.set()  # the client's leaving is being judged
        return True

    running = asyncio.ensure_future(unless_gone(write(), client_.receive, writes))
    await started.wait()
    client_.leave()
    await asyncio.wait_for(asked.wait(), 5)
    may_end.set()
    assert await running == "written"
