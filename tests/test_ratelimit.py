"""Rate limiting per client over real HTTP: a token bucket per API key, bearer token or
IP address; a refusal is a 429 with Retry-After and a GraphQL error RATE_LIMITED, made
before anything reaches a source."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gateway.security.ratelimit import MemoryBuckets
from gateway.settings import Settings
from tests.conftest import _gateway
from tests.gateway_client import post
from tests.simulators import call_count, clear_calls
from tests.timing import poll_until

gateway = contextmanager(_gateway)
PRODUCT = json.dumps({"query": '{ product(sku: "10000") { name } }'}).encode()
BURST = 3


@pytest.fixture(scope="module")
def limited_url(systems: dict[str, str]) -> Iterator[str]:
    """Three requests at once per client, then one every 10 s: no refill during a test."""
    with gateway(systems, cache=False, rate_limit_per_s=0.1, rate_limit_burst=BURST) as url:
        yield url


def statuses(url: str, n: int, headers: dict[str, str]) -> list[int]:
    return [post(url, PRODUCT, headers=headers)[0] for _ in range(n)]


def test_a_client_gets_its_burst_then_429_with_retry_after(limited_url: str) -> None:
    headers = {"X-API-Key": "partner-burst"}
    assert statuses(limited_url, BURST, headers) == [200] * BURST
    status, body = post(limited_url, PRODUCT, headers=headers)
    assert status == 429
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= body["errors"][0]["extensions"]["retryAfterS"] <= 10


def test_the_retry_after_header_says_when_a_token_is_back(limited_url: str) -> None:
    headers = {"X-API-Key": "partner-header"}
    statuses(limited_url, BURST, headers)
    request = urllib.request.Request(
        limited_url + "/graphql",
        data=PRODUCT,
        headers={"Content-Type": "application/json", **headers},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 429
    assert int(refused.value.headers["Retry-After"]) in range(1, 11)
    refused.value.close()


def test_a_refused_request_reaches_no_source(limited_url: str, systems: dict[str, str]) -> None:
    headers = {"X-API-Key": "partner-quiet"}
    statuses(limited_url, BURST, headers)
    clear_calls(systems["erp"])
    assert statuses(limited_url, 5, headers) == [429] * 5
    assert sum(call_count(systems["erp"]).values()) == 0


def test_clients_have_buckets_of_their_own(limited_url: str) -> None:
    """An exhausted partner does not slow down another, nor a bearer-token client."""
    statuses(limited_url, BURST + 1, {"X-API-Key": "partner-greedy"})
    assert statuses(limited_url, BURST, {"X-API-Key": "partner-modest"}) == [200] * BURST
    bearer = {"Authorization": "Bearer some-token"}
    assert statuses(limited_url, BURST, bearer) == [200] * BURST


async def test_the_bucket_refills_at_the_rate() -> None:
    """On the buckets' own clock: one request a second, one at once; a refused client
    is told how long to wait, and is let in again once that has passed, not before."""
    now = [100.0]
    buckets = MemoryBuckets(rate=1.0, burst=1, clock=lambda: now[0])
    assert (await buckets.take("partner")).allowed
    refused = await buckets.take("partner")
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(1.0)
    now[0] += 0.5
    assert not (await buckets.take("partner")).allowed
    now[0] += 0.5
    assert (await buckets.take("partner")).allowed


def test_a_refused_client_is_let_in_again_once_the_bucket_refills(
    systems: dict[str, str],
) -> None:
    with gateway(systems, cache=False, rate_limit_per_s=2, rate_limit_burst=1) as url:
        headers = {"X-API-Key": "partner-refill"}
        # refused once the bucket is empty, then let in
        poll_until(lambda: statuses(url, 1, headers) == [429], what="a 429")
        poll_until(lambda: statuses(url, 1, headers) == [200], what="a 200 after the refill")


def test_the_default_limit_is_generous() -> None:
    """50 requests a second and 100 at once: more than a busy app screen asks."""
    settings = Settings()
    assert settings.limits.rate_limit_per_s >= 50
    assert settings.limits.rate_limit_burst >= 100
