"""One payment history whatever the channel: payments online (ERP) and at the till (POS),
and refunds from returns in any channel against the original payment, each movement of
money once, consistent with what the ERP and the POS themselves hold (asked directly)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import datetime, time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import zeep

from adapters.config import ErpConfig, PosConfig
from adapters.erp.adapter import ErpAdapter
from adapters.pos import PosAdapter
from adapters.transport.resilience import GuardConfig
from legacy.erp.pages import INSTALLATION_FIELDS
from legacy.erp.seed import invoice_no
from legacy.examples import payments_card, returned_in_store
from legacy.world import Payment, Return, World
from tests.gateway_client import graphql, run_reference
from tests.simulators import call_count, clear_calls

PAYMENT_FIELDS = """
    id kind method status channel at system orderId refundOf records
    amount { amount currency }
    location { id }
"""
ORDER = "query($id: ID!) { order(id: $id) { payments { FIELDS } } }".replace(
    "FIELDS", PAYMENT_FIELDS
)
CUSTOMER = (
    "query($card: String!) { customer(by: {loyaltyCard: $card}) { payments(last: 500) {"
    " FIELDS } } }"
).replace("FIELDS", PAYMENT_FIELDS)


@pytest.fixture(scope="module")
def returned(world: World) -> Return:
    return returned_in_store(world)


def _one(world: World, **match: Any) -> Payment:
    return next(p for p in world.payments if all(getattr(p, k) == v for k, v in match.items()))


def _pos(url: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def erp_page(systems: dict[str, str]) -> Iterator[Any]:
    """A plain SOAP client of an ERP page, as any NAV integration would use."""
    opened: list[zeep.Client] = []

    def page(service: str) -> Any:
        opened.append(zeep.Client(f"{systems['erp']}/WS/CRONUS/Page/{service}"))
        return opened[-1].service

    yield page
    for client in opened:
        client.transport.session.close()


# --- an online order returned in a store ----------------------------------------------


def test_an_online_order_returned_in_a_store_shows_its_payment_and_refund_once_each(
    gateway_url: str, world: World, returned: Return
) -> None:
    result = graphql(gateway_url, ORDER, {"id": f"erp:{returned.order_id}"})
    assert "errors" not in result
    payment, refund = result["data"]["order"]["payments"]
    paid = _one(world, system="erp", kind="PAYMENT", order_id=returned.order_id)
    booked = _one(world, system="erp", kind="REFUND", return_id=returned.id)
    assert payment == {
        "id": f"erp:{paid.id}",
        "kind": "PAYMENT",
        "method": paid.method,
        "status": "COMPLETED",
        "channel": paid.channel,
        "at": posted(paid.at),
        "system": "ERP",
        # an order's id carries its kind since issue 18 (a payment's does not: no Node)
        "orderId": f"order:erp:{returned.order_id}",
        "refundOf": None,
        "records": [f"erp:{paid.id}"],
        "amount": {"amount": str(paid.amount), "currency": "EUR"},
        "location": None,
    }
    assert refund == {
        "id": f"erp:{booked.id}",
        "kind": "REFUND",
        "method": paid.method,
        "status": "COMPLETED",
        "channel": "STORE",
        "at": posted(returned.returned_at),
        "system": "ERP",
        "orderId": f"order:erp:{returned.order_id}",
        "refundOf": f"erp:{paid.id}",
        "records": [f"erp:{booked.id}", f"pos:{booked.mirror_id}"],
        "amount": {"amount": str(-returned.total), "currency": "EUR"},
        "location": {"id": f"store:{returned.location_id}"},
    }


def posted(moment: datetime) -> str:
    """When a ledger entry says money moved: its posting date (NAV keeps no time), in
    UTC written with Z (every DateTime since issue 17)."""
    return datetime.combine(moment.date(), time()).isoformat() + "Z"


def _ledger(erp_page: Any, order_no: str, *kinds: str) -> list[Any]:
    """The customer ledger's entries of an order: Document No. is its number."""
    return list(
        erp_page("CustomerLedgerEntries").ReadMultiple(
            filter=[
                {"Field": "Document_No", "Criteria": order_no},
                {"Field": "Document_Type", "Criteria": "|".join(kinds)},
            ],
            setSize=0,
        )
    )


