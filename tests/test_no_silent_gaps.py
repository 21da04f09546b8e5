"""DESIGN, "A list assembled from several systems is never silently short" (issue 17):
every field whose value is assembled from several systems, with each of those systems
down in turn, still answers with what the others gave, and names the one it could not
ask: an error with ``extensions.source`` and the field's path.

The systems are the session's simulators, failed through their knobs (``error500``:
the adapters' retries cannot get past it). The gateway is one of the module's own,
without cache (every request reaches the sources) and with a breaker that stays closed
(the breaker has its own tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from legacy.examples import examples
from tests.conftest import SEED, SIZE, _gateway
from tests.gateway_client import graphql
from tests.simulators import reset_knobs, set_knobs

SOURCES = ("crm", "erp", "pos", "wms")


def _customer(selection: str) -> str:
    return f"query($card: String!) {{ customer(by: {{loyaltyCard: $card}}) {{ {selection} }} }}"


def _product(selection: str) -> str:
    return f"query($sku: ID!) {{ product(sku: $sku) {{ {selection} }} }}"


#: field -> (query, the field's path, the systems it is assembled from)
FIELDS: dict[str, tuple[str, list[str], tuple[str, ...]]] = {
    "order history": (_customer("orders(last: 50) { id }"), ["customer", "orders"], ("erp", "pos")),
    "payments": (_customer("payments { id }"), ["customer", "payments"], ("erp", "pos")),
    "sources": (_customer("sources { system }"), ["customer", "sources"], ("crm", "erp", "pos")),
    "provenance": (
        _customer("provenance { field }"),
        ["customer", "provenance"],
        ("crm", "erp", "pos"),
    ),
    "identity: the customer's id": (_customer("id"), ["customer", "id"], ("crm",)),
    "identity: the golden name": (_customer("name"), ["customer", "name"], ("crm",)),
    "recommendations": (
        _customer("recommendations(channel: WEB) { product { sku } }"),
        ["customer", "recommendations"],
        ("crm", "erp", "pos", "wms"),
    ),
    "stock levels": (
        _product("stock { location { id } available }"),
        ["product", "stock"],
        ("erp", "pos", "wms"),
    ),
    "availability": (
        _product('availability(near: {postalCode: "1011"}) { online nearest { available } }'),
        ["product", "availability"],
        ("erp", "pos", "wms"),
    ),
    "data-subject report": (
        "query($id: ID!) { dataSubjectReport(customerId: $id) { records { system } } }",
        ["dataSubjectReport"],
        ("crm", "erp", "pos"),
    ),
    "locations": (
        "{ locations(limit: 100) { id } }",
        ["locations"],
        ("pos", "wms"),
    ),
}
CASES = [(field, system) for field, (_, _, systems) in FIELDS.items() for system in systems]


@pytest.fixture(scope="module")
def gateway(systems: dict[str, str]) -> Iterator[str]:
    yield from _gateway(systems, cache=False, breaker_failure_threshold=10_000)


@pytest.fixture(scope="module")
def variables(gateway: str) -> dict[str, Any]:
    """A customer known to every system, who consents to personalisation and bought
    online and in store; a product stocked in stores and warehouses."""
    card = examples(SEED, SIZE)["Recommendations"]["card"]
    found = graphql(gateway, _customer("id"), {"card": card})
    assert "errors" not in found, found
    sku = examples(SEED, SIZE)["StockCheck"]["skus"][0]
    return {"card": card, "id": found["data"]["customer"]["id"], "sku": sku}


def _ask(gateway: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The query with those of the variables it declares."""
    return graphql(gateway, query, {k: v for k, v in variables.items() if f"${k}:" in query})


@pytest.mark.parametrize(("field", "system"), CASES, ids=[f"{f}-{s}" for f, s in CASES])
def test_a_field_assembled_from_several_systems_names_each_one_it_could_not_ask(
    gateway: str, systems: dict[str, str], variables: dict[str, Any], field: str, system: str
) -> None:
    query, path, _ = FIELDS[field]
    healthy = _ask(gateway, query, variables)
    assert "errors" not in healthy, healthy
    set_knobs(systems[system], fault="error500")
    try:
        result = _ask(gateway, query, variables)
    finally:
        reset_knobs(systems[system])
    named = [
        e
        for e in result.get("errors") or []
        if e["extensions"].get("source") == system and e.get("path", [])[: len(path)] == path
    ]
    assert named, f"{field} with {system} down must say so: {result.get('errors')}"
    assert result["data"] is not None, result
    assert result["data"][path[0]] is not None, "the rest still arrives"
