"""The side-by-side run's load generator: what wrk (with bench/wrk.lua) reports, read."""

from __future__ import annotations

import pytest

from bench.wrk import parse

WRK_STDOUT = """Running 10s test @ http://127.0.0.1:40000/graphql
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   1.10s   200.00ms   1.90s    70.00%
  540 requests in 10.01s, 9.10MB read
Requests/sec:     53.95
Transfer/sec:      0.91MB

{"requests": 540, "duration_us": 10010000, "failed": 2, "socket_errors": 1, \
"latency_us": {"p50": 1100000, "p95": 1500000, "p99": 1800000, "mean": 1110000.5, \
"max": 1900000}, "sample": "{\\u0022errors\\u0022: []}"}
"""


def test_the_summary_line_gives_requests_failures_and_latency_in_milliseconds() -> None:
    result = parse(WRK_STDOUT)
    assert result.requests == 540
    assert result.duration_s == pytest.approx(10.01)
    assert (result.failed, result.socket_errors) == (2, 1)
    assert result.latency_ms["p50"] == pytest.approx(1100)
    assert result.latency_ms["p99"] == pytest.approx(1800)
    assert result.sample == '{"errors": []}'


def test_output_without_the_summary_line_is_an_error_that_shows_it() -> None:
    with pytest.raises(RuntimeError, match="wrk wrote no summary"):
        parse("unable to connect to 127.0.0.1:1 Connection refused\n")
