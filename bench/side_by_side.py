"""``python -m bench --peer hive``: Mosaic and the peer (GraphQL Mesh + Hive Gateway) over
the same simulated systems, one after the other in one run, with the same load generator
(wrk), pinning, concurrency and durations.

1. The four systems start as for every run (realistic latency and jitter); the peer's
   supergraph is composed over them from contracts/.
2. **Equivalence**: each gateway, cold, answers each compared query once; the answers are
   compared in their normal form (:mod:`bench.equivalence`). Any difference stops the run
   before anything is measured, with the differences spelled out.
3. **Cold**, then **cached**: in each, Mosaic then the peer, each its own process pinned
   to the gateway's core (the systems and wrk on the other), warmed up, then every compared
   query at every concurrency. Cold: ``MOSAIC_CACHE=false``; the peer without its response
   cache. Cached: Mosaic's defaults (cache by freshness, response cache); the peer with its
   response cache, kept by the same freshness.
4. Per gateway and query, a few requests one at a time, and before each concurrency's
   load a burst of a few requests per client at that concurrency, every one answered,
   give the exact upstream calls per request per source (the systems' logs). wrk cannot:
   it stops waiting for the C requests in flight, and a gateway may never read some of
   them. The gateway's CPU under wrk's load is counted over every request started
   (answered, and the C still in flight when wrk stopped).
5. **One at a time**, before the cold load: each gateway cold, each query sent one
   request after another by the bench's own client (which records when each was sent
   and answered), so each upstream call belongs to one request: each request's latency
   against its own critical-path floor from the systems' logs, as the main bench's
   concurrency-1 cells measure Customer360's overhead (a query the peer cannot
   express). The machine's share is measured beside it: the idle round trips to each
   system, and the smallest request to each gateway.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from bench import analysis, cluster, equivalence, peer, procfs, report_peer, wrk
from bench.load import (
    Request,
    closed_loop,
    round_trip_excess_ms,
    smallest_request_ms,
)
from legacy.examples import examples
from legacy.world import SIZES, SizeName

COMPARED_DIR = Path(__file__).resolve().parent / "compared"
#: each compared query and the reference operation whose variables it takes
COMPARED = {"PeerStockCheck": "StockCheck", "PeerProductListing": "ProductListing"}
MOSAIC, PEER = "mosaic", peer.NAME
#: The peer bounds no system's calls in flight. Mosaic's ERP bound (16 by default, to
#: spare an on-premises NAV) would hold a cold PeerProductListing, three ERP calls of
#: some 85 ms each, under 16 / 3 / 0.085 s = 63 answers/s however fast the gateway; so
#: in this comparison it is the load's concurrency, 64 (Business Central online admits
#: 100 simultaneous requests).
SAME_BOUNDS = {"MOSAIC_ERP_MAX_CONCURRENCY": "64"}
#: Mosaic's settings per mode; the peer's response cache is on in the cached mode only
MOSAIC_SETTINGS = {
    "cold": {"MOSAIC_CACHE": "false", **SAME_BOUNDS},
    "cached": dict(SAME_BOUNDS),
}
MODES = tuple(MOSAIC_SETTINGS)
#: requests each client sends to count upstream calls per request exactly (one client:
#: one request after another; C clients: C times as many, all in flight together)
PROBES = 3
WARMUP_CONCURRENCY = 8
#: what each round keeps beside the medians
ROUND_FIGURES = ("ok_rps", "cpu_ms_per_request", "gateway_cpu_share")
#: cold requests one at a time, per gateway, query and round; warm-up requests before
ALONE_REQUESTS = 30
ALONE_WARMUP = 5
#: a bound on one gateway's requests one at a time (a peer answering in seconds)
ALONE_MAX_S = 60.0


@dataclass(frozen=True, slots=True)
class Plan:
    size: SizeName
    seed: int
    duration_s: float
    warmup_s: float
    concurrency: tuple[int, ...]
    rounds: int
    output: Path


def compared_bodies(size: SizeName, seed: int, folder: Path) -> dict[str, Path]:
    """Each compared query's request body, written to ``folder`` for wrk to send."""
    variables = examples(seed, size)
    bodies: dict[str, Path] = {}
    for name, reference in COMPARED.items():
        document = (COMPARED_DIR / f"{name}.graphql").read_text()
        body = {
            "query": document,
            "operationName": name,
            "variables": {"skus": variables[reference]["skus"]},
        }
        bodies[name] = folder / f"{name}.json"
        bodies[name].write_text(json.dumps(body))
    return bodies


