"""GraphQL over HTTP, requirement by requirement, against the real gateway.

Each test names the requirement it checks: the spec's words (graphql-over-http,
spec/GraphQLOverHTTP.md) and, where there is one, the id of the matching audit in
graphql-http's server audits (the spec's reference conformance suite), e.g. ``22EB``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
TYPENAME = "{ __typename }"
PARSE_FAILURE = "{"
VALIDATION_FAILURE = "{ noSuchField }"
COERCE = "query Coerce($card: String!) { customer(by: {loyaltyCard: $card}) { id } }"
TWO_OPERATIONS = "query A { __typename } query B { __typename }"
TYPE_BY_NAME = "query Type($name: String!) { __type(name: $name) { name } }"
#: A field error during execution: the order id has no source prefix.
FIELD_ERROR = '{ order(id: "no-prefix") { id } }'


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def media(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def send(
    url: str,
    method: str = "POST",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> Answer:
    query = "?" + urllib.parse.urlencode(params) if params else ""
    request = urllib.request.Request(
        f"{url}/graphql{query}", data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, _lower(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, _lower(error.headers), error.read())


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def post(url: str, payload: Any, accept: str | None = None) -> Answer:
    headers = {"Content-Type": JSON, **({"Accept": accept} if accept else {})}
    return send(url, body=json.dumps(payload).encode(), headers=headers)


def get(url: str, params: dict[str, str], accept: str | None = None) -> Answer:
    return send(url, "GET", params=params, headers={"Accept": accept} if accept else {})


def error_codes(answer: Answer) -> list[str]:
    return [e["extensions"]["code"] for e in answer.json["errors"]]


# --- Media types and Accept -----------------------------------------------------------


def test_22eb_accepts_graphql_response_json_and_answers_in_it(gateway_url: str) -> None:
    """Body: a server SHOULD (MUST since 2025) support a request that accepts
    application/graphql-response+json, and MUST indicate the media type it used."""
    answer = post(gateway_url, {"query": TYPENAME}, accept=GRAPHQL_RESPONSE)
    assert answer.status == 200
    assert answer.media == GRAPHQL_RESPONSE
    assert answer.json == {"data": {"__typename": "Query"}}


def test_4655_accepts_application_json_and_answers_in_it(gateway_url: str) -> None:
    """Body: a server MUST support any request which accepts application/json."""
    answer = post(gateway_url, {"query": TYPENAME}, accept=JSON)
    assert answer.status == 200
    assert answer.media == JSON


def test_47de_a_wildcard_accept_gets_application_json(gateway_url: str) -> None:
    """SHOULD accept */* and use application/json for the content-type (graphql-http
    audit 47DE: what a client that states no preference understands)."""
    answer = post(gateway_url, {"query": TYPENAME}, accept="*/*")
    assert answer.status == 200
    assert answer.media == JSON


def test_no_accept_header_is_treated_as_graphql_response_json(gateway_url: str) -> None:
    """Legacy watershed: from 2025-01-01, without an Accept header the server SHOULD
    treat the request as if it had Accept: application/graphql-response+json."""
    answer = post(gateway_url, {"query": TYPENAME})
    assert answer.status == 200
    assert answer.media == GRAPHQL_RESPONSE


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (f"{JSON};q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.2, {JSON}", JSON),
        (f"{GRAPHQL_RESPONSE}; charset=utf-8, {JSON}; charset=utf-8", GRAPHQL_RESPONSE),
        (f"text/html, {JSON};q=0.9", JSON),
    ],
    ids=["quality-wins", "quality-wins-json", "recommended-client-header", "skips-unserved"],
)
def test_the_highest_priority_accepted_media_type_is_used(
    gateway_url: str, accept: str, media: str
) -> None:
    """Body: the server MUST respect the Accept header and encode the response in the
    highest priority media type listed that it supports."""
    answer = post(gateway_url, {"query": TYPENAME}, accept=accept)
    assert answer.status == 200
    assert answer.media == media


