"""A catalogue of hostile requests against a production gateway: each is refused with
its own status and code before any legacy system is asked (counted at the simulated
systems: zero calls) and well under a second, while a normal client asking at the same
time is served as usual.

Statuses are those of ``application/graphql-response+json`` (GraphQL over HTTP): 4xx
for a request refused before execution, 200 once it executed (field errors).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
from graphql import GraphQLError, parse

from gateway.http.graphql_http import GRAPHQL_RESPONSE, HTTP_CODES
from gateway.operations import reference_operations
from gateway.security.limits import MaskUnexpectedErrors, estimated_cost
from legacy.examples import examples
from resolvers.graphql.schema import build_schema
from tests.auth_tokens import SECRET, bearer
from tests.conftest import SEED, SIZE, _gateway
from tests.gateway_client import graphql
from tests.simulators import call_count, clear_calls

AGENT = bearer("service_agent")
CLERK = bearer("store_employee", store="store:S001", channel="STORE")


@pytest.fixture(scope="module")
def production_url(systems: dict[str, str]) -> Iterator[str]:
    """The gateway as deployed: production, tokens required, no rate limit (so that
    what refuses each request here is the limit under test)."""
    yield from _gateway(
        systems, cache=False, env="production", jwt_secret=SECRET, rate_limit_per_s=0.0
    )


def send(
    url: str, body: bytes | Iterator[bytes], content_type: str = "application/json", **headers: str
) -> tuple[int, dict[str, Any], float]:
    """POST over a plain connection (a chunked body when given an iterator); the status,
    the JSON answer and the seconds it took."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    started = time.monotonic()
    try:
        connection.request(
            "POST",
            "/graphql",
            body=body,
            headers={"Content-Type": content_type, "Accept": GRAPHQL_RESPONSE, **headers},
            encode_chunked=not isinstance(body, bytes),
        )
        answer = connection.getresponse()
        payload = json.loads(answer.read() or b"{}")
        return answer.status, payload, time.monotonic() - started
    finally:
        connection.close()


def query(text: str, **variables: Any) -> bytes:
    return json.dumps({"query": text, "variables": variables}).encode()


def _deep(levels: int) -> str:
    """customer -> orders -> customer -> orders ...: valid, and ``levels`` deep."""
    pairs = levels // 2
    inner = "orders { customer { " * pairs + "id" + " } }" * pairs
    return 'query Deep { customer(by: {id: "crm:1001"}) { ' + inner + " } }"


def _megabyte() -> Iterator[bytes]:
    yield b'{"query": "{ __typename }", "padding": "'
    for _ in range(64):
        yield b"x" * 16_384
    yield b'"}'


EXPENSIVE = """query($ids: [ID!]!) { customers(ids: $ids) {
    orders(last: 200) { lines { product { stock { location { name } } } } } } }"""

