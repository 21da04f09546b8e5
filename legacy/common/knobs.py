"""The fault and latency knobs every simulated system has, and its log of calls.

Tests and benchmarks judge the gateway by what the legacy systems saw, not by what the
gateway says it did, so each simulated system counts the calls it answered and reports
the latency it gave each (the benchmark's critical-path floor is built from those, so
jitter does not blur it).

Latency is a system's service time, as a real system's is: an ERP with 80 ms latency
answers 80 ms after the request arrived, its own work (SQLite, building the reply)
done within that time rather than on top of it. A call whose work takes longer than
its latency answers when the work is done, and reports that time.

The knobs are set from the command line at start and changed at run time through
``/__admin/knobs``; ``/__admin/calls`` lists and clears the call log. With
``record_requests`` on, the log also keeps what each call sent (its headers and body):
the benchmark replays a query's exact calls from it (``bench/null_gateway.py``).
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
from dataclasses import asdict, dataclass, field, fields
from email.utils import formatdate
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: What a system does instead of answering normally:
#: ``none`` answers; ``hang`` never answers (until the client gives up); ``error500``
#: answers 500; ``garbage`` answers 200 with a body that is not valid JSON / XML;
#: ``html`` answers 502 with an HTML error page, as a proxy in front of it would;
#: ``rate_limit`` answers 429 (with ``Retry-After`` unless ``retry_after_s`` is None);
#: ``soap_fault`` (ERP) answers a SOAP
#: fault with status 500.
Fault = Literal["none", "hang", "error500", "garbage", "html", "rate_limit", "soap_fault"]


@dataclass(slots=True)
class Knobs:
    latency_ms: float = 0.0  # added to every answer
    jitter_ms: float = 0.0  # plus a uniform random 0..jitter_ms
    error_rate: float = 0.0  # share of calls answered 500 at random
    fault: Fault = "none"  # what every call gets instead of an answer
    retry_after_s: int | None = 1  # the Retry-After sent with fault=rate_limit (None: none)
    retry_after_as_date: bool = False  # ... as an HTTP-date that many seconds from now
    # The fault hits only calls whose "METHOD path SOAPAction" contains this text (a
    # saga's one step, say: "POST /v2/inventory/changes"); empty: every call.
    fault_only: str = ""
    # The call log keeps each request's headers and body (off: a benchmark's thousands
    # of calls would each carry theirs)
    record_requests: bool = False

    def update(self, changes: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown knobs: {sorted(unknown)}")
        for name, value in changes.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Call:
    """One request a simulated system received (admin requests are not counted)."""

    method: str
    path: str
    action: str  # the SOAPAction header for the ERP, else ""
    started: float  # time.time() when it arrived
    delay_ms: float  # how long it held the answer: the knobs' latency (with jitter) or
    # its work's time when longer, as measured when the answer left
    #: what it sent, with the knob ``record_requests`` on: ``headers`` as [name, value]
    #: pairs and ``body`` in base64
    request: dict[str, Any] | None = None


@dataclass(slots=True)
class CallLog:
    calls: list[Call] = field(default_factory=list)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in asdict(c).items() if k != "request" or v is not None}
            for c in self.calls
        ]


class SimulatedSystemMiddleware:
    """Applies the knobs to every non-admin request and records it in the call log.

    ``fault_response`` lets a system answer a fault in its own protocol (a SOAP fault,
    a HubSpot error object); the generic faults are answered here.
    """

    def __init__(self, app: ASGIApp, knobs: Knobs, log: CallLog, rng_seed: int = 0) -> None:
        self.app = app
        self.knobs = knobs
        self.log = log
        self.rng = random.Random(rng_seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__admin"):
            await self.app(scope, receive, send)
            return
        arrived, clock = time.time(), time.perf_counter()
        knobs = self.knobs
        latency = (
            knobs.latency_ms + self.rng.uniform(0, knobs.jitter_ms)
            if knobs.jitter_ms
            else knobs.latency_ms
        )
        headers = dict(scope["headers"])
        action = headers.get(b"soapaction", b"").decode().strip('"')
        body: list[bytes] | None = [] if knobs.record_requests else None
        if body is not None:
            receive = _recording(receive, body)

        def log(delay_ms: float) -> None:
            sent = None if body is None else _request(scope["headers"], body)
            call = Call(scope["method"], scope["path"], action, arrived, delay_ms, sent)
            self.log.calls.append(call)

        target = f"{scope['method']} {scope['path']} {action}"
        fault = knobs.fault if knobs.fault_only in target else "none"
        if fault == "hang":  # until the client gives up and hangs up
            log(latency)
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        if fault == "none" and knobs.error_rate and self.rng.random() < knobs.error_rate:
            fault = "error500"
        if fault in ("error500", "garbage", "html", "rate_limit"):
            await _pause(latency)
            log((time.perf_counter() - clock) * 1000)  # held as long as a good answer
            await _send_fault(send, fault, knobs)
            return
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)
        await _pause(latency - (time.perf_counter() - clock) * 1000)
        # what the answer was actually held for, its work and the timer's overshoot (up
        # to a millisecond with uvloop) included: the floor is built from this figure
        delay = (time.perf_counter() - clock) * 1000
        log(delay)
        for message in answer:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-simulated-delay-ms", f"{delay:.3f}".encode()),
                ]
            await send(message)


def _recording(receive: Receive, body: list[bytes]) -> Receive:
    """``receive`` keeping the request body's chunks in ``body`` as the system reads them."""

    async def recorded() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            body.append(message.get("body", b""))
        return message

    return recorded


def _request(headers: list[tuple[bytes, bytes]], body: list[bytes]) -> dict[str, Any]:
    """What a call sent, as the log keeps it (JSON: headers as text, body in base64)."""
    return {
        "headers": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in headers],
        "body": base64.b64encode(b"".join(body)).decode(),
    }


async def _pause(ms: float) -> None:
    if ms > 0:
        await asyncio.sleep(ms / 1000)


_FAULTS: dict[str, tuple[int, str, bytes]] = {
    "error500": (500, "application/json", b'{"status":"error","message":"Internal error"}'),
    "garbage": (200, "application/json", b'{"results": [{"id": "1", "properties": {tru\x00\xff'),
    "html": (502, "text/html", b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"),
    "rate_limit": (429, "application/json", b'{"status":"error","category":"RATE_LIMITS"}'),
}


async def _send_fault(send: Send, fault: str, knobs: Knobs) -> None:
    status, content_type, body = _FAULTS[fault]
    now = time.time()
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if fault == "rate_limit" and knobs.retry_after_s is not None:
        wait = knobs.retry_after_s
        value = formatdate(now + wait, usegmt=True) if knobs.retry_after_as_date else str(wait)
        headers.append((b"retry-after", value.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
