"""The benchmark's arithmetic, as pure functions over plain data.

Kept apart from the orchestration so the figures the benchmark publishes (the
critical-path floor above all) can be unit-tested without starting anything.

A *call* is one entry of a simulated system's ``/__admin/calls`` log: a mapping with
``started`` (the system's ``time.time()`` when the call arrived) and ``delay_ms`` (the
latency the system gave it: its configured latency with jitter, its own work done
within it, or the work's time when that was longer). All processes run on one
machine, so their wall clocks agree with the load generator's.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any, Protocol, TypeGuard

Call = Mapping[str, Any]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks,
    as numpy's default does; NaN for no values, so an empty cell shows as such."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def call_end(call: Call) -> float:
    """When a call's latency ran out (seconds, wall clock)."""
    return float(call["started"]) + float(call["delay_ms"]) / 1000


def group_rounds(calls: Iterable[Call]) -> list[list[Call]]:
    """Upstream calls grouped into rounds, in the order they started.

    A call joins the current round when it started before the earliest end of the
    calls already in it (so it cannot have waited for any of their answers); otherwise
    it opens a new round. That recovers the gateway's dependency levels from the
    systems' own logs, without trusting the gateway's account of itself.
    """
    rounds: list[list[Call]] = []
    earliest_end = -math.inf
    for call in sorted(calls, key=lambda c: float(c["started"])):
        if rounds and float(call["started"]) < earliest_end:
            rounds[-1].append(call)
            earliest_end = min(earliest_end, call_end(call))
        else:
            rounds.append([call])
            earliest_end = call_end(call)
    return rounds


def rounds_floor_ms(calls: Iterable[Call]) -> float:
    """The sum over rounds of the largest delay the systems added in that round (jitter
    included, as they report it): the floor of a gateway that works round by round."""
    return sum(max(float(c["delay_ms"]) for c in round_) for round_ in group_rounds(calls))


def critical_path_floor_ms(calls: Iterable[Call]) -> float:
    """The latency no gateway could beat for these calls: the longest chain of calls
    each of which started after the previous one's delay ran out, summed by delay.

    A call can only have waited for calls whose delay had run out when it started, so
    every real dependency chain is such a chain: this is at least the true critical
    path, and never more than the request took (a chain's delays do not overlap). For
    a gateway that works round by round it equals :func:`rounds_floor_ms`; for one that
    starts a call as soon as its own input arrives (before the rest of its round ends)
    the rounds rule would count waits that did not happen, and exceed the latency.
    """
    ended: list[tuple[float, float]] = []  # (end, longest chain ending with that call)
    longest_done = 0.0
    longest = 0.0
    for call in sorted(calls, key=lambda c: float(c["started"])):
        while ended and ended[0][0] <= float(call["started"]):
            longest_done = max(longest_done, heapq.heappop(ended)[1])
        chain = longest_done + float(call["delay_ms"])
        heapq.heappush(ended, (call_end(call), chain))
        longest = max(longest, chain)
    return longest


def transport_floor_ms(calls: Iterable[Call], excess_ms: Mapping[str, float]) -> float:
    """What the machine adds to a request's rounds before the gateway does any work:
    per round, the idle round-trip cost (:func:`bench.load.round_trip_excess_ms`) of the
    system whose call was that round's slowest. Calls carry their ``source``."""
    return sum(
        excess_ms.get(max(round_, key=lambda c: float(c["delay_ms"]))["source"], 0.0)
        for round_ in group_rounds(calls)
    )


def attribute_calls(
    windows: Sequence[tuple[float, float]], calls: Iterable[Call]
) -> list[list[Call]]:
    """Each request's upstream calls, for requests sent one at a time.

    ``windows`` are the requests' (sent, answered) wall-clock times in the order sent,
    not overlapping; a call belongs to the request whose window holds its start. Calls
    outside every window (there should be none at concurrency 1) are dropped.
    """
    starts = [w[0] for w in windows]
    owned: list[list[Call]] = [[] for _ in windows]
    for call in calls:
        started = float(call["started"])
        index = bisect_right(starts, started) - 1
        if index >= 0 and started <= windows[index][1]:
            owned[index].append(call)
    return owned


