"""The five screens of issue 18, each a reference operation in GraphiQL's ready set with
its example variables (``legacy/examples.py``), run as written through the real gateway
against the simulated systems; what each shows is checked against the seeded world, and
its upstream calls are counted at the systems (DESIGN: Rounds and upstream calls), with
the reason for each call.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from gateway.http.graphiql import in_tab_order
from gateway.operations import reference_operations
from legacy.examples import examples
from legacy.world import World
from tests.conftest import SEED, SIZE
from tests.gateway_client import run_reference
from tests.test_reference_queries import STORE_CHUNKS, counted

SCREENS = ("ProductPage", "CategoryPage", "OrderHistory", "StoreTablet", "ReturnDesk")


@pytest.fixture(scope="module")
def variables() -> dict[str, dict[str, Any]]:
    return examples(SEED, SIZE)


def _totals(calls: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    return {system: dict(found) for system, found in calls.items()}


def test_the_screens_are_ready_in_graphiql_with_working_variables(
    variables: dict[str, dict[str, Any]],
) -> None:
    from gateway.http.graphiql import ReadyOperation

    ready = [
        ReadyOperation(name, text, variables.get(name, {}))
        for name, text in reference_operations().items()
    ]
    names = [op.name for op in in_tab_order(ready)]
    assert set(SCREENS) <= set(names)
    assert names[0] == "Customer360"
    assert names[-2:] == ["ClickAndCollect", "ReturnInStore"]  # the writes last
    assert all(variables[name] for name in SCREENS)


@pytest.mark.parametrize("name", SCREENS)
def test_each_screen_answers_its_example_without_errors(
    name: str, gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    result = run_reference(gateway_url, name, variables[name])
    assert "errors" not in result, result
    assert all(value is not None for value in result["data"].values())


# --- product page ------------------------------------------------------------------------


def test_the_product_page_shows_the_nearest_stores_that_have_it(
    gateway_url: str, variables: dict[str, dict[str, Any]], world: World
) -> None:
    asked = variables["ProductPage"]
    product = run_reference(gateway_url, "ProductPage", asked)["data"]["product"]
    item = next(i for i in world.items if i.no == asked["sku"])
    assert (product["id"], product["name"]) == (f"product:{item.no}", item.description)
    assert product["price"]["currency"] == "EUR"
    nearest = product["availability"]["nearest"]
    assert nearest
    distances = [n["distanceKm"] for n in nearest]
    assert distances == sorted(distances)
    assert all(n["available"] > 0 and n["location"]["open"] for n in nearest)
    assert nearest[0]["location"]["city"] == "Utrecht"  # 3511 AB is Utrecht's centre


def test_the_product_page_calls_each_source_once(
    systems: dict[str, str], gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    """One round, all in parallel, as for ProductListing's one product: the item card,
    the channel's sales price and its line discounts (ERP 3: the price and the regular
    price beside it are one quote, and the promotions field reads the same discounts),
    the warehouses' stock (WMS 1), the stores' stock (one inventory count page: one SKU
    at 25 stores) and the store list to place them (POS 2)."""
    _, calls = counted(systems, gateway_url, "ProductPage", variables["ProductPage"])
    assert _totals(calls) == {
        "crm": {},
        "erp": {
            "ItemCard:ReadMultiple": 1,
            "SalesPrices:ReadMultiple": 1,
            "SalesLineDiscounts:ReadMultiple": 1,
        },
        "pos": {"GET /v2/locations": 1, "POST /v2/inventory/counts/batch-retrieve": 1},
        "wms": {"POST /api/v1/stock/query": 1},
    }


# --- category page -----------------------------------------------------------------------


def _page(gateway_url: str, asked: dict[str, Any]) -> dict[str, Any]:
    result = run_reference(gateway_url, "CategoryPage", asked)
    assert "errors" not in result, result
    page: dict[str, Any] = result["data"]["productSearch"]
    return page


def test_the_category_page_comes_in_two_pages_of_cursors(
    gateway_url: str, variables: dict[str, dict[str, Any]], world: World
) -> None:
    asked = variables["CategoryPage"]
    sold = sorted(
        i.no
        for i in world.items
        if i.category == asked["category"] and "WEB" in i.channels and not i.blocked
    )
    first = _page(gateway_url, asked)
    assert first["pageInfo"]["hasNextPage"]
    second = _page(gateway_url, {**asked, "after": first["pageInfo"]["endCursor"]})
    shown = [e["node"]["sku"] for page in (first, second) for e in page["edges"]]
    assert shown == sold[: len(shown)]
    assert len(first["edges"]) == asked["first"]
    assert second["pageInfo"]["hasNextPage"] == (len(sold) > 2 * asked["first"])


def test_each_category_page_calls_the_erp_four_times_and_nothing_else(
    systems: dict[str, str], gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    """One round: the categories (one ItemCategoryCard read) and the page (one ItemCard
    ReadMultiple with NAV's filters, the bookmark behind the cursor); then the page's
    prices: one SalesPrices and one SalesLineDiscounts read for its SKUs. The cards came
    with the search, so no second ItemCard read; page two costs what page one did."""
    asked = variables["CategoryPage"]
    expected = {
        "crm": {},
        "erp": {
            "ItemCategoryCard:ReadMultiple": 1,
            "ItemCard:ReadMultiple": 1,
            "SalesPrices:ReadMultiple": 1,
            "SalesLineDiscounts:ReadMultiple": 1,
        },
        "pos": {},
        "wms": {},
    }
    first, calls = counted(systems, gateway_url, "CategoryPage", asked)
    assert _totals(calls) == expected
    after = first["data"]["productSearch"]["pageInfo"]["endCursor"]
    _, calls = counted(systems, gateway_url, "CategoryPage", {**asked, "after": after})
    assert _totals(calls) == expected


# --- order history -----------------------------------------------------------------------


def test_the_order_history_pages_through_both_systems(
    gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    asked = variables["OrderHistory"]
    seen: list[str] = []
    after = None
    for _ in range(2):
        result = run_reference(gateway_url, "OrderHistory", {**asked, "after": after})
        history = result["data"]["customer"]["orderHistory"]
        seen += [e["node"]["id"] for e in history["edges"]]
        after = history["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 2 * asked["first"]
    assert {i.split(":")[1] for i in seen} == {"erp", "pos"}


def test_each_order_history_page_calls_each_source_once_per_round(
    systems: dict[str, str], gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    """Round 1: the card in the CRM (one search) and in Square's customer profiles (one
    SearchCustomers). Round 2: the CRM's cross-reference gives the ERP customer number:
    the open sales orders and the posted invoices (two ERP reads: NAV keeps an invoiced
    order as its invoice); the profile gives the POS customer: one loyalty account
    search. Round 3: the receipts, one SearchOrders per 10 of the 25 stores. Round 4:
    the page's lines' item cards (one ItemCard read) and the places the orders were
    bought or are collected at (the POS's store list, the WMS's warehouses). The
    history's whole is read from each system (NAV lists by number, not date, so the
    newest can only be found among all), and the cursor takes the page from it: page
    two costs what page one did, whatever the history's length."""
    asked = variables["OrderHistory"]
    expected = {
        "crm": {"POST /crm/v3/objects/contacts/batch/read": 1},
        "erp": {
            "SalesOrder:ReadMultiple": 1,
            "PostedSalesInvoice:ReadMultiple": 1,
            "ItemCard:ReadMultiple": 1,
        },
        "pos": {
            "POST /v2/customers/search": 1,
            "POST /v2/loyalty/accounts/search": 1,
            "POST /v2/orders/search": STORE_CHUNKS,
            "GET /v2/locations": 1,
        },
        "wms": {"GET /api/v1/warehouses": 1},
    }
    first, calls = counted(systems, gateway_url, "OrderHistory", asked)
    assert _totals(calls) == expected
    after = first["data"]["customer"]["orderHistory"]["pageInfo"]["endCursor"]
    _, calls = counted(systems, gateway_url, "OrderHistory", {**asked, "after": after})
    assert _totals(calls) == expected


