"""Bad input gets a clear GraphQL error with a code: never a stack trace, never a miss
disguised as an error, never an error disguised as a miss."""

from __future__ import annotations

import json

from tests.gateway_client import codes, graphql, post

CARD_QUERY = "query($card: String!) { customer(by: {loyaltyCard: $card}) { id name } }"


def test_an_unknown_loyalty_card_is_a_null_customer_without_errors(gateway_url: str) -> None:
    result = graphql(gateway_url, CARD_QUERY, {"card": "0000000000000"})
    assert result == {"data": {"customer": None}}


def test_a_malformed_query_is_a_parse_error_with_a_code(gateway_url: str) -> None:
    _status, result = post(gateway_url, json.dumps({"query": "{ customer(by: {"}).encode())
    assert codes(result) == ["GRAPHQL_PARSE_FAILED"]
    assert "Traceback" not in json.dumps(result)


def test_an_unknown_field_is_a_validation_error_with_a_code(gateway_url: str) -> None:
    result = graphql(gateway_url, '{ product(sku: "1") { nonsense } }')
    assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]


def test_a_variable_of_the_wrong_type_is_bad_user_input(gateway_url: str) -> None:
    result = graphql(gateway_url, CARD_QUERY, {"card": {"not": "a string"}})
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result.get("data") is None


def test_a_missing_required_variable_is_bad_user_input(gateway_url: str) -> None:
    result = graphql(gateway_url, CARD_QUERY, {})
    assert codes(result) == ["BAD_USER_INPUT"]


def test_two_ways_to_recognise_a_customer_at_once_is_refused(gateway_url: str) -> None:
    result = graphql(gateway_url, '{ customer(by: {loyaltyCard: "1", email: "a@b.nl"}) { id } }')
    assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]


def test_a_malformed_id_is_bad_user_input_not_a_miss(gateway_url: str) -> None:
    result = graphql(gateway_url, '{ order(id: "no-prefix") { id } }')
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result["data"] == {"order": None}


def test_an_unknown_postal_code_is_bad_user_input(gateway_url: str) -> None:
    result = graphql(gateway_url, '{ locations(near: {postalCode: "0000"}) { id } }')
    assert codes(result) == ["BAD_USER_INPUT"]


def test_malformed_json_is_refused_with_a_clear_message(gateway_url: str) -> None:
    status, result = post(gateway_url, b'{"query": ')
    assert status == 400
    assert "Traceback" not in json.dumps(result)
