"""The null gateway: what a query's cold latency would be over its floor if the gateway
did no work at all, on this machine, in the same run.

The issue's target for Customer360 (p50 - floor <= 5 ms at concurrency 1) counts
everything the machine adds besides the systems' own latency: loopback round trips,
waking idle processes, HTTP on both sides. The bench estimates that share from an idle
round trip per round and the smallest request; this measures it whole. The null
gateway is an ASGI app that, for every request, sends exactly the upstream calls a cold
Mosaic sent for that query (their method, path, headers and body, as the simulated
systems recorded them with the knob ``record_requests``), each as soon as the calls it
waited for in Mosaic's own timeline have answered, reads the replies without looking
at them, and answers with the body Mosaic answered. No parsing, planning, mapping or
resolving: no gateway that makes those calls can be faster, so its overhead over the
same floor is the machine's, and Mosaic's overhead less it is Mosaic's own work.

It runs under uvicorn with httptools and uvloop, as ``mosaic serve`` does, pinned to
the gateway's cores: ``python -m bench.null_gateway --spec FILE --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from starlette.types import Message, Receive, Scope, Send

from bench import cluster
from bench.analysis import Call, call_end, floor_figures, percentile
from bench.load import Request, closed_loop

#: request headers the replay leaves to its own HTTP client (they describe the
#: connection or the body's framing, not the call)
CONNECTION_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True, slots=True)
class Replayed:
    """One upstream call to send again, and the calls (by index) it waits for."""

    source: str
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    after: tuple[int, ...]


def replay_plan(calls: Mapping[str, Sequence[Call]], urls: Mapping[str, str]) -> list[Replayed]:
    """``calls`` per source (recorded with their ``request``) as a plan in the order
    they started: each waits for every call whose latency ran out before it started
    (those it may have needed; it cannot have needed a later one), as the bench's
    critical-path floor assumes (:func:`bench.analysis.critical_path_floor_ms`)."""
    merged = sorted(
        ((source, call) for source, found in calls.items() for call in found),
        key=lambda pair: float(pair[1]["started"]),
    )
    plan: list[Replayed] = []
    for index, (source, call) in enumerate(merged):
        sent = call["request"]
        plan.append(
            Replayed(
                source=source,
                method=call["method"],
                url=urls[source] + call["path"],
                headers=tuple(
                    (name, value)
                    for name, value in sent["headers"]
                    if name.lower() not in CONNECTION_HEADERS
                ),
                body=base64.b64decode(sent["body"]),
                after=tuple(
                    j
                    for j, (_, earlier) in enumerate(merged[:index])
                    if call_end(earlier) <= float(call["started"])
                ),
            )
        )
    return plan


class NullGateway:
    """The ASGI app: every POST replays the plan and answers ``answer``; anything else
    answers 200 empty (the readiness check)."""

    def __init__(self, plan: Sequence[Replayed], answer: bytes) -> None:
        self.plan = plan
        self.answer = answer
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        message: Message = {"more_body": True}
        while message.get("more_body"):
            message = await receive()
        body = b""
        if scope["method"] == "POST":
            await self._replay()
            body = self.answer
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.session = aiohttp.ClientSession()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _replay(self) -> None:
        sent: list[asyncio.Task[None]] = []
        for step in self.plan:
            sent.append(asyncio.ensure_future(self._send(step, [sent[j] for j in step.after])))
        await asyncio.gather(*sent)

    async def _send(self, step: Replayed, after: Sequence[asyncio.Task[None]]) -> None:
        if after:
            await asyncio.gather(*after)
        assert self.session is not None, "the app's lifespan opens the session"
        async with self.session.request(
            step.method, step.url, headers=list(step.headers), data=step.body
        ) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"{step.source} answered {step.url} with {response.status}")


def record(
    gateway_url: str, request: Request, systems: Mapping[str, cluster.Process]
) -> tuple[bytes, dict[str, list[dict[str, Any]]]]:
    """One ``request`` to a gateway with every system recording what it is sent: the
    gateway's answer, and its calls with their requests."""
    cluster.settle(systems)
    for system in systems.values():
        cluster.set_knobs(system.url, record_requests=True)
    try:
        sent = urllib.request.Request(
            gateway_url + "/graphql",
            data=request.body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(sent, timeout=60) as response:
            answer: bytes = response.read()
        calls = cluster.quiet_calls(systems)
    finally:
        for system in systems.values():
            cluster.set_knobs(system.url, record_requests=False)
    cluster.clear_calls(systems)
    return answer, calls


@contextmanager
def running(
    systems: Mapping[str, cluster.Process],
    calls: Mapping[str, Sequence[Call]],
    answer: bytes,
    work_dir: Path,
    cores: frozenset[int] | None,
) -> Iterator[cluster.Process]:
    """The null gateway replaying ``calls`` (as :func:`record` gives them) to ``systems``
    and answering ``answer``, until the block ends."""
    spec = work_dir / "null-gateway.json"
    urls = {name: system.url for name, system in systems.items()}
    spec.write_text(json.dumps({"urls": urls, "calls": calls, "answer": answer.decode()}))
    port = cluster.free_port()
    argv = [sys.executable, "-m", "bench.null_gateway", "--spec", str(spec), "--port", str(port)]
    process = cluster.start("null-gateway", argv, port, work_dir, cores=cores)
    try:
        cluster.wait_for(process, "/", timeout_s=60)
        yield process
    finally:
        cluster.stop(process)


def measure(
    gateway: cluster.Process,
    request: Request,
    systems: Mapping[str, cluster.Process],
    excess: Mapping[str, float],
    duration_s: float,
    work_dir: Path,
    cores: frozenset[int] | None,
) -> dict[str, Any]:
    """The null gateway's figures for ``request`` at concurrency 1, replaying the calls
    ``gateway`` makes for it: requests, calls per request, floor and overhead as the
    bench computes Mosaic's (:func:`bench.analysis.floor_figures`)."""
    answer, calls = record(gateway.url, request, systems)
    with running(systems, calls, answer, work_dir, cores) as null:
        asyncio.run(closed_loop(null.url, [request], 1, 1.0, 10**9))  # its connections
        cluster.settle(systems)
        result = asyncio.run(closed_loop(null.url, [request], 1, duration_s, 10**9))
        seen = cluster.quiet_calls(systems)
    count = len(result.samples)
    figures = floor_figures(result.samples, seen, excess)
    p50 = percentile([s.latency_ms for s in result.samples], 50)
    floor = figures.get("floor_ms")
    return {
        "requests": count,
        "errors": sum(1 for s in result.samples if s.error),
        "calls_replayed": sum(map(len, calls.values())),
        "calls_per_request": sum(map(len, seen.values())) / count if count else None,
        "latency_p50_ms": p50,
        "floor_ms": floor,
        "overhead_p50_ms": p50 - floor if floor is not None else None,
        "time_split_ms": figures.get("time_split_ms"),
    }


def _app(spec: Path) -> NullGateway:
    loaded = json.loads(spec.read_text())
    plan = replay_plan(loaded["calls"], loaded["urls"])
    return NullGateway(plan, loaded["answer"].encode())


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.null_gateway", description=__doc__)
    parser.add_argument("--spec", type=Path, required=True, help="urls, calls and answer (JSON)")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args(argv)
    uvicorn.run(
        _app(options.spec),
        host="127.0.0.1",
        port=options.port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
