"""The benchmark's targets table: each target's figure and whether it holds, read from
results.json alone."""

from __future__ import annotations

from typing import Any

from bench.report import markdown

CONCURRENCY = [1, 8, 64]


def cell(
    variant: str,
    concurrency: int,
    *,
    ok_rps: float,
    rps: float | None = None,
    p50: float = 100.0,
    p99: float = 100.0,
    floor: float | None = None,
    rss: float = 120.0,
    query: str = "Customer360",
) -> dict[str, Any]:
    return {
        "variant": variant,
        "query": query,
        "concurrency": concurrency,
        "requests": 100,
        "errors": 0,
        "throughput_rps": rps if rps is not None else ok_rps,
        "ok_rps": ok_rps,
        "latency_ms": {"p50": p50, "p95": p99, "p99": p99, "mean": p50},
        "upstream_calls_per_request": {"total": 7.0},
        "cpu_ms_per_request": 10.0,
        "peak_rss_mb": rss,
        "floor_ms": floor,
        "overhead_p50_ms": None if floor is None else p50 - floor,
        "overhead_median_ms": None if floor is None else p50 - floor - 0.5,
        "p99_over_floor": None,
    }


def results(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "meta": {
            "queries": ["Customer360"],
            "concurrency": CONCURRENCY,
            "variants": {"mosaic": {}, "mosaic-nocache": {}, "baseline": {}},
            "baseline": "baseline",
            "quick": False,
            "started": "2026-11-23T15:00:00+00:00",
            "wall_time_s": 60,
            "size": "default",
            "seed": 42,
            "duration_s_per_cell": 10,
            "machine": {
                "cpu": "test",
                "cores_usable": 2,
                "memory_gb": 8,
                "python": "3.11",
                "platform": "linux",
            },
            "layout": "2 core(s), nothing pinned",
            "gateway_workers": 2,
            "load_average_at_start": [0.1, 0.1, 0.1],
            "load_average_at_end": [0.1, 0.1, 0.1],
            "latency_ms": {"erp": {"latency_ms": 80, "jitter_ms": 8}},
            "common_settings": {},
        },
        "cells": cells,
    }


def targets(cells: list[dict[str, Any]]) -> list[str]:
    page = markdown(results(cells))
    section = page.split("## Targets", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]


def run(*, cold_p50: float, mosaic_p99: dict[int, float], ok: float, base_ok: float) -> list[str]:
    cells = [
        cell("mosaic-nocache", 1, ok_rps=5, p50=cold_p50, floor=200.0),
        *(cell("mosaic", c, ok_rps=ok, p99=p99) for c, p99 in mosaic_p99.items()),
        *(cell("baseline", c, ok_rps=base_ok, rps=12.0) for c in CONCURRENCY),
    ]
    return targets(cells)


def row(lines: list[str], target: str) -> str:
    return next(line for line in lines if line.startswith(f"| {target}"))


def test_the_cold_overhead_holds_at_five_ms_and_not_above() -> None:
    assert row(run(cold_p50=204.0, mosaic_p99={1: 150}, ok=100, base_ok=1), "p50").endswith(
        "| yes |"
    )
    assert "**no**" in row(run(cold_p50=212.0, mosaic_p99={1: 150}, ok=100, base_ok=1), "p50")


def test_the_cold_overhead_names_the_machines_slowdown_after_an_idle() -> None:
    cells = [cell("mosaic-nocache", 1, ok_rps=5, p50=212.0, floor=200.0)]
    page = results([*cells, *(cell("baseline", c, ok_rps=1) for c in CONCURRENCY)])
    page["meta"]["idle_slowdown"] = 1.43
    assert "1.43x as long as back to back" in markdown(page)


def test_the_cold_overhead_shows_a_null_gateways_beside_it_and_what_is_left_for_mosaic() -> None:
    cold = cell("mosaic-nocache", 1, ok_rps=5, p50=212.0, floor=200.0)
    cold["null_gateway"] = {
        "calls_replayed": 12,
        "latency_p50_ms": 206.5,
        "floor_ms": 199.0,
        "overhead_p50_ms": 7.5,
    }
    line = row(targets([cold, *(cell("baseline", c, ok_rps=1) for c in CONCURRENCY)]), "p50")
    assert "same 12 calls" in line
    assert "**7.5 ms** over the same floor (p50 206.5 - floor 199.0)" in line
    assert "Mosaic's own work is the rest, 4.5 ms" in line
    assert line.endswith("| **no** |")  # judged on the overhead itself, as the issue asks


def test_throughput_is_judged_on_answers_without_errors() -> None:
    lines = run(cold_p50=204.0, mosaic_p99={64: 900}, ok=100.0, base_ok=2.0)
    throughput = row(lines, "throughput")
    assert "50.0x" in throughput  # ok answers: 100 / 2
    assert "100.0 / 12.0 = 8.3x" in throughput  # every answer, errors included
    assert throughput.endswith("| yes |")


def test_p99_names_the_highest_concurrency_at_which_it_held() -> None:
    lines = run(cold_p50=204.0, mosaic_p99={1: 150, 8: 390, 64: 900}, ok=100, base_ok=2)
    p99 = row(lines, "p99")
    assert "4.5x 200 ms" in p99
    assert "holds up to C=8" in p99
    assert "**no**" in p99


def test_rss_per_worker_is_checked_at_the_highest_concurrency() -> None:
    lines = run(cold_p50=204.0, mosaic_p99={64: 300}, ok=100, base_ok=2)
    assert row(lines, "RSS").endswith("| 120 MB | yes |")


def test_p99_says_when_it_held_at_no_concurrency_at_all() -> None:
    lines = run(cold_p50=204.0, mosaic_p99={1: 450, 8: 500, 64: 900}, ok=100, base_ok=2)
    assert "held at no measured concurrency" in row(lines, "p99")


def mix(by_kind: dict[str, float]) -> str:
    """The p99 row of a mix at C=64 whose whole p99 is 5x the median of its floors."""
    floors = {"Customer360": 200.0, "StockCheck": 80.0, "Mixed": 90.0}
    mixed = cell("mosaic", 64, ok_rps=100, p99=450.0, query="Mixed")
    mixed["p99_by_query_ms"] = by_kind
    page = results(
        [
            *(cell("mosaic-nocache", 1, ok_rps=5, floor=f, query=q) for q, f in floors.items()),
            mixed,
            cell("baseline", 64, ok_rps=1, query="Mixed"),
        ]
    )
    page["meta"]["queries"] = ["Mixed"]
    section = markdown(page).split("## Targets", 1)[1]
    return next(line for line in section.splitlines() if line.startswith("| p99"))


def test_a_mix_holds_its_tail_when_each_kind_is_within_twice_its_own_floor() -> None:
    line = mix({"Customer360": 390.0, "StockCheck": 150.0})
    assert "Customer360 390 ms = 1.9x 200 ms, StockCheck 150 ms = 1.9x 80 ms" in line
    assert "450 ms = 5.0x 90 ms" in line  # the whole mix against its median, shown beside
    assert line.endswith("| yes |")


def test_a_mix_misses_its_tail_when_one_kind_is_beyond_twice_its_own_floor() -> None:
    assert mix({"Customer360": 450.0, "StockCheck": 100.0}).endswith("| **no** |")
