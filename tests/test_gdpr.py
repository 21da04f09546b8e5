"""GDPR through the gateway: the data subject report (where a person's data lives, asked
live) and erasure (deleted in the CRM and the POS, anonymised in the ERP, which keeps
the invoices), idempotent by key.

Erasure changes data, so this module runs its own four simulated systems on their own
SQLite files (the session's systems stay as the seed made them), and checks every
outcome at the systems themselves, over HTTP, not through the gateway.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.config import ErpConfig
from adapters.erp.adapter import ErpAdapter
from legacy.common.knobs import Knobs
from legacy.common.runner import ServerThread
from legacy.world import World
from resolvers.privacy.erasure import ANONYMISED_NAME

# Since issue 18 systems, record kinds, erasure actions and states are enums: the
# expectations below spell them as GraphQL does (ERP, LOYALTY_ACCOUNT, DELETED).
from tests.auth_tokens import SECRET, Person, bearer, people
from tests.conftest import CRM_TOKEN, _gateway
from tests.gateway_client import graphql
from tests.simulators import call_count, clear_calls, reset_knobs, set_knobs
from tests.timing import poll_until

REPORT = """query($id: ID!) { dataSubjectReport(customerId: $id) {
    customerId records { system recordId kind fields { name value } erasable retailerAction }
    orders { system count } unreachable } }"""
ERASE = """mutation($id: ID!, $key: String!) {
    eraseCustomer(customerId: $id, idempotencyKey: $key) {
        customerId idempotencyKey repeated steps { system recordId action } } }"""
PROGRESS = """mutation($id: ID!, $key: String!) {
    eraseCustomer(customerId: $id, idempotencyKey: $key) {
        state completedAt steps { system recordId action status error } errors { code } } }"""
AGENT = bearer("service_agent", subject="agent-42")


@pytest.fixture(scope="module")
def fresh(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The four systems again, on files of this module's own."""
    from legacy.crm.server import create_app as crm
    from legacy.erp.server import create_app as erp
    from legacy.pos.server import create_app as pos
    from legacy.wms.server import create_app as wms

    data = tmp_path_factory.mktemp("gdpr-systems")
    servers = {
        "crm": ServerThread(crm(world, data / "crm.sqlite", Knobs(), token=CRM_TOKEN)),
        "erp": ServerThread(erp(world, data / "erp.sqlite", Knobs())),
        "pos": ServerThread(pos(world, data / "pos.sqlite", Knobs())),
        "wms": ServerThread(wms(world, data / "wms.sqlite", Knobs())),
    }
    urls = {name: server.start().url for name, server in servers.items()}
    yield urls
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def audit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gdpr-audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def url(
    fresh: dict[str, str], audit_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    state = tmp_path_factory.mktemp("gdpr-gateway")
    yield from _gateway(
        fresh,
        cache=False,
        jwt_secret=SECRET,
        data_dir=state,
        audit_log=audit_file,
        saga_sweep_s=0.2,  # an unfinished erasure is tried again soon, backing off to 1 s
        saga_max_backoff_s=1.0,
    )


@pytest.fixture(scope="module")
def everyone(world: World) -> list[Person]:
    return people(world)


def report(url: str, customer_id: str, headers: dict[str, str] = AGENT) -> Any:
    return graphql(url, REPORT, {"id": customer_id}, headers)


def erase(url: str, customer_id: str, key: str) -> Any:
    return graphql(url, ERASE, {"id": customer_id, "key": key}, AGENT)


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or ()]


