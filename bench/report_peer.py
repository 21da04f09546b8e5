"""The side-by-side run for people: Mosaic and the peer, figure by figure, with the
ratio Mosaic / peer, and a chart; both from the run's results.json alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.report import BUSY_LOAD

Cell = Mapping[str, Any]
SOURCES = ("erp", "pos", "wms")

#: figure title, the figure from a cell, digits
_Figure = tuple[str, Callable[[Cell], float | None], int]
_FIGURES: Sequence[_Figure] = (
    ("answers/s without errors", lambda c: c["ok_rps"], 1),
    ("answers/s", lambda c: c["throughput_rps"], 1),
    ("p50 ms", lambda c: c["latency_ms"]["p50"], 1),
    ("p99 ms", lambda c: c["latency_ms"]["p99"], 1),
    ("gateway CPU ms/request", lambda c: c["cpu_ms_per_request"], 2),
    ("gateway CPU, share of its core", lambda c: c.get("gateway_cpu_share"), 2),
    ("simulated systems' CPU, share of a core", lambda c: c.get("systems_cpu_share"), 2),
    *(
        (
            f"{source.upper()} calls/request, one at a time",
            (lambda s: lambda c: c["calls_one_at_a_time"]["per_source"].get(s))(source),
            2,
        )
        for source in SOURCES
    ),
    ("calls/request under load", lambda c: c["upstream_calls_per_request"]["total"], 2),
    ("errors", lambda c: c["errors"], 0),
    ("peak RSS MB", lambda c: c["peak_rss_mb"], 0),
)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(mine: float | None, theirs: float | None) -> str:
    if mine is None or theirs is None or theirs == 0:
        return "-"
    return f"{mine / theirs:.2f}x"


def _cells(results: Mapping[str, Any]) -> dict[tuple[str, str, str, int], Cell]:
    return {(c["gateway"], c["mode"], c["query"], c["concurrency"]): c for c in results["cells"]}


def markdown(results: Mapping[str, Any]) -> str:
    meta = results["meta"]
    mosaic, peer = meta["gateways"]
    cells = _cells(results)
    lines = [
        f"# Mosaic and {peer} side by side",
        "",
        f"- run: {meta['started']}, {meta['wall_time_s']:g} s; world `{meta['size']}` seed "
        f"{meta['seed']}; {meta['duration_s_per_cell']:g} s per cell after {meta['warmup_s']:g} s "
        f"of warm-up per gateway and query; load: {meta['load_generator']}",
        f"- machine: {meta['machine']['cpu']}, {meta['machine']['cores_usable']} usable cores; "
        f"layout: {meta['layout']}",
        f"- load average at start {_loads(meta['machine']['load_average'])}, at end "
        f"{_loads(meta['load_average_at_end'])}"
        + (
            " — **the machine was busy: other work may skew the figures**"
            if meta["machine"]["load_average"][0] > BUSY_LOAD
            else ""
        ),
        "- simulated latency: "
        + ", ".join(
            f"{s.upper()} {v['latency_ms']:g} ms (+0-{v['jitter_ms']:g})"
            for s, v in meta["latency_ms"].items()
        ),
        f"- {peer}: " + ", ".join(f"`{p}` {v}" for p, v in meta["peer"].items()),
        "- modes: "
        + "; ".join(
            f"**{mode}**: {mosaic} {_settings(how[mosaic])}, {peer} {how[peer]}"
            for mode, how in meta["modes"].items()
        ),
        f"- each figure the median of {meta.get('rounds', 1)} rounds; in each round Mosaic and "
        f"{peer} in turn, who goes first alternating (both up at once, the one not measured "
        "idle), so the machine's other work falls on both alike",
        "- calls per request: exact, from the systems' logs over requests every one answered: "
        "a few sent one after another, and under load a burst of a few per client at the "
        "cell's concurrency; the CPU per request is over every request wrk started (the "
        "answered ones and the C still in flight when it stopped)",
        "",
        "## Equivalence (checked before measuring)",
        "",
        "| query | same data | values compared | identical before normalising "
        "| empty stock levels dropped |",
        "|---|---|--:|---|---|",
    ]
    for verdict in results["equivalence"]:
        dropped = ", ".join(f"{g} {n}" for g, n in verdict["empty_stock_levels_dropped"].items())
        lines.append(
            f"| {verdict['query']} | {'yes' if verdict['same'] else '**no**'} "
            f"| {verdict.get('values_compared', '-')} "
            f"| {'yes' if verdict['identical_before_normalising'] else 'no'} | {dropped or '-'} |"
        )
    lines += _one_at_a_time(results.get("one_at_a_time", []), mosaic, peer)
    for mode in meta["modes"]:
        lines += ["", f"## {mode.capitalize()}", ""]
        lines += [
            f"| query | C | figure | {mosaic} | {peer} | {mosaic} / {peer} |",
            "|---|--:|---|--:|--:|--:|",
        ]
        for query in meta["queries"]:
            for concurrency in meta["concurrency"]:
                mine = cells.get((mosaic, mode, query, concurrency))
                theirs = cells.get((peer, mode, query, concurrency))
                if mine is None or theirs is None:
                    continue
                for title, figure, digits in _FIGURES:
                    a, b = figure(mine), figure(theirs)
                    lines.append(
                        f"| {query} | {concurrency} | {title} | {_num(a, digits)} "
                        f"| {_num(b, digits)} | {_ratio(a, b) if title != 'errors' else ''} |"
                    )
                lines.append(
                    f"| {query} | {concurrency} | answers/s without errors, each round "
                    f"| {_rounds(mine)} | {_rounds(theirs)} | |"
                )
    lines += ["", "## The compared queries", ""]
    for name, document in meta["queries"].items():
        lines += [f"`{name}`:", "", "```graphql", document.strip(), "```", ""]
    return "\n".join(lines) + "\n"


def _one_at_a_time(found: Sequence[Cell], mosaic: str, peer: str) -> list[str]:
    """Cold requests one at a time: each gateway's time beyond its own critical path,
    beside what the machine adds whatever the gateway does."""
    if not found:
        return []
    lines = [
        "",
        "## Cold, one request at a time: time beyond each gateway's own floor",
        "",
        "Each request's floor is its longest chain of upstream calls, each started after "
        "the previous one's latency ran out, summed by the latency the systems report "
        "(the gateway's own dependency levels, from the systems' logs). Beyond it: what "
        "the gateway does (HTTP, parsing, planning, reading replies, resolving, "
        "serialising) and what the machine adds whatever the gateway does: *round trips*, "
        "per round an idle round trip to its slowest system beyond the delay it reports; "
        "*smallest request*, `{ __typename }` to the same gateway. Medians of the rounds' "
        "medians.",
        "",
        "| query | gateway | requests | p50 ms | floor ms | p50 - floor ms "
        "| each request's own, median | rounds | before first call | after last call "
        "| round trips | smallest request |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    by_key = {(c["query"], c["gateway"]): c for c in found}
    for query in dict.fromkeys(c["query"] for c in found):
        for gateway in (mosaic, peer):
            cell = by_key.get((query, gateway))
            if cell is None:
                continue
            split = cell.get("time_split_ms") or {}
            lines.append(
                f"| {query} | {gateway} | {cell['requests']:.0f} | {_num(cell['p50_ms'], 1)} "
                f"| {_num(cell.get('floor_ms'), 1)} | {_num(cell.get('overhead_p50_ms'), 1)} "
                f"| {_num(cell.get('overhead_median_ms'), 1)} | {_num(cell.get('rounds'), 0)} "
                f"| {_num(split.get('before_first_call'), 1)} "
                f"| {_num(split.get('after_last_call'), 1)} "
                f"| {_num(cell.get('transport_ms'), 1)} "
                f"| {_num(cell.get('smallest_request_ms'), 1)} |"
            )
        mine, theirs = by_key.get((query, mosaic)), by_key.get((query, peer))
        if mine and theirs:
            lines.append(
                f"| {query} | {mosaic} / {peer} | | {_ratio(mine['p50_ms'], theirs['p50_ms'])} "
                f"| | {_ratio(mine.get('overhead_p50_ms'), theirs.get('overhead_p50_ms'))} "
                "| | | | | | |"
            )
    return lines


def _rounds(cell: Cell) -> str:
    return " / ".join(f"{r['ok_rps']:.1f}" for r in cell.get("rounds", []))


def _settings(settings: Any) -> str:
    if isinstance(settings, Mapping):
        return " ".join(f"{k}={v}" for k, v in settings.items()) or "(defaults)"
    return str(settings)


def _loads(loads: Sequence[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in loads)


def chart(results: Mapping[str, Any], path: Path) -> None:
    """Per mode at the highest concurrency: answers/s and CPU per request, per query,
    Mosaic's bar beside the peer's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = results["meta"]
    cells = _cells(results)
    gateways, modes, queries = meta["gateways"], list(meta["modes"]), list(meta["queries"])
    top = max(meta["concurrency"])
    figure, axes = plt.subplots(len(modes), 2, figsize=(10, 3.6 * len(modes)), squeeze=False)
    width = 0.8 / len(gateways)
    panels: Sequence[tuple[str, Callable[[Cell], float]]] = (
        ("answers/s without errors", lambda c: c["ok_rps"]),
        ("gateway CPU ms per request", lambda c: c["cpu_ms_per_request"]),
    )
    for row, mode in enumerate(modes):
        for column, (title, figure_of) in enumerate(panels):
            axis = axes[row][column]
            for index, gateway in enumerate(gateways):
                values = [
                    figure_of(cell) if (cell := cells.get((gateway, mode, q, top))) else 0.0
                    for q in queries
                ]
                xs = [q + (index - (len(gateways) - 1) / 2) * width for q in range(len(queries))]
                bars = axis.bar(xs, values, width, label=gateway)
                shown = [f"{v:,.0f}" if v >= 100 else f"{v:.3g}" for v in values]
                axis.bar_label(bars, labels=shown, fontsize=7)
            axis.set_xticks(range(len(queries)), queries, fontsize=8)
            axis.set_title(f"{mode}, C={top}: {title}", fontsize=9)
            axis.grid(True, axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.suptitle(f"Mosaic and {gateways[1]} side by side ({meta['layout']})", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
