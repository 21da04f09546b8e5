"""Who may see what: every role against the reference queries, through a real gateway
configured with a JWT secret, in front of the simulated systems.

The open gateway of the session (no authentication) answers the same queries as the
reference: a role that may read a field gets exactly the open answer for it, a masked
field the open answer masked, and a refused field null (an empty list for a list) with
its error at its path. Which role gets what is declared next to each field
(``resolvers/privacy/authz.py``); these tests read the answers as a client would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from strawberry.utils.str_converters import to_camel_case

from legacy.examples import examples
from legacy.world import World
from resolvers.graphql.schema import build_schema
from resolvers.graphql.types.customer import Customer
from resolvers.privacy.authz import Guard
from tests.auth_tokens import API_KEYS, PARTNER_KEY, SECRET, Person, bearer, people, store_of
from tests.conftest import EXECUTORS, SEED, SIZE, _gateway
from tests.gateway_client import graphql, run_reference
from tests.simulators import call_count, clear_calls

ROLES = [
    "anonymous",
    "customer",
    "store_employee",
    "service_agent",
    "marketing",
    "partner",
    "service",
]
#: roles that may read stock levels (the inventory view)
STOCK_READERS = {"store_employee", "service_agent", "partner", "service"}


@pytest.fixture(scope="module")
def audit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit") / "audit.jsonl"


@pytest.fixture(scope="module", params=EXECUTORS)
def secured_url(
    request: pytest.FixtureRequest, systems: dict[str, str], audit_file: Path
) -> Iterator[str]:
    """The secured gateway under each executor in turn: every expectation of the matrix
    holds for both (the open answers it is held against come from the fast one)."""
    yield from _gateway(
        systems,
        cache=False,
        jwt_secret=SECRET,
        api_keys=API_KEYS,
        audit_log=audit_file,
        executor=request.param,
    )


@pytest.fixture(scope="module")
def everyone(world: World) -> list[Person]:
    return people(world)


@pytest.fixture(scope="module")
def alice(everyone: list[Person]) -> Person:
    """The showcase customer: Customer360's example card is hers."""
    return everyone[0]


@pytest.fixture(scope="module")
def bob(everyone: list[Person]) -> Person:
    return everyone[1]


@pytest.fixture(scope="module")
def headers(world: World, alice: Person) -> dict[str, dict[str, str]]:
    return {
        "anonymous": {},
        "customer": bearer("customer", customer=alice.id),
        "store_employee": bearer("store_employee", store=store_of(world), channel="STORE"),
        "service_agent": bearer("service_agent"),
        "marketing": bearer("marketing"),
        "partner": bearer("partner", partner="acme", scopes=["orders:read"]),
        "service": bearer("service"),
    }


@pytest.fixture(scope="module")
def variables() -> dict[str, dict[str, Any]]:
    return examples(SEED, SIZE)


def ask(url: str, name: str, variables: dict[str, Any], headers: dict[str, str]) -> Any:
    from gateway.operations import reference_operations

    return graphql(url, reference_operations()[name], variables, headers=headers)


