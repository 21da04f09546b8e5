"""The search for a person's fragments asks a system only when something wants it.

These drive ``Identity`` through an in-memory stand-in for the request's loaders (the
seeded world has no person who needs every path below); what each lookup answers and
which lookups were made are the whole of the contract here. The same behaviour over
real HTTP is counted in ``test_federation`` and ``test_payments``.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from adapters.errors import UpstreamUnavailable
from adapters.records import CustomerFragment, LoyaltyAccount
from resolvers.golden.identity import Identity
from resolvers.loading.loaders import Loaders

CRM = CustomerFragment(
    source="crm", record_id="7", first_name="Ada", email="ada@example.com", erp_customer_no="C7"
)
ERP = CustomerFragment(source="erp", record_id="C7", full_name="Ada L", email="ada@example.com")
POS = LoyaltyAccount(
    account_id="A1",
    customer_id="P1",
    card_number="CARD1",
    tier="GOLD",
    points=5,
    email="ada@example.com",
)


class Lookup:
    """One loader: answers from ``found`` on the next turn of the loop, as a batch would."""

    def __init__(self, name: str, found: dict[str, Any], asked: list[str]) -> None:
        self.name, self.found, self.asked = name, found, asked

    def load(self, key: str) -> asyncio.Future[Any]:
        self.asked.append(self.name)
        future = asyncio.get_running_loop().create_future()
        answer = self.found.get(key)
        if isinstance(answer, BaseException):
            asyncio.get_running_loop().call_soon(future.set_exception, answer)
        else:
            asyncio.get_running_loop().call_soon(future.set_result, answer)
        return future


def loaders(asked: list[str], **found: dict[str, Any]) -> Loaders:
    names = [
        "crm_contact",
        "crm_by_card",
        "crm_by_erp_no",
        "crm_by_email",
        "erp_customer",
        "erp_customer_by_email",
        "pos_by_card",
        "pos_by_customer",
        "pos_by_email",
    ]
    stand_in = type("StandIn", (), {n: Lookup(n, found.get(n, {}), asked) for n in names})
    return cast(Loaders, stand_in())


LINKED = {
    "crm_by_card": {"CARD1": CRM},
    "pos_by_card": {"CARD1": POS},
    "erp_customer": {"C7": ERP},
    "erp_customer_by_email": {"ada@example.com": ERP},
}


async def test_the_first_round_asks_every_system_the_given_key_reaches() -> None:
    asked: list[str] = []
    identity = Identity(loaders(asked, **LINKED), {"card": "CARD1"})
    assert await identity.found()
    assert sorted(asked) == ["crm_by_card", "pos_by_card"]


async def test_a_field_of_the_crm_alone_never_calls_the_erp() -> None:
    asked: list[str] = []
    identity = Identity(loaders(asked, **LINKED), {"card": "CARD1"})
    await identity.found()
    found = await identity.settled("crm", "pos")
    await asyncio.sleep(0.01)  # anything started late would have been asked by now
    assert (found.crm, found.pos) == (CRM, POS)
    assert not [name for name in asked if name.startswith("erp")]


async def test_the_erp_number_the_crm_knows_is_given_without_reading_the_erp() -> None:
    asked: list[str] = []
    identity = Identity(loaders(asked, **LINKED), {"card": "CARD1"})
    assert await identity.key("erp_no") == "C7"
    assert not [name for name in asked if name.startswith("erp")]


async def test_the_erp_is_asked_for_its_number_when_the_crm_does_not_know_it() -> None:
    asked: list[str] = []
    unlinked = CustomerFragment(source="crm", record_id="7", email="ada@example.com")
    identity = Identity(
        loaders(asked, **{**LINKED, "crm_by_card": {"CARD1": unlinked}}), {"card": "CARD1"}
    )
    assert await identity.key("erp_no") == "C7"
    assert "erp_customer_by_email" in asked


async def test_complete_asks_every_system_once() -> None:
    asked: list[str] = []
    identity = Identity(loaders(asked, **LINKED), {"card": "CARD1"})
    found = await identity.complete()
    assert (found.crm, found.erp, found.pos) == (CRM, ERP, POS)
    assert sorted(asked) == ["crm_by_card", "erp_customer", "pos_by_card"]


async def test_a_wanted_system_reachable_only_through_another_is_found_through_it() -> None:
    """The CRM knows neither the card nor the POS's e-mail, only the ERP number; the ERP
    is found by the POS's e-mail: the CRM is wanted, so the ERP is asked as a bridge."""
    asked: list[str] = []
    pos = LoyaltyAccount("A1", "P1", "CARD1", "GOLD", 5, email="old@example.com")
    erp = CustomerFragment(source="erp", record_id="C7", email="old@example.com")
    identity = Identity(
        loaders(
            asked,
            pos_by_card={"CARD1": pos},
            erp_customer_by_email={"old@example.com": erp},
            crm_by_erp_no={"C7": CRM},
        ),
        {"card": "CARD1"},
    )
    assert await identity.found()
    found = await identity.settled("crm")
    assert found.crm == CRM
    assert asked.index("erp_customer_by_email") < asked.index("crm_by_erp_no")


async def test_nobody_is_found_when_every_first_lookup_misses() -> None:
    asked: list[str] = []
    identity = Identity(loaders(asked), {"card": "NOPE"})
    assert not await identity.found()
    assert sorted(asked) == ["crm_by_card", "pos_by_card"]


async def test_a_system_that_fails_is_settled_with_its_failure() -> None:
    asked: list[str] = []
    down = UpstreamUnavailable("crm", "connection refused")
    identity = Identity(
        loaders(asked, **{**LINKED, "crm_by_card": {"CARD1": down}}), {"card": "CARD1"}
    )
    found = await identity.settled("crm")
    assert found.crm is None
    assert identity.failures["crm"] is down


async def test_a_bug_in_a_lookup_reaches_every_waiter_instead_of_hanging() -> None:
    asked: list[str] = []
    identity = Identity(
        loaders(asked, **{**LINKED, "pos_by_card": {"CARD1": KeyError("bug")}}),
        {"card": "CARD1"},
    )
    with pytest.raises(KeyError):
        await asyncio.wait_for(identity.complete(), timeout=1)
