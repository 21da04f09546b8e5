"""The results for people: a markdown page and a chart, both from results.json alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

Cell = Mapping[str, Any]
#: A 1-minute load average above this before the run means other work was running
BUSY_LOAD = 0.5


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(value: float | None) -> str:
    return "" if value is None else f" ({value:.2f}x)"


class _Cells:
    """The cells of a run, found by (variant, query, concurrency)."""

    def __init__(self, results: Mapping[str, Any]) -> None:
        self.meta: Mapping[str, Any] = results["meta"]
        self.by_key = {(c["variant"], c["query"], c["concurrency"]): c for c in results["cells"]}

    def get(self, variant: str, query: str, concurrency: int) -> Cell | None:
        return self.by_key.get((variant, query, concurrency))

    def rows(self) -> list[tuple[str, int]]:
        return [(q, c) for q in self.meta["queries"] for c in self.meta["concurrency"]]


#: column title, the figure from a cell, digits, compared with the baseline
_Column = tuple[str, Callable[[Cell], Any], int, bool]
_COLUMNS: Sequence[_Column] = (
    ("req/s", lambda c: c["throughput_rps"], 1, True),
    ("ok req/s", lambda c: c["ok_rps"], 1, True),
    ("p50 ms", lambda c: c["latency_ms"]["p50"], 1, True),
    ("p95 ms", lambda c: c["latency_ms"]["p95"], 1, True),
    ("p99 ms", lambda c: c["latency_ms"]["p99"], 1, True),
    ("floor ms", lambda c: c.get("floor_ms"), 1, False),
    ("p50 - floor ms", lambda c: c.get("overhead_p50_ms"), 1, False),
    ("p99 / floor", lambda c: c.get("p99_over_floor"), 2, False),
    ("calls/req", lambda c: c["upstream_calls_per_request"]["total"], 2, True),
    ("CPU ms/req", lambda c: c["cpu_ms_per_request"], 2, True),
    ("peak RSS MB", lambda c: c["peak_rss_mb"], 0, True),
    ("errors", lambda c: c["errors"], 0, True),
)


def _figure(cell: Cell, baseline: Cell | None, column: _Column) -> str:
    _, figure, digits, compared = column
    value = figure(cell)
    if not compared or baseline is None:
        return _num(value, digits)
    other = figure(baseline)
    ratio = value / other if value is not None and other else None
    shown = f"{_num(value, digits)} / {_num(other, digits)}"
    return shown + (_ratio(ratio) if column[0] != "errors" else "")


def markdown(results: Mapping[str, Any]) -> str:
    cells = _Cells(results)
    meta = cells.meta
    lines = [*_header(meta), *_targets(cells)]
    baseline_name = meta["baseline"]
    for variant in meta["variants"]:
        if variant == baseline_name:
            continue
        lines += [
            "",
            f"## {variant} vs {baseline_name}",
            "",
            f"Each figure: {variant} / {baseline_name} (ratio). Floor, overhead and "
            f"p99/floor are {variant}'s own (its floor is measured at the lowest "
            "concurrency and carried to the others).",
            "",
            "| query | C | " + " | ".join(col[0] for col in _COLUMNS) + " |",
            "|---|--:|" + "--:|" * len(_COLUMNS),
        ]
        for query, concurrency in cells.rows():
            cell = cells.get(variant, query, concurrency)
            if cell is None:
                continue
            base = cells.get(baseline_name, query, concurrency)
            figures = " | ".join(_figure(cell, base, col) for col in _COLUMNS)
            lines.append(f"| {query} | {concurrency} | {figures} |")
    lines += _calls_by_source(cells)
    lines += _time_split(cells)
    return "\n".join(lines) + "\n"


#: the issue's targets: Customer360's cold overhead at concurrency 1, and at the highest
#: concurrency the throughput against the baseline, p99 against the floor, RSS per worker
OVERHEAD_MS, THROUGHPUT_RATIO, P99_OVER_FLOOR, RSS_MB = 5.0, 10.0, 2.0, 200.0


def _holds(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "**no**")


def _targets(cells: _Cells) -> list[str]:
    """The targets, each with its figure and whether it holds. The floor of a query is
    its cold critical path (``mosaic-nocache`` at the lowest concurrency): a cached
    answer has none, but p99 against it still says how much queueing adds."""
    meta = cells.meta
    baseline, lowest, highest = meta["baseline"], min(meta["concurrency"]), max(meta["concurrency"])
    candidates = [v for v in meta["variants"] if v != baseline]
    if not candidates:
        return []
    product = "mosaic" if "mosaic" in candidates else candidates[0]
    cold = "mosaic-nocache" if "mosaic-nocache" in candidates else product

    def floor(query: str) -> float | None:
        cell = cells.get(cold, query, lowest)
        return cell.get("floor_ms") if cell and cell.get("floor_ms") else None

    lines = [
        "",
        "## Targets",
        "",
        f"`{product}` against `{baseline}` at concurrency {highest}; the cold overhead from "
        f"`{cold}` at concurrency {lowest}. Throughput counts answers without errors (ok "
        "req/s): an error answered fast is not a request served; all answers per second "
        "are beside it. Floor: the query's cold critical path.",
        "",
        "| target | query | figure | holds |",
        "|---|---|---|---|",
    ]
    c360 = cells.get(cold, "Customer360", lowest)
    if c360 and c360.get("overhead_p50_ms") is not None:
        overhead = c360["overhead_p50_ms"]
        own = c360.get("overhead_median_ms")
        per_request = f"; median of each request's own {own:.1f} ms" if own is not None else ""
        lines.append(
            f"| p50 - floor <= {OVERHEAD_MS:g} ms, cold, C={lowest} | Customer360 "
            f"| {overhead:.1f} ms (p50 {c360['latency_ms']['p50']:.1f} - floor "
            f"{c360['floor_ms']:.1f}){per_request}{_machine_share(c360)}"
            f"{_idle_slowdown(meta)}{_null_gateway(c360)} | {_holds(overhead <= OVERHEAD_MS)} |"
        )
    for query in meta["queries"]:
        cell, base = cells.get(product, query, highest), cells.get(baseline, query, highest)
        if cell is None or base is None:
            continue
        ok_ratio = cell["ok_rps"] / base["ok_rps"] if base["ok_rps"] else None
        raw_ratio = cell["throughput_rps"] / base["throughput_rps"]
        shown_ok = f"{ok_ratio:.1f}x" if ok_ratio is not None else "baseline answered none"
        lines.append(
            f"| throughput >= {THROUGHPUT_RATIO:g}x baseline, C={highest} | {query} "
            f"| ok {cell['ok_rps']:.1f} / {base['ok_rps']:.1f} req/s = {shown_ok}; all "
            f"{cell['throughput_rps']:.1f} / {base['throughput_rps']:.1f} = {raw_ratio:.1f}x "
            f"| {_holds(ok_ratio is None or ok_ratio >= THROUGHPUT_RATIO)} |"
        )
    for query in meta["queries"]:
        cold_floor = floor(query)
        top = cells.get(product, query, highest)
        if cold_floor is None or top is None:
            continue
        held = [
            c
            for c in meta["concurrency"]
            if (cell := cells.get(product, query, c))
            and (worst := _worst_tail(cell, query, floor)) is not None
            and worst <= P99_OVER_FLOOR
        ]
        worst = _worst_tail(top, query, floor)
        upto = (
            f"; holds up to C={max(held)}"
            if held and max(held) < highest
            else ("" if held else "; held at no measured concurrency")
        )
        lines.append(
            f"| p99 <= {P99_OVER_FLOOR:g}x floor, C={highest} | {query} "
            f"| {_tail_figure(top, cold_floor, floor)}{upto} "
            f"| {_holds(worst is not None and worst <= P99_OVER_FLOOR)} |"
        )
    rss = [c["peak_rss_mb"] for q in meta["queries"] if (c := cells.get(product, q, highest))]
    if rss:
        lines.append(
            f"| RSS <= {RSS_MB:g} MB per worker, C={highest} | all | {max(rss):.0f} MB "
            f"| {_holds(max(rss) <= RSS_MB)} |"
        )
    return lines


def _worst_tail(
    cell: Mapping[str, Any], query: str, floor: Callable[[str], float | None]
) -> float | None:
    """p99 over the cold floor; in a mix, of the kind furthest above its own floor (a
    mix's single floor is the median of unlike requests' floors: a quarter of
    Customer360s, whose own floor is twice it, would always fail against it)."""
    if "p99_by_query_ms" in cell:
        ratios = [p99 / own for _, p99, own in _kind_tails(cell, floor)]
        return max(ratios) if ratios else None
    own = floor(query)
    return cell["latency_ms"]["p99"] / own if own else None


def _tail_figure(
    cell: Mapping[str, Any], cold_floor: float, floor: Callable[[str], float | None]
) -> str:
    p99 = cell["latency_ms"]["p99"]
    whole = f"{p99:.0f} ms = {p99 / cold_floor:.1f}x {cold_floor:.0f} ms"
    if "p99_by_query_ms" not in cell:
        return whole
    kinds = ", ".join(
        f"{kind} {p99:.0f} ms = {p99 / own:.1f}x {own:.0f} ms"
        for kind, p99, own in _kind_tails(cell, floor)
    )
    return f"each kind against its own floor: {kinds} (the whole mix against its median: {whole})"


def _kind_tails(
    cell: Mapping[str, Any], floor: Callable[[str], float | None]
) -> list[tuple[str, float, float]]:
    """A mix's kinds with a floor: each with its p99 within the mix and that floor."""
    return [
        (kind, p99, own) for kind, p99 in cell["p99_by_query_ms"].items() if (own := floor(kind))
    ]