# --- store tablet ------------------------------------------------------------------------


def test_the_store_tablet_shows_the_customer_by_card(
    gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    customer = run_reference(gateway_url, "StoreTablet", variables["StoreTablet"])["data"][
        "customer"
    ]
    assert customer["loyalty"]["cardNumber"] == variables["StoreTablet"]["card"]
    assert customer["orderHistory"]["edges"]
    assert customer["recommendations"]
    assert all(r["reason"] for r in customer["recommendations"])


def test_the_store_tablet_calls_each_source_once_per_round(
    systems: dict[str, str], gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    """As Customer360 and Recommendations share them: round 1 the card in the CRM and in
    Square's profiles; round 2 the ERP customer (its name and e-mail are golden-record
    candidates), the ERP's open orders and posted invoices, the POS loyalty account;
    round 3 the receipts (one SearchOrders per 10 stores); round 4 the item cards of
    everything bought (for the suggestions' categories); round 5 the items of those
    categories (the second ItemCard read); round 6 the candidates' store stock (50 SKUs
    at most at 25 stores, planned at one count per item and store: 2 pages of Square's
    1,000, where it was 3 of 20 SKUs until issue 19) with the store list, and the
    suggestions' STORE prices and line discounts. The history's page needs no read of
    its own: its orders are the ones the suggestions read."""
    _, calls = counted(systems, gateway_url, "StoreTablet", variables["StoreTablet"])
    assert _totals(calls) == {
        "crm": {"POST /crm/v3/objects/contacts/batch/read": 1},
        "erp": {
            "Customer:ReadMultiple": 1,
            "SalesOrder:ReadMultiple": 1,
            "PostedSalesInvoice:ReadMultiple": 1,
            "ItemCard:ReadMultiple": 2,
            "SalesPrices:ReadMultiple": 1,
            "SalesLineDiscounts:ReadMultiple": 1,
        },
        "pos": {
            "POST /v2/customers/search": 1,
            "POST /v2/loyalty/accounts/search": 1,
            "POST /v2/orders/search": STORE_CHUNKS,
            "POST /v2/inventory/counts/batch-retrieve": 2,
            "GET /v2/locations": 1,
        },
        "wms": {},
    }


# --- return desk -------------------------------------------------------------------------


def test_the_return_desk_shows_what_can_still_come_back(
    gateway_url: str, variables: dict[str, dict[str, Any]], world: World
) -> None:
    asked = variables["ReturnDesk"]
    order = run_reference(gateway_url, "ReturnDesk", asked)["data"]["order"]
    number = asked["orderId"].rsplit(":", 1)[1]
    back = Counter(
        {
            line.item_no: line.quantity
            for r in world.returns
            if r.order_id == number
            for line in r.lines
        }
    )
    assert order["returns"]
    for line in order["lines"]:
        assert line["returnableQuantity"] == line["quantity"] - back[line["sku"]]
    assert any(line["returnableQuantity"] > 0 for line in order["lines"])
    assert {p["kind"] for p in order["payments"]} >= {"PAYMENT"}


def test_the_return_desk_calls_the_erp_once_per_page_and_nothing_else(
    systems: dict[str, str], gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    """Round 1: the order by number, on the Sales Order page and the Posted Sales
    Invoice page at once (it may be on either). Round 2, in parallel: its return orders
    (one SalesReturnOrder read for the invoice's and the order's numbers, which is also
    what every line's returnable quantity counts), its lines' item cards (one ItemCard
    read) and its payments (one CustomerLedgerEntries read). Nothing of the POS or WMS."""
    _, calls = counted(systems, gateway_url, "ReturnDesk", variables["ReturnDesk"])
    assert _totals(calls) == {
        "crm": {},
        "erp": {
            "SalesOrder:ReadMultiple": 1,
            "PostedSalesInvoice:ReadMultiple": 1,
            "SalesReturnOrder:ReadMultiple": 1,
            "ItemCard:ReadMultiple": 1,
            "CustomerLedgerEntries:ReadMultiple": 1,
        },
        "pos": {},
        "wms": {},
    }
