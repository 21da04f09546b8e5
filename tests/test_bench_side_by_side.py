"""The side-by-side run's rounds: a cell is the median of its rounds, figure by figure."""

from __future__ import annotations

from bench.side_by_side import median_cell


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
