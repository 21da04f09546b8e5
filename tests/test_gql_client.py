"""A real Python GraphQL client, gql over aiohttp, against the real gateway: what a team
that already uses gql gets without any glue."""

from __future__ import annotations

from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError

from gateway.operations import reference_operations
from legacy.examples import examples
from tests.conftest import SEED, SIZE


@pytest.fixture(scope="module")
def variables() -> dict[str, Any]:
    return examples(SEED, SIZE)["Customer360"]


def client(gateway_url: str, **options: Any) -> Client:
    return Client(transport=AIOHTTPTransport(url=f"{gateway_url}/graphql"), **options)


async def test_gql_runs_customer360_validated_against_the_introspected_schema(
    gateway_url: str, variables: dict[str, Any]
) -> None:
    """gql introspects the gateway first and validates the operation locally, so this
    also proves the schema gql sees is the one the gateway runs."""
    request = GraphQLRequest(reference_operations()["Customer360"], variable_values=variables)
    async with client(gateway_url, fetch_schema_from_transport=True) as session:
        result = await session.execute(request)
    customer = result["customer"]
    assert customer["loyalty"]["cardNumber"] == variables["card"]
    assert {source["system"] for source in customer["sources"]} == {"CRM", "ERP", "POS"}
    assert customer["orders"]
    assert all(line["product"]["name"] for o in customer["orders"] for line in o["lines"])


async def test_gql_sees_a_bad_variable_as_a_query_error_with_a_code(gateway_url: str) -> None:
    request = GraphQLRequest(
        reference_operations()["Customer360"], variable_values={"card": {"not": "a string"}}
    )
    async with client(gateway_url) as session:
        with pytest.raises(TransportQueryError) as raised:
            await session.execute(request)
    assert raised.value.errors
    assert raised.value.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
