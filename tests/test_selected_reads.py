"""Only what the query needs (issue 19): a product's stock and availability read from the
sources only what their selection shows. A stock level's location id and kind are the
count's own (``store:<location>``, ``warehouse:<site>``); the store list and the
warehouse list are read for a location's other details (or to place shipments), the
inbound shipments for ``inTransit``. Calls are counted at the simulated systems, with
the cache off, after one request that lets the POS adapter learn the location ids its
count pages are planned on (reference data, kept for ``MOSAIC_REFERENCE_TTL_S``).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from adapters.config import PosConfig
from gateway.caching.policy import freshness_for
from legacy.examples import examples
from tests.conftest import SEED, SIZE, gateway_settings
from tests.gateway_client import graphql
from tests.simulators import call_count, clear_calls

COMPARED = Path(__file__).resolve().parents[1] / "bench" / "compared"
STORES = 25  # the small world's stores
COUNTS = "POST /v2/inventory/counts/batch-retrieve"
LOCATIONS = "GET /v2/locations"
STOCK = "POST /api/v1/stock/query"
WAREHOUSES = "GET /api/v1/warehouses"
INBOUND = "POST /api/v1/inbound/query"
ITEMS = "ItemCard:ReadMultiple"


@pytest.fixture(scope="module")
def skus() -> list[str]:
    return list(examples(SEED, SIZE)["StockCheck"]["skus"])


def counted(
    systems: dict[str, str], url: str, query: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Counter[str]]]:
    """The answer and each system's calls of the second of two identical requests."""
    graphql(url, query, variables)
    for system_url in systems.values():
        clear_calls(system_url)
    result = graphql(url, query, variables)
    assert "errors" not in result, result["errors"]
    return result, {source: call_count(system_url) for source, system_url in systems.items()}


def stock_query(selection: str) -> str:
    return f"query($skus: [ID!]!) {{ products(skus: $skus) {{ sku stock {{ {selection} }} }} }}"


def levels(result: dict[str, Any]) -> set[tuple[str, str, int, int]]:
    return {
        (p["sku"], s["location"]["id"], s["onHand"], s["reserved"])
        for p in result["data"]["products"]
        for s in p["stock"]
    }


def test_the_compared_stock_check_reads_the_counts_alone(
    systems: dict[str, str], each_executor_url: str, skus: list[str]
) -> None:
    """bench/compared/PeerStockCheck.graphql (`stock { location { id } onHand reserved }`)
    asks nothing the counts do not hold, so neither the store list, the warehouse list
    nor the shipments are read (they were: 8 calls, now 4). One round: ERP 1 (the item
    cards), WMS 1 (the stock query), POS ceil(50 x 25 / 1,000) = 2 count pages in
    parallel, which is issue 19's target for a cold Mosaic."""
    query = (COMPARED / "PeerStockCheck.graphql").read_text()
    result, calls = counted(systems, each_executor_url, query, {"skus": skus})
    assert calls == {
        "crm": Counter(),
        "erp": Counter({ITEMS: 1}),
        "pos": Counter({COUNTS: math.ceil(len(skus) * STORES / 1000)}),
        "wms": Counter({STOCK: 1}),
    }
    kinds = {
        s["location"]["id"].split(":")[0] for p in result["data"]["products"] for s in p["stock"]
    }
    assert kinds == {"store", "warehouse"}


def test_the_compared_product_listing_reads_the_erp_alone(
    systems: dict[str, str], each_executor_url: str
) -> None:
    """bench/compared/PeerProductListing.graphql asks name, web price and promotions: the
    item cards, the sales prices and the line discounts, one ERP read each, in one
    round; no stock, so no POS and no WMS (as before: 3 calls)."""
    query = (COMPARED / "PeerProductListing.graphql").read_text()
    variables = {"skus": examples(SEED, SIZE)["ProductListing"]["skus"]}
    _, calls = counted(systems, each_executor_url, query, variables)
    assert calls == {
        "crm": Counter(),
        "erp": Counter(
            {ITEMS: 1, "SalesPrices:ReadMultiple": 1, "SalesLineDiscounts:ReadMultiple": 1}
        ),
        "pos": Counter(),
        "wms": Counter(),
    }


