"""Recommendations derived live from what a customer bought in every channel: ERP online
orders and POS receipts both drive them; sensitive categories never count; they need
the customer's consent for personalisation; and they cost a fixed number of upstream
calls, counted at the simulated systems, however long the order history is.

Customers are chosen from the seeded world by what the rules need (the test computes
which categories drive, as the gateway should), not by hard-coded ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from legacy.world import CrmContact, World
from resolvers.golden.recommendations import MAX_CATEGORIES
from tests.conftest import _gateway
from tests.gateway_client import codes, graphql, run_reference
from tests.simulators import call_count, clear_calls

QUERY = """query($card: String!, $channel: Channel!, $limit: Int!) {
  customer(by: {loyaltyCard: $card}) {
    id
    recommendations(limit: $limit, channel: $channel) {
      product { sku category channels }
      reason
      basedOn
    }
  }
}"""
WITH_AVAILABILITY = QUERY.replace(
    "channels }",
    "channels availability(channel: $channel) { online nearest { available } } }",
)


@dataclass(frozen=True)
class Shopper:
    card: str
    online: dict[str, set[str]]  # category -> SKUs bought online
    in_store: dict[str, set[str]]  # category -> SKUs bought in store
    pieces: Counter[str]  # category -> pieces bought

    def driving(self, sensitive: set[str]) -> list[str]:
        """The categories that drive suggestions, as the gateway ranks them."""
        allowed = [c for c in self.pieces if c not in sensitive]
        return sorted(allowed, key=lambda c: (-self.pieces[c], c))[:MAX_CATEGORIES]

    def bought(self) -> set[str]:
        return {
            sku for group in (self.online, self.in_store) for skus in group.values() for sku in skus
        }


def _personalisation(contact: CrmContact) -> list[date | None]:
    """Until when each consent for personalisation the contact granted is valid."""
    return [c.valid_until for c in contact.consents if c.purpose == "personalisation" and c.granted]


def _consents(contact: CrmContact) -> bool:
    """Consent valid for a month more at least, so the test does not age."""
    soon = date.today() + timedelta(days=30)
    return any(until is not None and until >= soon for until in _personalisation(contact))


def _never_consented(contact: CrmContact) -> bool:
    return not _personalisation(contact)


def _shoppers(world: World, consent: bool = True) -> Iterator[tuple[CrmContact, Shopper]]:
    """Linked customers (card and ERP account known to the CRM) who gave consent for
    personalisation, or (``consent=False``) never did."""
    category = {i.no: i.category for i in world.items}
    pos_by_card = {c.card_number: c.id for c in world.pos_customers}
    for contact in world.crm_contacts:
        if contact.loyalty_card not in pos_by_card or not contact.erp_customer_no:
            continue
        if not (_consents(contact) if consent else _never_consented(contact)):
            continue
        online: dict[str, set[str]] = {}
        in_store: dict[str, set[str]] = {}
        pieces: Counter[str] = Counter()
        for orders, ref, where in (
            (world.erp_orders, contact.erp_customer_no, online),
            (world.pos_orders, pos_by_card[contact.loyalty_card], in_store),
        ):
            for order in orders:
                if order.customer_ref == ref:
                    for line in order.lines:
                        where.setdefault(category[line.item_no], set()).add(line.item_no)
                        pieces[category[line.item_no]] += line.quantity
        yield contact, Shopper(contact.loyalty_card, online, in_store, pieces)


@pytest.fixture(scope="module")
def both_channels(world: World) -> tuple[Shopper, str, str]:
    """A consenting shopper with a driving category bought only online and one bought
    only in store, who also bought something sensitive (HEALTH) that would drive if it
    were not sensitive."""
    for _, shopper in _shoppers(world):
        driving = shopper.driving({"HEALTH"})
        web = [c for c in driving if c in shopper.online and c not in shopper.in_store]
        store = [c for c in driving if c in shopper.in_store and c not in shopper.online]
        if web and store and "HEALTH" in shopper.driving(set()):
            return shopper, web[0], store[0]
    raise AssertionError("the seeded world has no such shopper")


@pytest.fixture(scope="module")
def health_blind_gateway(systems: dict[str, str]) -> Iterator[str]:
    """A gateway configured with no sensitive categories at all."""
    yield from _gateway(systems, cache=False, sensitive_categories=[])


def _recommend(
    url: str, card: str, channel: str = "STORE", limit: int = 10, query: str = QUERY
) -> list[dict[str, Any]]:
    result = graphql(url, query, {"card": card, "channel": channel, "limit": limit})
    assert "errors" not in result, result["errors"]
    found: list[dict[str, Any]] = result["data"]["customer"]["recommendations"]
    return found


# --- what drives them ------------------------------------------------------------------


def test_purchases_online_and_in_store_both_drive_recommendations(
    gateway_url: str, both_channels: tuple[Shopper, str, str]
) -> None:
    shopper, web_only, store_only = both_channels
    found = _recommend(gateway_url, shopper.card)
    by_category = {r["product"]["category"]: r for r in found}
    assert set(by_category) == set(shopper.driving({"HEALTH"}))
    online, in_store = by_category[web_only], by_category[store_only]
    assert set(online["basedOn"]) == shopper.online[web_only]
    assert online["reason"].endswith("you bought online")
    assert set(in_store["basedOn"]) == shopper.in_store[store_only]
    assert in_store["reason"].endswith("you bought in store")


def test_recommendations_are_new_to_the_customer_and_broad(
    gateway_url: str, both_channels: tuple[Shopper, str, str]
) -> None:
    shopper = both_channels[0]
    found = _recommend(gateway_url, shopper.card, limit=10)
    skus = [r["product"]["sku"] for r in found]
    assert len(skus) == len(set(skus))
    assert not set(skus) & shopper.bought()
    categories = [r["product"]["category"] for r in found]
    assert max(Counter(categories).values()) <= 2
    distinct = len(set(categories))
    assert distinct >= 3
    assert len(set(categories[:distinct])) == distinct, "categories take turns"


@pytest.mark.parametrize("channel", ["STORE", "WEB", "APP"])
def test_recommendations_are_available_in_the_asking_channel(
    gateway_url: str, both_channels: tuple[Shopper, str, str], channel: str
) -> None:
    found = _recommend(gateway_url, both_channels[0].card, channel, query=WITH_AVAILABILITY)
    assert found
    for recommendation in found:
        product = recommendation["product"]
        assert channel in product["channels"]
        if channel == "STORE":
            assert product["availability"]["nearest"], product["sku"]
        else:
            assert product["availability"]["online"] is True, product["sku"]


def test_the_asking_channel_comes_from_the_x_channel_header_too(
    gateway_url: str, both_channels: tuple[Shopper, str, str]
) -> None:
    query = QUERY.replace("$channel: Channel!, ", "").replace(", channel: $channel", "")
    result = graphql(
        gateway_url,
        query,
        {"card": both_channels[0].card, "limit": 10},
        headers={"X-Channel": "STORE"},
    )
    assert "errors" not in result
    found = result["data"]["customer"]["recommendations"]
    assert found
    assert all("STORE" in r["product"]["channels"] for r in found)
    assert found == _recommend(gateway_url, both_channels[0].card, "STORE")


# --- sensitive categories ----------------------------------------------------------------


def test_sensitive_categories_never_drive_nor_appear(
    gateway_url: str, world: World, both_channels: tuple[Shopper, str, str]
) -> None:
    shopper = both_channels[0]
    health = {i.no for i in world.items if i.category == "HEALTH"}
    for channel in ("STORE", "WEB"):
        found = _recommend(gateway_url, shopper.card, channel)
        assert found
        assert all(r["product"]["category"] != "HEALTH" for r in found)
        assert not {sku for r in found for sku in r["basedOn"]} & health
        assert all("health" not in r["reason"] for r in found)


def test_which_categories_are_sensitive_is_configuration(
    health_blind_gateway: str, both_channels: tuple[Shopper, str, str]
) -> None:
    """The same shopper, with no category configured as sensitive: HEALTH drives."""
    found = _recommend(health_blind_gateway, both_channels[0].card, "STORE")
    assert "HEALTH" in {r["product"]["category"] for r in found}


# --- consent -----------------------------------------------------------------------------


def _refused(url: str, card: str) -> dict[str, Any]:
    result = graphql(url, QUERY, {"card": card, "channel": "STORE", "limit": 5})
    assert result["data"]["customer"]["id"], "the rest of the customer still answers"
    assert result["data"]["customer"]["recommendations"] is None
    assert codes(result) == ["CONSENT_REQUIRED"]
    assert result["errors"][0]["path"] == ["customer", "recommendations"]
    return result


def test_without_consent_for_personalisation_there_are_none(
    systems: dict[str, str], gateway_url: str, world: World
) -> None:
    contact, _ = next(_shoppers(world, consent=False))
    graphql(gateway_url, QUERY, {"card": contact.loyalty_card, "channel": "STORE", "limit": 5})
    clear_calls(systems["erp"])
    _refused(gateway_url, contact.loyalty_card or "")
    erp = call_count(systems["erp"])
    assert erp["SalesOrder:ReadMultiple"] == erp["ItemCard:ReadMultiple"] == 0, "nothing read"
    assert erp["PostedSalesInvoice:ReadMultiple"] == 0, "nothing read"


def test_an_expired_consent_is_no_consent(gateway_url: str, world: World) -> None:
    today = date.today()
    contact = next(
        c
        for c in world.crm_contacts
        if c.loyalty_card
        and any(
            x.purpose == "personalisation" and x.granted and x.valid_until and x.valid_until < today
            for x in c.consents
        )
        and c.loyalty_card in {p.card_number for p in world.pos_customers}
    )
    _refused(gateway_url, contact.loyalty_card or "")


def test_a_member_the_crm_does_not_know_has_given_no_consent(
    gateway_url: str, world: World
) -> None:
    known = {c.loyalty_card for c in world.crm_contacts}
    member = next(p for p in world.pos_customers if p.card_number not in known)
    _refused(gateway_url, member.card_number)


# --- cost ------------------------------------------------------------------------------


def _calls(systems: dict[str, str], url: str, card: str, channel: str) -> dict[str, int]:
    _recommend(url, card, channel)  # each page's WSDL is loaded once per gateway
    for system in systems.values():
        clear_calls(system)
    assert _recommend(url, card, channel)
    return {name: sum(call_count(u).values()) for name, u in systems.items()}


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("STORE", {"crm": 1, "erp": 5, "pos": 8, "wms": 0}),
        ("WEB", {"crm": 1, "erp": 5, "pos": 5, "wms": 1}),
    ],
)
def test_recommendations_cost_the_same_calls_for_a_short_and_a_long_history(
    systems: dict[str, str],
    gateway_url: str,
    world: World,
    both_channels: tuple[Shopper, str, str],
    channel: str,
    expected: dict[str, int],
) -> None:
    """Round 1: the card in the CRM and in Square's customer profiles (the card is a
    profile's reference_id). Round 2: the ERP customer, the ERP orders (open sales orders
    and posted invoices: two reads, as NAV keeps an invoiced order only as its posted
    invoice), the POS loyalty account. Round 3: the POS receipts, one search per 10 of
    the 25 stores (Square's limit). Round 4: one ERP ItemCard read for everything
    bought. Round 5: one ItemCard read of the driving categories. Round 6: the channel's
    stock: the store list and the candidates' store stock, at most 5 categories x 10 =
    50 SKUs at 25 stores, planned at one count per item and store in pages of Square's
    1,000: 2 calls (3 of 20 SKUs until issue 19, planned at two counts); or one WMS
    read. So the POS takes 1 + 1 + 3 (+ 1 + 2 in store) where the old POS took 2 (+ 2).
    The suggestions' products are those item cards: no further read."""
    consenting = [s for _, s in _shoppers(world) if s.online and s.in_store]
    short = min(consenting, key=lambda s: (sum(s.pieces.values()), s.card))
    long = both_channels[0]
    assert sum(short.pieces.values()) < sum(long.pieces.values())
    assert _calls(systems, gateway_url, short.card, channel) == expected
    assert _calls(systems, gateway_url, long.card, channel) == expected


def test_limit_is_bounded(gateway_url: str, both_channels: tuple[Shopper, str, str]) -> None:
    result = graphql(
        gateway_url, QUERY, {"card": both_channels[0].card, "channel": "STORE", "limit": 11}
    )
    assert codes(result) == ["BAD_USER_INPUT"]
    assert len(_recommend(gateway_url, both_channels[0].card, limit=3)) == 3


def test_the_reference_operation_answers_for_its_example(gateway_url: str, world: World) -> None:
    from legacy.examples import recommendations_card

    result = run_reference(
        gateway_url,
        "Recommendations",
        {"card": recommendations_card(world), "channel": "STORE", "limit": 5},
    )
    assert "errors" not in result
    assert len(result["data"]["customer"]["recommendations"]) == 5
