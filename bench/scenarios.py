"""``python -m bench.scenarios``: six situations the main matrix does not show.

Hot key: 200 clients open the same product page at once, again and again. Upstream
calls should stay at about one per freshness window per distinct key set (the cache
and single flight), not one per client request; the uncached gateway beside it shows
what that saves.

Slow ERP: the ERP answers in 2 s. Queries that do not need the ERP (a customer's
profile and loyalty at the till, the nearest stores) must keep their normal latency,
and the ERP must never see more concurrent calls than the gateway's limit for it.

ERP down: the ERP answers every call with a SOAP fault. Customer360 and ProductListing,
cold, at 64 clients each in turn: the answers keep coming, with what the other systems
give and the ERP's error, and a failed request costs no more than a served one (its
CPU per request and the gateway's peak memory are shown).

ERP hangs: in the middle of Customer360 traffic at 64 clients, the ERP stops answering.
Only the requests whose ERP calls were under way then wait for the ERP's timeout; the
breaker opens on their failure, and the calls queued behind them are never sent, so
every later answer comes at once, with the ERP's error.

POS rate limiting: StockCheck at 64 clients while the POS answers every call 429 with
``Retry-After: 1``. The answers say so, and the POS is sent about one call a second for
each operation it is asked (the rate gate), not one per client per second, each
refused and counted against the quota.

Clients give up: Customer360, cold, at 32 clients waiting for their answers, alone and
beside 32 clients who each give up after 100 ms (an answer takes some 200) and ask
again. A request nobody waits for is stopped: it costs the systems only the calls sent
before its client left, so the waiting clients keep the ERP's capacity.

All run the gateway as deployed (uvicorn, its own process) in front of the four
simulated systems, with the load from this process, and write
``bench/results/scenarios.json`` and ``scenarios.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections import Counter
from pathlib import Path
from statistics import median
from typing import Any

from bench import cluster, procfs
from bench.cluster import LATENCY_MS
from bench.load import LoadResult, closed_loop, graphql_request
from bench.run import DEFAULT_RESULTS
from gateway.operations import reference_operations
from gateway.settings.model import Settings
from legacy.examples import examples

HOT_CLIENTS = 200
SLOW_ERP_MS = 2000.0
#: the ERP's settings by default (its limit of calls at once, its timeout)
ERP_DEFAULTS = Settings.model_fields["erp"].default
ERP_LIMIT = ERP_DEFAULTS.max_concurrency
DOWN_CLIENTS = 64
#: clients waiting for every answer, and beside them clients who give up after
#: GIVE_UP_S and ask again
WAITING, GIVING_UP, GIVE_UP_S = 32, 32, 0.1
PROFILE = """query Profile($card: String!) { customer(by: {loyaltyCard: $card}) {
  id name loyalty { tier points } consents { purpose granted } } }"""
NEAREST = """query Nearest { locations(near: {postalCode: "3511 AB"}, limit: 3, kind: STORE) {
  id name city } }"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _summary(result: LoadResult) -> dict[str, Any]:
    latencies = [s.latency_ms for s in result.samples]
    return {
        "requests": len(result.samples),
        "errors": sum(1 for s in result.samples if s.error),
        "req_per_s": round(len(result.samples) / result.elapsed_s, 1),
        "p50_ms": round(median(latencies), 1) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99), 1),
    }


def _calls(systems: dict[str, cluster.Process]) -> dict[str, list[dict[str, Any]]]:
    return {name: cluster.admin(p.url, "GET", "calls")["calls"] for name, p in systems.items()}


def _peak_concurrency(calls: list[dict[str, Any]]) -> int:
    """Most calls the system was serving at once, from when each arrived and how long
    its latency held it."""
    events = sorted(
        [(c["started"], 1) for c in calls]
        + [(c["started"] + c["delay_ms"] / 1000, -1) for c in calls]
    )
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def hot_key(systems: dict[str, cluster.Process], work: Path, duration_s: float) -> dict[str, Any]:
    listing = examples(42, "default")["ProductListing"]
    request = graphql_request("ProductListing", reference_operations()["ProductListing"], listing)
    found: dict[str, Any] = {}
    for variant, settings in (("mosaic", {}), ("mosaic-nocache", {"MOSAIC_CACHE": "false"})):
        with cluster.gateway(variant, systems, settings, 1, work, None) as gw:
            cluster.clear_calls(systems)
            result = asyncio.run(
                closed_loop(gw.url + "/graphql", [request], HOT_CLIENTS, duration_s, 10**7)
            )
            calls = _calls(systems)
        per_op = Counter(
            f"{name}:{c['action'].rsplit(':', 1)[-1] or c['path']}"
            for name, log in calls.items()
            for c in log
        )
        total = sum(per_op.values())
        found[variant] = {
            **_summary(result),
            "upstream_calls": total,
            "upstream_calls_per_request": round(total / max(len(result.samples), 1), 4),
            "calls_by_operation": dict(sorted(per_op.items())),
        }
    found["duration_s"] = duration_s
    found["clients"] = HOT_CLIENTS
    return found


