"""The WMS adapter against the running WMS: warehouses, stock and inbound shipments for
a whole batch of SKUs in one call, chunks of at most 500, every failure one of ours.

Call counts are read from the simulated WMS's own call log, so they are what it saw.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from adapters.config import SourceConfig
from adapters.errors import (
    BadUpstreamResponse,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamFault,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.feeds import WmsFeed
from adapters.records import InTransitRecord, StockRecord
from adapters.transport.resilience import GuardConfig
from adapters.wms import WmsAdapter
from legacy.common.runner import ServerThread
from legacy.world import World
from tests.conftest import WMS_TOKEN
from tests.simulators import call_count, clear_calls, reset_knobs, set_knobs

STOCK = "POST /api/v1/stock/query"
INBOUND = "POST /api/v1/inbound/query"


@pytest.fixture
def wms_url(wms_server: ServerThread) -> str:
    clear_calls(wms_server.url)
    return wms_server.url


@pytest.fixture
def faulty_wms(wms_url: str) -> Iterator[str]:
    """The shared WMS, put right again after a test that broke it."""
    yield wms_url
    reset_knobs(wms_url)


def adapter(session: aiohttp.ClientSession, url: str, **config: Any) -> WmsAdapter:
    return WmsAdapter(session, SourceConfig(url=url, **{"token": WMS_TOKEN, **config}))


def skus(world: World, n: int) -> list[str]:
    return [item.no for item in world.items[:n]]


async def test_warehouses_are_the_worlds_sites(
    session: aiohttp.ClientSession, wms_url: str, world: World
) -> None:
    found = {w.id: w for w in await adapter(session, wms_url).warehouses()}
    assert set(found) == {w.id for w in world.warehouses}
    for warehouse in world.warehouses:
        record = found[warehouse.id]
        assert (record.kind, record.name, record.lat, record.lon) == (
            "WAREHOUSE",
            warehouse.name,
            warehouse.lat,
            warehouse.lon,
        )
        assert (record.address.city, record.address.postal_code) == (
            warehouse.address.city,
            warehouse.address.postal_code,
        )
    assert call_count(wms_url) == {"GET /api/v1/warehouses": 1}


async def test_stock_is_one_call_for_many_skus_and_matches_the_warehouses(
    session: aiohttp.ClientSession, wms_url: str, world: World
) -> None:
    asked = skus(world, 60)
    found = await adapter(session, wms_url).stock([*asked, *asked[:10], "99999"])
    assert len(found) == len(set(found))
    assert set(found) == {
        StockRecord(s.item_no, s.location_id, s.on_hand, s.reserved)
        for s in world.warehouse_stock
        if s.item_no in set(asked)
    }
    assert call_count(wms_url) == {STOCK: 1}


async def test_inbound_is_one_call_and_covers_shipments_to_warehouses_and_stores(
    session: aiohttp.ClientSession, wms_url: str, world: World
) -> None:
    asked = [item.no for item in world.items]
    found = await adapter(session, wms_url, max_batch=500).inbound(asked)
    assert set(found) == {
        InTransitRecord(s.item_no, s.location_id, s.quantity, s.expected_at) for s in world.inbound
    }
    assert {r.location_id[:3] for r in found} == {"WH-", "LOC"}
    assert call_count(wms_url) == {INBOUND: 1}


async def test_unknown_skus_have_no_records_and_no_skus_no_call(
    session: aiohttp.ClientSession, wms_url: str
) -> None:
    wms = adapter(session, wms_url)
    assert await wms.stock(["nope"]) == []
    assert await wms.inbound([]) == []
    assert call_count(wms_url) == {STOCK: 1}


async def test_skus_are_split_at_the_configured_batch_size(
    session: aiohttp.ClientSession, wms_url: str, world: World
) -> None:
    found = await adapter(session, wms_url, max_batch=7).stock(skus(world, 20))
    assert {r.sku for r in found} <= set(skus(world, 20))
    assert call_count(wms_url) == {STOCK: 3}


async def test_skus_are_split_at_the_wms_limit_of_500_whatever_the_configuration(
    session: aiohttp.ClientSession, wms_url: str
) -> None:
    many = [f"X{n}" for n in range(1200)]
    assert await adapter(session, wms_url, max_batch=5000).inbound(many) == []
    assert call_count(wms_url) == {INBOUND: 3}


FAULTS = [
    ({"fault": "error500"}, UpstreamFault),
    ({"fault": "garbage"}, BadUpstreamResponse),
    ({"fault": "html"}, BadUpstreamResponse),
    ({"fault": "rate_limit"}, UpstreamRateLimited),
    ({"latency_ms": 1000}, UpstreamTimeout),  # a hang, without a request left asleep
]


@pytest.mark.parametrize(
    ("knobs", "error"), FAULTS, ids=["error500", "garbage", "html", "rate_limit", "slow"]
)
async def test_a_broken_wms_raises_our_error_naming_the_source(
    session: aiohttp.ClientSession,
    faulty_wms: str,
    world: World,
    knobs: dict[str, Any],
    error: type[UpstreamError],
) -> None:
    set_knobs(faulty_wms, **knobs)
    wms = adapter(session, faulty_wms, timeout_s=0.3, guard=GuardConfig(retries=0))
    with pytest.raises(error) as raised:
        await wms.stock(skus(world, 3))
    assert raised.value.source == "wms"


async def test_a_wms_that_is_not_there_is_unavailable(session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    wms = adapter(session, f"http://127.0.0.1:{port}", guard=GuardConfig(retries=0))
    with pytest.raises(UpstreamUnavailable):
        await wms.warehouses()


# --- its token, its error bodies, mosaic sources check -----------------------------------


async def test_with_its_token_the_wms_answers(
    session: aiohttp.ClientSession, wms_url: str, world: World
) -> None:
    found = await adapter(session, wms_url, token=WMS_TOKEN).stock(skus(world, 5))
    assert found


@pytest.mark.off_contract_requests  # without the token the WMS's contract asks for
@pytest.mark.parametrize("token", [None, "not-the-token"])
async def test_a_refused_token_is_auth_failed_asked_once(
    session: aiohttp.ClientSession, wms_url: str, world: World, token: str | None
) -> None:
    clear_calls(wms_url)
    wms = adapter(session, wms_url, token=token, guard=GuardConfig(retries=2))
    with pytest.raises(UpstreamAuthFailed) as refused:
        await wms.stock(skus(world, 5))
    assert refused.value.extensions["upstreamCode"] == "UNAUTHORIZED"
    assert "not-the-token" not in refused.value.message
    assert call_count(wms_url) == {STOCK: 1}


@pytest.mark.off_contract_requests  # the second poll, without the token
async def test_the_stock_feed_is_followed_with_the_token(
    session: aiohttp.ClientSession, wms_url: str
) -> None:
    feed = WmsFeed(session, SourceConfig(url=wms_url, token=WMS_TOKEN))
    events, position = await feed.poll(None, 0.0)
    assert (events, int(position) >= 0) == ([], True)
    with pytest.raises(UpstreamAuthFailed):
        await WmsFeed(session, SourceConfig(url=wms_url)).poll(None, 0.0)


async def test_the_wms_error_body_is_read_into_the_error(
    session: aiohttp.ClientSession, wms_url: str, world: World
) -> None:
    count = next(s for s in world.warehouse_stock if s.on_hand > s.reserved)
    wms = adapter(session, wms_url, token=WMS_TOKEN)
    with pytest.raises(UpstreamFault) as refused:
        await wms.reserve(count.item_no, count.location_id, count.on_hand + 1, "too-much")
    # (refused: nothing was held)
    assert refused.value.extensions["status"] == 409
    assert refused.value.extensions["upstreamCode"] == "INSUFFICIENT_STOCK"
    assert "only" in refused.value.message


async def test_check_finds_every_endpoint_mosaic_uses_and_holds_nothing(
    session: aiohttp.ClientSession, wms_url: str, world: World
) -> None:
    before = await adapter(session, wms_url, token=WMS_TOKEN).stock(skus(world, 50))
    findings = await adapter(session, wms_url, token=WMS_TOKEN).check()
    assert [f for f in findings if not f.ok] == []
    assert {f.what for f in findings} == {
        "GET /api/v1/warehouses",
        STOCK,
        INBOUND,
        "POST /api/v1/reservations",
        "DELETE /api/v1/reservations/{id}",
        "GET /api/v1/events",
    }
    after = await adapter(session, wms_url, token=WMS_TOKEN).stock(skus(world, 50))
    assert after == before


@pytest.mark.off_contract_requests  # a token the WMS does not know
async def test_check_with_a_wrong_token_says_so(
    session: aiohttp.ClientSession, wms_url: str
) -> None:
    (finding,) = await adapter(session, wms_url, token="wrong").check()
    assert (finding.what, finding.ok) == ("credentials", False)
    assert "401" in finding.detail


async def test_check_of_a_wms_that_is_not_there_says_so_once(
    session: aiohttp.ClientSession,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    wms = adapter(session, f"http://127.0.0.1:{port}", guard=GuardConfig(retries=0))
    (finding,) = await wms.check()
    assert (finding.what, finding.ok) == ("connection", False)
    assert "cannot reach" in finding.detail