@dataclass(frozen=True, slots=True)
class TimeSplit:
    """Where one request's time went, in milliseconds, from the systems' logs.

    ``before_first_call``: from sending the request to the first upstream call arriving
    (HTTP, parsing, validation, planning). ``rounds_floor``: :func:`rounds_floor_ms`.
    ``between_rounds``: time from the end of a round's slowest delay to the next round's
    first call (the transfer, the gateway reading the reply and planning the next
    round). ``after_last_call``: from the end of the last
    round's slowest delay to the answer arriving (the transfer, the gateway reading the
    reply, executing the remaining fields, serialising, HTTP).
    """

    before_first_call: float
    rounds_floor: float
    between_rounds: float
    after_last_call: float


def split_time(sent: float, answered: float, calls: Sequence[Call]) -> TimeSplit | None:
    """The request's latency cut into the parts of :class:`TimeSplit`; None without calls."""
    rounds = group_rounds(calls)
    if not rounds:
        return None
    round_ends = [
        float(r[0]["started"]) + max(float(c["delay_ms"]) for c in r) / 1000 for r in rounds
    ]
    gaps = [
        float(nxt[0]["started"]) - end for nxt, end in zip(rounds[1:], round_ends, strict=False)
    ]
    return TimeSplit(
        before_first_call=(float(rounds[0][0]["started"]) - sent) * 1000,
        rounds_floor=rounds_floor_ms(calls),
        between_rounds=sum(gaps) * 1000,
        after_last_call=(answered - max(call_end(c) for c in rounds[-1])) * 1000,
    )


def median_split(splits: Iterable[TimeSplit | None]) -> dict[str, float]:
    """The per-part medians of many requests' splits (NaN where none had calls)."""
    present = [s for s in splits if s is not None]
    parts = ("before_first_call", "rounds_floor", "between_rounds", "after_last_call")
    return {
        part: median(getattr(s, part) for s in present) if present else math.nan for part in parts
    }


class Timed(Protocol):
    """A request as the load generator saw it (:class:`bench.load.Sample`)."""

    @property
    def sent(self) -> float: ...  # wall clock, comparable with the systems' call logs
    @property
    def answered(self) -> float: ...
    @property
    def latency_ms(self) -> float: ...


def floor_figures(
    samples: Sequence[Timed],
    calls: Mapping[str, Sequence[Call]],
    excess_ms: Mapping[str, float],
) -> dict[str, Any]:
    """The critical-path floor of requests sent one at a time (each call then belongs
    to one request) and where the rest of their time went: ``calls`` per source, as the
    systems logged them; ``excess_ms`` as :func:`transport_floor_ms` takes it. Medians
    over the requests; ``overhead_median_ms`` is the median of each request's own
    latency less its own floor."""
    merged = [{**c, "source": source} for source, found in calls.items() for c in found]
    owned = attribute_calls([(s.sent, s.answered) for s in samples], merged)
    floors = [critical_path_floor_ms(c) for c in owned]
    if not floors:
        return {"floor_ms": None}
    # a request answered from the cache has no calls: floor 0, and nothing to split
    called = [(s, c) for s, c in zip(samples, owned, strict=True) if c]
    splits = [split_time(s.sent, s.answered, c) for s, c in called]
    return {
        "floor_ms": median(floors),
        "floor_from": "measured",
        "rounds_floor_ms": median(rounds_floor_ms(c) for c in owned),
        "requests_with_calls": len(called),
        "rounds": median(len(group_rounds(c)) for _, c in called) if called else 0,
        "transport_ms": median(transport_floor_ms(c, excess_ms) for _, c in called)
        if called
        else None,
        "overhead_median_ms": median(
            s.latency_ms - f for s, f in zip(samples, floors, strict=True)
        ),
        "time_split_ms": {
            "latency": median(s.latency_ms for s, _ in called),
            **median_split(splits),
        }
        if called
        else None,
    }


def per_request(counts: Mapping[str, int], requests: int) -> dict[str, float]:
    """Counts per request (NaN when no request completed)."""
    return {k: (v / requests if requests else math.nan) for k, v in counts.items()}


def ratio(value: float | None, baseline: float | None) -> float | None:
    """Mosaic's figure over the baseline's; None where either is missing or the
    baseline's is zero (a ratio to nothing says nothing)."""
    if value is None or baseline is None or baseline == 0:
        return None
    if math.isnan(value) or math.isnan(baseline):
        return None
    return value / baseline


def ratios(figures: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, Any]:
    """Every numeric figure of a cell (nested mappings too) over the baseline's."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        other = baseline.get(key)
        if isinstance(value, Mapping) and isinstance(other, Mapping):
            out[key] = ratios(value, other)
        elif _is_number(value) and _is_number(other):
            out[key] = ratio(value, other)
    return out


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
