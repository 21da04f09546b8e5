"""The response cache's front door (gateway/caching/front_door.py), through the real
gateway: a request whose very bytes, from the same caller, were answered from a kept
answer is answered again before GraphQL runs, with the bytes GraphQL would send, and
only while that answer holds.

The door is a fast path, so these tests hold it against the standard one (as
tests/test_plain_fields.py holds the engine against strawberry's execution): the same
request in other bytes (the body's keys reordered) is unknown at the door and goes
through GraphQL to the same kept answer.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from legacy.world import World
from tests.conftest import _gateway
from tests.gateway_client import metric, response_cache_hits
from tests.simulators import call_count, clear_calls
from tests.timing import ManualClock

PRICES = "query Prices($skus: [ID!]!) { products(skus: $skus) { sku price { amount } } }"
STOCK = "query Stock($skus: [ID!]!) { products(skus: $skus) { sku stock { onHand } } }"
STOCK_S = 5.0


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def gateway(systems: dict[str, str], clock: ManualClock) -> Iterator[str]:
    stock = dict.fromkeys(("store_stock", "warehouse_stock"), STOCK_S)
    yield from _gateway(systems, clock, cache=True, cache_ttl_s=stock)


@pytest.fixture(scope="module")
def debug_gateway(systems: dict[str, str], clock: ManualClock) -> Iterator[str]:
    yield from _gateway(systems, clock, cache=True, debug=True)


def post(url: str, body: bytes, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """One POST of exactly ``body``: status, headers (lower-case names), body."""
    request = urllib.request.Request(
        url + "/graphql",
        body,
        {"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read()


def in_bytes(query: str, variables: dict[str, Any], *, reordered: bool = False) -> bytes:
    """The request's body; ``reordered``: the same request with its keys the other way."""
    body = {"query": query, "variables": variables}
    if reordered:
        body = dict(reversed(list(body.items())))
    return json.dumps(body).encode()


def door_hits(url: str) -> float:
    """Requests answered at the door, before any GraphQL work."""
    return metric(url, "mosaic_response_cache_door_hits_total")


def upstream_calls(systems: dict[str, str]) -> int:
    return sum(sum(call_count(url).values()) for url in systems.values())


def test_a_request_sent_again_is_answered_at_the_door_with_the_bytes_graphql_sends(
    gateway: str, systems: dict[str, str], world: World
) -> None:
    body = in_bytes(PRICES, {"skus": [world.items[1].no, world.items[2].no]})
    first = post(gateway, body)  # runs, and its answer is kept
    hits, at_door = response_cache_hits(gateway), door_hits(gateway)
    for url in systems.values():
        clear_calls(url)
    again = post(gateway, body)  # the same bytes: at the door
    standard = post(gateway, in_bytes(PRICES, json.loads(body)["variables"], reordered=True))
    assert door_hits(gateway) == at_door + 1  # only the same bytes came in at the door
    assert response_cache_hits(gateway) == hits + 2  # both were answered from the cache
    assert upstream_calls(systems) == 0
    assert first[0] == again[0] == standard[0] == 200
    assert first[2] == again[2] == standard[2]
    for name in ("content-type", "content-length"):
        assert first[1][name] == again[1][name] == standard[1][name]
    assert again[1]["x-request-id"] != first[1]["x-request-id"]  # each its own request


def test_the_door_keys_by_the_headers_the_answer_depends_on(gateway: str, world: World) -> None:
    web = {p.item_no: p.unit_price for p in world.prices if p.channel == "WEB"}
    store = {p.item_no: p.unit_price for p in world.prices if p.channel == "STORE"}
    sku = next(s for s in sorted(web) if s in store and web[s] != store[s])
    body = in_bytes(PRICES, {"skus": [sku]})
    for _ in range(2):
        by_web = post(gateway, body)
        by_store = post(gateway, body, **{"X-Channel": "STORE"})
        as_json = post(gateway, body, Accept="application/json")
        price = [
            json.loads(r[2])["data"]["products"][0]["price"]["amount"] for r in (by_web, by_store)
        ]
        assert price == [str(web[sku]), str(store[sku])]
        assert by_web[1]["content-type"].startswith("application/graphql-response+json")
        assert as_json[1]["content-type"].startswith("application/json")


def test_a_write_to_a_value_under_the_answer_closes_the_door_to_it(
    gateway: str, systems: dict[str, str], world: World, clock: ManualClock
) -> None:
    """A value under the kept answer changes in the cache (stock refetched once its
    freshness ran out): the same bytes go through GraphQL again and get the new answer,
    which is kept and given at the door from then on."""
    body = in_bytes(STOCK, {"skus": [world.items[5].no]})
    post(gateway, body)
    post(gateway, body)
    at_door = door_hits(gateway)
    clock.advance(STOCK_S + 0.1)
    for url in systems.values():
        clear_calls(url)
    post(gateway, body)  # the stock expired: asked again, and kept again
    assert door_hits(gateway) == at_door
    assert upstream_calls(systems) > 0
    for url in systems.values():
        clear_calls(url)
    post(gateway, body)
    assert door_hits(gateway) == at_door + 1
    assert upstream_calls(systems) == 0


def test_the_door_stays_shut_in_debug_mode_where_a_response_lists_its_calls(
    debug_gateway: str, world: World
) -> None:
    body = in_bytes(PRICES, {"skus": [world.items[3].no]})
    answers = [json.loads(post(debug_gateway, body)[2]) for _ in range(3)]
    assert door_hits(debug_gateway) == 0
    assert response_cache_hits(debug_gateway) == 2
    assert all("upstream" in answer["extensions"] for answer in answers)


def test_a_query_sent_again_over_get_is_answered_at_the_door_too(
    gateway: str, world: World
) -> None:
    """GraphQL over HTTP's GET: the query string is the request's bytes."""
    params = urllib.parse.urlencode(
        {"query": PRICES, "variables": json.dumps({"skus": [world.items[7].no]})}
    )

    def get() -> bytes:
        with urllib.request.urlopen(f"{gateway}/graphql?{params}", timeout=30) as reply:
            assert reply.status == 200
            body: bytes = reply.read()
            return body

    first = get()
    at_door = door_hits(gateway)
    assert get() == first
    assert door_hits(gateway) == at_door + 1