def test_an_accept_header_without_a_supported_type_is_406(gateway_url: str) -> None:
    """Body: when the Accept header names no supported media type, the server MUST
    either answer 406 Not Acceptable (RECOMMENDED) or disregard it."""
    answer = post(gateway_url, {"query": TYPENAME}, accept="text/csv")
    assert answer.status == 406
    assert error_codes(answer) == ["NOT_ACCEPTABLE"]


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
def test_82a3_the_response_says_and_uses_utf_8(gateway_url: str, accept: str) -> None:
    """82A3: MUST use utf-8 encoding when responding; Body: SHOULD indicate the encoding
    in Content-Type."""
    answer = post(gateway_url, {"query": '{ __type(name: "Run🏃Swim🏊") { name } }'}, accept)
    assert "charset=utf-8" in answer.headers["content-type"]
    answer.body.decode("utf-8", errors="strict")


def test_bf61_a_utf_8_request_is_accepted(gateway_url: str) -> None:
    """BF61: MUST accept utf-8 encoded requests (POST: the server MUST support
    application/json encoded with UTF-8)."""
    body = json.dumps({"query": '{ __type(name: "Run🏃Swim🏊") { name } }'}, ensure_ascii=False)
    answer = send(
        gateway_url,
        body=body.encode("utf-8"),
        headers={"Content-Type": f"{JSON}; charset=utf-8", "Accept": JSON},
    )
    assert answer.status == 200
    assert answer.json == {"data": {"__type": None}}


def test_78d5_utf_8_is_assumed_when_the_request_names_no_charset(gateway_url: str) -> None:
    """78D5 / POST: for an officially recognised Content-Type without an encoding, the
    server MUST assume utf-8."""
    body = json.dumps({"query": '{ __type(name: "Zoë") { name } }'}, ensure_ascii=False)
    answer = send(gateway_url, body=body.encode("utf-8"), headers={"Content-Type": JSON})
    assert answer.status == 200


# --- Methods ----------------------------------------------------------------------------


def test_2c94_post_is_accepted(gateway_url: str) -> None:
    """Request: a server MUST accept POST requests."""
    assert post(gateway_url, {"query": TYPENAME}).status == 200


def test_5a70_get_with_url_encoded_parameters_runs_a_query(gateway_url: str) -> None:
    """GET: parameters in the query component, application/x-www-form-urlencoded."""
    answer = get(gateway_url, {"query": TYPENAME}, accept=GRAPHQL_RESPONSE)
    assert answer.status == 200
    assert answer.json == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
def test_9c48_a_mutation_over_get_is_405_and_not_executed(gateway_url: str, accept: str) -> None:
    """GET: GET requests MUST NOT be used for executing mutation operations; the server
    MUST respond with 405 (Method Not Allowed) and halt execution."""
    answer = get(gateway_url, {"query": "mutation { __typename }"}, accept=accept)
    assert answer.status == 405
    assert answer.headers["allow"] == "POST"
    assert error_codes(answer) == ["METHOD_NOT_ALLOWED"]
    assert "data" not in answer.json


def test_a_named_mutation_over_get_is_405_too(gateway_url: str) -> None:
    """GET: "if the values of {query} and {operationName} indicate that a mutation
    operation is to be executed" — the operation chosen by name counts."""
    document = "query Q { __typename } mutation M { __typename }"
    answer = get(gateway_url, {"query": document, "operationName": "M"}, accept=JSON)
    assert answer.status == 405


def test_a_query_chosen_by_name_over_get_runs(gateway_url: str) -> None:
    document = "query Q { __typename } mutation M { __typename }"
    answer = get(gateway_url, {"query": document, "operationName": "Q"}, accept=JSON)
    assert answer.status == 200


def test_an_empty_operation_name_over_get_is_no_name(gateway_url: str) -> None:
    """GET: setting {operationName} to the empty string is equivalent to omitting it."""
    answer = get(gateway_url, {"query": TYPENAME, "operationName": ""}, accept=JSON)
    assert answer.status == 200
    assert answer.json == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods_are_405(gateway_url: str, method: str) -> None:
    """Request: a server MUST accept POST and MAY accept GET; others it refuses."""
    answer = send(gateway_url, method, body=b"{}", headers={"Content-Type": JSON})
    assert answer.status == 405


