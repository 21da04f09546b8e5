"""Production tells a client nothing that introspection would not: no "Did you mean"
for enum values, input fields or arguments (in a literal or in a variable), no words of
a failing source (its raw bytes, its internal URL) in an answer, no source URLs in
/readyz. The codes stay; the details stay in the log. Development keeps them all."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.auth_tokens import SECRET, bearer
from tests.conftest import EXECUTORS, _gateway
from tests.gateway_client import graphql
from tests.simulators import reset_knobs, set_knobs

AGENT = bearer("service_agent")
TYPOS = {
    "enum literal": ('{ product(sku: "10000") { price(channel: STOR) { amount } } }', {}),
    "enum variable": (
        'query($c: Channel) { product(sku: "10000") { price(channel: $c) { amount } } }',
        {"c": "STOR"},
    ),
    "input field": ('{ customer(by: {loyaltyCrd: "1"}) { id } }', {}),
    "input field in a variable": (
        "query($by: CustomerBy!) { customer(by: $by) { id } }",
        {"by": {"loyaltyCrd": "1"}},
    ),
    "argument": ('{ product(skuu: "10000") { sku } }', {}),
    "type": ("query($c: Chanel) { __typename }", {}),
}


#: a failing source here must not open a breaker other tests' gateways would meet
QUIET_GUARD = {"retries": 0, "breaker_failure_threshold": 1000}


@pytest.fixture(scope="module", params=EXECUTORS)
def production_url(request: pytest.FixtureRequest, systems: dict[str, str]) -> Iterator[str]:
    """A production gateway under each executor in turn: both keep quiet alike."""
    yield from _gateway(
        systems,
        cache=False,
        env="production",
        jwt_secret=SECRET,
        rate_limit_per_s=0.0,
        executor=request.param,
        **QUIET_GUARD,
    )


@pytest.fixture(scope="module")
def development_url(systems: dict[str, str]) -> Iterator[str]:
    yield from _gateway(systems, cache=False, **QUIET_GUARD)


@pytest.mark.parametrize("name", list(TYPOS))
def test_production_suggests_nothing(production_url: str, gateway_url: str, name: str) -> None:
    text, variables = TYPOS[name]
    development = graphql(gateway_url, text, variables)
    production = graphql(production_url, text, variables, headers=AGENT)
    assert any("Did you mean" in e["message"] for e in development["errors"]), development
    assert production["errors"], production
    for error in production["errors"]:
        assert "Did you mean" not in error["message"], error
        assert error["extensions"]["code"] in ("GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT")


def _stock_errors(url: str, **headers: str) -> list[dict[str, Any]]:
    result = graphql(url, '{ product(sku: "10000") { stock { onHand } } }', headers=headers)
    return [e for e in result.get("errors", []) if e["extensions"].get("source") == "wms"]


def test_a_failing_source_is_named_in_neutral_words_in_production(
    production_url: str, development_url: str, systems: dict[str, str]
) -> None:
    wms = systems["wms"]
    set_knobs(wms, fault="garbage")
    try:
        development = _stock_errors(development_url)
        production = _stock_errors(production_url, **AGENT)
    finally:
        reset_knobs(wms)
    assert development, "the WMS's failure shows in development"
    assert production
    for error in production:
        assert error["message"] == "wms: answered with something the gateway cannot read"
        assert error["extensions"] == {"code": "SOURCE_BAD_RESPONSE", "source": "wms"}
        assert "127.0.0.1" not in json.dumps(error)
    assert development[0]["extensions"]["code"] == "SOURCE_BAD_RESPONSE"
    assert development[0]["message"] != production[0]["message"]


def _ready(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/readyz", timeout=10) as answer:
        ready: dict[str, Any] = json.loads(answer.read())
        return ready


def test_readyz_shows_no_source_urls_in_production(
    production_url: str, gateway_url: str, systems: dict[str, str]
) -> None:
    production = _ready(production_url)
    assert set(production["sources"]) == set(systems)
    assert all(state["reachable"] for state in production["sources"].values())
    assert "127.0.0.1" not in json.dumps(production)
    assert _ready(gateway_url)["sources"]["wms"]["url"] == systems["wms"]
