"""A cached value may stand in for a failing source, within its stale limit, and the
response says so, with the value's age."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from legacy.world import World
from tests.gateway_client import graphql
from tests.simulators import reset_knobs, set_knobs
from tests.timing import ManualClock

NAMES = "query($skus: [ID!]!) { products(skus: $skus) { sku name price { amount } } }"


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    """The caches' time in this module's gateway, moved by the tests."""
    return ManualClock()


@pytest.fixture(scope="module")
def short_lived_gateway(systems: dict[str, str], clock: ManualClock) -> Iterator[str]:
    """A gateway whose product and price cache entries expire after 0.2 s."""
    from tests.conftest import _gateway

    ttl = {"item": 0.2, "price": 0.2}
    yield from _gateway(systems, clock, cache=True, cache_ttl_s=ttl, retries=0)


def test_an_expired_value_stands_in_for_a_failing_source_marked_stale(
    short_lived_gateway: str, systems: dict[str, str], world: World, clock: ManualClock
) -> None:
    wanted = {"skus": [item.no for item in world.items[140:143]]}
    fresh = graphql(short_lived_gateway, NAMES, wanted)
    assert "errors" not in fresh
    clock.advance(0.3)
    set_knobs(systems["erp"], fault="error500")
    try:
        fallback = graphql(short_lived_gateway, NAMES, wanted)
    finally:
        reset_knobs(systems["erp"])
    assert fallback["data"] == fresh["data"]
    assert "errors" not in fallback
    stale = fallback["extensions"]["stale"]
    assert {entry["cache"] for entry in stale} == {"item", "price"}
    assert all(entry["source"] == "erp" and entry["code"] == "SOURCE_ERROR" for entry in stale)
    assert all(entry["age_s"] >= 0.2 for entry in stale)


def test_a_fresh_answer_carries_no_stale_marker(short_lived_gateway: str, world: World) -> None:
    result = graphql(short_lived_gateway, NAMES, {"skus": [world.items[150].no]})
    assert "stale" not in (result.get("extensions") or {})


def test_an_answer_standing_on_stale_values_is_never_given_again_whole(
    short_lived_gateway: str, systems: dict[str, str], world: World, clock: ManualClock
) -> None:
    """Five clients ask while the ERP fails slowly: the first renews the expired kept
    answer with stale values, the others wait for it; none may be handed that answer
    whole, which would come without the stale marker (and outlive its freshness)."""
    wanted = {"skus": [item.no for item in world.items[150:152]]}
    assert "errors" not in graphql(short_lived_gateway, NAMES, wanted)  # kept
    clock.advance(0.3)
    set_knobs(systems["erp"], fault="error500", latency_ms=200)
    try:
        with ThreadPoolExecutor(5) as pool:
            answers = list(
                pool.map(lambda _: graphql(short_lived_gateway, NAMES, wanted), range(5))
            )
    finally:
        reset_knobs(systems["erp"])
    assert all(answer["extensions"]["stale"] for answer in answers)