def test_9abe_a_post_without_content_type_is_refused_with_4xx(gateway_url: str) -> None:
    """POST: if the client does not supply a Content-Type header with a POST request,
    the server SHOULD reject the request using the appropriate 4xx status code."""
    answer = send(gateway_url, body=json.dumps({"query": TYPENAME}).encode(), headers={})
    assert 400 <= answer.status <= 499
    assert error_codes(answer) == ["BAD_REQUEST"]


# --- Well-formed requests: parameters ------------------------------------------------------


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
@pytest.mark.parametrize("parameter", ["variables", "operationName", "extensions"])
def test_94b_022_null_optional_parameters_mean_absent(
    gateway_url: str, parameter: str, accept: str
) -> None:
    """94B0-2, 0220-2 / Request parameters: specifying null for an optional request
    parameter is equivalent to not specifying it at all."""
    answer = post(gateway_url, {"query": TYPENAME, parameter: None}, accept)
    assert answer.status == 200
    assert "errors" not in answer.json


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
def test_8161_b8b3_a_string_operation_name_picks_the_operation(
    gateway_url: str, accept: str
) -> None:
    """8161, B8B3 / JSON encoding: {operationName} is an optional string."""
    answer = post(gateway_url, {"query": TWO_OPERATIONS, "operationName": "B"}, accept)
    assert answer.status == 200
    assert answer.json == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
def test_2ea1_28b9_a_map_of_variables_is_used(gateway_url: str, accept: str) -> None:
    """2EA1, 28B9 / JSON encoding: {variables} is an optional map."""
    answer = post(gateway_url, {"query": TYPE_BY_NAME, "variables": {"name": "Product"}}, accept)
    assert answer.status == 200
    assert answer.json == {"data": {"__type": {"name": "Product"}}}


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
def test_d6d5_6a70_variables_over_get_are_a_json_string(gateway_url: str, accept: str) -> None:
    """D6D5, 6A70 / GET: {variables} and {extensions}, if used, MUST be encoded as a
    JSON string."""
    params = {"query": TYPE_BY_NAME, "variables": json.dumps({"name": "Product"})}
    answer = get(gateway_url, params, accept)
    assert answer.status == 200
    assert answer.json == {"data": {"__type": {"name": "Product"}}}


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
def test_428f_1b7a_39aa_a_map_of_extensions_is_accepted(gateway_url: str, accept: str) -> None:
    """428F, 1B7A, 39AA / JSON encoding: {extensions} is an optional map."""
    answer = post(gateway_url, {"query": TYPENAME, "extensions": {"some": "value"}}, accept)
    assert answer.status == 200
    assert "errors" not in answer.json


# --- Requests that are not well-formed: 400 whatever the media type ------------------