def refused(result: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    """Each error's path and code."""
    return {tuple(e.get("path") or ()): e["extensions"]["code"] for e in result.get("errors") or ()}


def refused_before_running(result: dict[str, Any]) -> tuple[str, list[str]]:
    """The one error of an operation refused before it ran because it selects fields
    the caller may never read (issue 18, resolvers/privacy/read_policy.py): its code,
    and the fields it names. Such an operation has no data at all."""
    assert "data" not in result, result
    [error] = result["errors"]
    assert "path" not in error
    return error["extensions"]["code"], error["extensions"]["fields"]


# --- Customer360 ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def customer360_open(gateway_url: str, variables: dict[str, dict[str, Any]]) -> Any:
    result = run_reference(gateway_url, "Customer360", variables["Customer360"])
    assert "errors" not in result
    return result["data"]["customer"]


@pytest.mark.parametrize("role", ["customer", "service_agent", "service"])
def test_customer360_whole_for_the_customer_herself_service_agents_and_services(
    role: str,
    secured_url: str,
    headers: dict[str, dict[str, str]],
    variables: dict[str, dict[str, Any]],
    customer360_open: dict[str, Any],
) -> None:
    result = ask(secured_url, "Customer360", variables["Customer360"], headers[role])
    assert "errors" not in result
    assert result["data"]["customer"] == customer360_open


def test_customer360_for_a_store_employee_masks_contact_details(
    secured_url: str,
    headers: dict[str, dict[str, str]],
    variables: dict[str, dict[str, Any]],
    customer360_open: dict[str, Any],
) -> None:
    result = ask(secured_url, "Customer360", variables["Customer360"], headers["store_employee"])
    assert "errors" not in result
    shown = result["data"]["customer"]
    email, phone, address = (customer360_open[k] for k in ("email", "phone", "address"))
    local, domain = email.split("@")
    assert shown["email"] == f"{local[0]}***@{domain}"
    assert shown["phone"] == f"{phone[:4]}****{phone[-4:]}"
    assert shown["address"] == {
        "street": None,
        "city": address["city"],
        "postalCode": address["postalCode"].replace(" ", "")[:4],
        "country": address["country"],
    }
    unmasked = {k: v for k, v in shown.items() if k not in ("email", "phone", "address")}
    assert unmasked == {k: customer360_open[k] for k in unmasked}


@pytest.mark.parametrize(
    ("role", "code"), [("anonymous", "UNAUTHENTICATED"), ("partner", "FORBIDDEN")]
)
def test_customer360_is_refused_to_callers_without_customer_access(
    role: str,
    code: str,
    secured_url: str,
    headers: dict[str, dict[str, str]],
    variables: dict[str, dict[str, Any]],
) -> None:
    result = ask(secured_url, "Customer360", variables["Customer360"], headers[role])
    # neither may ever read a customer: the operation is refused before it runs
    found, fields = refused_before_running(result)
    assert found == code
    assert fields[0] == "Query.customer"


def _without(operation: str, *lines: str) -> str:
    for line in lines:
        assert f"    {line}\n" in operation, line
        operation = operation.replace(f"    {line}\n", "", 1)
    return operation


#: what marketing may never read of Customer360: phone, address, the systems' record ids
NEVER_MARKETINGS = (
    "phone",
    "address { street city postalCode country }",
    "sources { system recordId }",
)


def test_customer360_is_refused_to_marketing_naming_what_it_may_never_read(
    secured_url: str, headers: dict[str, dict[str, str]], variables: dict[str, dict[str, Any]]
) -> None:
    """Issue 18: the operation does not run; one error names the fields and the role
    (they were nulls and an error each, every system asked first)."""
    result = ask(secured_url, "Customer360", variables["Customer360"], headers["marketing"])
    code, fields = refused_before_running(result)
    assert (code, fields) == (
        "FORBIDDEN",
        ["Customer.phone", "Customer.address", "Customer.sources"],
    )
    assert "role marketing" in result["errors"][0]["message"]


def test_customer360_for_marketing_shows_only_what_consents_and_purpose_allow(
    secured_url: str,
    headers: dict[str, dict[str, str]],
    variables: dict[str, dict[str, Any]],
    customer360_open: dict[str, Any],
    alice: Person,
) -> None:
    """Name and e-mail need the e-mail-marketing consent, loyalty and purchase history
    the personalisation consent (Customer360 without the fields marketing may never
    read, which refuse the whole operation since issue 18)."""
    from gateway.operations import reference_operations

    query = _without(reference_operations()["Customer360"], *NEVER_MARKETINGS)
    result = graphql(secured_url, query, variables["Customer360"], headers=headers["marketing"])
    shown = result["data"]["customer"]
    expected_errors: dict[tuple[Any, ...], str] = {}
    for fields, purpose in (
        (("name", "email"), "email_marketing"),
        (("loyalty",), "personalisation"),
    ):
        for name in fields:
            if alice.consented(purpose):
                assert shown[name] == customer360_open[name]
            else:
                assert shown[name] is None
                expected_errors[("customer", name)] = "CONSENT_REQUIRED"
    if alice.consented("personalisation"):
        assert shown["orders"] == customer360_open["orders"]
    else:
        assert shown["orders"] == []
        expected_errors[("customer", "orders")] = "CONSENT_REQUIRED"
    assert shown["consents"] == customer360_open["consents"]
    assert shown["id"] == customer360_open["id"]
    assert refused(result) == expected_errors


# --- ProductListing and StockCheck ---------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_product_listing_is_public_catalogue_data_for_every_role(
    role: str,
    secured_url: str,
    gateway_url: str,
    headers: dict[str, dict[str, str]],
    variables: dict[str, dict[str, Any]],
) -> None:
    """Promotions are the asking channel's: the store employee's token says STORE."""
    channel = {"X-Channel": "STORE"} if role == "store_employee" else {}
    expected = ask(gateway_url, "ProductListing", variables["ProductListing"], channel)
    result = ask(secured_url, "ProductListing", variables["ProductListing"], headers[role])
    assert "errors" not in result
    assert result == expected


