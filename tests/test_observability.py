"""What operators and developers see of a request: Prometheus metrics, the request id,
one JSON log line, the debug listing of upstream calls, OpenTelemetry spans. Upstream
calls are counted at the simulated systems and compared with what the gateway reports.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest

from adapters.config import ErpConfig
from gateway.operations import reference_operations
from legacy.examples import examples
from tests.conftest import SEED, SIZE, _gateway
from tests.gateway_client import Series, graphql, run_reference, scrape, total
from tests.simulators import call_count, clear_calls, reset_knobs, set_knobs
from tests.timing import poll_until

T = TypeVar("T")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
#: Customer360 on a warm gateway without cache: CRM 1, POS 5, ERP 6 (test_reference_queries
#: says why the POS takes 5 with Square: the card's profile, the account, 3 order searches;
#: and why the ERP takes 6: a price is read with the channel's running promotions).
CUSTOMER360_CALLS = {"crm": 1, "pos": 5, "erp": 6}


@pytest.fixture(scope="module")
def variables() -> dict[str, dict[str, Any]]:
    return examples(SEED, SIZE)


@pytest.fixture(scope="module")
def debug_gateway_url(systems: dict[str, str]) -> Iterator[str]:
    yield from _gateway(systems, cache=False, debug=True)


def exchange(
    url: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(
        url + "/graphql",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            **(headers or {}),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read()), {k.lower(): v for k, v in response.headers.items()}


def customer360(url: str, variables: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    body = {"query": reference_operations()["Customer360"], "variables": variables}
    return exchange(url, body, headers)


def by_label(series: Series, name: str, label: str) -> Counter[str]:
    counted: Counter[str] = Counter()
    for (n, labels), value in series.items():
        if n == name:
            counted[dict(labels)[label]] += int(value)
    return counted


def log_lines(
    capsys: pytest.CaptureFixture[str], request_id: str, logger: str
) -> list[dict[str, Any]]:
    """The JSON log lines one request wrote through one logger, once it has written
    any (read from stderr as they come)."""

    def written() -> list[dict[str, Any]] | None:
        err = capsys.readouterr().err
        entries = [json.loads(text) for text in err.splitlines() if request_id in text]
        return [e for e in entries if e["logger"] == logger] or None

    return poll_until(written)


def failing(
    url: str, system: str, fault: str, name: str, variables: dict[str, Any], request_id: str
) -> Any:
    """The reference query ``name``, asked of the gateway at ``url`` as ``request_id``
    while the simulated ``system`` (its URL) fails with ``fault``."""
    set_knobs(system, fault=fault)
    try:
        body = {"query": reference_operations()[name], "variables": variables}
        result, _ = exchange(url, body, {"X-Request-Id": request_id})
    finally:
        reset_knobs(system)
    return result


# --- Prometheus -------------------------------------------------------------------------


def test_a_reference_query_is_counted_by_operation_outcome_and_latency(
    gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    before = scrape(gateway_url)
    run_reference(gateway_url, "Customer360", variables["Customer360"])
    after = scrape(gateway_url)
    name, labels = "mosaic_requests_total", {"operation": "Customer360", "outcome": "ok"}
    assert total(after, name, **labels) - total(before, name, **labels) == 1
    histogram, labels = "mosaic_request_duration_seconds_count", {"operation": "Customer360"}
    assert total(after, histogram, **labels) - total(before, histogram, **labels) == 1


def test_upstream_calls_are_counted_per_source_as_the_systems_counted_them(
    gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    run_reference(gateway_url, "Customer360", variables["Customer360"])  # WSDLs loaded
    before = by_label(scrape(gateway_url), "mosaic_upstream_calls_total", "source")
    run_reference(gateway_url, "Customer360", variables["Customer360"])
    after = by_label(scrape(gateway_url), "mosaic_upstream_calls_total", "source")
    assert dict(after - before) == CUSTOMER360_CALLS


def test_upstream_latency_and_batch_sizes_are_histograms_per_source_and_operation(
    gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    run_reference(gateway_url, "StockCheck", variables["StockCheck"])
    series = scrape(gateway_url)
    wms = {"source": "wms", "operation": "POST /api/v1/stock/query"}
    assert total(series, "mosaic_upstream_duration_seconds_count", **wms) >= 1
    assert total(series, "mosaic_upstream_batch_keys_count", **wms) >= 1
    # StockCheck asks 50 SKUs: one WMS call carries all of them
    assert total(series, "mosaic_upstream_batch_keys_bucket", le="20.0", **wms) < total(
        series, "mosaic_upstream_batch_keys_bucket", le="50.0", **wms
    )


def test_upstream_errors_are_counted_by_source_and_code(
    gateway_url: str, systems: dict[str, str], variables: dict[str, dict[str, Any]]
) -> None:
    name = "mosaic_upstream_errors_total"
    before = total(scrape(gateway_url), name, source="wms", code="SOURCE_ERROR")
    set_knobs(systems["wms"], fault="error500")
    try:
        run_reference(gateway_url, "StockCheck", variables["StockCheck"])
    finally:
        reset_knobs(systems["wms"])
    assert total(scrape(gateway_url), name, source="wms", code="SOURCE_ERROR") > before


def test_cache_hits_and_misses_are_exposed_per_cache(
    cached_gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    listing = variables["ProductListing"]
    run_reference(cached_gateway_url, "ProductListing", listing)
    # another question about the same products (the same one again would be answered
    # whole by the response cache) finds their item cards cached
    names = "query($skus: [ID!]!) { products(skus: $skus) { name } }"
    graphql(cached_gateway_url, names, {"skus": listing["skus"]})
    series = scrape(cached_gateway_url)
    assert total(series, "mosaic_cache_hits_total", cache="item") >= 1
    assert total(series, "mosaic_cache_misses_total", cache="item") >= 1


def test_each_sources_breaker_state_is_exposed(gateway_url: str) -> None:
    series = scrape(gateway_url)
    for source in ("crm", "erp", "pos", "wms"):
        states = {
            dict(labels)["state"]: value
            for (n, labels), value in series.items()
            if n == "mosaic_breaker_state" and ("source", source) in labels
        }
        assert states == {"closed": 1.0, "open": 0.0, "half_open": 0.0}


def test_a_refused_request_is_counted_as_rejected(gateway_url: str) -> None:
    name, labels = "mosaic_requests_total", {"operation": "-", "outcome": "rejected"}
    before = total(scrape(gateway_url), name, **labels)
    request = urllib.request.Request(
        gateway_url + "/graphql", data=b"{", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=10)
    assert total(scrape(gateway_url), name, **labels) == before + 1


# --- Debug listing ---------------------------------------------------------------------


def test_debug_mode_lists_exactly_the_upstream_calls_the_systems_answered(
    debug_gateway_url: str, systems: dict[str, str], variables: dict[str, dict[str, Any]]
) -> None:
    customer360(debug_gateway_url, variables["Customer360"])  # WSDLs loaded
    for url in systems.values():
        clear_calls(url)
    result, _ = customer360(debug_gateway_url, variables["Customer360"])
    listed = result["extensions"]["upstream"]
    services = ErpConfig(url="-").pages
    for source, url in systems.items():
        reported: Counter[str] = Counter()
        for call in listed:
            if call["source"] == source:
                page, _, action = call["operation"].partition(".")
                reported[
                    f"{services[page]}:{action}" if source == "erp" else call["operation"]
                ] += 1
        assert reported == call_count(url), source
    assert all(call["latencyMs"] >= 0 and "error" not in call for call in listed)
    assert all(call["startedMs"] >= 0 for call in listed)
    by_operation = {call["operation"]: call for call in listed}
    orders, items = by_operation["orders.ReadMultiple"], by_operation["items.ReadMultiple"]
    # the order lines' SKUs are known once the orders are in: a round later
    assert items["startedMs"] >= orders["startedMs"] + orders["latencyMs"] - 1
    assert {call["keys"] for call in listed if call["source"] == "crm"} == {1}


def test_without_debug_mode_the_response_lists_no_upstream_calls(
    gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    result, _ = customer360(gateway_url, variables["Customer360"])
    assert "upstream" not in (result.get("extensions") or {})


# --- Request id and logs -----------------------------------------------------------------


def test_a_callers_request_id_comes_back(gateway_url: str) -> None:
    _, headers = exchange(gateway_url, {"query": "{ __typename }"}, {"X-Request-Id": "abc-123"})
    assert headers["x-request-id"] == "abc-123"


def test_a_request_id_is_made_when_the_caller_sends_none(gateway_url: str) -> None:
    _, first = exchange(gateway_url, {"query": "{ __typename }"})
    _, second = exchange(gateway_url, {"query": "{ __typename }"})
    assert len(first["x-request-id"]) == 32
    assert first["x-request-id"] != second["x-request-id"]


def test_a_request_id_unfit_for_logs_is_replaced(gateway_url: str) -> None:
    hostile = 'x" injected="1'
    _, headers = exchange(gateway_url, {"query": "{ __typename }"}, {"X-Request-Id": hostile})
    assert headers["x-request-id"] != hostile


def test_each_request_is_one_json_log_line_with_its_id_and_upstream_calls(
    gateway_url: str, variables: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    customer360(gateway_url, variables["Customer360"], {"X-Request-Id": "log-line-1"})

    (entry,) = log_lines(capsys, "log-line-1", "mosaic.access")
    assert entry["request_id"] == "log-line-1"
    assert entry["operation"] == "Customer360"
    assert entry["status"] == 200
    assert entry["outcome"] == "ok"
    assert entry["upstream_calls"] == sum(CUSTOMER360_CALLS.values())
    assert entry["duration_ms"] > 0


@pytest.fixture
def own_gateway_url(systems: dict[str, str]) -> Iterator[str]:
    """A gateway of its own: a failing source opens its breaker, which the session's
    gateway must not inherit."""
    yield from _gateway(systems, cache=False)


def test_a_source_down_is_logged_once_per_kind_of_error_not_once_per_field(
    own_gateway_url: str,
    systems: dict[str, str],
    variables: dict[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A source down fails every field read from it, all with one code and message: the
    log says so in one line, with the first path and how many more, not a line each.
    (An error a field reports while it still answers, as ``orders`` does without the
    ERP's part, joins the answer later: the request's access line names its source.)"""
    name = "Customer360"
    erp, alike = systems["erp"], "alike-errors-1"
    result = failing(own_gateway_url, erp, "soap_fault", name, variables[name], alike)
    kinds = Counter((e["extensions"]["code"], e["message"]) for e in result["errors"])
    assert len(result["errors"]) > len(kinds)
    logged = log_lines(capsys, alike, "mosaic.errors")
    assert len(logged) == len(kinds)
    for (code, message), count in kinds.items():
        (line,) = [e for e in logged if e["message"].startswith(f"{code} at ")]
        assert line["message"].endswith(f": {message}")
        more = re.search(r"\] and (\d+) more: ", line["message"])
        assert more is not None
        assert 1 < int(more[1]) + 1 <= count