def _header(meta: Mapping[str, Any]) -> list[str]:
    machine = meta["machine"]
    latency = ", ".join(
        f"{s.upper()} {v['latency_ms']:g} ms (+0-{v['jitter_ms']:g})"
        for s, v in meta["latency_ms"].items()
    )
    variants = "; ".join(
        f"`{name}` " + (" ".join(f"{k}={v}" for k, v in env.items()) or "(defaults)")
        for name, env in meta["variants"].items()
    )
    return [
        "# Mosaic benchmark" + (" (quick smoke run)" if meta["quick"] else ""),
        "",
        f"- run: {meta['started']}, {meta['wall_time_s']:g} s; world `{meta['size']}` "
        f"seed {meta['seed']}; {meta['duration_s_per_cell']:g} s per cell, closed loop",
        f"- machine: {machine['cpu']}, {machine['cores_usable']} usable cores, "
        f"{machine['memory_gb']:g} GB, Python {machine['python']}, {machine['platform']}",
        f"- layout: {meta['layout']}; gateway: `mosaic serve` (uvicorn), "
        f"{meta['gateway_workers']} worker(s)",
        f"- load average (1, 5, 15 min) at start {_loads(meta['load_average_at_start'])}, "
        f"at end {_loads(meta['load_average_at_end'])}"
        + (
            " — **the machine was busy before the run: other work may skew the figures**"
            if meta["load_average_at_start"][0] > BUSY_LOAD
            else ""
        ),
        f"- simulated latency: {latency}",
        f"- variants: {variants}; all: "
        + " ".join(f"{k}={v}" for k, v in meta.get("common_settings", {}).items()),
        "- floor: per request at concurrency 1, the longest chain of upstream calls each "
        "started after the previous one's latency ran out, summed by the latency the systems "
        "report each call had, their own work inside it (for a round-by-round gateway: the "
        "sum over rounds of each round's slowest call); median over requests",
    ]