@pytest.mark.parametrize("role", ROLES)
def test_stock_check_shows_stock_levels_only_to_staff_partners_and_services(
    role: str,
    secured_url: str,
    gateway_url: str,
    headers: dict[str, dict[str, str]],
    variables: dict[str, dict[str, Any]],
) -> None:
    expected = run_reference(gateway_url, "StockCheck", variables["StockCheck"])
    result = ask(secured_url, "StockCheck", variables["StockCheck"], headers[role])
    if role in STOCK_READERS:
        assert result == expected
        return
    code = "UNAUTHENTICATED" if role == "anonymous" else "FORBIDDEN"
    # issue 18: one error naming the field and the role, before anything runs (it was
    # fifty empty stock lists with fifty identical errors, every source asked first)
    assert refused_before_running(result) == (code, ["Product.stock"])
    assert role in result["errors"][0]["message"] or role == "anonymous"


def test_anonymous_callers_get_web_prices_but_not_other_channels(
    secured_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    sku = variables["ProductListing"]["skus"][0]
    query = """query($sku: ID!) { product(sku: $sku) {
        web: price { amount } store: price(channel: STORE) { amount } } }"""
    result = graphql(secured_url, query, {"sku": sku})
    assert result["data"]["product"]["web"]["amount"]
    assert result["data"]["product"]["store"] is None
    assert refused(result) == {("product", "store"): "UNAUTHENTICATED"}


# --- customer A's token never reads customer B ----------------------------------------

PROFILE = "id name email phone address { street } loyalty { cardNumber } consents { purpose }"
#: what marketing may read of a profile at all (phone and address never: issue 18 refuses
#: an operation selecting them before it runs)
MARKETING_PROFILE = "id name email loyalty { cardNumber } consents { purpose }"


def _customer_by(
    url: str, headers: dict[str, str], profile: str = PROFILE, **by: str
) -> dict[str, Any]:
    query = f"query($by: CustomerBy!) {{ customer(by: $by) {{ {profile} }} }}"
    return graphql(url, query, {"by": by}, headers=headers)


@pytest.mark.parametrize("key", ["id", "loyaltyCard", "email"])
def test_a_customer_cannot_look_up_another_customer_by_any_key(
    key: str, secured_url: str, headers: dict[str, dict[str, str]], bob: Person
) -> None:
    value = {"id": bob.id, "loyaltyCard": bob.card, "email": bob.email}[key]
    result = _customer_by(secured_url, headers["customer"], **{key: value})
    assert result["data"] == {"customer": None}
    assert refused(result) == {("customer",): "FORBIDDEN"}


def test_a_customer_is_refused_alike_whether_the_other_customer_exists_or_not(
    secured_url: str, headers: dict[str, dict[str, str]]
) -> None:
    """No oracle: a card nobody has gets the same answer as somebody else's."""
    result = _customer_by(secured_url, headers["customer"], loyaltyCard="0000000000000")
    assert result["data"] == {"customer": None}
    assert refused(result) == {("customer",): "FORBIDDEN"}


def test_a_customer_reads_their_own_record_by_id_card_or_email(
    secured_url: str, headers: dict[str, dict[str, str]], alice: Person
) -> None:
    for by in ({"id": alice.id}, {"loyaltyCard": alice.card}, {"email": alice.email}):
        result = _customer_by(secured_url, headers["customer"], **by)
        assert "errors" not in result, by
        assert result["data"]["customer"]["id"] == alice.id


def test_looking_up_another_customer_by_id_asks_no_system(
    secured_url: str,
    systems: dict[str, str],
    headers: dict[str, dict[str, str]],
    bob: Person,
) -> None:
    for url in systems.values():
        clear_calls(url)
    _customer_by(secured_url, headers["customer"], id=bob.id)
    assert sum(sum(call_count(url).values()) for url in systems.values()) == 0


def test_a_customer_cannot_list_another_customer_among_their_own(
    secured_url: str, headers: dict[str, dict[str, str]], alice: Person, bob: Person
) -> None:
    query = "query($ids: [ID!]!) { customers(ids: $ids) { id name } }"
    result = graphql(secured_url, query, {"ids": [alice.id, bob.id]}, headers["customer"])
    # null, not []: the list became nullable with issue 17 (a refused argument nulls it)
    assert result["data"] == {"customers": None}
    assert refused(result) == {("customers",): "FORBIDDEN"}


@pytest.mark.parametrize("system", ["erp", "pos"])
def test_a_customer_cannot_read_another_customers_order(
    system: str, secured_url: str, headers: dict[str, dict[str, str]], bob: Person
) -> None:
    order = (bob.erp_orders if system == "erp" else bob.pos_orders)[0]
    query = "query($id: ID!) { order(id: $id) { id total { amount } customer { name } } }"
    result = graphql(secured_url, query, {"id": order}, headers["customer"])
    assert result["data"] == {"order": None}
    assert refused(result) == {("order",): "FORBIDDEN"}


def test_a_customer_reads_their_own_order_and_themself_through_it(
    secured_url: str, headers: dict[str, dict[str, str]], alice: Person
) -> None:
    query = "query($id: ID!) { order(id: $id) { id customer { id name } } }"
    result = graphql(secured_url, query, {"id": alice.erp_orders[0]}, headers["customer"])
    assert "errors" not in result
    assert result["data"]["order"]["customer"]["id"] == alice.id


def test_a_customers_nested_orders_lead_back_only_to_themself(
    secured_url: str, headers: dict[str, dict[str, str]], alice: Person, bob: Person
) -> None:
    query = """query($id: ID!) { customer(by: {id: $id}) {
        orders(last: 200) { id customer { id name } } } }"""
    result = graphql(secured_url, query, {"id": alice.id}, headers["customer"])
    assert "errors" not in result
    orders = result["data"]["customer"]["orders"]
    assert {o["id"] for o in orders} >= set(alice.erp_orders) | set(alice.pos_orders)
    assert not {o["id"] for o in orders} & (set(bob.erp_orders) | set(bob.pos_orders))
    assert {o["customer"]["id"] for o in orders} == {alice.id}


def test_aliases_do_not_change_what_a_customer_may_read(
    secured_url: str, headers: dict[str, dict[str, str]], alice: Person, bob: Person
) -> None:
    query = """query($mine: ID!, $theirs: ID!) {
        mine: customer(by: {id: $mine}) { name }
        theirs: customer(by: {id: $theirs}) { name }
        again: customer(by: {id: $theirs}) { n: name e: email } }"""
    result = graphql(secured_url, query, {"mine": alice.id, "theirs": bob.id}, headers["customer"])
    assert result["data"]["mine"]["name"]
    assert result["data"]["theirs"] is None
    assert result["data"]["again"] is None
    assert refused(result) == {("theirs",): "FORBIDDEN", ("again",): "FORBIDDEN"}


def test_fragments_do_not_change_what_a_customer_may_read(
    secured_url: str, headers: dict[str, dict[str, str]], bob: Person
) -> None:
    query = """query($card: String!, $order: ID!) {
        customer(by: {loyaltyCard: $card}) { ...Everything }
        order(id: $order) { ... on Order { id customer { ...Everything } } } }
      fragment Everything on Customer { id name email phone ... on Customer { orders { id } } }"""
    result = graphql(
        secured_url, query, {"card": bob.card, "order": bob.pos_orders[0]}, headers["customer"]
    )
    assert result["data"] == {"customer": None, "order": None}
    assert refused(result) == {("customer",): "FORBIDDEN", ("order",): "FORBIDDEN"}


def test_a_federation_entity_lookup_does_not_open_another_customer(
    secured_url: str, headers: dict[str, dict[str, str]], bob: Person
) -> None:
    query = """query($reps: [_Any!]!) { _entities(representations: $reps) {
        ... on Customer { id name email } } }"""
    reps = [{"__typename": "Customer", "id": bob.id}]
    result = graphql(secured_url, query, {"reps": reps}, headers["customer"])
    assert result["data"] == {"_entities": [None]}
    assert set(refused(result).values()) == {"FORBIDDEN"}


def test_a_customer_cannot_ask_for_another_customers_gdpr_report_or_erasure(
    secured_url: str, headers: dict[str, dict[str, str]], bob: Person
) -> None:
    report = graphql(
        secured_url,
        "query($id: ID!) { dataSubjectReport(customerId: $id) { customerId } }",
        {"id": bob.id},
        headers["customer"],
    )
    assert report["data"] is None
    assert refused(report) == {("dataSubjectReport",): "FORBIDDEN"}
    erasure = graphql(
        secured_url,
        'mutation { eraseCustomer(customerId: "crm:999999", idempotencyKey: "k") { repeated } }',
        headers=headers["customer"],
    )
    assert erasure["data"] is None
    assert refused(erasure) == {("eraseCustomer",): "FORBIDDEN"}


# --- store employees -----------------------------------------------------------------


@pytest.mark.parametrize("key", ["id", "email"])
def test_a_store_employee_recognises_customers_only_by_loyalty_card(
    key: str, secured_url: str, headers: dict[str, dict[str, str]], bob: Person
) -> None:
    result = _customer_by(secured_url, headers["store_employee"], **{key: getattr(bob, key)})
    assert result["data"] == {"customer": None}
    assert refused(result) == {("customer",): "FORBIDDEN"}
    by_card = _customer_by(secured_url, headers["store_employee"], loyaltyCard=bob.card)
    assert by_card["data"]["customer"]["id"] == bob.id


def test_an_order_does_not_show_a_store_employee_who_placed_it(
    secured_url: str, headers: dict[str, dict[str, str]], bob: Person
) -> None:
    """A store employee may look up an order (a return at the till), but the customer
    behind it only by their card: the nested path refuses what the direct one does."""
    query = "query($id: ID!) { order(id: $id) { id status customer { id name email } } }"
    result = graphql(secured_url, query, {"id": bob.erp_orders[0]}, headers["store_employee"])
    assert result["data"]["order"]["id"] == bob.erp_orders[0]
    assert result["data"]["order"]["status"]
    assert result["data"]["order"]["customer"] is None
    assert set(refused(result).values()) == {"FORBIDDEN"}
    assert {path[:2] for path in refused(result)} == {("order", "customer")}


# --- consent-gated personalisation ---------------------------------------------------


def _segments_case(everyone: list[Person], consented: bool) -> Person:
    """Someone with (or without) the personalisation consent, who has granted e-mail
    marketing: marketing sees a person with no consent it may use as nobody at all
    (issue 15, finding 10), so the per-field refusal shows only where one is granted."""
    return next(
        p
        for p in everyone
        if p.consented("personalisation") == consented and p.consented("email_marketing")
    )


@pytest.mark.parametrize("consented", [True, False])
@pytest.mark.parametrize("role", ["marketing", "store_employee"])
def test_segments_need_a_valid_personalisation_consent(
    role: str,
    consented: bool,
    secured_url: str,
    headers: dict[str, dict[str, str]],
    everyone: list[Person],
) -> None:
    person = _segments_case(everyone, consented)
    query = "query($card: String!) { customer(by: {loyaltyCard: $card}) { id segments } }"
    result = graphql(secured_url, query, {"card": person.card}, headers[role])
    shown = result["data"]["customer"]
    assert shown["id"] == person.id
    if consented:
        assert "errors" not in result
        assert shown["segments"] == person.contact.segments
    else:
        assert shown["segments"] is None
        assert refused(result) == {("customer", "segments"): "CONSENT_REQUIRED"}


def test_an_expired_consent_counts_as_none(
    secured_url: str, headers: dict[str, dict[str, str]], everyone: list[Person]
) -> None:
    from datetime import date

    expired = next(
        p
        for p in everyone
        if p.consented("email_marketing")  # else nobody to marketing (finding 10)
        and any(
            c.purpose == "personalisation"
            and c.granted
            and c.valid_until is not None
            and c.valid_until < date.today()
            for c in p.contact.consents
        )
    )
    query = "query($card: String!) { customer(by: {loyaltyCard: $card}) { segments } }"
    result = graphql(secured_url, query, {"card": expired.card}, headers["marketing"])
    assert result["data"]["customer"]["segments"] is None
    assert refused(result) == {("customer", "segments"): "CONSENT_REQUIRED"}


def _no_usable_consent(everyone: list[Person]) -> Person:
    return next(
        p
        for p in everyone
        if not p.consented("email_marketing") and not p.consented("personalisation")
    )


@pytest.mark.parametrize("key", ["loyaltyCard", "email", "id"])
def test_marketing_sees_a_customer_without_a_consent_it_may_use_as_nobody(
    key: str, secured_url: str, headers: dict[str, dict[str, str]], everyone: list[Person]
) -> None:
    """Issue 15, finding 10: marketing got ``{"id": "crm:1001"}`` (and the consents)
    for a customer who consented to nothing it may use, and null for one who does not
    exist: an oracle of who is a customer. Both are now null, without an error."""
    person = _no_usable_consent(everyone)
    value = {"id": person.id, "loyaltyCard": person.card, "email": person.email}[key]
    nobody = {"id": "crm:99999999", "loyaltyCard": "0000000000000", "email": "no@one.nl"}[key]
    found = _customer_by(secured_url, headers["marketing"], MARKETING_PROFILE, **{key: value})
    unknown = _customer_by(secured_url, headers["marketing"], MARKETING_PROFILE, **{key: nobody})
    assert found == unknown == {"data": {"customer": None}}


def test_marketing_lists_a_customer_without_usable_consent_as_an_unknown_one(
    secured_url: str, headers: dict[str, dict[str, str]], everyone: list[Person], alice: Person
) -> None:
    query = "query($ids: [ID!]!) { customers(ids: $ids) { id } }"
    ids = [alice.id, _no_usable_consent(everyone).id, "crm:99999999"]
    result = graphql(secured_url, query, {"ids": ids}, headers["marketing"])
    assert result == {"data": {"customers": [{"id": alice.id}, None, None]}}


# --- partners ------------------------------------------------------------------------

ORDER_FOR_PARTNER = """query($id: ID!) { order(id: $id) {
    id status total { amount } lines { sku quantity } } }"""
#: the same with who placed it, which a partner may never read (issue 18: refused before
#: the operation runs; it was the order with a null customer and a FORBIDDEN)
ORDER_AND_CUSTOMER = """query($id: ID!) { order(id: $id) {
    id status total { amount } lines { sku quantity } customer { name } } }"""


def _orders_through(world: World, partner: str | None) -> list[str]:
    """Online orders the simulated ERP says came in through ``partner`` (its
    ``Salesperson_Code``, mapped as ``order_partner``), by id."""
    return [f"order:erp:{o.id}" for o in world.erp_orders if o.partner == partner]


@pytest.mark.parametrize("credential", ["jwt", "api_key"])
def test_a_partner_reads_its_orders_fields_but_never_who_placed_them(
    credential: str, secured_url: str, headers: dict[str, dict[str, str]], world: World
) -> None:
    sent = headers["partner"] if credential == "jwt" else {"X-API-Key": PARTNER_KEY}
    own = _orders_through(world, "ACME")[0]
    result = graphql(secured_url, ORDER_FOR_PARTNER, {"id": own}, sent)
    order = result["data"]["order"]
    assert order["id"] == own
    assert order["status"]
    assert order["lines"]
    assert "errors" not in result
    with_customer = graphql(secured_url, ORDER_AND_CUSTOMER, {"id": own}, sent)
    assert refused_before_running(with_customer) == ("FORBIDDEN", ["Customer.name"])


@pytest.mark.parametrize("whose", ["another partner's", "no partner's", "a store receipt"])
def test_a_partner_reads_no_other_order_whatever_the_id(
    whose: str,
    secured_url: str,
    headers: dict[str, dict[str, str]],
    world: World,
    bob: Person,
) -> None:
    """Issue 15, finding 10: with ``orders:read`` a partner read every order by its
    sequential id (this test used to expect exactly that of bob's order). An order is
    the partner's when the ERP says it came in through it; any other id answers as an
    id that is no order at all: null, without an error."""
    other = {
        "another partner's": _orders_through(world, "DEMO-PARTNER")[0],
        "no partner's": _orders_through(world, None)[0],
        "a store receipt": bob.pos_orders[0],
    }[whose]
    unknown = graphql(secured_url, ORDER_FOR_PARTNER, {"id": "erp:SO9999999"}, headers["partner"])
    result = graphql(secured_url, ORDER_FOR_PARTNER, {"id": other}, headers["partner"])
    assert result == unknown == {"data": {"order": None}}


def test_a_partner_without_the_orders_scope_reads_no_order(secured_url: str, world: World) -> None:
    own = _orders_through(world, "ACME")[0]
    result = graphql(secured_url, ORDER_FOR_PARTNER, {"id": own}, bearer("partner", partner="acme"))
    # without the scope, never: refused before it runs (issue 18)
    assert refused_before_running(result) == ("FORBIDDEN", ["Query.order"])


# --- the declarations, and the audit log ---------------------------------------------


def test_every_customer_field_declares_who_may_read_it() -> None:
    """A new field on Customer without a ``personal(...)`` policy would be readable by
    anyone who reaches a customer: this fails until it has one."""
    served = set(build_schema()._schema.type_map["Customer"].fields)  # type: ignore[attr-defined]
    fields = [
        f
        for f in Customer.__strawberry_definition__.fields
        if (f.graphql_name or to_camel_case(f.python_name)) in served
    ]
    assert len(fields) == len(served)
    for field in fields:
        [guard] = [e for e in field.extensions if isinstance(e, Guard)]
        assert guard.personal, field.python_name


def test_every_read_of_personal_data_is_audited_with_who_role_purpose_and_fields(
    secured_url: str,
    headers: dict[str, dict[str, str]],
    variables: dict[str, dict[str, Any]],
    audit_file: Path,
    alice: Person,
) -> None:
    audit_file.write_text("")
    ask(secured_url, "Customer360", variables["Customer360"], headers["store_employee"])
    [record] = [json.loads(line) for line in audit_file.read_text().splitlines()]
    assert record["who"] == "dev-store_employee"
    assert record["role"] == "store_employee"
    assert record["purpose"] == "in-store service"
    assert record["customer"] == alice.id
    assert record["operation"] == "Customer360"
    assert sorted(record["fields"]) == sorted(
        ["id", "name", "email", "phone", "address", "loyalty", "consents", "orders", "sources"]
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record["at"])


def test_refused_fields_are_not_audited_as_reads(
    secured_url: str,
    headers: dict[str, dict[str, str]],
    variables: dict[str, dict[str, Any]],
    audit_file: Path,
) -> None:
    from gateway.operations import reference_operations

    audit_file.write_text("")
    ask(secured_url, "Customer360", variables["Customer360"], headers["marketing"])
    # refused before it ran (issue 18): nothing read, nothing audited
    assert audit_file.read_text() == ""
    query = _without(reference_operations()["Customer360"], *NEVER_MARKETINGS)
    result = graphql(secured_url, query, variables["Customer360"], headers=headers["marketing"])
    [record] = [json.loads(line) for line in audit_file.read_text().splitlines()]
    assert record["role"] == "marketing"
    refused_here = {path[-1] for path in refused(result)}
    assert record["fields"]
    assert not refused_here & set(record["fields"])


def test_the_audit_record_names_the_purpose_the_token_gives(
    secured_url: str,
    variables: dict[str, dict[str, Any]],
    audit_file: Path,
) -> None:
    audit_file.write_text("")
    sent = bearer("service_agent", subject="agent-7", purpose="complaint 4711")
    ask(secured_url, "Customer360", variables["Customer360"], sent)
    [record] = [json.loads(line) for line in audit_file.read_text().splitlines()]
    assert (record["who"], record["purpose"]) == ("agent-7", "complaint 4711")


def test_a_catalogue_query_writes_no_audit_record(
    secured_url: str,
    headers: dict[str, dict[str, str]],
    variables: dict[str, dict[str, Any]],
    audit_file: Path,
) -> None:
    audit_file.write_text("")
    ask(secured_url, "ProductListing", variables["ProductListing"], headers["service"])
    assert audit_file.read_text() == ""


# --- writes: who may act -------------------------------------------------------------

WRITES = {
    "placeOrder": """mutation($id: ID!) { placeOrder(input: {customerId: $id, channel: WEB,
        idempotencyKey: "authz-never-placed", lines: [{sku: "10000", quantity: 1}],
        pickupLocationId: "store:none"}) { order { id } } }""",
    "registerReturn": """mutation { registerReturn(input: {orderId: "erp:none",
        idempotencyKey: "authz-never-returned", lines: [{sku: "10000", quantity: 1}]}) {
        errors { code } } }""",
    "updateCustomer": """mutation($id: ID!) { updateCustomer(input: {customerId: $id,
        phone: "+31600000000"}) { errors { code } } }""",
    "setConsent": """mutation($id: ID!) { setConsent(customerId: $id,
        purpose: PERSONALISATION, granted: true) { errors { code } } }""",
}
#: (role, write) -> refused with this code before anything is written; as the customer,
#: the writes name somebody else
REFUSED_WRITES = {
    **{("anonymous", w): "UNAUTHENTICATED" for w in WRITES},
    **{("marketing", w): "FORBIDDEN" for w in WRITES},
    **{("partner", w): "FORBIDDEN" for w in WRITES},
    **{("customer", w): "FORBIDDEN" for w in WRITES},
    ("store_employee", "updateCustomer"): "FORBIDDEN",
    ("store_employee", "setConsent"): "FORBIDDEN",
}
#: the writes a customer may make for themself only: refused at the field, by the
#: arguments (here: somebody else's id); every other refusal here is of a write the role
#: may never make, refused before the operation runs (issue 18)
FOR_ONESELF = {
    ("customer", "placeOrder"),
    ("customer", "updateCustomer"),
    ("customer", "setConsent"),
}


@pytest.mark.parametrize(("role", "write"), sorted(REFUSED_WRITES))
def test_writes_are_refused_to_roles_that_may_not_make_them(
    role: str,
    write: str,
    secured_url: str,
    systems: dict[str, str],
    headers: dict[str, dict[str, str]],
    bob: Person,
) -> None:
    for url in systems.values():
        clear_calls(url)
    result = graphql(secured_url, WRITES[write], {"id": bob.id}, headers[role])
    if (role, write) in FOR_ONESELF:
        assert result["data"] is None
        assert refused(result) == {(write,): REFUSED_WRITES[(role, write)]}
    else:  # a write the role may never make is refused before the operation runs
        code = REFUSED_WRITES[(role, write)]
        assert refused_before_running(result) == (code, [f"Mutation.{write}"])
    assert sum(sum(call_count(url).values()) for url in systems.values()) == 0


@pytest.mark.parametrize("role", ["anonymous", "customer", "marketing"])
async def test_live_stock_is_refused_to_whom_stock_levels_are(
    secured_url: str, everyone: list[Person], role: str
) -> None:
    """stockChanged is another path to stock levels: it refuses whom Product.stock does."""
    import asyncio

    import aiohttp

    query = "subscription($skus: [ID!]!) { stockChanged(skus: $skus) { sku available } }"
    headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
    if role == "customer":
        headers |= bearer("customer", customer=f"crm:{everyone[0].contact.id}")
    elif role == "marketing":
        headers |= bearer("marketing")
    body = {"query": query, "variables": {"skus": ["10000"]}}
    async with (
        aiohttp.ClientSession() as session,
        session.post(secured_url + "/graphql", json=body, headers=headers) as response,
    ):
        text = await asyncio.wait_for(response.text(), 10)
    assert '"FORBIDDEN"' in text