def test_calls_not_sent_to_a_source_whose_breaker_is_open_are_counted_as_refused(
    own_gateway_url: str, systems: dict[str, str], variables: dict[str, dict[str, Any]]
) -> None:
    """The ERP failing opens its breaker (five failed calls in a row: a ProductListing
    makes three); the next request's calls after it are refused unsent, and /metrics
    counts them by the code their fields got."""
    name, erp = "ProductListing", systems["erp"]
    first = failing(own_gateway_url, erp, "soap_fault", name, variables[name], "opens-it")
    assert {e["extensions"]["code"] for e in first["errors"]} >= {"SOURCE_ERROR"}
    refused = "mosaic_upstream_refused_total"
    assert total(scrape(own_gateway_url), refused, source="erp") == 0
    again = failing(own_gateway_url, erp, "soap_fault", name, variables[name], "refused")
    assert "CIRCUIT_OPEN" in {e["extensions"]["code"] for e in again["errors"]}
    assert total(scrape(own_gateway_url), refused, source="erp", code="CIRCUIT_OPEN") >= 1


# --- OpenTelemetry -----------------------------------------------------------------------


def spans(text: str) -> list[dict[str, Any]]:
    """The spans the console exporter printed (indented JSON objects, one after another,
    among other output)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (start := text.find("{", at)) != -1:
        try:
            value, at = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            at = start + 1
            continue
        if isinstance(value, dict) and "context" in value:
            found.append(value)
    return found


def test_the_console_exporter_prints_a_request_span_with_a_child_per_upstream_call(
    systems: dict[str, str],
    variables: dict[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    printed: list[dict[str, Any]] = []

    def request_span() -> dict[str, Any] | None:
        printed.extend(spans(capsys.readouterr().out))
        return next((s for s in printed if s["kind"] == "SpanKind.SERVER"), None)

    for url in _gateway(systems, cache=False, otel_exporter="console"):
        customer360(url, variables["Customer360"])  # WSDLs loaded
        capsys.readouterr()
        customer360(url, variables["Customer360"], {"traceparent": TRACEPARENT})
        server = poll_until(request_span)
    assert server["context"]["trace_id"] == f"0x{TRACE_ID}"
    assert server["attributes"]["graphql.operation.name"] == "Customer360"
    children = [s for s in printed if s["parent_id"] == server["context"]["span_id"]]
    assert Counter(s["attributes"]["mosaic.source"] for s in children) == CUSTOMER360_CALLS
    assert all(s["kind"] == "SpanKind.CLIENT" for s in children)


# --- partial answers ---------------------------------------------------------------------


def test_an_answer_without_a_sources_part_is_logged_partial_naming_it_and_counted(
    gateway_url: str,
    pos_server: Any,
    variables: dict[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 17: stock still answers from the warehouses while the POS fails, and the
    POS's error joins the answer after the operation has ended; the log line said "ok"
    then. It says partial, and which source, and /metrics counts it per source."""
    before = total(scrape(gateway_url), "mosaic_partial_answers_total", source="pos")
    name, partial = "StockCheck", "partial-line-1"
    result = failing(gateway_url, pos_server.url, "error500", name, variables[name], partial)
    assert result["data"]["products"]
    assert {e["extensions"]["source"] for e in result["errors"]} == {"pos"}
    (entry,) = log_lines(capsys, partial, "mosaic.access")
    assert (entry["outcome"], entry["failing_sources"]) == ("partial", ["pos"])
    after = total(scrape(gateway_url), "mosaic_partial_answers_total", source="pos")
    assert after == before + 1
    assert total(scrape(gateway_url), "mosaic_partial_answers_total", source="erp") == 0
