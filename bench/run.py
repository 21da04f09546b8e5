"""``python -m bench``: Mosaic and a naive baseline, side by side, in one run.

The same four simulated systems (realistic latency, jitter) serve every variant in
turn; each variant is the deployed gateway (uvicorn, its own process) with different
switches. A closed-loop load generator in this process drives every reference query
and a mixed workload at each concurrency, and each cell's figures come from what the
systems logged (calls, each call's latency) and what /proc says the gateway cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from statistics import mean
from typing import Any, Literal

from bench import analysis, cluster, null_gateway, procfs, profile, report, side_by_side
from bench.load import (
    LoadResult,
    Request,
    closed_loop,
    graphql_request,
    idle_slowdown,
    round_trip_excess_ms,
    smallest_request_ms,
)

QUERIES = ("Customer360", "ProductListing", "StockCheck")
MIXED = "Mixed"
BASELINE = "baseline"

#: Each variant's extra gateway settings. The baseline is the same schema with batching
#: and the cross-request layer off: one upstream call per object.
VARIANTS: dict[str, dict[str, str]] = {
    "mosaic": {"MOSAIC_BATCHING": "true", "MOSAIC_CACHE": "true"},
    "mosaic-noresponsecache": {"MOSAIC_CACHE": "true", "MOSAIC_RESPONSE_CACHE_MB": "0"},
    "mosaic-nocache": {"MOSAIC_CACHE": "false"},
    BASELINE: {"MOSAIC_BATCHING": "false", "MOSAIC_CACHE": "false"},
}

#: The smoke run's variants: cold, so every request shows batching against the baseline
#: and has a critical path (a cached answer has none).
QUICK_VARIANTS = ("mosaic-nocache", BASELINE)
#: the cell whose overhead the issue's target judges, measured beside a gateway doing
#: none of the work (bench/null_gateway.py)
NULL_GATEWAY_CELL = "mosaic-nocache"
Size = Literal["small", "default"]
PROFILE_TOP = 20
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Options:
    size: Size
    seed: int
    duration_s: float
    concurrency: tuple[int, ...]
    workers: int
    layout: str
    variants: tuple[str, ...]
    max_requests: int
    warmup_s: float
    queries: tuple[str, ...]
    output: Path
    quick: bool
    profile: bool
    peer: str | None
    rounds: int


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=("small", "default"), default="default")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--duration-s", type=float, default=10.0, help="per cell")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated")
    parser.add_argument(
        "--workers", type=int, default=1, help="gateway workers (mosaic serve --workers)"
    )
    parser.add_argument(
        "--layout",
        choices=("split", "shared"),
        default="split",
        help="split: the gateway pinned to half the cores, the systems and the load "
        "generator to the rest; shared: nothing pinned (give the gateway a worker per core)",
    )
    parser.add_argument(
        "--variants",
        default=None,
        help=f"comma-separated, from {', '.join(VARIANTS)}; default all "
        f"({','.join(QUICK_VARIANTS)} with --quick); the baseline is always run",
    )
    parser.add_argument(
        "--queries",
        default=",".join((*QUERIES, MIXED)),
        help="comma-separated workloads to drive (a subset for a quick look at one)",
    )
    parser.add_argument("--max-requests", type=int, default=100_000, help="per cell")
    parser.add_argument("--warmup-s", type=float, default=2.0, help="per variant, unmeasured")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"default {DEFAULT_RESULTS.name}/ ({DEFAULT_RESULTS.name}/peer/ with --peer)",
    )
    parser.add_argument(
        "--peer",
        choices=(side_by_side.PEER,),
        default=None,
        help="measure Mosaic side by side with a peer gateway instead (GraphQL Mesh + Hive "
        "Gateway, bench/peer/): the compared queries, cold and cached, with wrk; uses "
        "--size, --seed, --duration-s, --concurrency, --warmup-s, --rounds and --output",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="with --peer: rounds per cell, the two gateways in turn in each (medians shown)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke mode: small world, concurrency 1 and 4, 1 s per cell (overrides "
        "the flags above but --variants and --output)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the gateway with py-spy in the cells at the highest concurrency "
        "(writes profiles/ and profile.md; costs the gateway a little CPU)",
    )
    args = parser.parse_args(argv)
    if args.profile and profile.py_spy() is None:
        parser.error("--profile needs py-spy (pip install py-spy)")
    chosen = args.variants or ",".join(QUICK_VARIANTS if args.quick else VARIANTS)
    variants = [v.strip() for v in chosen.split(",") if v.strip()]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {sorted(unknown)}")
    queries = [q.strip() for q in args.queries.split(",") if q.strip()]
    if not queries or set(queries) - {*QUERIES, MIXED}:
        parser.error(f"--queries: choose from {', '.join((*QUERIES, MIXED))}")
    options = Options(
        size=args.size,
        seed=args.seed,
        duration_s=args.duration_s,
        concurrency=tuple(sorted({int(c) for c in args.concurrency.split(",")})),
        workers=args.workers,
        layout=args.layout,
        variants=tuple([v for v in variants if v != BASELINE] + [BASELINE]),
        max_requests=args.max_requests,
        warmup_s=args.warmup_s,
        queries=tuple(queries),
        output=args.output or (DEFAULT_RESULTS / "peer" if args.peer else DEFAULT_RESULTS),
        quick=args.quick,
        profile=args.profile,
        peer=args.peer,
        rounds=args.rounds,
    )
    if args.quick:
        options = replace(
            options,
            size="small",
            duration_s=1.0,
            concurrency=(1, 4),
            warmup_s=0.5,
        )
    return options


def workloads(size: Size, seed: int) -> dict[str, list[Request]]:
    """Ready request bodies per workload: each reference query, and all in turn."""
    from gateway.operations import reference_operations
    from legacy.examples import examples

    documents = reference_operations()
    variables = examples(seed, size)
    single = {name: [graphql_request(name, documents[name], variables[name])] for name in QUERIES}
    return {**single, MIXED: [r for name in QUERIES for r in single[name]]}


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    if options.peer:
        plan = side_by_side.Plan(
            size=options.size,
            seed=options.seed,
            duration_s=options.duration_s,
            warmup_s=options.warmup_s,
            concurrency=options.concurrency,
            rounds=options.rounds,
            output=options.output,
        )
        return side_by_side.main(plan, machine())
    layout = procfs.plan_layout(shared=options.layout == "shared")
    host = machine()  # before pinning, which narrows what this process sees
    procfs.pin(layout.others)  # this process is the load generator; children inherit
    every = workloads(options.size, options.seed)
    loads = {name: load for name, load in every.items() if name in options.queries}
    cells_per_variant = len(loads) * len(options.concurrency)
    _log(
        f"{len(options.variants)} variants x {cells_per_variant} cells x "
        f"{options.duration_s:g} s; {layout.describe()}"
    )
    latencies = cluster.bench_latencies()
    started = time.time()
    cells: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mosaic-bench-") as tmp:
        work_dir = Path(tmp)
        with cluster.simulated_systems(
            latencies, options.size, options.seed, work_dir, layout.others
        ) as systems:
            excess = {
                name: asyncio.run(round_trip_excess_ms(system.url))
                for name, system in systems.items()
            }
            _log("idle round trip beyond each system's delay (ms): " + str(_rounded(excess)))
            slowdown = idle_slowdown()
            _log(f"work right after an idle of 25 ms takes {slowdown:.2f}x its time back to back")
            for variant in options.variants:
                cells.extend(
                    _run_variant(
                        variant, systems, loads, every[MIXED], excess, options, layout, work_dir
                    )
                )
    results = _assemble(cells, options, layout, latencies, host, started)
    results["meta"]["round_trip_excess_ms"] = _rounded(excess)
    results["meta"]["idle_slowdown"] = round(slowdown, 2)
    options.output.mkdir(parents=True, exist_ok=True)
    (options.output / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = report.markdown(results)
    (options.output / "results.md").write_text(markdown)
    report.chart(results, options.output / "chart.png")
    if options.profile:
        (options.output / "profile.md").write_text(report.profiles(results))
    print(markdown)
    _log(f"done in {time.time() - started:.0f} s; results in {options.output}")
    return 0


def _run_variant(
    variant: str,
    systems: Mapping[str, cluster.Process],
    loads: Mapping[str, list[Request]],
    warmup: list[Request],
    excess: Mapping[str, float],
    options: Options,
    layout: procfs.Layout,
    work_dir: Path,
) -> list[dict[str, Any]]:
    settings = VARIANTS[variant]
    with cluster.gateway(
        variant, systems, settings, options.workers, work_dir, layout.gateway
    ) as gateway:
        url = gateway.url + "/graphql"
        warm = _drive(url, warmup, 4 * options.workers, options.warmup_s, options)
        failed = [s.error for s in warm.samples if s.error]
        if failed:
            _log(f"[{variant}] warm-up: {len(failed)} of {len(warm.samples)} failed: {failed[0]}")
        smallest = asyncio.run(smallest_request_ms(url))
        cells: list[dict[str, Any]] = []
        for name, requests in loads.items():
            for concurrency in options.concurrency:
                cell = _measure(
                    variant, name, requests, concurrency, gateway, systems, options, excess
                )
                if concurrency == 1:
                    cell["smallest_request_ms"] = smallest
                if (variant, name, concurrency) == (NULL_GATEWAY_CELL, "Customer360", 1):
                    cell["null_gateway"] = null_gateway.measure(
                        gateway, requests[0], systems, excess, options.duration_s, work_dir,
                        layout.gateway,
                    )  # fmt: skip
                    _log(f"[null gateway] {_one_line_null(cell['null_gateway'])}")
                _log(_one_line(cell))
                cells.append(cell)
    return cells


def _drive(
    url: str, requests: list[Request], concurrency: int, duration_s: float, options: Options
) -> LoadResult:
    return asyncio.run(closed_loop(url, requests, concurrency, duration_s, options.max_requests))


def _measure(
    variant: str,
    name: str,
    requests: list[Request],
    concurrency: int,
    gateway: cluster.Process,
    systems: Mapping[str, cluster.Process],
    options: Options,
    excess: Mapping[str, float],
) -> dict[str, Any]:
    cluster.settle(systems)
    sampled = options.output / "profiles" / f"{variant}-{name}-c{concurrency}.txt"
    spy = (
        _start_profile(gateway, sampled, options)
        if concurrency == max(options.concurrency)
        else None
    )
    cpu_before = procfs.cpu_seconds(gateway.pid)
    result = _drive(gateway.url + "/graphql", requests, concurrency, options.duration_s, options)
    cpu = procfs.cpu_seconds(gateway.pid) - cpu_before
    memory = procfs.peak_rss(gateway.pid)
    calls = cluster.fetch_calls(systems)
    samples = result.samples
    count = len(samples)
    latencies = [s.latency_ms for s in samples]
    errors = [s.error for s in samples if s.error]
    per_source = {source: len(found) for source, found in calls.items()}
    cell: dict[str, Any] = {
        "variant": variant,
        "query": name,
        "concurrency": concurrency,
        "requests": count,
        "errors": len(errors),
        "error_sample": errors[0] if errors else None,
        "elapsed_s": round(result.elapsed_s, 3),
        "throughput_rps": count / result.elapsed_s if result.elapsed_s else math.nan,
        "ok_rps": (count - len(errors)) / result.elapsed_s if result.elapsed_s else math.nan,
        "latency_ms": {
            "p50": analysis.percentile(latencies, 50),
            "p95": analysis.percentile(latencies, 95),
            "p99": analysis.percentile(latencies, 99),
            "mean": mean(latencies) if latencies else math.nan,
        },
        "upstream_calls_per_request": analysis.per_request(
            {**per_source, "total": sum(per_source.values())}, count
        ),
        "upstream_ops_per_request": analysis.per_request(_by_operation(calls), count),
        "gateway_cpu_s": cpu,
        "cpu_ms_per_request": cpu * 1000 / count if count else math.nan,
        "peak_rss_mb": memory.peak_rss_mb_max,
        "peak_rss_mb_total": memory.peak_rss_mb_total,
        "gateway_processes": memory.processes,
    }
    kinds = {s.name for s in samples}
    if len(kinds) > 1:  # a mix: each kind's tail, to hold against its own floor
        cell["p99_by_query_ms"] = {
            kind: analysis.percentile([s.latency_ms for s in samples if s.name == kind], 99)
            for kind in sorted(kinds)
        }
    if concurrency == 1:
        cell.update(analysis.floor_figures(result.samples, calls, excess))
    if spy is not None:
        cell["profile"] = _profile_summary(spy, sampled)
    return cell


def _start_profile(
    gateway: cluster.Process, output: Path, options: Options
) -> subprocess.Popen[bytes] | None:
    if not options.profile:
        return None
    output.parent.mkdir(parents=True, exist_ok=True)
    return profile.start(gateway.pid, options.duration_s, output, options.workers > 1)


def _profile_summary(spy: subprocess.Popen[bytes], sampled: Path) -> dict[str, Any] | None:
    _, stderr = spy.communicate(timeout=60)
    if spy.returncode != 0 or not sampled.exists():
        _log(f"py-spy failed ({spy.returncode}): {stderr.decode()[-500:]}")
        return None
    summary = profile.summarise(sampled.read_text().splitlines(), top=PROFILE_TOP)
    return {
        "samples": summary.samples,
        "collapsed_stacks": str(sampled),
        "self": summary.self_share,
        "inclusive": summary.inclusive_share,
    }


def _by_operation(calls: Mapping[str, list[dict[str, Any]]]) -> Counter[str]:
    """Calls per source operation: ``"erp ItemCard:ReadMultiple"``, ``"pos POST /v2/..."``."""
    counter: Counter[str] = Counter()
    for source, found in calls.items():
        for call in found:
            if call["action"]:
                service = call["path"].rsplit("/", 1)[-1]
                counter[f"{source} {service}:{call['action'].rsplit(':', 1)[-1]}"] += 1
            else:
                counter[f"{source} {call['method']} {call['path']}"] += 1
    return counter


def _assemble(
    cells: list[dict[str, Any]],
    options: Options,
    layout: procfs.Layout,
    latencies: Mapping[str, cluster.Latency],
    host: Mapping[str, Any],
    started: float,
) -> dict[str, Any]:
    """Every cell with its floor (carried from concurrency 1 where not measured), its
    overhead and tail against the floor, and its ratios to the baseline's cell."""
    by_key = {(c["variant"], c["query"], c["concurrency"]): c for c in cells}
    lowest = min(options.concurrency)
    for cell in cells:
        if "floor_ms" not in cell:
            source = by_key.get((cell["variant"], cell["query"], lowest), {})
            cell["floor_ms"] = source.get("floor_ms")
            measured = source.get("floor_ms") is not None
            cell["floor_from"] = f"concurrency {lowest}" if measured else None
        floor = cell["floor_ms"]
        latency = cell["latency_ms"]
        cell["overhead_p50_ms"] = latency["p50"] - floor if floor is not None else None
        cell["p99_over_floor"] = latency["p99"] / floor if floor else None
    for cell in cells:
        baseline = by_key.get((BASELINE, cell["query"], cell["concurrency"]))
        if cell["variant"] != BASELINE and baseline:
            cell["vs_baseline"] = analysis.ratios(_comparable(cell), _comparable(baseline))
    return {
        "meta": {
            "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
            "wall_time_s": round(time.time() - started, 1),
            "size": options.size,
            "seed": options.seed,
            "quick": options.quick,
            "profiled": options.profile,
            "duration_s_per_cell": options.duration_s,
            "concurrency": list(options.concurrency),
            "gateway_workers": options.workers,
            "queries": list(options.queries),
            "variants": {v: VARIANTS[v] for v in options.variants},
            "common_settings": cluster.BENCH_SETTINGS,
            "baseline": BASELINE,
            "latency_ms": {s: asdict(v) for s, v in latencies.items()},
            "layout": layout.describe(),
            "load_average_at_start": host["load_average"],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "machine": host,
        },
        "cells": [_finite(c) for c in cells],
    }


