"""What a client writes: within the bounds of the fields it lands in, and refused in
words that tell nobody about another customer.

Issue 15, findings 4 and 11: a customer who changed their e-mail address to someone
else's was told "Contact already exists. Existing ID: 1001" (anyone could map e-mail
addresses to customer ids); a 100 KB return reason or customer name, and a name with a
NUL and escape characters, were written to the ERP and the CRM.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import strawberry
from strawberry.utils.str_converters import to_camel_case as _camel

from legacy.world import World
from resolvers.graphql.inputs import BOUNDS, STREET, Bound, TextPath, check_arguments, texts
from resolvers.graphql.schema import Mutation as SchemaMutation
from tests.auth_tokens import SECRET, bearer
from tests.fresh import SYSTEMS, crm_contact, fresh_env
from tests.gateway_client import graphql
from tests.simulators import call_count, clear_calls

SERVICE = bearer("service")

UPDATE = """mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id email } errors { code message field } }
}"""


@pytest.fixture(scope="module")
def env(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with fresh_env(world, tmp_path_factory.mktemp("written-text"), jwt_secret=SECRET) as env:
        yield env


# --- finding 4: the e-mail oracle ------------------------------------------------------


def test_taking_another_customers_email_is_email_taken_without_saying_whose(
    env: dict[str, str], world: World
) -> None:
    me, other = world.crm_contacts[10], world.crm_contacts[11]
    as_me = bearer("customer", customer=f"crm:{me.id}")
    variables: dict[str, Any] = {
        "input": {"customerId": f"crm:{me.id}", "email": other.email.upper()}
    }
    result = graphql(env["gateway"], UPDATE, variables, headers=as_me)
    assert "errors" not in result
    payload = result["data"]["updateCustomer"]
    [refusal] = payload["errors"]
    assert refusal["code"] == "EMAIL_TAKEN"
    assert refusal["field"] == ["email"]
    assert other.id not in refusal["message"]
    assert "Existing" not in refusal["message"]
    assert payload["customer"]["email"] == me.email.lower()
    assert crm_contact(env["crm"], me.id)["properties"]["email"] == me.email


# --- finding 11: bounds on written text ------------------------------------------------

#: each mutation, and variables of the right GraphQL types holding every input there
#: is (the bounds are checked before anything else, so nothing else need make sense)
MUTATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "updateCustomer": (
        "mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { __typename } }",
        {
            "input": {
                "customerId": "crm:1001",
                "name": "Anna de Vries",
                "email": "anna@example.nl",
                "phone": "+31201234567",
                "address": {
                    "postalCode": "1012 AB",
                    "street": "Damrak 1",
                    "city": "Amsterdam",
                    "country": "NL",
                },
            }
        },
    ),
    "placeOrder": (
        "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { __typename } }",
        {
            "input": {
                "customerId": "crm:1001",
                "channel": "WEB",
                "idempotencyKey": "bounds",
                "lines": [{"sku": "10001", "quantity": 1}],
                "pickupLocationId": "store:LOC-001",
                "deliveryAddress": {
                    "postalCode": "1012 AB",
                    "street": "Damrak 1",
                    "city": "Amsterdam",
                    "country": "NL",
                },
            }
        },
    ),
    "registerReturn": (
        "mutation($input: RegisterReturnInput!) { registerReturn(input: $input) { __typename } }",
        {
            "input": {
                "orderId": "erp:SO0000001",
                "idempotencyKey": "bounds",
                "lines": [{"sku": "10001", "quantity": 1}],
                "locationId": "store:LOC-001",
                "reason": "DEFECTIVE",
            }
        },
    ),
    "setConsent": (
        "mutation($customerId: ID!, $purpose: ConsentPurpose!) { "
        "setConsent(customerId: $customerId, purpose: $purpose, granted: true) { __typename } }",
        {"customerId": "crm:1001", "purpose": "ANALYTICS"},
    ),
    "cancelOrder": (
        "mutation($orderId: ID!, $idempotencyKey: String!) { cancelOrder("
        "orderId: $orderId, idempotencyKey: $idempotencyKey) { __typename } }",
        {"orderId": "erp:SO0000001", "idempotencyKey": "bounds"},
    ),
    "eraseCustomer": (
        "mutation($customerId: ID!, $idempotencyKey: String!) { eraseCustomer("
        "customerId: $customerId, idempotencyKey: $idempotencyKey) { __typename } }",
        {"customerId": "crm:1001", "idempotencyKey": "bounds"},
    ),
}


def _mutation_texts() -> list[tuple[str, TextPath, Bound]]:
    """Every string each mutation takes, with its bound, as the schema declares them."""
    fields = {_camel(f.python_name): f for f in SchemaMutation.__strawberry_definition__.fields}
    found = []
    for name, field in fields.items():
        for path, bound in texts(field):
            assert bound is not None  # the schema refuses to build otherwise
            found.append((name, path, bound))
    return found


def _with(variables: dict[str, Any], path: TextPath, value: str) -> dict[str, Any]:
    changed = copy.deepcopy(variables)
    *parents, last = path
    place: Any = changed
    for step in parents:
        place = place[step]
    place[last] = value
    return changed


def test_every_mutation_has_its_inputs_here() -> None:
    assert set(MUTATIONS) == {name for name, _, _ in _mutation_texts()}


@pytest.mark.parametrize(
    ("mutation", "path", "bound"),
    _mutation_texts(),
    ids=[f"{m}:{'.'.join(map(str, p))}" for m, p, _ in _mutation_texts()],
)
def test_text_beyond_its_bound_is_refused_naming_the_field_before_any_system_is_asked(
    mutation: str, path: TextPath, bound: Bound, env: dict[str, str]
) -> None:
    document, variables = MUTATIONS[mutation]
    for value in ("x" * (bound.max_length + 1), "Anna\x00", "An\x1b[2Jna", "Anna\r"):
        for name in SYSTEMS:
            clear_calls(env[name])
        result = graphql(env["gateway"], document, _with(variables, path, value), headers=SERVICE)
        [error] = result["errors"]
        assert error["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": [str(step) for step in path],
        }, value
        assert all(not call_count(env[name]) for name in SYSTEMS), value


def test_a_name_at_its_bound_is_written_whole(env: dict[str, str], world: World) -> None:
    """The bound is the target's length, not less: 50 characters fit NAV's
    Customer Name, and go to the CRM as they are."""
    contact = world.crm_contacts[12]
    name = "Anna " + "v" * 45
    variables = {"input": {"customerId": f"crm:{contact.id}", "name": name}}
    result = graphql(env["gateway"], UPDATE, variables, headers=SERVICE)
    assert result["data"]["updateCustomer"]["errors"] == []
    properties = crm_contact(env["crm"], contact.id)["properties"]
    assert (properties["firstname"], properties["lastname"]) == ("Anna", "v" * 45)


def test_tab_and_newline_are_the_control_characters_text_may_hold() -> None:
    assert STREET.problem("Damrak 1\tachter\n") is None
    assert STREET.problem("Damrak\x7f 1") is None  # DEL is no C0 control
    assert STREET.problem("Damrak\x0b1") == "holds a control character (U+000B)"
    assert STREET.problem("Damrak\ufffe") == "holds a control character (U+FFFE)"


def test_a_string_argument_without_a_bound_is_refused_when_the_schema_is_built() -> None:
    @strawberry.type
    class Careless:
        @strawberry.field
        def echo(self, said: str) -> str:
            return said

    with pytest.raises(TypeError, match=r"Careless\.echo: no bound declared for said"):
        check_arguments([Careless])


# --- the README lists every bound ------------------------------------------------------


def test_the_readme_lists_every_bound_with_its_length_and_source() -> None:
    """The README's table of bounds is these declarations, row for row."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    rows = {
        cells[0].strip("` "): (int(cells[1]), cells[2])
        for line in readme.splitlines()
        if line.startswith("| `")
        and (cells := [c.strip() for c in line.strip("|").split("|")])
        and len(cells) == 4
        and cells[1].isdigit()
    }
    assert rows == {name: (b.max_length, b.source) for name, b in BOUNDS.items()}
