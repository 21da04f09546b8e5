"""``node(id:)`` finds any object with a global id, as the field that finds its kind
would find it, under that field's rules; ids carry their kind
(``resolvers/graphql/ids.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from legacy.examples import showcase_card
from legacy.world import World
from tests.auth_tokens import SECRET, Person, bearer, people, store_of
from tests.conftest import _gateway
from tests.gateway_client import codes, graphql

NODE = """query($id: ID!) { node(id: $id) {
  __typename id
  ... on Customer { name }
  ... on Product { sku name }
  ... on Order { channel lines { sku } }
  ... on Return { lines { sku quantity } order { id } }
  ... on Location { kind name }
} }"""


def _node(url: str, id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return graphql(url, NODE, {"id": id}, headers)


def test_every_kind_is_found_again_by_its_id(gateway_url: str, world: World) -> None:
    """Each id a query answers leads back to the same object through ``node``."""
    query = """query($card: String!) {
      customer(by: {loyaltyCard: $card}) { id name
        orders(last: 50) { id channel lines { sku product { id sku name } } returns { id } } }
      locations(limit: 30) { id kind name } }"""
    found = graphql(gateway_url, query, {"card": _returning_card(world)})
    assert "errors" not in found, found
    customer = found["data"]["customer"]
    order = customer["orders"][0]
    product = order["lines"][0]["product"]
    returned = next(o for o in customer["orders"] if o["returns"])
    store = next(p for p in found["data"]["locations"] if p["kind"] == "STORE")
    warehouse = next(p for p in found["data"]["locations"] if p["kind"] == "WAREHOUSE")
    expected = {
        customer["id"]: ("Customer", {"name": customer["name"]}),
        product["id"]: ("Product", {"sku": product["sku"], "name": product["name"]}),
        order["id"]: ("Order", {"channel": order["channel"]}),
        returned["returns"][0]["id"]: ("Return", {"order": {"id": returned["id"]}}),
        store["id"]: ("Location", {"kind": "STORE", "name": store["name"]}),
        warehouse["id"]: ("Location", {"kind": "WAREHOUSE", "name": warehouse["name"]}),
    }
    for id, (typename, fields) in expected.items():
        result = _node(gateway_url, id)
        assert "errors" not in result, (id, result)
        node = result["data"]["node"]
        assert (node["__typename"], node["id"]) == (typename, id)
        assert {k: node[k] for k in fields} == fields


def _returning_card(world: World) -> str:
    """The card of a customer one of whose online orders came back."""
    back = {r.customer_ref for r in world.returns}
    contact = next(c for c in world.crm_contacts if c.erp_customer_no in back and c.loyalty_card)
    return contact.loyalty_card or ""


def test_ids_carry_their_kind_so_an_erp_customer_and_an_erp_order_differ(
    gateway_url: str, world: World
) -> None:
    order = world.erp_orders[0]
    found = _node(gateway_url, f"order:erp:{order.id}")["data"]["node"]
    assert found["__typename"] == "Order"
    customer_no = order.customer_ref
    assert _node(gateway_url, f"erp:{customer_no}")["data"]["node"]["__typename"] == "Customer"


@pytest.mark.parametrize(
    "id", ["order:erp:SO9999999", "product:99999", "store:LOC-999", "return:erp:SR9999999"]
)
def test_an_unknown_object_of_a_known_kind_is_null(gateway_url: str, id: str) -> None:
    result = _node(gateway_url, id)
    assert result["data"] == {"node": None}
    assert "errors" not in result


@pytest.mark.parametrize("id", ["nonsense", "shelf:12", "order:crm:1", "return:pos:R1", ""])
def test_an_id_of_no_kind_is_refused(gateway_url: str, id: str) -> None:
    result = _node(gateway_url, id)
    assert result["data"] == {"node": None}
    assert codes(result) == ["BAD_USER_INPUT"]


# --- the same rules as the field that finds each kind ------------------------------------


@pytest.fixture(scope="module")
def secured_url(systems: dict[str, str]) -> Iterator[str]:
    yield from _gateway(systems, cache=False, jwt_secret=SECRET)


@pytest.fixture(scope="module")
def two(world: World) -> list[Person]:
    return people(world)[:2]


def test_a_customer_finds_themself_and_their_orders_but_nobody_elses(
    secured_url: str, two: list[Person]
) -> None:
    alice, bob = two
    as_alice = bearer("customer", customer=alice.id)
    assert _node(secured_url, alice.id, as_alice)["data"]["node"]["id"] == alice.id
    own = _node(secured_url, alice.erp_orders[0], as_alice)
    assert own["data"]["node"]["id"] == alice.erp_orders[0]
    for other in (bob.id, bob.erp_orders[0], bob.pos_orders[0]):
        refused = _node(secured_url, other, as_alice)
        assert refused["data"] == {"node": None}
        assert codes(refused) == ["FORBIDDEN"]


def test_a_store_employee_finds_orders_and_products_but_no_customer_by_id(
    secured_url: str, two: list[Person], world: World
) -> None:
    """At the till a customer is recognised by card (``customer(by:)``), never by id."""
    alice, _ = two
    employee = bearer("store_employee", store=store_of(world), channel="STORE")
    assert _node(secured_url, alice.erp_orders[0], employee)["data"]["node"]["id"]
    assert _node(secured_url, f"product:{world.items[0].no}", employee)["data"]["node"]
    refused = _node(secured_url, alice.id, employee)
    assert codes(refused) == ["FORBIDDEN"]


#: what a caller without a customer's access may select: a person's fields are never
#: theirs, and selecting one refuses the whole operation before it runs (issue 18)
NODE_PUBLIC = """query($id: ID!) { node(id: $id) {
  __typename id ... on Product { sku } ... on Location { name } ... on Order { channel }
} }"""


def test_without_credentials_only_products_and_places_are_found(
    secured_url: str, two: list[Person], world: World
) -> None:
    alice, _ = two
    product = graphql(secured_url, NODE_PUBLIC, {"id": f"product:{world.items[0].no}"})
    assert product["data"]["node"]["sku"] == world.items[0].no
    place = graphql(secured_url, NODE_PUBLIC, {"id": f"store:{world.stores[0].id}"})
    assert place["data"]["node"]["name"]
    for id in (alice.id, alice.erp_orders[0]):
        assert codes(graphql(secured_url, NODE_PUBLIC, {"id": id})) == ["UNAUTHENTICATED"]
    refused = _node(secured_url, f"product:{world.items[0].no}")  # selects Customer.name
    assert "data" not in refused
    assert codes(refused) == ["UNAUTHENTICATED"]


def test_a_partner_finds_only_the_orders_that_came_in_through_it(
    secured_url: str, world: World
) -> None:
    partner = bearer("partner", partner="acme", scopes=["orders:read"])
    own = next(o for o in world.erp_orders if o.partner == "ACME")
    other = next(o for o in world.erp_orders if o.partner != "ACME")
    found = graphql(secured_url, NODE_PUBLIC, {"id": f"order:erp:{own.id}"}, partner)
    assert found["data"]["node"]["id"] == f"order:erp:{own.id}"
    hidden = graphql(secured_url, NODE_PUBLIC, {"id": f"order:erp:{other.id}"}, partner)
    assert hidden["data"] == {"node": None}
    contact = next(c for c in world.crm_contacts if c.loyalty_card == showcase_card(world))
    person = graphql(secured_url, NODE_PUBLIC, {"id": f"crm:{contact.id}"}, partner)
    assert codes(person) == ["FORBIDDEN"]  # partners never find a person