def slow_erp(systems: dict[str, cluster.Process], work: Path, duration_s: float) -> dict[str, Any]:
    card = examples(42, "default")["Customer360"]["card"]
    listing = examples(42, "default")["ProductListing"]
    quick = [
        graphql_request("Profile", PROFILE, {"card": card}),
        graphql_request("Nearest", NEAREST, {}),
    ]
    erp_bound = [
        graphql_request("ProductListing", reference_operations()["ProductListing"], listing)
    ]
    found: dict[str, Any] = {}
    erp = systems["erp"].url
    with cluster.gateway("slow-erp", systems, {"MOSAIC_CACHE": "false"}, 1, work, None) as gw:
        for label, erp_ms in (("erp normal", LATENCY_MS["erp"]), ("erp at 2 s", SLOW_ERP_MS)):
            _set_latency(erp, erp_ms)
            cluster.clear_calls(systems)

            async def both() -> tuple[LoadResult, LoadResult]:
                return await asyncio.gather(
                    closed_loop(gw.url + "/graphql", quick, 16, duration_s, 10**7),
                    closed_loop(gw.url + "/graphql", erp_bound, 32, duration_s, 10**7),
                )

            fast, slow = asyncio.run(both())
            found[label] = {
                "queries without the ERP": _summary(fast),
                "ProductListing (needs the ERP)": _summary(slow),
                "erp_peak_concurrent_calls": _peak_concurrency(_calls(systems)["erp"]),
            }
        _set_latency(erp, LATENCY_MS["erp"])
    found["erp_limit"] = ERP_LIMIT
    return found


def erp_down(systems: dict[str, cluster.Process], work: Path, duration_s: float) -> dict[str, Any]:
    found: dict[str, Any] = {}
    erp = systems["erp"].url
    every = examples(42, "default")
    with cluster.gateway("erp-down", systems, {"MOSAIC_CACHE": "false"}, 1, work, None) as gw:
        cluster.set_knobs(erp, fault="soap_fault")
        try:
            for name in ("Customer360", "ProductListing"):
                request = graphql_request(name, reference_operations()[name], every[name])
                before = procfs.cpu_seconds(gw.pid)
                result = asyncio.run(
                    closed_loop(gw.url + "/graphql", [request], DOWN_CLIENTS, duration_s, 10**7)
                )
                cpu = procfs.cpu_seconds(gw.pid) - before
                found[name] = {
                    **_summary(result),
                    "cpu_ms_per_request": round(cpu * 1000 / max(len(result.samples), 1), 2),
                }
        finally:
            cluster.set_knobs(erp, fault="none")
        found["peak_rss_mb"] = round(procfs.peak_rss(gw.pid).peak_rss_mb_max, 1)
    found["clients"] = DOWN_CLIENTS
    return found


def erp_hangs(systems: dict[str, cluster.Process], work: Path, duration_s: float) -> dict[str, Any]:
    name = "Customer360"
    result, erp_calls = _warm_then_failing(systems, work, name, "erp", duration_s, fault="hang")
    latencies = [s.latency_ms for s in result.samples]
    return {
        name: _summary(result),
        "waited_over_1_s": sum(1 for ms in latencies if ms > 1000),
        "slowest_ms": round(max(latencies, default=0.0), 1),
        "erp_calls": len(erp_calls),
        "erp_timeout_s": ERP_DEFAULTS.timeout_s,
        "erp_limit": ERP_LIMIT,
        "clients": DOWN_CLIENTS,
    }


def pos_limited(
    systems: dict[str, cluster.Process], work: Path, duration_s: float
) -> dict[str, Any]:
    name = "StockCheck"
    result, pos_calls = _warm_then_failing(
        systems, work, name, "pos", duration_s, fault="rate_limit", retry_after_s=1
    )
    first = min(c["started"] for c in pos_calls)
    later = [c for c in pos_calls if c["started"] >= first + 1.0]
    return {
        name: _summary(result),
        "pos_calls": len(pos_calls),
        "pos_calls_first_s": len(pos_calls) - len(later),
        "pos_calls_per_s_after": round(len(later) / max(result.elapsed_s - 1.0, 1.0), 1),
        "retry_after_s": 1,
        "clients": DOWN_CLIENTS,
    }


