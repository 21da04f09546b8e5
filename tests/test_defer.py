"""``@defer`` over real HTTP: the fast parts of Customer360 first, the order history
(ERP orders, POS receipts, and the lines' products and prices from the ERP) after.

Upstream calls, by round (DESIGN: a deferred fragment is a round of its own).
Initial payload: round 1, the card searched in the CRM and the POS (the name is the
CRM's, the loyalty the POS's: the ERP's customer card is not read, nothing asked needs
it). Deferred payload: round 2, the ERP orders of the number the CRM knows and the POS
receipts; round 3, the lines' products and prices. So CRM 1, POS 2, ERP 3 — the same
calls as without ``@defer``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from legacy.examples import examples
from legacy.world import World
from tests.conftest import SEED, SIZE
from tests.simulators import call_count, clear_calls, reset_knobs, set_knobs

DEFERRED = """query Customer360Deferred($card: String!) {
  customer(by: { loyaltyCard: $card }) {
    id
    name
    loyalty { cardNumber tier points }
    ... @defer(label: "history") {
      orders(last: 20) {
        id
        placedAt
        lines { quantity product { sku name price(channel: STORE) { amount } } }
      }
    }
  }
}"""

ERP_LATENCY_MS = 150


@pytest.fixture(scope="module")
def card() -> str:
    card: str = examples(SEED, SIZE)["Customer360"]["card"]
    return card


async def _parts(
    response: aiohttp.ClientResponse,
) -> AsyncIterator[tuple[float, dict[str, Any]]]:
    """Each JSON part of a multipart/mixed response, with the moment it arrived."""
    reader = aiohttp.MultipartReader.from_response(response)
    while True:
        part = await reader.next()
        if part is None:
            return
        assert isinstance(part, aiohttp.BodyPartReader)
        body = await part.read()
        yield time.monotonic(), json.loads(body)


async def _post(
    session: aiohttp.ClientSession, url: str, card: str, accept: str
) -> aiohttp.ClientResponse:
    return await session.post(
        url + "/graphql",
        json={"query": DEFERRED, "variables": {"card": card}},
        headers={"Accept": accept},
    )


async def test_the_customer_comes_first_and_the_deferred_order_history_after(
    session: aiohttp.ClientSession, gateway_url: str, systems: dict[str, str], card: str
) -> None:
    """With the ERP answering in 150 ms, the deferred part (two more ERP rounds) comes
    at least one ERP round after the initial one, in a later part of the same
    response."""
    set_knobs(systems["erp"], latency_ms=ERP_LATENCY_MS)
    try:
        response = await _post(
            session, gateway_url, card, "multipart/mixed;deferSpec=20220824, application/json"
        )
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("multipart/mixed")
        parts = [p async for p in _parts(response)]
    finally:
        reset_knobs(systems["erp"])
    (first_at, initial), *rest = parts
    customer = initial["data"]["customer"]
    assert customer["name"]
    assert customer["loyalty"]["cardNumber"] == card
    assert "orders" not in customer
    assert initial["hasNext"] is True
    assert [p["label"] for p in initial["pending"]] == ["history"]
    last_at, last = rest[-1]
    assert last["hasNext"] is False
    deferred = [i for _, part in rest for i in part.get("incremental", [])]
    assert [d["path"] for d in deferred] == [["customer"]]
    orders = deferred[0]["data"]["orders"]
    assert orders
    assert orders[0]["lines"][0]["product"]["price"]["amount"]
    assert "errors" not in deferred[0]
    assert last_at - first_at >= ERP_LATENCY_MS / 1000


async def test_a_deferred_fragment_is_a_round_of_its_own(
    session: aiohttp.ClientSession, gateway_url: str, systems: dict[str, str], card: str
) -> None:
    """The POS's calls: the card's customer profile and loyalty account, and the
    receipts searched once per 10 stores (Square's SearchOrders takes at most 10
    location ids, which the gateway knows from an earlier request: the first run)."""
    warm = await _post(session, gateway_url, card, "application/json")
    assert warm.status == 200
    for url in systems.values():
        clear_calls(url)
    response = await _post(session, gateway_url, card, "multipart/mixed, application/json")
    _ = [p async for p in _parts(response)]
    calls = {name: call_count(url) for name, url in systems.items()}
    soap = {op: n for op, n in calls["erp"].items() if "/Page/" not in op}
    assert sum(calls["crm"].values()) == 1
    assert calls["pos"] == {
        "POST /v2/customers/search": 1,
        "POST /v2/loyalty/accounts/search": 1,
        "POST /v2/orders/search": 3,
    }
    # (deferred) the open orders and the posted invoices (NAV keeps an invoiced order
    # only as its posted invoice), then their items, prices and the channel's running
    # promotions (a price today is less its promotion since issue 17): 5, each once
    assert sum(soap.values()) == 5
    assert set(soap.values()) == {1}


async def test_a_client_without_defer_support_gets_the_whole_answer_at_once(
    session: aiohttp.ClientSession, gateway_url: str, card: str
) -> None:
    response = await _post(session, gateway_url, card, "application/json")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    result = await response.json()
    assert "errors" not in result
    customer = result["data"]["customer"]
    assert customer["name"]
    assert customer["loyalty"]["cardNumber"] == card
    assert customer["orders"][0]["lines"][0]["product"]["name"]


STOCK_DEFERRED = """query($skus: [ID!]!) {
  products(skus: $skus) {
    sku
    name
    ... @defer { stock { location { id } available } }
  }
}"""


async def test_a_source_down_in_a_deferred_part_is_a_coded_error_in_that_part(
    session: aiohttp.ClientSession,
    gateway_url: str,
    systems: dict[str, str],
    world: World,
) -> None:
    """The WMS is down: the names (ERP) come first without an error; each deferred
    stock list still has the stores' stock (POS) and carries the WMS's error, with its
    code and source, in the part that delivers it."""
    skus = [item.no for item in world.items[:2]]
    set_knobs(systems["wms"], fault="error500")
    try:
        response = await session.post(
            gateway_url + "/graphql",
            json={"query": STOCK_DEFERRED, "variables": {"skus": skus}},
            headers={"Accept": "multipart/mixed, application/json"},
        )
        (_, initial), *rest = [p async for p in _parts(response)]
    finally:
        reset_knobs(systems["wms"])
    assert "errors" not in initial
    assert [p["name"] for p in initial["data"]["products"]] == [
        i.description for i in world.items[:2]
    ]
    deferred = [i for _, part in rest for i in part.get("incremental", [])]
    assert sorted(d["path"] for d in deferred) == [["products", 0], ["products", 1]]
    assert all(d["data"]["stock"] for d in deferred)
    errors = [e for d in deferred for e in d.get("errors", [])]
    assert {e["extensions"]["source"] for e in errors} == {"wms"}
    assert {tuple(e["path"][:2]) for e in errors} == {("products", 0), ("products", 1)}
    assert all(e["extensions"]["code"].startswith("SOURCE_") for e in errors)
