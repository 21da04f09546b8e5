"""Assortment per channel: a product sold online only is never offered as available in
a store, and a product sold in stores only never online, in every query that lists
availability (the listing's availability, the stock view's ``available``, either asked
through an argument or through the ``X-Channel`` header).

The assortment is the ERP's (the item card's ``Sales_Channels``), so the tests change it
there, through the ERP's own SOAP interface, on a product that has stock everywhere:
the gateway must follow the ERP live, whatever the stock says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zeep

from legacy.examples import LISTING_SIZE, STOCK_CHECK_SIZE
from legacy.world import Item, World
from tests.gateway_client import graphql, run_reference

AVAILABILITY = """query($sku: ID!) { product(sku: $sku) { channels
    availability(near: {postalCode: "3511 AB"}, limit: 25) { online nearest { available } } } }"""
STORE_AVAILABILITY = """query($sku: ID!) { product(sku: $sku) {
    availability(channel: STORE, limit: 25) { online nearest { available } } } }"""

Assortment = Callable[[str, str], Any]


def _free(counts: list[Any], item: Item, places: set[str]) -> int:
    return sum(
        c.on_hand - c.reserved for c in counts if c.item_no == item.no and c.location_id in places
    )


def _stocked_everywhere(world: World) -> list[Item]:
    """Items sold in every channel, with free stock in warehouses and open stores, beyond
    the ones the reference operations' examples use (so they are left as they are)."""
    warehouses = {w.id for w in world.warehouses}
    stores = {s.id for s in world.stores if s.active}
    return [
        item
        for item in world.items[max(LISTING_SIZE, STOCK_CHECK_SIZE) + 10 :]
        if item.channels == ("WEB", "APP", "STORE")
        and not item.blocked
        and _free(world.warehouse_stock, item, warehouses) >= 20
        and _free(world.store_stock, item, stores) >= 20
    ]


@pytest.fixture
def assortment(systems: dict[str, str]) -> Iterator[Callable[[str, str], Any]]:
    """Sets an item's channels in the ERP for one test, and puts them back after it."""
    client = zeep.Client(f"{systems['erp']}/WS/CRONUS/Page/ItemCard")
    changed: dict[str, str] = {}

    def set_channels(sku: str, channels: str) -> None:
        card = client.service.Read(No=sku)
        changed.setdefault(sku, card.Sales_Channels)
        client.service.Update(ItemCard={"Key": card.Key, "Sales_Channels": channels})

    yield set_channels
    for sku, channels in changed.items():
        set_channels(sku, channels)
    client.transport.session.close()


def _listing(url: str, sku: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    result = graphql(url, AVAILABILITY, {"sku": sku}, headers=headers)
    assert "errors" not in result
    product: dict[str, Any] = result["data"]["product"]
    return product


def _stock(url: str, sku: str) -> dict[str, list[dict[str, Any]]]:
    result = run_reference(url, "StockCheck", {"skus": [sku]})
    assert "errors" not in result
    levels: dict[str, list[dict[str, Any]]] = {"STORE": [], "WAREHOUSE": []}
    for level in result["data"]["products"][0]["stock"]:
        levels[level["location"]["kind"]].append(level)
    return levels


def test_a_product_sold_online_only_is_not_offered_in_any_store(
    gateway_url: str, world: World, assortment: Assortment
) -> None:
    sku = _stocked_everywhere(world)[-1].no
    before = _listing(gateway_url, sku, {"X-Channel": "STORE"})
    assert before["availability"]["nearest"], "sold everywhere, it is offered in stores"

    assortment(sku, "WEB|APP")

    for headers in ({"X-Channel": "STORE"}, {"X-Channel": "WEB"}, None):
        product = _listing(gateway_url, sku, headers)
        assert product["channels"] == ["WEB", "APP"]
        assert product["availability"]["nearest"] == []
    result = graphql(gateway_url, STORE_AVAILABILITY, {"sku": sku})
    assert result["data"]["product"]["availability"] == {"online": False, "nearest": []}
    listing = run_reference(gateway_url, "ProductListing", {"skus": [sku], "postalCode": "3511 AB"})
    assert listing["data"]["products"][0]["availability"] == {"online": True, "nearest": []}


def test_a_product_sold_online_only_shows_its_store_stock_as_not_available(
    gateway_url: str, world: World, assortment: Assortment
) -> None:
    sku = _stocked_everywhere(world)[-1].no
    assortment(sku, "WEB|APP")
    levels = _stock(gateway_url, sku)
    assert any(level["onHand"] > level["reserved"] for level in levels["STORE"])
    assert all(level["available"] == 0 for level in levels["STORE"])
    assert any(level["available"] > 0 for level in levels["WAREHOUSE"])


def test_a_product_sold_in_stores_only_is_not_offered_online(
    gateway_url: str, world: World, assortment: Assortment
) -> None:
    sku = _stocked_everywhere(world)[-2].no
    assert _listing(gateway_url, sku, {"X-Channel": "WEB"})["availability"]["online"] is True

    assortment(sku, "STORE")

    for headers in ({"X-Channel": "WEB"}, {"X-Channel": "APP"}, {"X-Channel": "STORE"}):
        product = _listing(gateway_url, sku, headers)
        assert product["channels"] == ["STORE"]
        assert product["availability"]["online"] is False
        assert product["availability"]["nearest"], "still offered in the stores that have it"
    listing = run_reference(gateway_url, "ProductListing", {"skus": [sku], "postalCode": "3511 AB"})
    assert listing["data"]["products"][0]["availability"]["online"] is False


def test_a_product_sold_in_stores_only_shows_its_warehouse_stock_as_not_available(
    gateway_url: str, world: World, assortment: Assortment
) -> None:
    sku = _stocked_everywhere(world)[-2].no
    assortment(sku, "STORE")
    levels = _stock(gateway_url, sku)
    assert any(level["onHand"] > level["reserved"] for level in levels["WAREHOUSE"])
    assert all(level["available"] == 0 for level in levels["WAREHOUSE"])
    assert any(level["available"] > 0 for level in levels["STORE"])


def test_the_seeded_assortment_differs_per_channel_on_purpose(world: World) -> None:
    kinds = {item.channels for item in world.items}
    assert {("WEB", "APP"), ("STORE",), ("WEB", "APP", "STORE")} <= kinds
