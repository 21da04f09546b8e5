"""The golden customer record: fragments linked across CRM, POS and ERP, values chosen
by survivorship, every source listed, and a customer missing from a system still found."""

from __future__ import annotations

from typing import Any

from legacy.world import World
from tests.gateway_client import graphql

RECORD = """
query($by: CustomerBy!) {
  customer(by: $by) {
    id name email phone
    loyalty { cardNumber }
    sources { system recordId }
    provenance { field system recordId }
  }
}"""


def customer(url: str, **by: str) -> dict[str, Any]:
    result = graphql(url, RECORD, {"by": by})
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["customer"]
    return found


def test_a_name_typo_in_the_erp_loses_to_the_crm_name(gateway_url: str, world: World) -> None:
    erp = {c.no: c for c in world.erp_customers}
    contact = next(
        c
        for c in world.crm_contacts
        if c.erp_customer_no in erp
        and c.loyalty_card
        and erp[c.erp_customer_no].name != f"{c.first_name} {c.last_name}"
    )
    found = customer(gateway_url, loyaltyCard=contact.loyalty_card or "")
    assert found["name"] == f"{contact.first_name} {contact.last_name}"
    # systems and golden-record fields are enums since issue 18
    assert {"system": "ERP", "recordId": contact.erp_customer_no} in found["sources"]
    assert {"field": "NAME", "system": "CRM", "recordId": contact.id} in found["provenance"]


def test_an_older_phone_in_the_pos_loses_to_the_crm_phone(gateway_url: str, world: World) -> None:
    pos = {c.card_number: c for c in world.pos_customers}
    contact = next(
        c
        for c in world.crm_contacts
        if c.loyalty_card in pos and pos[c.loyalty_card].phone != c.phone
    )
    found = customer(gateway_url, loyaltyCard=contact.loyalty_card or "")
    assert found["phone"] == contact.phone
    assert {s["system"] for s in found["sources"]} >= {
        "CRM",
        "POS",
    }  # systems are an enum since issue 18


def test_a_missing_erp_cross_reference_is_found_again_by_email(
    gateway_url: str,
    world: World,
) -> None:
    by_email = {c.email.lower(): c for c in world.erp_customers}
    contact = next(
        c for c in world.crm_contacts if c.erp_customer_no is None and c.email.lower() in by_email
    )
    found = customer(gateway_url, id=f"crm:{contact.id}")
    assert {"system": "ERP", "recordId": by_email[contact.email.lower()].no} in found["sources"]


def test_a_loyalty_member_unknown_to_the_crm_still_resolves(
    gateway_url: str,
    world: World,
) -> None:
    in_crm = {c.loyalty_card for c in world.crm_contacts}
    crm_emails = {c.email for c in world.crm_contacts}
    member = next(
        p for p in world.pos_customers if p.card_number not in in_crm and p.email not in crm_emails
    )
    found = customer(gateway_url, loyaltyCard=member.card_number)
    assert found["id"] == f"pos:{member.id}"
    assert found["name"] == f"{member.given_name} {member.family_name}"
    assert "crm" not in {s["system"] for s in found["sources"]}


def test_the_same_person_has_one_id_whichever_key_found_them(
    gateway_url: str,
    world: World,
) -> None:
    contact = next(c for c in world.crm_contacts if c.loyalty_card and c.erp_customer_no)
    ids = {
        customer(gateway_url, loyaltyCard=contact.loyalty_card or "")["id"],
        customer(gateway_url, email=contact.email.upper())["id"],
        customer(gateway_url, id=f"erp:{contact.erp_customer_no}")["id"],
        customer(gateway_url, id=f"crm:{contact.id}")["id"],
    }
    assert ids == {f"crm:{contact.id}"}
