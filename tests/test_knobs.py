"""A simulated system's latency is its service time, as a real system's is: its own
work is done within it, and each call's log entry says what the call took: how long
the system actually held the answer, the latency asked for, to the timer's millisecond."""

from __future__ import annotations

import base64
import json
import time
import urllib.request

import pytest

from tests.conftest import WMS_TOKEN
from tests.simulators import calls, set_knobs


def stock_query(url: str) -> tuple[float, float]:
    """One stock query: the seconds it took here, and the delay the system declared."""
    request = urllib.request.Request(
        url + "/api/v1/stock/query",
        data=json.dumps({"skus": ["10000", "10001"]}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {WMS_TOKEN}"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        declared = float(response.headers["x-simulated-delay-ms"])
    return time.perf_counter() - started, declared


def test_a_call_takes_the_systems_latency_with_its_work_inside_it(wms: str) -> None:
    set_knobs(wms, latency_ms=150.0)
    took_s, declared_ms = stock_query(wms)
    # held that long (uvloop's timers tick in whole milliseconds), and no longer than seen
    assert 149.0 <= declared_ms <= took_s * 1000
    assert declared_ms < 150.0 + 25.0  # the work (a few ms) was within it, not on top
    [call] = calls(wms)
    assert call["delay_ms"] == pytest.approx(declared_ms, abs=0.001)


def test_a_call_whose_work_outlasts_the_latency_reports_what_it_took(wms: str) -> None:
    set_knobs(wms, latency_ms=0.0)
    _, declared_ms = stock_query(wms)
    [call] = calls(wms)
    assert call["delay_ms"] > 0.0
    assert call["delay_ms"] == pytest.approx(declared_ms, abs=0.001)


def test_jitter_stays_within_its_bound_and_is_reported_per_call(wms: str) -> None:
    set_knobs(wms, latency_ms=20.0, jitter_ms=10.0)
    for _ in range(5):
        stock_query(wms)
    delays = [call["delay_ms"] for call in calls(wms)]
    assert all(19.0 <= delay < 30.0 + 10.0 for delay in delays)  # slack for the timer
    assert len(set(delays)) > 1


def test_a_call_log_keeps_no_request_unless_asked(wms: str) -> None:
    stock_query(wms)
    [call] = calls(wms)
    assert "request" not in call


def test_with_record_requests_the_log_keeps_each_requests_headers_and_body(wms: str) -> None:
    """What the bench's null gateway replays (bench/null_gateway.py): what was sent, whole."""
    set_knobs(wms, record_requests=True)
    stock_query(wms)
    [call] = calls(wms)
    headers = dict((name.lower(), value) for name, value in call["request"]["headers"])
    assert headers["authorization"] == f"Bearer {WMS_TOKEN}"
    assert headers["content-type"] == "application/json"
    assert json.loads(base64.b64decode(call["request"]["body"])) == {"skus": ["10000", "10001"]}