def _malformed(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


MALFORMED = {
    "A5BF-no-body": b"",
    "B6DC-BCF8-not-json": b'{ "not a JSON',
    "3E3A-8764-typo-in-query": {"qeury": TYPENAME},
    "423L-no-query": {"notquery": TYPENAME},
    "LKJ0-query-object": {"query": {"obj": "ect"}},
    "LKJ1-query-number": {"query": 0},
    "LKJ2-query-false": {"query": False},
    "LKJ3-query-array": {"query": ["array"]},
    "6C00-operation-name-object": {"query": TYPENAME, "operationName": {"obj": "ect"}},
    "6C01-operation-name-number": {"query": TYPENAME, "operationName": 0},
    "6C02-operation-name-false": {"query": TYPENAME, "operationName": False},
    "6C03-operation-name-array": {"query": TYPENAME, "operationName": ["array"]},
    "4760-variables-string": {"query": TYPENAME, "variables": "string"},
    "4761-variables-number": {"query": TYPENAME, "variables": 0},
    "4762-variables-false": {"query": TYPENAME, "variables": False},
    "4763-variables-array": {"query": TYPENAME, "variables": ["array"]},
    "58B0-extensions-string": {"query": TYPENAME, "extensions": "string"},
    "58B1-extensions-number": {"query": TYPENAME, "extensions": 0},
    "58B2-extensions-false": {"query": TYPENAME, "extensions": False},
    "58B3-extensions-array": {"query": TYPENAME, "extensions": ["array"]},
}


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_request_that_is_not_well_formed_is_400_with_a_coded_error(
    gateway_url: str, payload: Any, accept: str
) -> None:
    """Status codes: a request that is not a well-formed GraphQL-over-HTTP request
    (invalid JSON, a missing or non-string {query}, a {variables}, {operationName} or
    {extensions} of the wrong type) SHOULD result in 400, in either media type."""
    answer = send(
        gateway_url, body=_malformed(payload), headers={"Content-Type": JSON, "Accept": accept}
    )
    assert answer.status == 400
    assert answer.media == accept
    assert error_codes(answer) == ["BAD_REQUEST"]
    assert "data" not in answer.json


# --- Well-formed requests refused before execution: status depends on the media type -----

REQUEST_ERRORS = {
    "parse-failure": ({"query": PARSE_FAILURE}, "GRAPHQL_PARSE_FAILED"),
    "validation-failure": ({"query": VALIDATION_FAILURE}, "GRAPHQL_VALIDATION_FAILED"),
    "operation-cannot-be-determined": ({"query": TWO_OPERATIONS}, "OPERATION_RESOLUTION_FAILURE"),
    "unknown-operation-name": (
        {"query": TYPENAME, "operationName": "Nope"},
        "OPERATION_RESOLUTION_FAILURE",
    ),
    "variable-coercion-failure": (
        {"query": COERCE, "variables": {"card": None}},
        "BAD_USER_INPUT",
    ),
    "missing-required-variable": ({"query": COERCE}, "BAD_USER_INPUT"),
}


@pytest.mark.parametrize(("payload", "code"), REQUEST_ERRORS.values(), ids=REQUEST_ERRORS.keys())
def test_865d_556a_d586_51fe_74ff_5e5b_86ee_request_errors_are_400_in_graphql_response_json(
    gateway_url: str, payload: dict[str, Any], code: str
) -> None:
    """application/graphql-response+json: a document that does not parse (865D, 556A)
    or validate (51FE, 74FF), an operation that cannot be determined, variables that do
    not coerce (86EE) SHOULD be 400; the response has no {data} entry (D586, 5E5B), and
    without {data} the server MUST use 4xx or 5xx."""
    answer = post(gateway_url, payload, accept=GRAPHQL_RESPONSE)
    assert answer.status == 400
    assert answer.media == GRAPHQL_RESPONSE
    assert "data" not in answer.json
    assert error_codes(answer) == [code]


@pytest.mark.parametrize(("payload", "code"), REQUEST_ERRORS.values(), ids=REQUEST_ERRORS.keys())
def test_572b_dfe2_7b9b_request_errors_are_200_in_application_json(
    gateway_url: str, payload: dict[str, Any], code: str
) -> None:
    """application/json: the server SHOULD use 200 for every response to a well-formed
    request, whatever request error it raised: document parsing (572B) or validation
    (DFE2) failure, operation not determined, variable coercion failure (7B9B)."""
    answer = post(gateway_url, payload, accept=JSON)
    assert answer.status == 200
    assert answer.media == JSON
    assert "data" not in answer.json
    assert error_codes(answer) == [code]


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
def test_field_errors_are_200_with_the_partial_data(gateway_url: str, accept: str) -> None:
    """Field errors encountered during execution: if the operation executed and no
    request error was raised the server SHOULD answer 200; with a non-null {data} it
    MUST use 2xx (graphql-response+json) or 200 (application/json)."""
    answer = post(gateway_url, {"query": FIELD_ERROR}, accept=accept)
    assert answer.status == 200
    assert answer.json["data"] == {"order": None}
    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert answer.json["errors"][0]["path"] == ["order"]
