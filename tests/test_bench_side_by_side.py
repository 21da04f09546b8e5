"""The side-by-side run's rounds: a cell is the median of its rounds, figure by figure; and
its upstream calls per request, counted exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import cluster
from bench.side_by_side import MOSAIC_SETTINGS, PROBES, compared_bodies, median_cell, probe_calls


def test_every_figure_is_the_median_of_the_rounds_nested_ones_too() -> None:
    rounds = [
        {"gateway": "mosaic", "ok_rps": 30.0, "latency_ms": {"p50": 900.0}, "errors": 0},
        {"gateway": "mosaic", "ok_rps": 10.0, "latency_ms": {"p50": 2000.0}, "errors": 2},
        {"gateway": "mosaic", "ok_rps": 20.0, "latency_ms": {"p50": 1000.0}, "errors": 0},
    ]
    assert median_cell(rounds) == {
        "gateway": "mosaic",
        "ok_rps": 20.0,
        "latency_ms": {"p50": 1000.0},
        "errors": 0,
    }


def test_what_is_not_a_figure_comes_from_the_first_round() -> None:
    rounds = [{"error_sample": None, "mode": "cold"}, {"error_sample": "HTTP 502", "mode": "cold"}]
    assert median_cell(rounds) == {"error_sample": None, "mode": "cold"}


@pytest.mark.bench
def test_calls_under_load_are_counted_over_requests_every_one_answered(tmp_path: Path) -> None:
    """The issue's "with no more upstream calls per request" is judged under load too: the
    burst's count is exact (a cold StockCheck, 4 clients, 12 requests, all answered), the
    same as one at a time, and names the requests it counted."""
    latencies = {s: cluster.Latency(2.0, 0.0) for s in cluster.LATENCY_MS}
    bodies = compared_bodies("small", 42, tmp_path)
    body = bodies["PeerStockCheck"]
    with (
        cluster.simulated_systems(latencies, "small", 42, tmp_path, None) as systems,
        cluster.gateway("mosaic-cold", systems, MOSAIC_SETTINGS["cold"], 1, tmp_path, None) as g,
    ):
        probe_calls(g, body, systems)  # warm: what a gateway reads once (the WSDL, reference data)
        alone = probe_calls(g, body, systems)
        loaded = probe_calls(g, body, systems, concurrency=4)
    assert (alone["requests"], loaded["requests"]) == (PROBES, 4 * PROBES)
    assert loaded["errors"] == 0
    assert loaded["per_source"] == alone["per_source"]
    assert loaded["per_source"]["total"] == 4.0  # ERP 1, Square 2, WMS 1