def _post(url: str, body: Path) -> Any:
    request = urllib.request.Request(
        url, body.read_bytes(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _gateway(
    name: str,
    mode: str,
    size: SizeName,
    systems: Mapping[str, cluster.Process],
    work: Path,
    cores: frozenset[int] | None,
) -> AbstractContextManager[cluster.Process]:
    if name == MOSAIC:
        settings = MOSAIC_SETTINGS[mode]
        return cluster.gateway(f"{MOSAIC}-{mode}", systems, settings, 1, work, cores)
    stores = SIZES[size].stores
    return peer.gateway(f"{PEER}-{mode}", mode == "cached", stores, work, cores)


def check_equivalence(
    size: SizeName,
    systems: Mapping[str, cluster.Process],
    bodies: Mapping[str, Path],
    work: Path,
    cores: frozenset[int] | None,
) -> list[equivalence.Verdict]:
    answers: dict[str, dict[str, Any]] = {name: {} for name in bodies}
    for gateway_name in (MOSAIC, PEER):
        with _gateway(gateway_name, "cold", size, systems, work, cores) as gateway:
            for name, body in bodies.items():
                answers[name][gateway_name] = _post(gateway.url + "/graphql", body)
    return [equivalence.compare(name, answers[name]) for name in bodies]


def _per_source(calls: Mapping[str, list[dict[str, Any]]], requests: int) -> dict[str, float]:
    counts = {source: len(found) for source, found in calls.items()}
    counts["total"] = sum(counts.values())
    return {s: n / requests if requests else float("nan") for s, n in counts.items()}


def _by_operation(calls: Mapping[str, list[dict[str, Any]]], requests: int) -> dict[str, float]:
    counter: Counter[str] = Counter()
    for source, found in calls.items():
        for call in found:
            action = call.get("action") or ""
            operation = action.rsplit(":", 1)[-1] if action else call["method"]
            counter[f"{source} {operation} {call['path']}"] += 1
    return {op: n / requests for op, n in sorted(counter.items())} if requests else {}


def quiesce(
    gateway: cluster.Process,
    systems: Mapping[str, cluster.Process],
    window_s: float = 0.5,
    timeout_s: float = 120,
) -> None:
    """Wait until the gateway is idle (it used under 2 % of a core over ``window_s``),
    then clear the systems' logs once they are quiet: requests a load left behind (wrk
    stops waiting for the C in flight; a gateway with a queue still serves them for
    seconds, with pauses between their upstream calls) must not count in the next
    figures."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = procfs.cpu_seconds(gateway.pid)
        time.sleep(window_s)
        if procfs.cpu_seconds(gateway.pid) - before < 0.02 * window_s:
            break
    cluster.settle(systems)


def probe_calls(
    gateway: cluster.Process,
    body: Path,
    systems: Mapping[str, cluster.Process],
    concurrency: int = 1,
) -> dict[str, Any]:
    """Exact upstream calls per request at ``concurrency``: ``PROBES`` requests per
    client, the systems' logs read once every one is answered, so no call belongs to a
    request left unanswered (a gateway that merged the calls of requests in flight
    together would show it here)."""
    quiesce(gateway, systems)
    request = Request(name=body.stem, body=body.read_bytes())
    asked = PROBES * concurrency
    result = asyncio.run(
        closed_loop(gateway.url + "/graphql", [request], concurrency, ALONE_MAX_S, asked)
    )
    calls = cluster.quiet_calls(systems)
    answered = len(result.samples)
    return {
        "requests": answered,
        "concurrency": concurrency,
        "errors": sum(s.error is not None for s in result.samples),
        "per_source": _per_source(calls, answered),
        "per_operation": _by_operation(calls, answered),
    }


def _systems_cpu(systems: Mapping[str, cluster.Process]) -> float:
    return sum(procfs.cpu_seconds(process.pid) for process in systems.values())


def measure(
    gateway_name: str,
    mode: str,
    query: str,
    concurrency: int,
    gateway: cluster.Process,
    body: Path,
    systems: Mapping[str, cluster.Process],
    duration_s: float,
) -> dict[str, Any]:
    quiesce(gateway, systems)
    cpu_before = procfs.cpu_seconds(gateway.pid)
    systems_before = _systems_cpu(systems)
    result = wrk.run(gateway.url + "/graphql", body, concurrency, duration_s)
    cluster.quiet_calls(systems)  # the requests wrk left in flight served, their CPU counted
    cpu = procfs.cpu_seconds(gateway.pid) - cpu_before
    systems_cpu = _systems_cpu(systems) - systems_before
    # a closed loop always has C requests out: those wrk stopped waiting for were served
    started = result.requests + concurrency
    errors = result.failed + result.socket_errors
    return {
        "gateway": gateway_name,
        "mode": mode,
        "query": query,
        "concurrency": concurrency,
        "requests": result.requests,
        "requests_started": started,
        "errors": errors,
        "error_sample": result.sample or None,
        "elapsed_s": round(result.duration_s, 3),
        "throughput_rps": result.requests / result.duration_s,
        "ok_rps": (result.requests - result.failed) / result.duration_s,
        "latency_ms": result.latency_ms,
        "cpu_ms_per_request": cpu * 1000 / started,
        # each core's use: a gateway under a core's worth is short of work or of its core
        # (other processes on the machine); systems near one limit the rate themselves
        "gateway_cpu_share": cpu / result.duration_s,
        "systems_cpu_share": systems_cpu / result.duration_s,
        "peak_rss_mb": procfs.peak_rss(gateway.pid).peak_rss_mb_max,
    }


@contextmanager
def _both(
    mode: str,
    plan: Plan,
    systems: Mapping[str, cluster.Process],
    work: Path,
    layout: procfs.Layout,
) -> Iterator[dict[str, cluster.Process]]:
    """Mosaic and the peer in ``mode``, both up at once on the gateway's core (the one
    not being measured sits idle)."""
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(
                _gateway(name, mode, plan.size, systems, work, layout.gateway)
            )
            for name in (MOSAIC, PEER)
        }


def _in_turn(gateways: Mapping[str, cluster.Process], index: int) -> list[str]:
    """The gateways in round ``index``'s order: who goes first alternates, so the
    machine's other work falls on both alike."""
    return list(gateways)[:: 1 if index % 2 == 0 else -1]


def alone(
    gateway: cluster.Process,
    query: str,
    body: Path,
    systems: Mapping[str, cluster.Process],
    excess_ms: Mapping[str, float],
) -> dict[str, Any]:
    """``ALONE_REQUESTS`` cold requests one at a time: each one's latency against its own
    critical-path floor (:func:`bench.analysis.floor_figures`)."""
    url = gateway.url + "/graphql"
    request = Request(name=query, body=body.read_bytes())
    asyncio.run(closed_loop(url, [request], 1, ALONE_MAX_S, ALONE_WARMUP))
    quiesce(gateway, systems)
    result = asyncio.run(closed_loop(url, [request], 1, ALONE_MAX_S, ALONE_REQUESTS))
    calls = cluster.quiet_calls(systems)
    latencies = [s.latency_ms for s in result.samples]
    figures = analysis.floor_figures(result.samples, calls, excess_ms)
    p50 = analysis.percentile(latencies, 50)
    floor = figures["floor_ms"]
    return {
        "requests": len(result.samples),
        "errors": sum(s.error is not None for s in result.samples),
        "p50_ms": p50,
        "overhead_p50_ms": p50 - floor if floor is not None else None,
        **figures,
    }


def _run_alone(
    systems: Mapping[str, cluster.Process],
    bodies: Mapping[str, Path],
    plan: Plan,
    work: Path,
    layout: procfs.Layout,
) -> list[dict[str, Any]]:
    """Step 5 of the module's run: both gateways cold, up at once, each query one request
    at a time, ``plan.rounds`` rounds of each gateway in turn, who goes first
    alternating; every figure the median of its rounds."""
    excess = {
        name: asyncio.run(round_trip_excess_ms(system.url)) for name, system in systems.items()
    }
    with _both("cold", plan, systems, work, layout) as gateways:
        smallest = {
            name: asyncio.run(smallest_request_ms(g.url + "/graphql"))
            for name, g in gateways.items()
        }
        found: list[dict[str, Any]] = []
        for query, body in bodies.items():
            rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in gateways}
            for index in range(plan.rounds):
                for name in _in_turn(gateways, index):
                    measured = alone(gateways[name], query, body, systems, excess)
                    _log(
                        f"round {index + 1}: [{name} one at a time] {query}: p50 "
                        f"{measured['p50_ms']:.1f} ms, floor {measured['floor_ms']} ms"
                    )
                    rounds[name].append(measured)
            for name, measured_rounds in rounds.items():
                cell = median_cell([_present(r) for r in measured_rounds])
                found.append(
                    {
                        "gateway": name,
                        "query": query,
                        **cell,
                        "round_trip_excess_ms": excess,
                        "smallest_request_ms": smallest[name],
                    }
                )
    return found