def test_the_erp_ledger_holds_the_payment_and_the_refund_naming_the_pos_record(
    erp_page: Any, returned: Return
) -> None:
    payment, refund = sorted(
        _ledger(erp_page, returned.order_id, "Payment", "Refund"), key=lambda e: e.Entry_No
    )
    assert (payment.Document_Type, refund.Document_Type) == ("Payment", "Refund")
    # NAV signs from the customer's balance: the payment lowers it, the refund raises it
    assert payment.Amount < 0
    assert refund.Amount == returned.total
    assert refund.Global_Dimension_1_Code == "STORE"
    assert refund.Global_Dimension_2_Code == returned.location_id
    assert refund.Description is not None  # the POS's record of it
    (document,) = erp_page("SalesReturnOrder").ReadMultiple(
        filter=[{"Field": "No", "Criteria": returned.id}], setSize=0
    )
    assert (document.Applies_to_Doc_Type, document.Applies_to_Doc_No) == (
        "Invoice",
        invoice_no(returned.order_id),
    )
    assert document.Location_Code == returned.location_id
    lines = document.SalesLines.Sales_Return_Order_Subform
    assert {line.Total_Amount_Incl_VAT for line in lines} == {returned.total}


def test_the_pos_records_the_same_refund_naming_the_erp_record(
    systems: dict[str, str], erp_page: Any, returned: Return
) -> None:
    """Square keeps it as an unlinked refund (no Square payment) paid out elsewhere: an
    EXTERNAL destination naming the ERP's refund. It is found by its own id, which the
    ERP's record names (Square cannot find a refund by another system's order)."""
    (booked,) = _ledger(erp_page, returned.order_id, "Refund")
    recorded = _pos(systems["pos"], f"/v2/refunds/{booked.Description}")["refund"]
    assert recorded["destination_details"]["external_details"]["source_id"] == str(booked.Entry_No)
    assert recorded["unlinked"] is True
    assert recorded["destination_type"] == "EXTERNAL"
    assert "order_id" not in recorded  # the order is the ERP's, not a Square order
    assert Decimal(recorded["amount_money"]["amount"]) / 100 == booked.Amount
    assert recorded["location_id"] == booked.Global_Dimension_2_Code


# --- store receipts and customers ---------------------------------------------------------


def test_a_store_receipt_returned_at_the_till_is_refunded_against_its_pos_payment(
    gateway_url: str, world: World
) -> None:
    refund = next(p for p in world.payments if p.system == "pos" and p.refund_of)
    result = graphql(gateway_url, ORDER, {"id": f"pos:{refund.order_id}"})
    assert "errors" not in result
    payments = result["data"]["order"]["payments"]
    assert [(p["kind"], p["system"]) for p in payments[:2]] == [
        ("PAYMENT", "POS"),  # systems are an enum since issue 18
        ("REFUND", "POS"),
    ]
    paid, back = payments[0], next(p for p in payments if p["id"] == f"pos:{refund.id}")
    assert back["refundOf"] == paid["id"] == f"pos:{refund.refund_of}"
    assert back["method"] == paid["method"] == refund.method
    assert Decimal(back["amount"]["amount"]) == refund.amount < 0
    assert back["location"] == {"id": f"store:{refund.location_id}"}


def test_a_customers_payments_span_both_channels_each_once_newest_first(
    gateway_url: str, world: World
) -> None:
    card = payments_card(world)
    result = graphql(gateway_url, CUSTOMER, {"card": card})
    assert "errors" not in result
    shown = result["data"]["customer"]["payments"]
    contact = next(c for c in world.crm_contacts if c.loyalty_card == card)
    pos_id = next(c.id for c in world.pos_customers if c.card_number == card)
    orders = {
        o.id
        for o in [*world.erp_orders, *world.pos_orders]
        if o.customer_ref in (contact.erp_customer_no, pos_id)
    }
    expected = {
        f"{p.system}:{p.id}"
        for p in world.payments
        if p.order_id in orders and not (p.system == "pos" and p.mirror_id)
    }
    moments = [p["at"] for p in shown]
    assert moments == sorted(moments, reverse=True)
    assert {p["id"] for p in shown} == expected
    assert len(shown) == len(expected)
    assert {p["system"] for p in shown} == {"ERP", "POS"}
    channels = {p["channel"] for p in shown}
    assert "STORE" in channels
    assert channels & {"WEB", "APP"}


