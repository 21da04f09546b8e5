"""The benchmark's quick mode, run as a user runs it: ``python -m bench --quick``.

Not a performance test (nothing here is timed against a target): it shows the harness
starts every process, measures every cell for Mosaic and the baseline, and that the
figures it publishes are coherent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.bench  # the benchmark's quick run, against real servers

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ("Customer360", "ProductListing", "StockCheck", "Mixed")
VARIANTS = ("mosaic-nocache", "baseline")  # cold: every request has a critical path
CONCURRENCY = (1, 4)

Cells = dict[tuple[str, str, int], dict[str, Any]]


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return folder


@pytest.fixture(scope="module")
def cells(output: Path) -> Cells:
    results = json.loads((output / "results.json").read_text())
    return {(c["variant"], c["query"], c["concurrency"]): c for c in results["cells"]}


def test_quick_run_measures_every_query_and_concurrency_for_both_variants(cells: Cells) -> None:
    expected = {(v, q, c) for v in VARIANTS for q in QUERIES for c in CONCURRENCY}
    assert expected <= set(cells)
    assert all(cells[key]["requests"] > 0 for key in expected)


def test_mosaic_answers_without_errors(cells: Cells) -> None:
    # the baseline may fail some requests under load: that is one of its figures
    failed = {k: c["error_sample"] for k, c in cells.items() if c["errors"]}
    assert {k: e for k, e in failed.items() if k[0] != "baseline"} == {}


def test_mosaic_makes_fewer_upstream_calls_per_request_than_the_baseline(cells: Cells) -> None:
    for query in QUERIES:
        for concurrency in CONCURRENCY:
            mosaic = cells["mosaic-nocache", query, concurrency]["upstream_calls_per_request"]
            baseline = cells["baseline", query, concurrency]["upstream_calls_per_request"]
            assert mosaic["total"] < baseline["total"], (query, concurrency)


def test_floor_is_positive_and_below_the_median_latency(cells: Cells) -> None:
    for variant in VARIANTS:
        for query in QUERIES:
            cell = cells[variant, query, 1]
            assert 0 < cell["floor_ms"] < cell["latency_ms"]["p50"], (variant, query)


def test_the_machines_share_is_measured_and_within_the_overhead(cells: Cells) -> None:
    for variant in VARIANTS:
        for query in QUERIES:
            cell = cells[variant, query, 1]
            overhead = cell["latency_ms"]["p50"] - cell["floor_ms"]
            assert 0 < cell["transport_ms"] < overhead, (variant, query)
            assert 0 < cell["smallest_request_ms"] < cell["latency_ms"]["p50"], (variant, query)


def test_a_null_gateway_replays_the_cold_customer360_beside_it(cells: Cells) -> None:
    """The same calls with no work between them: no errors, the same calls per request,
    and less over the same floor than Mosaic (which does the work)."""
    cell = cells["mosaic-nocache", "Customer360", 1]
    null = cell["null_gateway"]
    assert null["requests"] > 0
    assert null["errors"] == 0
    assert null["calls_per_request"] == cell["upstream_calls_per_request"]["total"]
    assert 0 < null["overhead_p50_ms"] < cell["overhead_p50_ms"]


def test_the_machines_slowdown_after_an_idle_is_measured(output: Path) -> None:
    results = json.loads((output / "results.json").read_text())
    assert 0.5 < results["meta"]["idle_slowdown"] < 20
    assert "x as long as back to back" in (output / "results.md").read_text()


def test_quick_run_writes_the_table_and_the_chart(output: Path) -> None:
    assert "| Customer360 | 1 |" in (output / "results.md").read_text()
    assert (output / "chart.png").read_bytes().startswith(b"\x89PNG")
