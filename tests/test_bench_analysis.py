"""The benchmark's arithmetic: rounds, the critical-path floor, attribution, percentiles,
profile summaries."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from bench.analysis import (
    attribute_calls,
    critical_path_floor_ms,
    floor_figures,
    group_rounds,
    percentile,
    ratios,
    rounds_floor_ms,
    split_time,
    transport_floor_ms,
)
from bench.profile import summarise


def call(started: float, delay_ms: float) -> dict[str, float]:
    return {"started": started, "delay_ms": delay_ms}


def test_calls_started_before_the_earliest_end_share_a_round() -> None:
    # CRM (25 ms) and POS (20 ms) together; the ERP call starts after POS ended
    calls = [call(100.000, 25), call(100.001, 20), call(100.030, 80)]
    rounds = group_rounds(calls)
    assert [len(r) for r in rounds] == [2, 1]


def test_a_call_after_the_earliest_end_opens_a_round_even_if_others_still_run() -> None:
    # the 15 ms call ended at .015: the call at .016 may have waited for it
    calls = [call(0.000, 80), call(0.000, 15), call(0.016, 20)]
    assert [len(r) for r in group_rounds(calls)] == [2, 1]


def test_rounds_are_grouped_in_start_order_whatever_the_log_order() -> None:
    calls = [call(0.100, 10), call(0.000, 50), call(0.001, 40)]
    assert [[c["started"] for c in r] for r in group_rounds(calls)] == [[0.0, 0.001], [0.1]]


def test_floor_of_a_round_by_round_schedule_is_the_sum_of_each_rounds_slowest_delay() -> None:
    calls = [call(0.000, 25.5), call(0.001, 20.1), call(0.030, 84.2), call(0.120, 81.0)]
    assert rounds_floor_ms(calls) == pytest.approx(25.5 + 84.2 + 81.0)
    assert critical_path_floor_ms(calls) == pytest.approx(25.5 + 84.2 + 81.0)


def test_floor_of_a_pipelined_schedule_stays_below_the_time_it_took() -> None:
    # ERP (80 ms) and POS (20 ms) together; POS receipts (20 ms) start when POS answers,
    # while the ERP call still runs; then a last ERP call after the first one
    calls = [call(0.000, 80), call(0.000, 20), call(0.021, 20), call(0.081, 80)]
    assert critical_path_floor_ms(calls) == pytest.approx(160)  # the ERP chain
    assert rounds_floor_ms(calls) == pytest.approx(180)  # rounds {ERP, POS} {POS} {ERP}


def test_round_trips_count_once_per_round_for_the_rounds_slowest_system() -> None:
    calls = [
        {**call(0.000, 25), "source": "crm"},
        {**call(0.000, 20), "source": "pos"},
        {**call(0.030, 80), "source": "erp"},
    ]
    excess = {"crm": 1.0, "pos": 5.0, "erp": 2.0}
    assert transport_floor_ms(calls, excess) == pytest.approx(1.0 + 2.0)  # not POS's 5


def test_floor_of_no_calls_is_zero() -> None:
    assert critical_path_floor_ms([]) == 0


def test_calls_are_attributed_to_the_request_whose_window_holds_their_start() -> None:
    windows = [(10.0, 10.2), (10.3, 10.5)]
    calls = [call(10.35, 20), call(10.01, 20), call(10.25, 1), call(10.1, 30)]
    owned = attribute_calls(windows, calls)
    assert [sorted(c["started"] for c in o) for o in owned] == [[10.01, 10.1], [10.35]]


def test_time_split_parts_add_up_to_the_latency() -> None:
    calls = [call(1.002, 25), call(1.003, 20), call(1.030, 80)]
    split = split_time(1.000, 1.115, calls)
    assert split is not None
    assert split.before_first_call == pytest.approx(2)
    assert split.rounds_floor == pytest.approx(105)
    assert split.between_rounds == pytest.approx(3)  # round 1 ends 1.027, next starts 1.030
    total = split.before_first_call + split.rounds_floor + split.between_rounds
    assert total + split.after_last_call == pytest.approx(115)


@dataclass(frozen=True)
class Sent:
    sent: float
    answered: float
    latency_ms: float


def test_floor_figures_hold_each_request_against_its_own_calls_floor() -> None:
    """Two requests one at a time: the first waits on a CRM then an ERP call (floor 105
    ms), the second on one POS call (20 ms); the overhead is each one's own latency less
    its own floor, and the machine's share counts each round's slowest system once."""
    samples = [Sent(1.000, 1.115, 115.0), Sent(2.000, 2.030, 30.0)]
    calls = {
        "crm": [call(1.002, 25)],
        "erp": [call(1.030, 80)],
        "pos": [call(2.001, 20), call(1.003, 20)],
    }
    figures = floor_figures(samples, calls, {"crm": 1.0, "erp": 2.0, "pos": 0.5})
    assert figures["floor_ms"] == pytest.approx((105 + 20) / 2)
    assert figures["overhead_median_ms"] == pytest.approx((10 + 10) / 2)
    assert figures["requests_with_calls"] == 2
    assert figures["rounds"] == pytest.approx(1.5)  # two rounds, then one
    assert figures["transport_ms"] == pytest.approx((1.0 + 2.0 + 0.5) / 2)
    assert figures["time_split_ms"]["before_first_call"] == pytest.approx((2 + 1) / 2)


def test_floor_figures_of_requests_answered_without_calls_have_nothing_to_split() -> None:
    samples = [Sent(1.000, 1.001, 1.0)]
    figures = floor_figures(samples, {"crm": []}, {})
    assert figures["floor_ms"] == 0
    assert figures["requests_with_calls"] == 0
    assert figures["time_split_ms"] is None


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 50))


def test_ratios_follow_nested_figures_and_skip_a_zero_baseline() -> None:
    mosaic = {"throughput_rps": 300.0, "latency_ms": {"p50": 110.0}, "errors": 0}
    baseline = {"throughput_rps": 30.0, "latency_ms": {"p50": 220.0}, "errors": 0}
    assert ratios(mosaic, baseline) == {
        "throughput_rps": 10.0,
        "latency_ms": {"p50": 0.5},
        "errors": None,
    }


def test_profile_counts_the_innermost_frame_as_self_and_every_frame_once_as_inclusive() -> None:
    collapsed = [
        "run (/x/asyncio/runners.py:1);execute (/x/site-packages/graphql/executor.py:10);"
        "resolve (/x/site-packages/graphql/executor.py:20);resolve "
        "(/x/site-packages/graphql/executor.py:21) 3",
        "run (/x/asyncio/runners.py:1);encode (/x/site-packages/orjson/x.py:5) 1",
    ]
    summary = summarise(collapsed)
    assert summary.samples == 4
    assert summary.self_share == [
        ("resolve (graphql/executor.py)", 0.75),
        ("encode (orjson/x.py)", 0.25),
    ]
    assert dict(summary.inclusive_share) == {
        "resolve (graphql/executor.py)": 0.75,
        "execute (graphql/executor.py)": 0.75,
        "encode (orjson/x.py)": 0.25,
    }
