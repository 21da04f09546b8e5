"""Posting GraphQL to the running gateway over HTTP, as any client would."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from gateway.operations import reference_operations
from tests.simulators import call_count, clear_calls


def post(
    url: str,
    body: bytes,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url + "/graphql",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Accept": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def graphql(
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    _, result = post(
        url, json.dumps({"query": query, "variables": variables or {}}).encode(), headers=headers
    )
    return result


def run_reference(url: str, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    return graphql(url, reference_operations()[name], variables)


def counted(
    systems: dict[str, str], url: str, name: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Counter[str]]]:
    """The operation's calls, once the gateway knows the POS's location ids (read once
    an hour, as SearchOrders needs them: ``adapters.pos``)."""
    run_reference(url, name, variables)
    for system_url in systems.values():
        clear_calls(system_url)
    result = run_reference(url, name, variables)
    return result, {source: call_count(u) for source, u in systems.items()}


def codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors") or []]


#: a /metrics scrape: each sample by its name and labels
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Series:
    """The gateway's samples now (``/metrics``)."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(series: Series, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` that carry these labels (and any others)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in series.items() if n == name and wanted <= ls)


def metric(url: str, name: str, **labels: str) -> float:
    """:func:`total` of a scrape now."""
    return total(scrape(url), name, **labels)


def response_cache_hits(url: str) -> float:
    """Queries the gateway has answered from its response cache."""
    return metric(url, "mosaic_response_cache_lookups_total", result="hit")