def clients_give_up(
    systems: dict[str, cluster.Process], work: Path, duration_s: float
) -> dict[str, Any]:
    name = "Customer360"
    request = graphql_request(name, reference_operations()[name], examples(42, "default")[name])
    found: dict[str, Any] = {}
    with cluster.gateway("giving-up", systems, {"MOSAIC_CACHE": "false"}, 1, work, None) as gw:
        url = gw.url + "/graphql"
        asyncio.run(closed_loop(url, [request], 1, 60.0, 3))  # warm
        for label, impatient in (("alone", 0), ("beside clients who give up", GIVING_UP)):
            cluster.settle(systems)
            before = procfs.cpu_seconds(gw.pid)

            async def both(impatient: int = impatient) -> list[LoadResult]:
                loads = [closed_loop(url, [request], WAITING, duration_s, 10**7)]
                if impatient:
                    loads.append(
                        closed_loop(url, [request], impatient, duration_s, 10**7, GIVE_UP_S)
                    )
                return await asyncio.gather(*loads)

            waiting, *gave_up = asyncio.run(both())
            calls = cluster.quiet_calls(systems)  # what requests left behind still asked
            summary = _summary(waiting)
            answered = max(summary["requests"] - summary["errors"], 1)
            found[label] = {
                "waiting": summary,
                "given_up": len(gave_up[0].samples) if gave_up else 0,
                "cpu_ms_per_answer": round(
                    (procfs.cpu_seconds(gw.pid) - before) * 1000 / answered, 2
                ),
                "erp_calls_per_answer": round(len(calls["erp"]) / answered, 2),
            }
    found.update(waiting=WAITING, giving_up=GIVING_UP, give_up_ms=GIVE_UP_S * 1000)
    return found


def _warm_then_failing(
    systems: dict[str, cluster.Process],
    work: Path,
    name: str,
    source: str,
    duration_s: float,
    **knobs: Any,
) -> tuple[LoadResult, list[dict[str, Any]]]:
    """The reference query ``name`` at DOWN_CLIENTS clients, on a warm gateway of its own
    (WSDLs loaded, its breaker and rate gates closed), while ``source`` fails as
    ``knobs`` say: the load's result, and the calls the source was sent."""
    request = graphql_request(name, reference_operations()[name], examples(42, "default")[name])
    url = systems[source].url
    with cluster.gateway(
        f"{source}-failing", systems, {"MOSAIC_CACHE": "false"}, 1, work, None
    ) as gw:
        asyncio.run(closed_loop(gw.url + "/graphql", [request], 1, 60.0, 3))
        cluster.settle(systems)
        cluster.clear_calls(systems)
        cluster.set_knobs(url, **knobs)
        try:
            result = asyncio.run(
                closed_loop(gw.url + "/graphql", [request], DOWN_CLIENTS, duration_s, 10**7)
            )
        finally:
            cluster.set_knobs(url, fault="none")
        return result, _calls(systems)[source]


def _set_latency(url: str, latency_ms: float) -> None:
    cluster.set_knobs(url, latency_ms=latency_ms, jitter_ms=latency_ms * 0.1)


def _load_cells(summary: dict[str, Any]) -> str:
    """A load's requests, req/s, p50 and p99 (``_summary``'s) as four table cells."""
    keys = ("requests", "req_per_s", "p50_ms", "p99_ms")
    return " | ".join(str(summary[key]) for key in keys)


