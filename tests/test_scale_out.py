"""Two gateway replicas sharing one real Redis behave as one: what A cached, B serves
without an upstream call; a document persisted through A runs by hash on B; and a
client's rate limit is one bucket, however its requests are spread.

Each replica is a whole gateway (its own app, runtime, sessions, in-process layers) on
its own port, as two processes behind a load balancer would be; only Redis is shared.
Upstream calls are counted at the simulated systems.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
import redis

from legacy.world import World
from tests.conftest import _gateway
from tests.gateway_client import graphql, post
from tests.simulators import call_count, clear_calls

gateway = contextmanager(_gateway)
NAMES = "query($skus: [ID!]!) { products(skus: $skus) { sku name price(channel: WEB) { amount } } }"


@contextmanager
def replicas(systems: dict[str, str], redis_url: str, **settings: object) -> Iterator[list[str]]:
    with ExitStack() as stack:
        yield [
            stack.enter_context(gateway(systems, redis_url=redis_url, **settings)) for _ in range(2)
        ]


@pytest.fixture(scope="module")
def pair(systems: dict[str, str], redis_url: str) -> Iterator[list[str]]:
    with redis.Redis.from_url(redis_url) as shared:
        shared.flushdb()
    with replicas(systems, redis_url, cache=True) as urls:
        yield urls


def erp_reads(systems: dict[str, str]) -> int:
    return sum(n for op, n in call_count(systems["erp"]).items() if "/Page/" not in op)


def test_a_value_cached_by_one_replica_is_served_by_the_other(
    pair: list[str], systems: dict[str, str], redis_url: str, world: World
) -> None:
    """Product master and prices are cacheable (10 min, 60 s): A's ERP reads fill
    Redis, and B answers the same products without asking the ERP."""
    a, b = pair
    skus = [item.no for item in world.items[40:45]]
    clear_calls(systems["erp"])
    from_a = graphql(a, NAMES, {"skus": skus})
    assert "errors" not in from_a
    # one ItemCard, one SalesPrices and one SalesLineDiscounts read (a price today is
    # less the channel's running promotion, issue 17)
    assert erp_reads(systems) == 3
    with redis.Redis.from_url(redis_url) as shared:
        assert shared.exists(*(f"mosaic:cache:item:{sku}" for sku in skus)) == len(skus)
    clear_calls(systems["erp"])
    from_b = graphql(b, NAMES, {"skus": skus})
    assert from_b == from_a
    assert erp_reads(systems) == 0


def test_live_data_is_not_shared_but_asked_by_each_replica(
    pair: list[str], systems: dict[str, str], redis_url: str, world: World
) -> None:
    """Customers are live (DESIGN's freshness table): Redis holds no personal data, so
    each replica asks the CRM itself."""
    a, b = pair
    query = "query($id: ID!) { customer(by: {id: $id}) { name } }"
    variables = {"id": f"crm:{world.crm_contacts[0].id}"}
    clear_calls(systems["crm"])
    assert graphql(a, query, variables) == graphql(b, query, variables)
    assert sum(call_count(systems["crm"]).values()) == 2
    with redis.Redis.from_url(redis_url) as shared:
        assert not shared.keys("mosaic:cache:crm_*")


def test_a_query_persisted_through_one_replica_runs_by_hash_on_the_other(
    pair: list[str], world: World
) -> None:
    a, b = pair
    document = "query Persisted($skus: [ID!]!) { products(skus: $skus) { sku } }"
    digest = hashlib.sha256(document.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    variables = {"skus": [world.items[0].no]}
    by_hash = json.dumps({"extensions": extensions, "variables": variables}).encode()
    _, not_yet = post(b, by_hash)
    assert not_yet["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    with_document = {"query": document, "extensions": extensions, "variables": variables}
    assert post(a, json.dumps(with_document).encode())[0] == 200
    status, result = post(b, by_hash)
    assert status == 200
    assert result == {"data": {"products": [{"sku": world.items[0].no}]}}


def test_the_rate_limit_is_one_bucket_across_replicas(
    systems: dict[str, str], redis_url: str
) -> None:
    """Burst 6, no refill to speak of: requests alternating between the replicas are
    refused from the seventh on, at either replica."""
    limits = {"rate_limit_per_s": 0.01, "rate_limit_burst": 6}
    with replicas(systems, redis_url, cache=False, **limits) as (a, b):
        body = json.dumps({"query": "{ __typename }"}).encode()
        headers = {"X-API-Key": "scale-out-partner"}
        statuses = [post(url, body, headers=headers)[0] for url in [a, b] * 5]
    assert statuses == [200] * 6 + [429] * 4
