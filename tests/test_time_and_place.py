"""DESIGN, Time and Nullability (issue 17): every DateTime is UTC with Z; a Dutch
postal code is four digits and maybe two letters, and anything else (Berlin's 10115
was taken for Amsterdam's 1011) is refused; an argument refused at run time nulls only
its own field, and the parent still answers."""

from __future__ import annotations

import re
from typing import Any

import pytest

from geodata import locate
from legacy.examples import examples
from tests.conftest import SEED, SIZE
from tests.gateway_client import codes, graphql, run_reference

UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


@pytest.fixture(scope="module")
def variables() -> dict[str, dict[str, Any]]:
    return examples(SEED, SIZE)


def _instants(value: Any, key: str = "") -> list[str]:
    """Every value of a DateTime field in an answer (they end in At)."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _instants(v, k)]
    if isinstance(value, list):
        return [t for v in value for t in _instants(v, key)]
    return [value] if key.endswith("At") and isinstance(value, str) else []


def test_every_instant_in_an_answer_is_utc_with_z(
    gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    customer = run_reference(gateway_url, "Customer360", variables["Customer360"])
    payments = run_reference(gateway_url, "CustomerPayments", variables["CustomerPayments"])
    stock = graphql(
        gateway_url,
        "query($skus: [ID!]!) { products(skus: $skus) { stock { inTransit { expectedAt } } } }",
        {"skus": variables["StockCheck"]["skus"]},
    )
    found = [*_instants(customer), *_instants(payments), *_instants(stock)]
    assert len(found) > 20
    assert [t for t in found if not UTC_Z.fullmatch(t)] == []


@pytest.mark.parametrize(
    ("code", "area"),
    [("1011", "1011"), ("1011 AB", "1011"), ("1011ab", "1011"), (" 9711 AB ", "9711")],
)
def test_a_dutch_postal_code_is_four_digits_and_maybe_two_letters(code: str, area: str) -> None:
    found = locate(code)
    assert found is not None
    assert found.postal_code == area


@pytest.mark.parametrize("code", ["10115", "0123", "1011 ABC", "1011-AB", "SW1A 1AA", "", "1O11"])
def test_anything_else_is_no_dutch_postal_code(code: str) -> None:
    assert locate(code) is None


def test_a_foreign_postal_code_nulls_only_the_availability_it_was_given_to(
    gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    sku = variables["StockCheck"]["skus"][0]
    query = """query($sku: ID!) { product(sku: $sku) {
        name availability(near: {postalCode: "10115"}) { online } } }"""
    result = graphql(gateway_url, query, {"sku": sku})
    assert result["data"]["product"]["name"]
    assert result["data"]["product"]["availability"] is None
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["path"] == ["product", "availability"]


def test_a_refused_last_nulls_only_the_order_history(
    gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    query = """query($card: String!) { customer(by: {loyaltyCard: $card}) {
        name orders(last: -1) { id } payments(last: 2) { id } } }"""
    result = graphql(gateway_url, query, {"card": variables["Customer360"]["card"]})
    customer = result["data"]["customer"]
    assert customer["name"]
    assert customer["orders"] is None
    assert len(customer["payments"]) == 2
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["path"] == ["customer", "orders"]


def test_a_foreign_postal_code_nulls_only_the_locations_list(gateway_url: str) -> None:
    result = graphql(
        gateway_url, '{ locations(near: {postalCode: "10115"}) { id } all: locations { id } }'
    )
    assert result["data"]["locations"] is None
    assert result["data"]["all"]
    assert codes(result) == ["BAD_USER_INPUT"]
