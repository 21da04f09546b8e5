"""registerReturn and the profile writes through the real gateway, against fresh
simulated systems, checked by asking the systems themselves."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from legacy.erp.seed import invoice_no
from legacy.examples import return_in_store
from legacy.world import World
from tests.fresh import (
    crm_contact,
    erp_refunds,
    erp_returns,
    fresh_systems,
    gateway,
    pos_levels,
)
from tests.gateway_client import graphql, run_reference
from tests.simulators import set_knobs


@pytest.fixture(scope="module")
def env(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("writes-returns")
    with fresh_systems(world, folder) as servers, gateway(servers, folder / "gw") as url:
        yield {"gateway": url, **{name: s.url for name, s in servers.items()}}


def _return_input(world: World, key: str, **changes: Any) -> dict[str, Any]:
    variables = copy.deepcopy(return_in_store(world))
    variables["input"].update(idempotencyKey=key, **changes)
    return variables


def register(env: dict[str, str], variables: dict[str, Any]) -> dict[str, Any]:
    result = run_reference(env["gateway"], "ReturnInStore", variables)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["registerReturn"]
    return payload


def _unreturned_online_orders(world: World) -> list[Any]:
    returned = {r.order_id for r in world.returns}
    return [o for o in world.erp_orders if o.status == "DELIVERED" and o.id not in returned]


def _return_of(world: World, n: int, key: str, quantity: int = 1) -> tuple[Any, dict[str, Any]]:
    """The n-th online order nothing came back from, and a return of its first line."""
    order = _unreturned_online_orders(world)[n]
    line = order.lines[0]
    lines = [{"sku": line.item_no, "quantity": quantity}]
    return order, _return_input(world, key, orderId=f"erp:{order.id}", lines=lines)


def test_return_in_store_runs_as_written_registers_the_return_order_and_restocks(
    env: dict[str, str], world: World
) -> None:
    variables = _return_input(world, "ret-as-written")
    order_no = variables["input"]["orderId"].split(":")[1]
    store = variables["input"]["locationId"].split(":")[1]
    sku = variables["input"]["lines"][0]["sku"]
    order = next(o for o in world.erp_orders if o.id == order_no)
    price = next(line.unit_price for line in order.lines if line.item_no == sku)
    stock_before = pos_levels(env["pos"], sku, store)
    payload = register(env, variables)
    back = payload["return"]
    assert payload["errors"] == []
    assert back["id"].startswith("erp:SR")
    # a return order nothing was received on yet: NAV has not posted it
    assert back["status"] == "REGISTERED"
    assert Decimal(back["refund"]["amount"]) == price
    assert back["order"]["id"] == f"erp:{order_no}"
    erp_return = next(
        r for r in erp_returns(env["erp"], invoice_no(order_no)) if r["No"] == back["id"][4:]
    )
    assert (erp_return["Applies_to_Doc_Type"], erp_return["Location_Code"]) == ("Invoice", store)
    assert erp_return["Shortcut_Dimension_1_Code"] == "STORE"
    assert pos_levels(env["pos"], sku, store) == (stock_before[0] + 1, stock_before[1])


def test_a_returns_refund_is_owed_by_its_return_order_until_finance_posts_it(
    env: dict[str, str], world: World
) -> None:
    """No standard NAV page takes a ledger entry from outside: the return order is the
    ERP's record of what is owed, and the ledger shows the refund once it is posted."""
    order, variables = _return_of(world, 5, "ret-refund")
    back = register(env, variables)["return"]
    assert erp_refunds(env["erp"], order.id) == []
    (booked,) = erp_returns(env["erp"], invoice_no(order.id))
    assert booked["No"] == back["id"][4:]
    shown = run_reference(env["gateway"], "OrderPayments", {"id": f"erp:{order.id}"})
    assert [p["kind"] for p in shown["data"]["order"]["payments"]] == ["PAYMENT"]


def test_the_same_return_twice_is_registered_once(env: dict[str, str], world: World) -> None:
    order, variables = _return_of(world, 1, "ret-twice")
    first, second = register(env, variables), register(env, variables)
    assert first == second
    assert len(erp_returns(env["erp"], invoice_no(order.id))) == 1


def test_no_more_comes_back_than_was_bought(env: dict[str, str], world: World) -> None:
    order = _unreturned_online_orders(world)[2]
    _, variables = _return_of(world, 2, "ret-too-many", order.lines[0].quantity + 1)
    payload = register(env, variables)
    assert payload["return"] is None
    assert [e["code"] for e in payload["errors"]] == ["NOT_RETURNABLE"]
    assert erp_returns(env["erp"], invoice_no(order.id)) == []


def test_two_returns_racing_for_the_same_goods_never_refund_them_twice(
    env: dict[str, str], world: World
) -> None:
    """Both are planned before either is written (the ERP answers slowly), so both pass
    the planning count; the saga's recount after writing keeps at most one."""
    order = _unreturned_online_orders(world)[4]
    everything = order.lines[0].quantity
    both = [_return_of(world, 4, f"ret-race-{side}", everything)[1] for side in "ab"]
    set_knobs(env["erp"], latency_ms=150.0)
    try:
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda v: register(env, v), both))
    finally:
        set_knobs(env["erp"], latency_ms=0.0)
    registered = [a for a in answers if a["return"]]
    assert len(registered) <= 1
    for refused in (a for a in answers if not a["return"]):
        assert [e["code"] for e in refused["errors"]] == ["NOT_RETURNABLE"]
    # a return undone is deleted, as NAV has no cancelled return orders
    assert len(erp_returns(env["erp"], invoice_no(order.id))) == len(registered)


