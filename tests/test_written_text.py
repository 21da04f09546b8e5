"""What a client writes: within the bounds of the fields it lands in, and refused in
words that tell nobody about another customer.

Issue 15, findings 4 and 11: a customer who changed their e-mail address to someone
else's was told "Contact already exists. Existing ID: 1001" (anyone could map e-mail
addresses to customer ids); a 100 KB return reason or customer name, and a name with a
NUL and escape characters, were written to the ERP and the CRM.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from legacy.world import World
from tests.auth_tokens import SECRET, bearer
from tests.fresh import crm_contact, fresh_systems, gateway
from tests.gateway_client import graphql

UPDATE = """mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id email } errors { code message field } }
}"""


@pytest.fixture(scope="module")
def env(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("written-text")
    with (
        fresh_systems(world, folder) as servers,
        gateway(servers, folder / "gw", jwt_secret=SECRET) as url,
    ):
        yield {"gateway": url, **{name: s.url for name, s in servers.items()}}


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