Body = Callable[[], bytes | Iterator[bytes]]
#: name -> (body, content type, extra headers, expected status, expected code)
CATALOGUE: dict[str, tuple[Body, str, dict[str, str], int, str]] = {
    "depth 50": (lambda: query(_deep(50)), "application/json", AGENT, 400, "MAX_DEPTH_EXCEEDED"),
    "1,000 aliases": (
        lambda: query("{ " + " ".join(f"a{i}: __typename" for i in range(1000)) + " }"),
        "application/json",
        AGENT,
        400,
        "MAX_ALIASES_EXCEEDED",
    ),
    "a 1 MB document": (
        lambda: query("{ __typename }" + " " * 1_000_000),
        "application/json",
        AGENT,
        413,
        "PAYLOAD_TOO_LARGE",
    ),
    "a 1 MB chunked body": (_megabyte, "application/json", AGENT, 413, "PAYLOAD_TOO_LARGE"),
    "20,000 tokens": (
        lambda: query("{ " + "__typename " * 20_000 + "}"),
        "application/json",
        AGENT,
        400,
        "MAX_TOKENS_EXCEEDED",
    ),
    "a fragment cycle": (
        lambda: query(
            'query { product(sku: "10000") { ...A } } '
            "fragment A on Product { sku ...B } fragment B on Product { name ...A }"
        ),
        "application/json",
        AGENT,
        400,
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "a batch of 1,000 operations": (
        lambda: json.dumps([{"query": "{ __typename }"}] * 1000).encode(),
        "application/json",
        AGENT,
        400,
        "BAD_REQUEST",
    ),
    "introspection in production": (
        lambda: query("{ __schema { types { name fields { name } } } }"),
        "application/json",
        AGENT,
        400,
        "INTROSPECTION_DISABLED",
    ),
    "the federation SDL in production": (
        lambda: query("{ _service { sdl } }"),
        "application/json",
        AGENT,
        400,
        "INTROSPECTION_DISABLED",
    ),
    "an estimated cost of millions": (
        lambda: query(EXPENSIVE, ids=[f"crm:{1001 + i}" for i in range(500)]),
        "application/json",
        AGENT,
        400,
        "MAX_COST_EXCEEDED",
    ),
    "a list argument past its length": (
        lambda: query("query($s: [ID!]!) { products(skus: $s) { sku } }", s=["1"] * 501),
        "application/json",
        AGENT,
        200,
        "BAD_USER_INPUT",
    ),
    "malformed JSON": (lambda: b'{"query": "{ __typename ', "application/json", AGENT, 400, ""),
    "a wrong content type": (lambda: b"{ __typename }", "text/plain", AGENT, 400, ""),
    "a forged token": (
        lambda: query("{ __typename }"),
        "application/json",
        {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJyb2xlIjoic2VydmljZSJ9."},
        401,
        "UNAUTHENTICATED",
    ),
}


def refused_as_expected(name: str, status: int, answer: dict[str, Any]) -> None:
    _, _, _, expected_status, expected_code = CATALOGUE[name]
    assert status == expected_status, (name, answer)
    code = expected_code or HTTP_CODES[status]  # HTTP-level refusals: the status's code
    assert [e["extensions"]["code"] for e in answer["errors"]][:1] == [code], (name, answer)
    # nothing answered: no data, or (a refused argument nulls only its own field, issue
    # 17) every root field null
    assert not any((answer.get("data") or {}).values()), name


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_each_hostile_request_is_refused_before_any_upstream_call_within_a_second(
    name: str, production_url: str, systems: dict[str, str]
) -> None:
    body, content_type, headers, _, _ = CATALOGUE[name]
    for url in systems.values():
        clear_calls(url)
    status, answer, seconds = send(production_url, body(), content_type, **headers)
    refused_as_expected(name, status, answer)
    assert seconds < 1.0, (name, seconds)
    assert {s: sum(call_count(u).values()) for s, u in systems.items()} == dict.fromkeys(systems, 0)


def test_a_normal_client_is_served_while_hostile_requests_arrive(production_url: str) -> None:
    ready = examples(SEED, SIZE)["Customer360"]
    operation = reference_operations()["Customer360"]
    stop = threading.Event()
    served: list[tuple[dict[str, Any], float]] = []

    def normal_client() -> None:
        while not stop.is_set():
            started = time.monotonic()
            result = graphql(production_url, operation, ready, headers=CLERK)
            served.append((result, time.monotonic() - started))

    def hostile(name: str) -> None:
        body, content_type, headers, _, _ = CATALOGUE[name]
        status, answer, _ = send(production_url, body(), content_type, **headers)
        refused_as_expected(name, status, answer)

    client = threading.Thread(target=normal_client)
    client.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            for outcome in [pool.submit(hostile, n) for n in list(CATALOGUE) * 3]:
                outcome.result()
    finally:
        stop.set()
        client.join()
    assert served
    for result, seconds in served:
        assert "errors" not in result
        assert result["data"]["customer"]["loyalty"]["cardNumber"] == ready["card"]
        assert seconds < 2.0


# --- the limits in development mode, and what they leave alone -----------------------


def test_the_limits_hold_in_development_mode_too(gateway_url: str) -> None:
    status, answer, _ = send(gateway_url, query(_deep(50)))
    assert status == 400
    assert answer["errors"][0]["extensions"]["code"] == "MAX_DEPTH_EXCEEDED"


def test_field_suggestions_are_given_in_development_and_not_in_production(
    gateway_url: str, production_url: str
) -> None:
    typo = query("{ prodcts(skus: []) { sku } }")
    _, development, _ = send(gateway_url, typo)
    _, production, _ = send(production_url, typo, **AGENT)
    assert "Did you mean" in development["errors"][0]["message"]
    assert "Did you mean" not in production["errors"][0]["message"]


def test_introspection_still_works_in_development(gateway_url: str) -> None:
    result = graphql(gateway_url, "{ __schema { queryType { name } } }")
    assert result == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize(
    ("name", "most"), [("Customer360", 2_000), ("ProductListing", 3_000), ("StockCheck", 10_000)]
)
def test_the_reference_operations_cost_far_less_than_the_limit(name: str, most: int) -> None:
    schema = build_schema()._schema  # type: ignore[attr-defined]
    variables = examples(SEED, "default")[name]
    cost = estimated_cost(schema, parse(reference_operations()[name]), name, variables)
    assert 0 < cost <= most


def test_unexpected_errors_are_masked_in_production_and_coded_ones_are_not() -> None:
    mask = MaskUnexpectedErrors()
    bug = GraphQLError("KeyError: 'k' at /srv", extensions={"code": "INTERNAL_SERVER_ERROR"})
    down = GraphQLError("erp: no answer", extensions={"code": "SOURCE_TIMEOUT", "source": "erp"})
    assert mask.should_mask_error(bug)
    assert not mask.should_mask_error(down)
    masked = mask.anonymise_error(bug)
    assert masked.message == "Unexpected error."
    assert masked.extensions == {"code": "INTERNAL_SERVER_ERROR"}


def test_production_serves_no_graphiql_page(production_url: str) -> None:
    request = urllib.request.Request(production_url + "/graphql", headers={"Accept": "text/html"})
    with pytest.raises(urllib.error.HTTPError) as refused, urllib.request.urlopen(request):
        pass
    with refused.value as answer:
        assert 400 <= answer.code < 500
        assert "text/html" not in answer.headers.get("content-type", "")
