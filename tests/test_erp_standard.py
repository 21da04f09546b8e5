"""Mosaic against a NAV that publishes only the standard pages: the real ItemCard and
Customer WSDLs, the other pages from their standard definitions (contracts/erp), no
extension field anywhere, asking for a web service user's Basic credentials.

Nothing is mapped (MOSAIC_ERP_FIELDS empty): every default must hold up. An item
without channel information is sold in every channel, a document without a channel
field is a web order, and nothing refuses an order for want of an extension field.
Every exchange is checked against the pure standard contracts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from legacy.common.knobs import Knobs
from legacy.common.runner import ServerThread
from legacy.erp.server import create_app
from legacy.examples import examples
from legacy.world import World
from tests.conftest import SEED, SIZE
from tests.contracts.soap import erp_checks
from tests.fresh import erp_read, fresh_systems, gateway
from tests.gateway_client import codes, graphql, run_reference
from tests.simulators import call_count, clear_calls

USER, PASSWORD = "MOSAIC-WS", "n0t-the-default"


@pytest.fixture(scope="module")
def standard_erp(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("standard-erp")
    app = create_app(
        world,
        folder / "erp.sqlite",
        Knobs(),
        extensions={},
        credentials=(USER, PASSWORD),
        middleware=erp_checks(extensions={}),
    )
    server = ServerThread(app).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def others(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with fresh_systems(world, tmp_path_factory.mktemp("standard-others")) as servers:
        yield servers


def _gateway(others: dict[str, Any], erp: str, folder: Path, password: str) -> Any:
    servers = {**others, "erp": _At(erp)}
    return gateway(servers, folder, erp_fields={}, erp_username=USER, erp_password=password)


class _At:
    """A server as ``tests.fresh.gateway`` needs one: its URL."""

    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture(scope="module")
def standard(
    others: dict[str, Any], standard_erp: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with _gateway(others, standard_erp, tmp_path_factory.mktemp("gw"), PASSWORD) as url:
        yield url


@pytest.fixture(scope="module")
def variables() -> dict[str, dict[str, Any]]:
    return examples(SEED, SIZE)


def test_products_answer_and_every_item_is_sold_in_every_channel(
    standard: str, world: World
) -> None:
    store_only = next(i for i in world.items if i.channels == ("STORE",) and not i.blocked)
    result = graphql(
        standard,
        "query($sku: ID!) { product(sku: $sku) { sku name brand channels"
        " price(channel: WEB) { amount } } }",
        {"sku": store_only.no},
    )
    assert "errors" not in result, result
    product = result["data"]["product"]
    assert product["name"] == store_only.description
    assert product["brand"] is None  # the standard item card has no brand
    assert product["channels"] == ["WEB", "APP", "STORE"]
    assert product["price"]["amount"]


def test_customers_answer(standard: str, variables: dict[str, dict[str, Any]]) -> None:
    result = run_reference(standard, "Customer360", variables["Customer360"])
    assert "errors" not in result, result
    customer = result["data"]["customer"]
    assert "ERP" in {s["system"] for s in customer["sources"]}  # systems are an enum since issue 18
    assert customer["orders"]
    assert {o["channel"] for o in customer["orders"] if o["id"].startswith("order:erp:")} <= {
        "WEB",
        "STORE",
    }


def test_the_product_listing_shows_products_sold_online(
    standard: str, variables: dict[str, dict[str, Any]]
) -> None:
    result = run_reference(standard, "ProductListing", variables["ProductListing"])
    assert "errors" not in result, result
    products = result["data"]["products"]
    assert len(products) == len(variables["ProductListing"]["skus"])
    assert all(p["name"] and p["price"] for p in products)
    assert any(p["availability"]["online"] for p in products)


def test_click_and_collect_places_an_order_with_the_default_mapping(
    standard: str, standard_erp: str, variables: dict[str, dict[str, Any]], world: World
) -> None:
    result = run_reference(standard, "ClickAndCollect", variables["ClickAndCollect"])
    assert "errors" not in result, result
    payload = result["data"]["placeOrder"]
    assert payload["errors"] == []
    order = payload["order"]
    assert (order["status"], order["channel"]) == ("PLACED", "WEB")
    contact_id = variables["ClickAndCollect"]["input"]["customerId"].split(":")[1]
    customer_no = next(c.erp_customer_no for c in world.crm_contacts if c.id == contact_id)
    assert customer_no is not None
    placed = [
        o for o in _orders(standard_erp, customer_no) if o["No"] == order["id"].rsplit(":", 1)[1]
    ]
    assert [o["External_Document_No"][:4] for o in placed] == ["MOS-"]


def _orders(url: str, customer_no: str) -> list[dict[str, Any]]:
    return erp_read(url, "SalesOrder", "Sell_to_Customer_No", customer_no, (USER, PASSWORD))


def test_a_wrong_password_is_source_auth_failed_naming_the_erp_after_one_call(
    others: dict[str, Any], standard_erp: str, tmp_path: Path, world: World
) -> None:
    with _gateway(others, standard_erp, tmp_path, "wrong") as url:
        clear_calls(standard_erp)
        result = graphql(url, "query($sku: ID!) { product(sku: $sku) { name } }", {"sku": "10001"})
        calls = call_count(standard_erp)
    assert set(codes(result)) == {"SOURCE_AUTH_FAILED"}
    assert {e["extensions"]["source"] for e in result["errors"]} == {"erp"}
    assert "wrong" not in str(result)
    # the WSDL's GET was refused: asked once, not retried (retries=2 for reads)
    assert sum(calls.values()) == 1, calls