def test_a_store_receipt_returned_at_another_store_is_booked_in_the_erp(
    env: dict[str, str], world: World
) -> None:
    receipt = next(o for o in world.pos_orders if o.lines[0].quantity == 1)
    elsewhere = next(s.id for s in world.stores if s.active and s.id != receipt.location_id)
    sku = receipt.lines[0].item_no
    before = pos_levels(env["pos"], sku, elsewhere)
    variables = _return_input(
        world,
        "ret-receipt",
        orderId=f"pos:{receipt.id}",
        locationId=f"store:{elsewhere}",
        lines=[{"sku": sku, "quantity": 1}],
    )
    payload = register(env, variables)
    assert payload["errors"] == []
    assert payload["return"]["order"]["id"] == f"pos:{receipt.id}"
    (booked,) = erp_returns(env["erp"], receipt.id)
    assert (booked["Shortcut_Dimension_1_Code"], booked["Location_Code"]) == ("STORE", elsewhere)
    assert booked["Applies_to_Doc_Type"] == "_blank_"  # a receipt is no NAV document
    assert pos_levels(env["pos"], sku, elsewhere) == (before[0] + 1, before[1])


def test_a_return_by_post_is_booked_without_a_store_and_leaves_store_stock_alone(
    env: dict[str, str], world: World
) -> None:
    order = _unreturned_online_orders(world)[3]
    variables = _return_input(
        world,
        "ret-post",
        orderId=f"erp:{order.id}",
        locationId=None,
        lines=[{"sku": order.lines[0].item_no, "quantity": 1}],
    )
    payload = register(env, variables)
    assert payload["errors"] == []
    (booked,) = erp_returns(env["erp"], invoice_no(order.id))
    assert booked.get("Location_Code") is None


def test_a_closed_store_takes_no_returns(env: dict[str, str], world: World) -> None:
    closed = next(s.id for s in world.stores if not s.active)
    payload = register(env, _return_input(world, "ret-closed", locationId=f"store:{closed}"))
    assert [e["code"] for e in payload["errors"]] == ["STORE_CLOSED"]


# --- profile writes -------------------------------------------------------------------

UPDATE = """mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id name email phone } errors { code message } }
}"""
CONSENT = """mutation($id: ID!, $purpose: String!, $granted: Boolean!, $until: Date) {
  setConsent(customerId: $id, purpose: $purpose, granted: $granted, validUntil: $until) {
    consent { purpose granted validUntil } customer { consents { purpose granted } }
    errors { code }
  }
}"""


def test_update_customer_writes_name_email_and_phone_to_the_crm(
    env: dict[str, str], world: World
) -> None:
    contact = world.crm_contacts[3]
    changes = {
        "name": "Anna de Vries",
        "email": "Anna.de.Vries@Example.NL",
        "phone": "+31201234567",
    }
    result = graphql(
        env["gateway"], UPDATE, {"input": {"customerId": f"crm:{contact.id}", **changes}}
    )
    payload = result["data"]["updateCustomer"]
    assert payload["errors"] == []
    assert payload["customer"]["name"] == "Anna de Vries"
    assert payload["customer"]["email"] == "anna.de.vries@example.nl"
    properties = crm_contact(env["crm"], contact.id)["properties"]
    assert (properties["firstname"], properties["lastname"]) == ("Anna", "de Vries")
    assert properties["email"] == "anna.de.vries@example.nl"
    assert properties["phone"] == "+31201234567"


def test_set_consent_writes_the_crm_properties(env: dict[str, str], world: World) -> None:
    contact = world.crm_contacts[4]
    variables = {
        "id": f"crm:{contact.id}",
        "purpose": "email_marketing",
        "granted": True,
        "until": "2031-01-31",
    }
    payload = graphql(env["gateway"], CONSENT, variables)["data"]["setConsent"]
    assert payload["errors"] == []
    assert payload["consent"] == {
        "purpose": "email_marketing",
        "granted": True,
        "validUntil": "2031-01-31",
    }
    assert {"purpose": "email_marketing", "granted": True} in payload["customer"]["consents"]
    properties = crm_contact(env["crm"], contact.id)["properties"]
    assert properties["consent_email_marketing"] == "true"
    assert properties["consent_email_marketing_valid_until"] == "2031-01-31"


def test_an_unknown_consent_purpose_is_refused(env: dict[str, str], world: World) -> None:
    variables = {"id": f"crm:{world.crm_contacts[5].id}", "purpose": "telepathy", "granted": True}
    payload = graphql(env["gateway"], CONSENT, variables)["data"]["setConsent"]
    assert [e["code"] for e in payload["errors"]] == ["UNKNOWN_PURPOSE"]


def test_a_customer_the_crm_does_not_know_cannot_be_updated(
    env: dict[str, str], world: World
) -> None:
    crm_cards = {c.loyalty_card for c in world.crm_contacts}
    member = next(p for p in world.pos_customers if p.card_number not in crm_cards)
    variables = {"input": {"customerId": f"pos:{member.id}", "phone": "+31600000000"}}
    payload = graphql(env["gateway"], UPDATE, variables)["data"]["updateCustomer"]
    assert [e["code"] for e in payload["errors"]] == ["NOT_IN_CRM"]
