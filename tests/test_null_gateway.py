"""The null gateway (bench/null_gateway.py): it replays exactly the calls a cold Mosaic
made for a query, each only after the calls it waited for, and answers what Mosaic
answered; so its overhead over the floor is the machine's, measured."""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench import cluster, null_gateway
from bench.analysis import critical_path_floor_ms
from bench.load import closed_loop
from bench.run import workloads

#: every system's latency in the replay test: long beside its work, so delays are even
LATENCY_MS = 20.0


def _call(path: str, started_ms: float, delay_ms: float, body: bytes = b"{}") -> dict[str, Any]:
    return {
        "method": "POST",
        "path": path,
        "action": "",
        "started": 1000 + started_ms / 1000,
        "delay_ms": delay_ms,
        "request": {
            "headers": [["host", "127.0.0.1:1"], ["content-length", "2"], ["x-key", "k"]],
            "body": base64.b64encode(body).decode(),
        },
    }


def test_a_replayed_call_waits_for_every_call_that_had_answered_when_it_started() -> None:
    """Customer360's shape: the CRM and Square at once; the ERP after the CRM (Square's
    second call after its first); the ERP's second round after all of them."""
    calls = {
        "crm": [_call("/contacts", 0, 25)],
        "pos": [_call("/customers", 1, 20), _call("/loyalty", 22, 20)],
        "erp": [_call("/Customer", 27, 80), _call("/ItemCard", 110, 80)],
    }
    urls = {"crm": "http://crm", "pos": "http://pos", "erp": "http://erp"}
    plan = null_gateway.replay_plan(calls, urls)
    assert [(step.url, step.after) for step in plan] == [
        ("http://crm/contacts", ()),
        ("http://pos/customers", ()),
        ("http://pos/loyalty", (1,)),  # Square's first had answered; the CRM had not
        ("http://erp/Customer", (0, 1)),
        ("http://erp/ItemCard", (0, 1, 2, 3)),
    ]


def test_a_replayed_call_sends_the_recorded_body_and_headers_but_the_connections() -> None:
    [step] = null_gateway.replay_plan({"wms": [_call("/stock", 0, 5, b'{"a":1}')]}, {"wms": ""})
    assert step.body == b'{"a":1}'
    assert step.headers == (("x-key", "k"),)  # host and length are the client's own


@pytest.mark.bench
def test_the_null_gateway_replays_mosaics_calls_in_its_order_and_answers_its_answer(
    tmp_path: Path,
) -> None:
    latencies = {s: cluster.Latency(LATENCY_MS, 0.0) for s in cluster.LATENCY_MS}
    request = workloads("small", 42)["Customer360"][0]
    with (
        cluster.simulated_systems(latencies, "small", 42, tmp_path, None) as systems,
        cluster.gateway("cold", systems, {"MOSAIC_CACHE": "false"}, 1, tmp_path, None) as gateway,
    ):
        null_gateway.record(gateway.url, request, systems)  # warm: WSDLs, connections
        answer, recorded = null_gateway.record(gateway.url, request, systems)
        assert json.loads(answer)["data"]["customer"]["orders"]
        with null_gateway.running(systems, recorded, answer, tmp_path, None) as null:
            result = asyncio.run(closed_loop(null.url, [request], 1, 60.0, 1))
            replayed = cluster.quiet_calls(systems)
    [sample] = result.samples
    assert sample.error is None

    def operations(calls: dict[str, list[dict[str, Any]]]) -> Counter[tuple[str, str, str]]:
        return Counter((s, c["path"], c["action"]) for s, found in calls.items() for c in found)

    assert operations(replayed) == operations(recorded)
    assert sum(map(len, recorded.values())) >= 6  # the CRM, Square and two ERP rounds
    # each call waited as long as Mosaic's did: a replay that sent a call before what it
    # needed had answered would shorten the chain by a whole latency (20 ms)
    assert critical_path_floor_ms(merged(replayed)) == pytest.approx(
        critical_path_floor_ms(merged(recorded)), abs=LATENCY_MS / 2
    )
    assert critical_path_floor_ms(merged(recorded)) >= 3 * LATENCY_MS  # CRM, ERP, ERP


def merged(calls: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [c for found in calls.values() for c in found]