def _present(measured: Mapping[str, Any]) -> dict[str, Any]:
    """A round's figures that have a value: where no request called out there is no
    floor, overhead or time split (None), which :func:`median_cell` cannot take a
    median of."""
    return {k: v for k, v in measured.items() if v is not None}


def median_cell(rounds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One cell from a gateway's rounds of the same measurement: every figure the median
    of its rounds (nested figures too); what is not a figure from the first round."""
    first = rounds[0]
    cell: dict[str, Any] = {}
    for key, value in first.items():
        values = [r[key] for r in rounds if key in r]
        if isinstance(value, Mapping):
            cell[key] = median_cell(values)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            cell[key] = median(v for v in values if v is not None)
        else:
            cell[key] = value
    return cell


def _run_mode(
    mode: str,
    systems: Mapping[str, cluster.Process],
    bodies: Mapping[str, Path],
    plan: Plan,
    work: Path,
    layout: procfs.Layout,
) -> list[dict[str, Any]]:
    """Both gateways up at once on the gateway's core (the one not measured is idle),
    warmed up, then for each query and concurrency ``plan.rounds`` rounds, each gateway
    once per round, who goes first alternating: the machine's other work, which pinning
    does not keep off that core, falls on both alike."""
    with _both(mode, plan, systems, work, layout) as gateways:
        smallest: dict[str, float] = {}
        for name, gateway in gateways.items():
            url = gateway.url + "/graphql"
            for body in bodies.values():  # code paths, connections; in `cached` the caches
                wrk.run(url, body, WARMUP_CONCURRENCY, plan.warmup_s)
            smallest[name] = asyncio.run(smallest_request_ms(url))
        cells: list[dict[str, Any]] = []
        for query, body in bodies.items():
            probes = {name: probe_calls(g, body, systems) for name, g in gateways.items()}
            for concurrency in plan.concurrency:
                loaded = {
                    name: probe_calls(g, body, systems, concurrency) for name, g in gateways.items()
                }
                rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in gateways}
                for index in range(plan.rounds):
                    for name in _in_turn(gateways, index):
                        measured = measure(
                            name, mode, query, concurrency, gateways[name], body, systems,
                            plan.duration_s,
                        )  # fmt: skip
                        _log(f"round {index + 1}: {_one_line(measured)}")
                        rounds[name].append(measured)
                for name, measured_rounds in rounds.items():
                    cell = median_cell(measured_rounds)
                    cell["rounds"] = [{k: r[k] for k in ROUND_FIGURES} for r in measured_rounds]
                    cell["calls_one_at_a_time"] = probes[name]
                    cell["calls_under_load"] = loaded[name]
                    cell["upstream_calls_per_request"] = loaded[name]["per_source"]
                    cell["smallest_request_ms"] = smallest[name]
                    cells.append(cell)
    return cells


def run(plan: Plan, machine: Mapping[str, Any]) -> int:
    peer.install()
    wrk.ensure()
    layout = procfs.plan_layout()
    procfs.pin(layout.others)  # wrk and the systems inherit it
    latencies = cluster.bench_latencies()
    started = time.time()
    plan.output.mkdir(parents=True, exist_ok=True)
    _log(f"side by side: {MOSAIC} and {PEER}, {', '.join(MODES)}; {layout.describe()}")
    with tempfile.TemporaryDirectory(prefix="mosaic-bench-peer-") as tmp:
        work = Path(tmp)
        bodies = compared_bodies(plan.size, plan.seed, work)
        with cluster.simulated_systems(
            latencies, plan.size, plan.seed, work, layout.others
        ) as systems:
            peer.compose(systems, work)
            verdicts = check_equivalence(plan.size, systems, bodies, work, layout.gateway)
            checked = [v.as_json() for v in verdicts]
            (plan.output / "equivalence.json").write_text(json.dumps(checked, indent=2) + "\n")
            for verdict in verdicts:
                _log(f"equivalence of {verdict.query}: {'same' if verdict.same else 'DIFFERENT'}")
            if not all(v.same for v in verdicts):
                for verdict in verdicts:
                    for difference in verdict.differences:
                        _log(f"  {verdict.query}: {difference}")
                _log("the gateways do not give the same data: nothing measured")
                return 1
            one_at_a_time = _run_alone(systems, bodies, plan, work, layout)
            cells = [
                cell
                for mode in MODES
                for cell in _run_mode(mode, systems, bodies, plan, work, layout)
            ]
    results = {
        "meta": {
            "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
            "wall_time_s": round(time.time() - started, 1),
            "size": plan.size,
            "seed": plan.seed,
            "duration_s_per_cell": plan.duration_s,
            "rounds": plan.rounds,
            "warmup_s": plan.warmup_s,
            "concurrency": list(plan.concurrency),
            "queries": {name: (COMPARED_DIR / f"{name}.graphql").read_text() for name in bodies},
            "gateways": [MOSAIC, PEER],
            "modes": {
                "cold": {MOSAIC: MOSAIC_SETTINGS["cold"], PEER: "response cache off"},
                "cached": {
                    MOSAIC: " ".join(f"{k}={v}" for k, v in MOSAIC_SETTINGS["cached"].items())
                    + ", otherwise the defaults (cache by freshness, response cache)",
                    PEER: f"response cache, TTL ms by type {peer.RESPONSE_CACHE_TTL_MS}",
                },
            },
            "peer": _peer_versions(),
            "load_generator": "wrk, 1 thread, C keep-alive connections, closed loop",
            "latency_ms": {s: asdict(v) for s, v in latencies.items()},
            "layout": layout.describe(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "machine": dict(machine),
        },
        "equivalence": checked,
        "one_at_a_time": one_at_a_time,
        "cells": cells,
    }
    (plan.output / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = report_peer.markdown(results)
    (plan.output / "results.md").write_text(markdown)
    report_peer.chart(results, plan.output / "chart.png")
    print(markdown)
    _log(f"done in {time.time() - started:.0f} s; results in {plan.output}")
    return 0


def _peer_versions() -> dict[str, str]:
    """The pinned versions of the peer's packages, from its package.json."""
    manifest = json.loads((peer.PEER_DIR / "package.json").read_text())
    return dict(manifest["dependencies"])


def _one_line(cell: Mapping[str, Any]) -> str:
    latency = cell["latency_ms"]
    return (
        f"[{cell['gateway']} {cell['mode']}] {cell['query']} c={cell['concurrency']}: "
        f"{cell['requests']} req, {cell['throughput_rps']:.1f} req/s, p50 {latency['p50']:.1f} "
        f"p99 {latency['p99']:.1f} ms, {cell['cpu_ms_per_request']:.2f} CPU ms/req, "
        f"{cell['errors']} errors"
    )


_STARTED = time.monotonic()


def _log(message: str) -> None:
    print(f"{time.monotonic() - _STARTED:6.1f}s {message}", file=sys.stderr, flush=True)


def main(plan: Plan, machine: Mapping[str, Any]) -> int:
    try:
        return run(plan, machine)
    except (peer.PeerUnavailable, wrk.WrkUnavailable) as exc:
        _log(f"the side-by-side run cannot start: {exc}")
        return 2