def test_a_locations_details_read_the_store_and_warehouse_lists_and_list_the_same_levels(
    systems: dict[str, str], gateway_url: str, skus: list[str]
) -> None:
    """A name is not in a count: asking for it adds one ListLocations and one warehouse
    list (still no shipments), and the levels are the ones the counts alone gave."""
    bare, bare_calls = counted(
        systems, gateway_url, stock_query("location { id } onHand reserved"), {"skus": skus}
    )
    named, calls = counted(
        systems, gateway_url, stock_query("location { id name } onHand reserved"), {"skus": skus}
    )
    assert calls["pos"] == bare_calls["pos"] + Counter({LOCATIONS: 1})
    assert calls["wms"] == bare_calls["wms"] + Counter({WAREHOUSES: 1})
    assert INBOUND not in calls["wms"]
    assert levels(named) == levels(bare)
    assert all(s["location"]["name"] for p in named["data"]["products"] for s in p["stock"])


def test_a_locations_kind_is_the_counts_own(
    systems: dict[str, str], gateway_url: str, skus: list[str]
) -> None:
    result, calls = counted(
        systems, gateway_url, stock_query("location { __typename id kind } onHand"), {"skus": skus}
    )
    assert (calls["pos"][LOCATIONS], calls["wms"][WAREHOUSES], calls["wms"][INBOUND]) == (0, 0, 0)
    for level in (s for p in result["data"]["products"] for s in p["stock"]):
        assert level["location"]["id"].startswith(level["location"]["kind"].lower() + ":")


def test_goods_in_transit_read_the_shipments_and_the_lists_that_place_them(
    systems: dict[str, str], gateway_url: str, skus: list[str]
) -> None:
    """A shipment's destination is a store or a warehouse, which only the lists tell:
    `inTransit` reads the shipments (one WMS inbound query) and both lists; a location
    awaiting goods it has none of is then listed too."""
    bare, _ = counted(systems, gateway_url, stock_query("location { id } onHand"), {"skus": skus})
    result, calls = counted(
        systems,
        gateway_url,
        stock_query("location { id } onHand inTransit { quantity }"),
        {"skus": skus},
    )
    assert calls["wms"] == Counter({STOCK: 1, INBOUND: 1, WAREHOUSES: 1})
    assert calls["pos"][LOCATIONS] == 1
    found = [s for p in result["data"]["products"] for s in p["stock"]]
    assert any(s["inTransit"] for s in found)
    assert len(found) >= sum(len(p["stock"]) for p in bare["data"]["products"])


@pytest.mark.parametrize(
    ("selection", "pos", "wms"),
    [
        ("online", Counter(), Counter({STOCK: 1})),
        ("nearest { available }", Counter({LOCATIONS: 1, COUNTS: 2}), Counter()),
    ],
)
def test_availability_reads_only_the_half_it_is_asked_for(
    systems: dict[str, str],
    gateway_url: str,
    skus: list[str],
    selection: str,
    pos: Counter[str],
    wms: Counter[str],
) -> None:
    """`online` is the warehouses' stock (one WMS stock query); `nearest` the open stores'
    (the store list says which are open and where, and the count pages)."""
    query = f"query($skus: [ID!]!) {{ products(skus: $skus) {{ availability {{ {selection} }} }} }}"
    _, calls = counted(systems, gateway_url, query, {"skus": skus})
    assert (calls["pos"], calls["wms"]) == (pos, wms)


def test_reference_data_is_fresh_for_its_own_setting(systems: dict[str, str]) -> None:
    """The cache keeps the store and warehouse lists for MOSAIC_REFERENCE_TTL_S (DESIGN:
    1 h by default); a per-read override still wins."""
    default = gateway_settings(systems)
    assert freshness_for("stores", default).ttl_s == 3600
    kept = gateway_settings(systems, reference_ttl_s=120, cache_ttl_s={"warehouses": 30})
    assert freshness_for("stores", kept).ttl_s == 120
    assert freshness_for("warehouses", kept).ttl_s == 30
    assert freshness_for("store_stock", kept).ttl_s == 5
    assert kept.adapter_config(PosConfig, kept.pos).reference_ttl_s == 120