_COMPARED = (
    "throughput_rps",
    "ok_rps",
    "latency_ms",
    "upstream_calls_per_request",
    "cpu_ms_per_request",
    "peak_rss_mb",
    "floor_ms",
    "overhead_p50_ms",
)


def _comparable(cell: Mapping[str, Any]) -> dict[str, Any]:
    return {k: cell[k] for k in _COMPARED if cell.get(k) is not None}


def _finite(value: Any) -> Any:
    """NaN as null, so the JSON is standard."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    packages = ("uvicorn", "strawberry-graphql", "graphql-core", "aiohttp", "zeep", "uvloop")
    return {
        "cpu": cpu,
        "cores_online": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_gb": round(int(memory) / 1024**2, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        # other work on the machine skews every figure: a load above ~0.5 before the
        # run starts means something else is running
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "packages": {p: _version(p) for p in packages},
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _one_line(cell: Mapping[str, Any]) -> str:
    latency = cell["latency_ms"]
    floor = f" floor {cell['floor_ms']:.1f}" if cell.get("floor_ms") is not None else ""
    return (
        f"[{cell['variant']}] {cell['query']} c={cell['concurrency']}: "
        f"{cell['requests']} req, {cell['throughput_rps']:.1f} req/s, "
        f"p50 {latency['p50']:.1f} p99 {latency['p99']:.1f} ms{floor}, "
        f"{cell['upstream_calls_per_request']['total']:.2f} calls/req, "
        f"{cell['errors']} errors"
    )


_STARTED = time.monotonic()


def _one_line_null(figures: Mapping[str, Any]) -> str:
    overhead = figures["overhead_p50_ms"]
    shown = f"{overhead:.1f} ms" if overhead is not None else "-"
    return (
        f"{figures['requests']} requests, {figures['errors']} errors, "
        f"{figures['calls_per_request']} calls each, p50 - floor {shown}"
    )


def _rounded(figures: Mapping[str, float]) -> dict[str, float]:
    return {name: round(value, 3) for name, value in figures.items()}


def _log(message: str) -> None:
    print(f"{time.monotonic() - _STARTED:6.1f}s {message}", file=sys.stderr, flush=True)