def test_payments_of_a_whole_history_cost_one_erp_and_one_pos_call(
    systems: dict[str, str], gateway_url: str, world: World
) -> None:
    """Round 1: the card in the CRM and in Square's customer profiles; round 2: the ERP
    orders of the number the CRM knows (the ERP's customer card holds nothing asked for
    and is not read): its open sales orders and its posted sales invoices, two calls in
    parallel, as NAV deletes an order once it is invoiced; the POS's loyalty account of
    the profile; round 3: the POS receipts, one search per 10 of the 25 stores
    (Square's limit); round 4: one ERP ledger read for the online orders and one
    BatchRetrieveOrders for the receipts (their tenders are the payments, their refunds
    the till's refunds: Square lists payments by time and location only). POS 1 + 1 + 3
    + 1 = 6, where the old POS took 3 (no card search, every store in one search). A
    short history costs the same as a long one."""
    query = "query($card: String!) { customer(by: {loyaltyCard: $card}) { payments { id } } }"
    cards = [payments_card(world), _few_orders_card(world)]
    totals = []
    for card in cards:
        graphql(gateway_url, query, {"card": card})  # the WSDLs are loaded once
        for url in systems.values():
            clear_calls(url)
        assert "errors" not in graphql(gateway_url, query, {"card": card})
        counts = {name: call_count(url) for name, url in systems.items()}
        assert counts["erp"]["CustomerLedgerEntries:ReadMultiple"] == 1
        assert counts["pos"]["POST /v2/orders/batch-retrieve"] == 1
        totals.append({name: sum(c.values()) for name, c in counts.items()})
    assert totals[0] == totals[1] == {"crm": 1, "erp": 3, "pos": 6, "wms": 0}


def _few_orders_card(world: World) -> str:
    """A linked customer with one online order and one receipt."""
    erp = {o.customer_ref for o in world.erp_orders}
    pos_of = {c.card_number: c.id for c in world.pos_customers}
    counts: dict[str | None, int] = {}
    for order in [*world.erp_orders, *world.pos_orders]:
        counts[order.customer_ref] = counts.get(order.customer_ref, 0) + 1
    return (
        min(
            (
                c
                for c in world.crm_contacts
                if c.erp_customer_no in erp
                and c.loyalty_card in pos_of
                and counts.get(pos_of[c.loyalty_card], 0)
            ),
            key=lambda c: (
                counts[c.erp_customer_no] + counts[pos_of[c.loyalty_card or ""]],
                c.id,
            ),
        ).loyalty_card
        or ""
    )


def test_the_reference_operations_answer_for_their_examples(
    gateway_url: str, world: World, returned: Return
) -> None:
    customer = run_reference(gateway_url, "CustomerPayments", {"card": payments_card(world)})
    order = run_reference(gateway_url, "OrderPayments", {"id": f"erp:{returned.order_id}"})
    assert "errors" not in customer
    assert "errors" not in order
    assert customer["data"]["customer"]["payments"]
    assert [p["kind"] for p in order["data"]["order"]["payments"]] == ["PAYMENT", "REFUND"]


# --- the adapters ------------------------------------------------------------------------


async def test_the_erp_adapter_reads_many_orders_payments_in_one_call(
    session: aiohttp.ClientSession, systems: dict[str, str], world: World, returned: Return
) -> None:
    config = ErpConfig(
        url=systems["erp"], fields=dict(INSTALLATION_FIELDS), guard=GuardConfig(retries=0)
    )
    erp = ErpAdapter(session, config)
    others = [o.id for o in world.erp_orders[:30]]
    await erp.payments_by_order(others[:1])  # the WSDL is loaded once
    clear_calls(systems["erp"])
    found = await erp.payments_by_order([returned.order_id, *others, "SO-UNKNOWN"])
    assert call_count(systems["erp"]) == {"CustomerLedgerEntries:ReadMultiple": 1}
    assert found["SO-UNKNOWN"] == []
    assert all(len(found[o]) >= 1 for o in others)
    payment, refund = found[returned.order_id]
    assert (payment.kind, refund.kind) == ("PAYMENT", "REFUND")
    assert refund.amount.amount == -returned.total
    assert refund.refund_of == payment.id
    assert refund.mirror is not None
    assert refund.mirror[0] == "pos"


async def test_the_pos_adapter_reads_payments_and_refunds_of_many_receipts_in_one_call(
    session: aiohttp.ClientSession, systems: dict[str, str], world: World
) -> None:
    """From the receipts themselves (BatchRetrieveOrders): tenders and refunds."""
    pos = PosAdapter(session, PosConfig(url=systems["pos"], guard=GuardConfig(retries=0)))
    refund = next(p for p in world.payments if p.system == "pos" and p.refund_of)
    receipts = [o.id for o in world.pos_orders[:40]]
    clear_calls(systems["pos"])
    found = await pos.payments_by_order([*receipts, refund.order_id, *receipts[:5], "R-NONE"])
    assert call_count(systems["pos"]) == {"POST /v2/orders/batch-retrieve": 1}
    assert all(found[r][0].kind == "PAYMENT" for r in receipts)
    assert all(found[r][0].method in ("PIN", "CARD", "CASH") for r in receipts)
    assert found["R-NONE"] == []
    paid, back = (
        found[refund.order_id][0],
        next(r for r in found[refund.order_id] if r.id == refund.id),
    )
    assert (back.kind, back.refund_of, back.method) == ("REFUND", paid.id, paid.method)
    assert back.amount.amount == refund.amount < 0
    assert back.location_id == refund.location_id
