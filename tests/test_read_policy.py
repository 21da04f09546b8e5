"""A field a role may never read refuses the operation before it runs, with one error
naming the fields and the role (issue 18: a customer's StockCheck was fifty empty stock
lists and fifty identical errors, after every source had been asked). What depends on
the arguments or the data is still decided field by field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.operations import reference_operations
from legacy.examples import examples
from legacy.world import World
from tests.auth_tokens import SECRET, bearer, people, store_of
from tests.conftest import SEED, SIZE, _gateway
from tests.gateway_client import graphql, post
from tests.simulators import call_count, clear_calls


@pytest.fixture(scope="module")
def url(systems: dict[str, str]) -> Iterator[str]:
    yield from _gateway(systems, cache=False, jwt_secret=SECRET)


@pytest.fixture(scope="module")
def customer(world: World) -> dict[str, str]:
    return bearer("customer", customer=people(world)[0].id)


def _refusal(result: dict[str, Any]) -> dict[str, Any]:
    assert result.get("data") is None, result
    [error] = result["errors"]
    assert "path" not in error
    extensions: dict[str, Any] = error["extensions"]
    return {**extensions, "message": error["message"]}


def test_a_customers_stock_check_is_one_error_and_no_call(
    url: str, systems: dict[str, str], customer: dict[str, str]
) -> None:
    for system in systems.values():
        clear_calls(system)
    stock_check = reference_operations()["StockCheck"]
    result = graphql(url, stock_check, examples(SEED, SIZE)["StockCheck"], customer)
    refused = _refusal(result)
    assert refused["code"] == "FORBIDDEN"
    assert refused["fields"] == ["Product.stock"]
    assert refused["role"] == "customer"
    assert "Product.stock is not for role customer" in refused["message"]
    assert {name: sum(call_count(s).values()) for name, s in systems.items()} == dict.fromkeys(
        systems, 0
    )


def test_without_credentials_the_refusal_asks_for_them(url: str) -> None:
    stock_check = reference_operations()["StockCheck"]
    refused = _refusal(graphql(url, stock_check, examples(SEED, SIZE)["StockCheck"]))
    assert (refused["code"], refused["fields"]) == ("UNAUTHENTICATED", ["Product.stock"])
    assert "send a bearer token" in refused["message"]


def test_the_fields_are_found_through_fragments_and_aliases(
    url: str, customer: dict[str, str]
) -> None:
    query = """query { listing: products(skus: ["10000"]) { ...Stocked } }
      fragment Stocked on Product { sku ... on Product { levels: stock { onHand } } }"""
    assert _refusal(graphql(url, query, None, customer))["fields"] == ["Product.stock"]


def test_a_field_left_out_by_skip_or_include_does_not_refuse(
    url: str, customer: dict[str, str]
) -> None:
    query = """query($withStock: Boolean!) { product(sku: "10000") {
      sku stock @include(if: $withStock) { onHand } } }"""
    shown = graphql(url, query, {"withStock": False}, customer)
    assert shown == {"data": {"product": {"sku": "10000"}}}
    assert _refusal(graphql(url, query, {"withStock": True}, customer))["fields"] == [
        "Product.stock"
    ]


def test_only_the_operation_asked_for_is_judged(url: str, customer: dict[str, str]) -> None:
    document = """query Stock { product(sku: "10000") { stock { onHand } } }
      query Name { product(sku: "10000") { name } }"""
    body = {"query": document, "operationName": "Name"}
    _, result = post(url, json.dumps(body).encode(), headers=customer)
    assert result["data"]["product"]["name"]


def test_what_depends_on_the_arguments_is_still_judged_at_the_field(url: str, world: World) -> None:
    """A store employee may find a customer by loyalty card, not by id: the same field,
    allowed or not by its arguments, so the operation runs and the field answers."""
    employee = bearer("store_employee", store=store_of(world), channel="STORE")
    query = "query($by: CustomerBy!) { customer(by: $by) { id } }"
    person = people(world)[0]
    by_card = graphql(url, query, {"by": {"loyaltyCard": person.card}}, employee)
    assert by_card["data"]["customer"]["id"] == person.id
    by_id = graphql(url, query, {"by": {"id": person.id}}, employee)
    assert by_id["data"] == {"customer": None}
    assert [e["path"] for e in by_id["errors"]] == [["customer"]]


def test_every_field_the_role_may_never_read_is_named_once(world: World, url: str) -> None:
    marketing = bearer("marketing")
    query = """query($card: String!) { a: customer(by: {loyaltyCard: $card}) { phone name }
      b: customer(by: {loyaltyCard: $card}) { phone address { city } } }"""
    refused = _refusal(graphql(url, query, {"card": people(world)[0].card}, marketing))
    assert refused["fields"] == ["Customer.phone", "Customer.address"]
    assert refused["role"] == "marketing"