def status_of(url: str, path: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        with error:
            return error.code


def crm_contact_status(fresh: dict[str, str], person: Person) -> int:
    path = f"/crm/v3/objects/contacts/{person.contact.id}"
    return status_of(fresh["crm"], path, {"Authorization": f"Bearer {CRM_TOKEN}"})


def _pos_search(fresh: dict[str, str], path: str, body: Any, field: str) -> list[Any]:
    request = urllib.request.Request(
        fresh["pos"] + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        found: list[Any] = json.loads(answer.read()).get(field, [])
        return found


def pos_card_holders(fresh: dict[str, str], card: str) -> list[Any]:
    """Square's customer profiles holding the card (in reference_id)."""
    query = {"filter": {"reference_id": {"exact": card}}}
    return _pos_search(fresh, "/v2/customers/search", {"query": query}, "customers")


def pos_loyalty_accounts(fresh: dict[str, str], person: Person) -> list[Any]:
    query = {"customer_ids": [person.pos_id]}
    return _pos_search(fresh, "/v2/loyalty/accounts/search", {"query": query}, "loyalty_accounts")


# --- the report ----------------------------------------------------------------------


def account_of(world: World, person: Person) -> str:
    """The person's Square loyalty account."""
    return next(c.loyalty_account_id for c in world.pos_customers if c.id == person.pos_id)


def test_the_report_lists_every_system_record_and_personal_value_held(
    url: str, everyone: list[Person], world: World
) -> None:
    person = everyone[5]
    result = report(url, person.id)
    assert "errors" not in result
    found = result["data"]["dataSubjectReport"]
    records = {(r["system"], r["kind"]): r for r in found["records"]}
    assert {k: r["recordId"] for k, r in records.items()} == {
        ("CRM", "CONTACT"): person.contact.id,
        ("ERP", "CUSTOMER_ACCOUNT"): person.contact.erp_customer_no,
        ("POS", "CUSTOMER_PROFILE"): person.pos_id,
        ("POS", "LOYALTY_ACCOUNT"): account_of(world, person),
    }
    # Square has no API to delete a loyalty account: the report says so from the start
    assert [k for k, r in records.items() if not r["erasable"]] == [("POS", "LOYALTY_ACCOUNT")]
    assert records[("POS", "LOYALTY_ACCOUNT")]["retailerAction"]
    crm = {f["name"]: f["value"] for f in records[("CRM", "CONTACT")]["fields"]}
    assert crm["email"] == person.contact.email
    assert crm["first_name"] == person.contact.first_name
    assert crm["address.city"] == person.contact.address.city
    assert {f"consent.{c.purpose}" for c in person.contact.consents} <= set(crm)
    pos = {f["name"]: f["value"] for f in records[("POS", "CUSTOMER_PROFILE")]["fields"]}
    assert pos["card_number"] == person.card
    account = {f["name"] for f in records[("POS", "LOYALTY_ACCOUNT")]["fields"]}
    assert "points" in account
    assert {f["name"] for f in records[("ERP", "CUSTOMER_ACCOUNT")]["fields"]} >= {
        "full_name",
        "email",
    }
    assert {o["system"]: o["count"] for o in found["orders"]} == {
        "ERP": len(person.erp_orders),
        "POS": len(person.pos_orders),
    }
    assert found["unreachable"] == []


def test_a_customer_may_ask_for_their_own_report_and_nobody_elses(
    url: str, everyone: list[Person]
) -> None:
    person, other = everyone[5], everyone[6]
    mine = bearer("customer", customer=person.id)
    assert "errors" not in report(url, person.id, mine)
    assert codes(report(url, other.id, mine)) == ["FORBIDDEN"]


@pytest.mark.parametrize("role", ["store_employee", "marketing", "partner"])
def test_other_roles_may_not_ask_for_a_report(role: str, url: str, everyone: list[Person]) -> None:
    result = report(url, everyone[5].id, bearer(role))
    assert result.get("data") is None  # refused before it runs (issue 18): no data at all
    assert codes(result) == ["FORBIDDEN"]


# --- erasure -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def victim(everyone: list[Person]) -> Person:
    return everyone[2]


@pytest.fixture(scope="module")
def erased(url: str, victim: Person) -> dict[str, Any]:
    """The victim erased once, with key erase-1."""
    result = erase(url, victim.id, "erase-1")
    assert "errors" not in result, result
    erasure: dict[str, Any] = result["data"]["eraseCustomer"]
    return erasure


def test_erasure_deletes_in_crm_and_pos_and_anonymises_in_erp(
    erased: dict[str, Any], victim: Person, world: World
) -> None:
    """The POS's loyalty account is reported kept: Square has no API to delete one."""
    account = next(c.loyalty_account_id for c in world.pos_customers if c.id == victim.pos_id)
    assert erased["repeated"] is False
    assert sorted(erased["steps"], key=lambda s: (s["system"], s["action"])) == [
        {"system": "CRM", "recordId": victim.id, "action": "DELETED"},
        {
            "system": "ERP",
            "recordId": f"erp:{victim.contact.erp_customer_no}",
            "action": "ANONYMISED",
        },
        {"system": "POS", "recordId": f"pos:{victim.pos_id}", "action": "DELETED"},
        {"system": "POS", "recordId": f"pos:{account}", "action": "KEPT"},
    ]


def test_after_erasure_the_crm_has_no_contact_left(
    erased: dict[str, Any], fresh: dict[str, str], victim: Person
) -> None:
    assert crm_contact_status(fresh, victim) == 404
    body = json.dumps(
        {"inputs": [{"id": victim.email}], "idProperty": "email", "properties": ["email"]}
    ).encode()
    request = urllib.request.Request(
        fresh["crm"] + "/crm/v3/objects/contacts/batch/read",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {CRM_TOKEN}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            results = json.loads(answer.read())["results"]
    except urllib.error.HTTPError as error:  # 207 is not an error, but be exact anyway
        with error:
            results = json.loads(error.read())["results"]
    assert results == []


def test_after_erasure_the_pos_has_no_profile_and_only_a_nameless_loyalty_account(
    erased: dict[str, Any], fresh: dict[str, str], victim: Person
) -> None:
    """Square deletes the profile (name, contact, the card in its reference_id) but has
    no API to delete a loyalty account: the erasure reports it kept, for the seller to
    delete in Square's Dashboard. What it still holds is the points and the phone number
    it is mapped to."""
    assert status_of(fresh["pos"], f"/v2/customers/{victim.pos_id}") == 404
    assert pos_card_holders(fresh, victim.card) == []
    (account,) = pos_loyalty_accounts(fresh, victim)
    assert account["customer_id"] == victim.pos_id


async def test_after_erasure_the_erp_account_is_anonymised_and_its_orders_kept(
    erased: dict[str, Any], fresh: dict[str, str], victim: Person
) -> None:
    no = victim.contact.erp_customer_no or ""
    async with aiohttp.ClientSession() as session:
        erp = ErpAdapter(session, ErpConfig(url=fresh["erp"]))
        account = (await erp.customers([no]))[no]
        orders = (await erp.orders_by_customer([no]))[no]
    assert account.full_name == ANONYMISED_NAME
    assert account.email is None
    assert account.phone is None
    assert account.address is not None
    assert (account.address.street, account.address.city, account.address.postal_code) == (
        None,
        None,
        None,
    )
    assert {f"order:erp:{o.id}" for o in orders} == set(victim.erp_orders)


def test_after_erasure_the_report_lists_only_what_no_api_can_erase(
    erased: dict[str, Any], url: str, victim: Person, world: World
) -> None:
    """By the customer's id (which the erasure's plan still ties to the other systems'
    records, issue 15 finding 3): only the loyalty account Square cannot delete, marked
    so, and the orders the systems keep for the books. The anonymised ERP account holds
    no personal value any more and is not listed (it was, with no fields, before)."""
    by_id = report(url, victim.id)["data"]["dataSubjectReport"]
    ((kept),) = by_id["records"]
    assert (kept["system"], kept["recordId"], kept["erasable"]) == (
        "POS",
        account_of(world, victim),
        False,
    )
    assert kept["retailerAction"]
    assert by_id["unreachable"] == []
    assert {o["system"]: o["count"] for o in by_id["orders"]} == {
        "ERP": len(victim.erp_orders),
        "POS": len(victim.pos_orders),
    }
    erp_id = f"erp:{victim.contact.erp_customer_no}"  # any id of hers: the same answer
    by_erp = report(url, erp_id)["data"]["dataSubjectReport"]
    assert (by_erp["records"], by_erp["orders"]) == (by_id["records"], by_id["orders"])
    text = json.dumps([by_id, by_erp])
    for personal in (victim.email, victim.contact.last_name, victim.card):
        assert personal not in text


def test_after_erasure_the_customer_is_found_by_nothing(
    erased: dict[str, Any], url: str, victim: Person
) -> None:
    query = "query($by: CustomerBy!) { customer(by: $by) { id } }"
    for by in ({"loyaltyCard": victim.card}, {"email": victim.email}, {"id": victim.id}):
        result = graphql(url, query, {"by": by}, AGENT)
        assert result == {"data": {"customer": None}}, by


def test_a_repeat_with_the_same_key_changes_nothing_and_answers_the_first_result(
    erased: dict[str, Any], url: str, fresh: dict[str, str], victim: Person
) -> None:
    for system in fresh.values():
        clear_calls(system)
    again = erase(url, victim.id, "erase-1")
    assert "errors" not in again
    assert again["data"]["eraseCustomer"] == {**erased, "repeated": True}
    assert {name: sum(call_count(u).values()) for name, u in fresh.items()} == dict.fromkeys(
        fresh, 0
    )


def test_the_same_key_for_another_customer_is_refused_and_erases_nothing(
    erased: dict[str, Any], url: str, fresh: dict[str, str], everyone: list[Person]
) -> None:
    other = everyone[3]
    result = erase(url, other.id, "erase-1")
    assert result["data"] is None
    assert codes(result) == ["BAD_USER_INPUT"]
    assert crm_contact_status(fresh, other) == 200


def test_an_erasure_erases_nothing_while_a_system_cannot_be_asked(
    url: str, fresh: dict[str, str], everyone: list[Person]
) -> None:
    """A system that did not answer the lookup may hold a record the erasure would
    then miss for good; so nothing is done until every system answers."""
    person = everyone[4]
    set_knobs(fresh["pos"], fault="error500")
    try:
        result = erase(url, person.id, "erase-while-pos-down")
    finally:
        reset_knobs(fresh["pos"])
    assert result["data"] is None
    assert codes(result) == ["SOURCE_ERROR"]
    assert crm_contact_status(fresh, person) == 200
    assert pos_card_holders(fresh, person.card)


def test_an_erasure_with_the_pos_failing_is_finished_by_the_sweep_without_its_key(
    url: str, fresh: dict[str, str], everyone: list[Person]
) -> None:
    """Issue 17 and issue 15 finding 3. The POS refuses its delete: the CRM contact is
    deleted and the ERP account anonymised, and the erasure answers its progress
    (ERASURE_INCOMPLETE, the POS step FAILING); the report lists the POS's records as
    still held and says the erasure is incomplete; a new key joins the erasure instead
    of "succeeding" with nothing to do. Once the POS is back the sweep finishes it, with
    nobody sending any key again: the report then lists only the loyalty account Square
    cannot delete (marked so), and a store employee no longer finds her by card."""
    person = everyone[4]
    set_knobs(fresh["pos"], fault="error500", fault_only="DELETE /v2/customers")
    try:
        first = graphql(url, PROGRESS, {"id": person.id, "key": "erase-midway"}, AGENT)
        progress = first["data"]["eraseCustomer"]
        assert progress["state"] == "IN_PROGRESS"
        assert progress["completedAt"] is None
        assert [e["code"] for e in progress["errors"]] == ["ERASURE_INCOMPLETE"]
        statuses = {(s["system"], s["action"]): s["status"] for s in progress["steps"]}
        assert statuses == {
            ("CRM", "DELETED"): "DONE",
            ("ERP", "ANONYMISED"): "DONE",
            ("POS", "DELETE"): "FAILING",
            ("POS", "KEPT"): "NOT_ERASABLE",
        }
        assert crm_contact_status(fresh, person) == 404
        assert pos_card_holders(fresh, person.card)

        held = report(url, person.id)
        kinds = {(r["system"], r["kind"]) for r in held["data"]["dataSubjectReport"]["records"]}
        assert ("POS", "CUSTOMER_PROFILE") in kinds
        assert "ERASURE_INCOMPLETE" in codes(held)
        pending = next(e for e in held["errors"] if e["extensions"]["code"] == "ERASURE_INCOMPLETE")
        assert [p["recordId"] for p in pending["extensions"]["pending"]] == [f"pos:{person.pos_id}"]

        joined = graphql(url, PROGRESS, {"id": person.id, "key": "erase-again"}, AGENT)
        assert joined["data"]["eraseCustomer"]["state"] == "IN_PROGRESS"
        assert joined["data"]["eraseCustomer"]["steps"] == progress["steps"]
    finally:
        reset_knobs(fresh["pos"])

    poll_until(lambda: pos_card_holders(fresh, person.card) == [], what="the sweep deletes")
    poll_until(lambda: "errors" not in report(url, person.id), what="the erasure completes")
    after = report(url, person.id)["data"]["dataSubjectReport"]
    assert [(r["kind"], r["erasable"]) for r in after["records"]] == [("LOYALTY_ACCOUNT", False)]
    done = graphql(url, PROGRESS, {"id": person.id, "key": "erase-midway"}, AGENT)
    assert done["data"]["eraseCustomer"]["state"] == "COMPLETED"
    assert done["data"]["eraseCustomer"]["errors"] == []
    store = bearer("store_employee")
    by_card = graphql(
        url,
        "query($c: String!) { customer(by: {loyaltyCard: $c}) { id } }",
        {"c": person.card},
        store,
    )
    assert by_card == {"data": {"customer": None}}


def test_reports_and_erasures_are_audited(
    erased: dict[str, Any], url: str, audit_file: Path, victim: Person, everyone: list[Person]
) -> None:
    report(url, everyone[6].id)
    records = [json.loads(line) for line in audit_file.read_text().splitlines()]
    erasures = [r for r in records if r["purpose"] == "gdpr-erasure"]
    assert {"who": "agent-42", "customer": victim.id, "fields": ["eraseCustomer"]}.items() <= (
        next(r for r in erasures if r["customer"] == victim.id).items()
    )
    access = next(r for r in records if r["purpose"] == "gdpr-access")
    assert access["role"] == "service_agent"
    assert "crm.email" in access["fields"]