def _markdown(results: dict[str, Any]) -> str:
    hot, slow = results["hot_key"], results["slow_erp"]
    lines = [
        "# Scenarios",
        "",
        f"## Hot key: {hot['clients']} clients, the same ProductListing, {hot['duration_s']} s",
        "",
        "| variant | requests | req/s | p50 ms | p99 ms | upstream calls | calls/request |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for variant in ("mosaic", "mosaic-nocache"):
        r = hot[variant]
        lines.append(
            f"| {variant} | {_load_cells(r)} "
            f"| {r['upstream_calls']} | {r['upstream_calls_per_request']} |"
        )
    lines += [
        "",
        "Calls by operation (mosaic): "
        + ", ".join(f"{k} {v}" for k, v in hot["mosaic"]["calls_by_operation"].items()),
    ]
    lines += [
        "",
        f"## Slow ERP ({SLOW_ERP_MS:.0f} ms); the gateway's ERP limit is {slow['erp_limit']}",
        "",
        "| ERP | queries | requests | p50 ms | p99 ms | errors |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for label in ("erp normal", "erp at 2 s"):
        for kind, r in slow[label].items():
            if isinstance(r, dict):
                lines.append(
                    f"| {label} | {kind} | {r['requests']} | {r['p50_ms']} | {r['p99_ms']} "
                    f"| {r['errors']} |"
                )
        peak = slow[label]["erp_peak_concurrent_calls"]
        lines.append(f"| {label} | ERP peak concurrent calls | {peak} | | | |")
    down = results["erp_down"]
    lines += [
        "",
        f"## ERP down (a SOAP fault for every call), cold, {down['clients']} clients",
        "",
        "Every answer carries the ERP's error beside what the other systems gave.",
        "",
        "| query | requests | req/s | p50 ms | p99 ms | CPU ms/request |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name in ("Customer360", "ProductListing"):
        r = down[name]
        lines.append(f"| {name} | {_load_cells(r)} | {r['cpu_ms_per_request']} |")
    lines += ["", f"Gateway peak RSS over both: {down['peak_rss_mb']} MB."]
    hangs = results["erp_hangs"]
    r = hangs["Customer360"]
    lines += [
        "",
        f"## ERP hangs mid-traffic: Customer360, {hangs['clients']} clients, warm gateway",
        "",
        f"The ERP's timeout is {hangs['erp_timeout_s']:g} s and its limit "
        f"{hangs['erp_limit']} calls at once.",
        "",
        "| requests | req/s | p50 ms | p99 ms | slowest ms | waited over 1 s | ERP calls sent |",
        "|--:|--:|--:|--:|--:|--:|--:|",
        f"| {_load_cells(r)} "
        f"| {hangs['slowest_ms']} | {hangs['waited_over_1_s']} | {hangs['erp_calls']} |",
    ]
    limited = results["pos_limited"]
    r = limited["StockCheck"]
    lines += [
        "",
        f"## POS rate limiting: StockCheck, {limited['clients']} clients, warm gateway",
        "",
        f"The POS answers every call 429 with `Retry-After: {limited['retry_after_s']}`.",
        "",
        "| requests | req/s | p50 ms | p99 ms | POS calls sent | in the first second "
        "| a second after it |",
        "|--:|--:|--:|--:|--:|--:|--:|",
        f"| {_load_cells(r)} "
        f"| {limited['pos_calls']} | {limited['pos_calls_first_s']} "
        f"| {limited['pos_calls_per_s_after']} |",
    ]
    gave_up = results["clients_give_up"]
    lines += [
        "",
        f"## Clients give up: Customer360, cold, {gave_up['waiting']} clients waiting for "
        "their answers, warm gateway",
        "",
        f"Alone, then beside {gave_up['giving_up']} clients who each give up after "
        f"{gave_up['give_up_ms']:g} ms (an answer takes some 200) and ask again. CPU and "
        "ERP calls are per answer the waiting clients got, counting what the gateway did "
        "for requests whose clients had gone.",
        "",
        "| waiting clients | requests | req/s | p50 ms | p99 ms | requests given up "
        "| CPU ms/answer | ERP calls/answer |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for label in ("alone", "beside clients who give up"):
        r = gave_up[label]
        lines.append(
            f"| {label} | {_load_cells(r['waiting'])} | {r['given_up']} "
            f"| {r['cpu_ms_per_answer']} | {r['erp_calls_per_answer']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scenarios", description=__doc__)
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument("--output", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args()
    latencies = {n: cluster.Latency(ms, ms * 0.1) for n, ms in LATENCY_MS.items()}
    with tempfile.TemporaryDirectory(prefix="mosaic-scenarios-") as tmp:
        work = Path(tmp)
        with cluster.simulated_systems(latencies, "default", 42, work, None) as systems:
            results = {
                "hot_key": hot_key(systems, work, args.duration_s),
                "slow_erp": slow_erp(systems, work, args.duration_s),
                "erp_down": erp_down(systems, work, args.duration_s),
                "erp_hangs": erp_hangs(systems, work, args.duration_s),
                "pos_limited": pos_limited(systems, work, args.duration_s),
                "clients_give_up": clients_give_up(systems, work, args.duration_s),
            }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "scenarios.json").write_text(json.dumps(results, indent=2))
    (args.output / "scenarios.md").write_text(_markdown(results))
    print(_markdown(results))


if __name__ == "__main__":
    main()
