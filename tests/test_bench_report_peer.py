"""The side-by-side report: each figure of Mosaic beside the peer's, with the ratio, the
equivalence verdicts, and a chart, from results.json alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report_peer import chart, markdown


def cell(gateway: str, mode: str, ok_rps: float, cpu_ms: float, erp: float) -> dict[str, Any]:
    return {
        "gateway": gateway,
        "mode": mode,
        "query": "PeerStockCheck",
        "concurrency": 64,
        "requests": 500,
        "errors": 0,
        "throughput_rps": ok_rps,
        "ok_rps": ok_rps,
        "latency_ms": {"p50": 900.0, "p95": 1000.0, "p99": 1200.0},
        "cpu_ms_per_request": cpu_ms,
        "upstream_calls_per_request": {"total": 5.0},
        "calls_one_at_a_time": {"per_source": {"erp": erp, "pos": 3.0, "wms": 1.0}},
        "peak_rss_mb": 150.0,
        "rounds": [{"ok_rps": ok_rps - 1}, {"ok_rps": ok_rps}, {"ok_rps": ok_rps + 2}],
    }


def alone(gateway: str, p50: float, floor: float) -> dict[str, Any]:
    return {
        "gateway": gateway,
        "query": "PeerStockCheck",
        "requests": 30,
        "p50_ms": p50,
        "floor_ms": floor,
        "overhead_p50_ms": p50 - floor,
        "overhead_median_ms": p50 - floor - 0.5,
        "rounds": 1,
        "transport_ms": 0.8,
        "time_split_ms": {"before_first_call": 1.5, "after_last_call": 6.0},
        "smallest_request_ms": 1.4,
    }


def results() -> dict[str, Any]:
    return {
        "meta": {
            "started": "2026-12-04T23:00:00+00:00",
            "wall_time_s": 300,
            "size": "default",
            "seed": 42,
            "duration_s_per_cell": 10,
            "warmup_s": 5,
            "load_generator": "wrk",
            "machine": {"cpu": "test", "cores_usable": 2, "load_average": [0.2, 0.2, 0.2]},
            "layout": "2 cores",
            "load_average_at_end": [1.0, 1.0, 1.0],
            "latency_ms": {"erp": {"latency_ms": 80, "jitter_ms": 8}},
            "peer": {"@graphql-hive/gateway": "2.15.1"},
            "modes": {"cold": {"mosaic": {"MOSAIC_CACHE": "false"}, "hive": "cache off"}},
            "gateways": ["mosaic", "hive"],
            "concurrency": [64],
            "queries": {"PeerStockCheck": "query PeerStockCheck { x }"},
        },
        "equivalence": [
            {
                "query": "PeerStockCheck",
                "same": True,
                "identical_before_normalising": False,
                "differences": [],
                "empty_stock_levels_dropped": {"mosaic": 63, "hive": 60},
                "values_compared": 2134,
            }
        ],
        "one_at_a_time": [alone("mosaic", p50=95.0, floor=86.0), alone("hive", 130.0, 88.0)],
        "cells": [
            cell("mosaic", "cold", ok_rps=100.0, cpu_ms=10.0, erp=1.0),
            cell("hive", "cold", ok_rps=50.0, cpu_ms=20.0, erp=1.0),
        ],
    }


def test_each_figure_stands_beside_the_peers_with_the_ratio_mosaic_over_peer() -> None:
    page = markdown(results())
    assert "| PeerStockCheck | 64 | answers/s without errors | 100.0 | 50.0 | 2.00x |" in page
    assert "| PeerStockCheck | 64 | gateway CPU ms/request | 10.00 | 20.00 | 0.50x |" in page
    assert (
        "| PeerStockCheck | 64 | ERP calls/request, one at a time | 1.00 | 1.00 | 1.00x |" in page
    )


def test_the_equivalence_verdict_opens_the_page_with_what_was_dropped() -> None:
    page = markdown(results())
    assert "| PeerStockCheck | yes | 2134 | no | mosaic 63, hive 60 |" in page
    assert page.index("## Equivalence") < page.index("## Cold")
    assert "query PeerStockCheck { x }" in page


def test_one_request_at_a_time_each_gateway_stands_against_its_own_floor() -> None:
    page = markdown(results())
    assert (
        "| PeerStockCheck | mosaic | 30 | 95.0 | 86.0 | 9.0 | 8.5 | 1 | 1.5 | 6.0 | 0.8 | 1.4 |"
        in page
    )
    assert "| PeerStockCheck | hive | 30 | 130.0 | 88.0 | 42.0 | 41.5 |" in page
    assert "| PeerStockCheck | mosaic / hive | | 0.73x | | 0.21x |" in page
    assert (
        page.index("## Equivalence") < page.index("one request at a time") < page.index("## Cold\n")
    )


def test_the_chart_is_drawn(tmp_path: Path) -> None:
    chart(results(), tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")