def _loads(loads: Sequence[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in loads)


def _calls_by_source(cells: _Cells) -> list[str]:
    meta = cells.meta
    lowest = min(meta["concurrency"])
    variants = list(meta["variants"])
    lines = [
        "",
        f"## Upstream calls per request by source (concurrency {lowest})",
        "",
        "| query | source | " + " | ".join(variants) + " |",
        "|---|---|" + "--:|" * len(variants),
    ]
    for query in meta["queries"]:
        for source in ("crm", "erp", "pos", "wms", "total"):
            figures = [cells.get(v, query, lowest) for v in variants]
            shown = [
                _num(c["upstream_calls_per_request"].get(source), 2) if c else "-" for c in figures
            ]
            lines.append(f"| {query} | {source} | " + " | ".join(shown) + " |")
    return lines


def _machine_share(cell: Cell) -> str:
    """What of a cold overhead any gateway on this machine would pay: the idle round
    trips over the request's rounds, and what the smallest request to it costs."""
    transport, smallest = cell.get("transport_ms"), cell.get("smallest_request_ms")
    if transport is None or smallest is None:
        return ""
    return (
        f"; of it, {transport:.1f} ms are idle round trips to the systems over its rounds "
        f"(loopback, waking both sides) and {smallest:.1f} ms what any request costs, "
        "however small (`{ __typename }`)"
    )


def _null_gateway(cell: Cell) -> str:
    """The same overhead for a gateway doing no work at all (``bench/null_gateway.py``):
    the machine's whole share, measured, and so what is left for Mosaic's own work."""
    null = cell.get("null_gateway")
    if not null or null.get("overhead_p50_ms") is None:
        return ""
    own = cell["overhead_p50_ms"] - null["overhead_p50_ms"]
    return (
        f". A gateway doing no work at all, sending the same {null['calls_replayed']} calls "
        f"in the same order and answering Mosaic's answer (`bench/null_gateway.py`), measured "
        f"right after: **{null['overhead_p50_ms']:.1f} ms** over the same floor "
        f"(p50 {null['latency_p50_ms']:.1f} - floor {null['floor_ms']:.1f}); Mosaic's own "
        f"work is the rest, {own:.1f} ms"
    )


def _idle_slowdown(meta: Mapping[str, Any]) -> str:
    """The machine's tax on the gateway's own work at concurrency 1 (see
    :func:`bench.load.idle_slowdown`)."""
    slowdown = meta.get("idle_slowdown")
    if slowdown is None:
        return ""
    return (
        f"; and on this machine work right after an idle of a source's latency takes "
        f"{slowdown:.2f}x as long as back to back (the gateway's every step after a wait)"
    )


def _time_split(cells: _Cells) -> list[str]:
    meta = cells.meta
    lowest = min(meta["concurrency"])
    lines = [
        "",
        f"## Where the time goes (concurrency {lowest}, medians per request, ms)",
        "",
        "Over the requests that called upstream (those answered from the cache have "
        "nothing to split). Before the first upstream call: HTTP, parsing, validation, "
        "planning. Between rounds and after the last: transfer, the gateway reading "
        "replies, resolving, serialising (a system's own work is inside its latency). "
        "A negative gap means the next round started before the previous round's slowest "
        "call ended (the gateway did not wait for it). *Round trips*: what the "
        "machine adds to those rounds, whatever the gateway does: per round, an "
        "idle round trip to the round's slowest system beyond the delay it reports "
        f"({_excess(meta)}), measured in this run with an empty client; *smallest "
        "request*: `{ __typename }` to the same gateway (HTTP both ways, its fixed "
        "per-request work).",
        "",
        "| variant | query | requests | latency | rounds floor | before first call "
        "| between rounds | after last call | rounds | round trips | smallest request |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for variant in meta["variants"]:
        for query in meta["queries"]:
            cell = cells.get(variant, query, lowest)
            split = (cell or {}).get("time_split_ms")
            if cell is None or not split:
                continue
            lines.append(
                f"| {variant} | {query} | {cell['requests_with_calls']} of {cell['requests']} "
                f"| {_num(split['latency'])} "
                f"| {_num(split['rounds_floor'])} | {_num(split['before_first_call'])} "
                f"| {_num(split['between_rounds'])} | {_num(split['after_last_call'])} "
                f"| {_num(cell.get('rounds'), 0)} | {_num(cell.get('transport_ms'))} "
                f"| {_num(cell.get('smallest_request_ms'))} |"
            )
    return lines


def _excess(meta: Mapping[str, Any]) -> str:
    excess = meta.get("round_trip_excess_ms") or {}
    return ", ".join(f"{name.upper()} {ms:.2f} ms" for name, ms in excess.items()) or "not measured"


def profiles(results: Mapping[str, Any], top: int = 12) -> str:
    """The functions the gateway spent its samples in, per profiled cell."""
    lines = [
        "# Where the gateway's CPU goes (py-spy)",
        "",
        "Sampled from outside the running gateway at the highest concurrency; *self*: "
        "the function itself was running, *inclusive*: it was on the stack (what it "
        "calls included). Shares of the samples in which the gateway was running: py-spy "
        "leaves out the time it sat idle waiting for the network.",
    ]
    for cell in results["cells"]:
        summary = cell.get("profile")
        if not summary:
            continue
        lines += [
            "",
            f"## {cell['variant']} {cell['query']} at concurrency {cell['concurrency']} "
            f"({summary['samples']} samples, {cell['cpu_ms_per_request']:.1f} CPU ms/req)",
            "",
            "| self | function | | inclusive | function |",
            "|--:|---|---|--:|---|",
        ]
        rows = zip(summary["self"][:top], summary["inclusive"][:top], strict=False)
        for (own, own_share), (within, within_share) in rows:
            lines.append(f"| {own_share:.1%} | `{own}` | | {within_share:.1%} | `{within}` |")
    return "\n".join(lines) + "\n"


def chart(results: Mapping[str, Any], path: Path) -> None:
    """Throughput and p50 latency against concurrency, one column per workload."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    cells = _Cells(results)
    meta = cells.meta
    queries = meta["queries"]
    levels = meta["concurrency"]
    figure, axes = plt.subplots(
        2, len(queries), figsize=(4 * len(queries), 7), squeeze=False, sharex=True
    )
    for column, query in enumerate(queries):
        top, bottom = axes[0][column], axes[1][column]
        for variant in meta["variants"]:
            found = [(c, cells.get(variant, query, c)) for c in levels]
            present = [(c, cell) for c, cell in found if cell is not None]
            xs = [c for c, _ in present]
            line = top.plot(xs, [c["throughput_rps"] for _, c in present], "o-", label=variant)
            color = line[0].get_color()
            if any(c["errors"] for _, c in present):  # log axes leave out a goodput of 0
                top.plot(xs, [c["ok_rps"] for _, c in present], "x--", color=color)
            bottom.plot(xs, [c["latency_ms"]["p50"] for _, c in present], "o-", color=color)
            floor = next((c.get("floor_ms") for _, c in present), None)
            if floor:
                bottom.axhline(floor, linestyle=":", color=color, linewidth=1)
        top.set_title(query)
        top.set_ylabel("throughput (req/s); dashed: without errors")
        bottom.set_ylabel("p50 latency (ms); dotted: floor")
        bottom.set_xlabel("concurrency")
        for axis in (top, bottom):
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.xaxis.set_minor_locator(NullLocator())
            axis.set_xticks(levels, [str(c) for c in levels])
            # 1-2-5 ticks and at least a factor 4 of range, so every panel has labels
            axis.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.yaxis.set_minor_formatter(NullFormatter())
            low, high = axis.get_ylim()
            if high < 4 * low:
                middle = (low * high) ** 0.5
                axis.set_ylim(middle / 2, middle * 2)
            axis.grid(True, which="both", alpha=0.3)
    axes[0][0].legend()
    figure.suptitle(
        f"Mosaic vs naive baseline ({meta['size']} world, {meta['layout']})", fontsize=9
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
