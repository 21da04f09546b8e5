"""Each legacy system, failing in each way it can, under each reference query.

The systems are real servers, failed through their knobs (or, for a refused
connection, by really closing the port). Every answer must arrive within the request
deadline plus a margin, name the failing source and the right code, and still carry
every field that does not depend on the failing system; the gateway stays healthy and
ready afterwards.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from legacy.common.runner import ServerThread
from legacy.examples import examples
from tests.conftest import SEED, SIZE
from tests.gateway_client import graphql, run_reference, scrape, total
from tests.simulators import reset_knobs, set_knobs

DEADLINE_S = 3.0
SOURCE_TIMEOUT_S = 1.0
MARGIN_S = 2.0

#: fault -> the code the client must see
FAULTS = {
    "refuse": "SOURCE_UNAVAILABLE",
    "hang": "SOURCE_TIMEOUT",
    "error500": "SOURCE_ERROR",
    "garbage": "SOURCE_BAD_RESPONSE",
    "html": "SOURCE_BAD_RESPONSE",
    "rate_limit": "SOURCE_RATE_LIMITED",
    "soap_fault": "SOURCE_ERROR",
}
CASES = [
    pytest.param(
        system,
        fault,
        id=f"{system}-{fault}",
        # a hanging source is waited out until its timeout
        marks=[pytest.mark.slow] if fault == "hang" else [],
    )
    for system in ("crm", "erp", "pos", "wms")
    for fault in FAULTS
    if fault != "soap_fault" or system == "erp"
]
#: which reference queries read which systems
READS = {
    "Customer360": {"crm", "erp", "pos"},
    "ProductListing": {"erp", "pos", "wms"},
    "StockCheck": {"erp", "pos", "wms"},
}


@pytest.fixture(scope="module")
def strict_gateway(systems: dict[str, str]) -> Iterator[str]:
    """A gateway with short timeouts, no cache (every request reaches the sources) and
    a breaker that does not open during the matrix (the breaker has its own tests)."""
    yield from _strict(systems)


@pytest.fixture
def own_strict_gateway(systems: dict[str, str]) -> Iterator[str]:
    """The same, for one case: a 429's Retry-After holds every later call to its source
    (the rate gate, tests/test_resilience_rate_limits.py), so a rate-limited source
    must not leave the shared gateway waiting out its thirty seconds."""
    yield from _strict(systems)


def _strict(systems: dict[str, str]) -> Iterator[str]:
    from tests.conftest import _gateway

    yield from _gateway(
        systems,
        cache=False,
        request_timeout_s=DEADLINE_S,
        crm_timeout_s=SOURCE_TIMEOUT_S,
        erp_timeout_s=SOURCE_TIMEOUT_S,
        pos_timeout_s=SOURCE_TIMEOUT_S,
        wms_timeout_s=SOURCE_TIMEOUT_S,
        breaker_failure_threshold=10_000,
    )


@pytest.fixture(scope="module")
def variables() -> dict[str, dict[str, Any]]:
    return examples(SEED, SIZE)


@contextmanager
def failing(server: ServerThread, fault: str) -> Iterator[None]:
    if fault == "refuse":
        server.stop()
    else:
        set_knobs(server.url, fault=fault, retry_after_s=30)
    try:
        yield
    finally:
        if fault == "refuse":
            server.start()
        else:
            reset_knobs(server.url)


def get(url: str) -> tuple[int, dict[str, Any]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, json.loads(response.read())


def check_customer360(data: dict[str, Any], down: str) -> None:
    customer = data["customer"]
    assert customer is not None, "the customer is found while any one system is down"
    assert customer["name"]
    if down != "pos":
        assert customer["loyalty"]["cardNumber"]
    if down != "crm":
        assert customer["consents"]
    if down != "erp":
        assert any(o["channel"] == "STORE" for o in customer["orders"]) or down == "pos"
        assert all(line["product"]["name"] for o in customer["orders"] for line in o["lines"])
    if down != "pos":
        assert any(o["channel"] == "STORE" for o in customer["orders"])


def check_product_listing(data: dict[str, Any], down: str) -> None:
    products = data["products"]
    assert len(products) == 48
    if down != "erp":
        assert all(p["name"] and p["price"] for p in products)
    if down not in ("pos", "erp"):
        assert any(p["availability"]["nearest"] for p in products)
    if down not in ("wms", "erp"):
        assert any(p["availability"]["online"] for p in products)


def check_stock_check(data: dict[str, Any], down: str) -> None:
    kinds = {s["location"]["kind"] for p in data["products"] for s in p["stock"]}
    expected = {"STORE", "WAREHOUSE"} - {"pos": {"STORE"}, "wms": {"WAREHOUSE"}}.get(down, set())
    assert kinds == expected


CHECKS = {
    "Customer360": check_customer360,
    "ProductListing": check_product_listing,
    "StockCheck": check_stock_check,
}


@pytest.mark.parametrize(("system", "fault"), CASES)
def test_a_failing_system_only_nulls_its_own_fields(
    system: str,
    fault: str,
    request: pytest.FixtureRequest,
    strict_gateway: str,
    variables: dict[str, dict[str, Any]],
) -> None:
    server: ServerThread = request.getfixturevalue(f"{system}_server")
    gateway = (
        request.getfixturevalue("own_strict_gateway") if fault == "rate_limit" else strict_gateway
    )
    with failing(server, fault):
        for query, check in CHECKS.items():
            started = time.monotonic()
            result = run_reference(gateway, query, variables[query])
            elapsed = time.monotonic() - started
            assert elapsed < DEADLINE_S + MARGIN_S, f"{query} took {elapsed:.1f}s"
            errors = result.get("errors") or []
            text = json.dumps(result)
            assert "Traceback" not in text
            if system in READS[query]:
                assert errors, f"{query} must say that {system} failed"
                assert {e["extensions"].get("source") for e in errors} == {system}
                assert {e["extensions"]["code"] for e in errors} == {FAULTS[fault]}
            else:
                assert not errors
            check(result["data"], system)
    assert get(gateway + "/healthz")[0] == 200
    status, ready = get(gateway + "/readyz")
    assert status == 200
    assert ready["sources"][system]["recent_error_rate"] > 0
    assert ready["sources"][system]["rate_limited"] is (fault == "rate_limit")
    held = total(scrape(gateway), "mosaic_upstream_rate_limited", source=system)
    assert held == (1.0 if fault == "rate_limit" else 0.0)


@pytest.mark.slow  # waits out a hanging source's timeout
def test_expected_failures_leave_no_stack_trace_in_the_logs(
    caplog: pytest.LogCaptureFixture,
    erp_server: ServerThread,
    strict_gateway: str,
    variables: dict[str, dict[str, Any]],
) -> None:
    caplog.set_level("DEBUG")
    for fault in ("error500", "garbage", "soap_fault", "hang"):
        with failing(erp_server, fault):
            run_reference(strict_gateway, "ProductListing", variables["ProductListing"])
    assert caplog.records, "the failures are logged"
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_a_slow_erp_does_not_hold_up_what_the_crm_and_pos_already_told(
    erp_server: ServerThread, strict_gateway: str, variables: dict[str, dict[str, Any]]
) -> None:
    """The golden record's fields wait only for the systems they read: with the ERP
    taking 2 s, name, loyalty and consents come at CRM and POS speed."""
    query = """query($card: String!) { customer(by: {loyaltyCard: $card}) {
        id name email loyalty { tier } consents { purpose } } }"""
    set_knobs(erp_server.url, latency_ms=2000)
    try:
        started = time.monotonic()
        result = graphql(strict_gateway, query, {"card": variables["Customer360"]["card"]})
        elapsed = time.monotonic() - started
    finally:
        reset_knobs(erp_server.url)
    assert "errors" not in result
    assert result["data"]["customer"]["loyalty"]["tier"]
    assert elapsed < 1.0
