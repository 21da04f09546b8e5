"""Talking to the simulated systems' admin API from tests, over HTTP like any client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from typing import Any


def _admin(url: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url.rstrip("/") + "/__admin/" + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def calls(url: str) -> list[dict[str, Any]]:
    """Every call the system at ``url`` answered since the log was last cleared."""
    result: list[dict[str, Any]] = _admin(url, "GET", "calls")["calls"]
    return result


def call_count(url: str) -> Counter[str]:
    """Calls per operation: ``"POST /path"``, or ``"Service:Action"`` for SOAP."""
    counter: Counter[str] = Counter()
    for call in calls(url):
        if call["action"]:  # SOAP: the page's service name and the operation
            service = call["path"].rsplit("/", 1)[-1]
            operation = call["action"].rsplit(":", 1)[-1]
            counter[f"{service}:{operation}"] += 1
        else:
            counter[f"{call['method']} {call['path']}"] += 1
    return counter


def clear_calls(url: str) -> None:
    _admin(url, "DELETE", "calls")


def set_knobs(url: str, **knobs: Any) -> dict[str, Any]:
    result: dict[str, Any] = _admin(url, "PUT", "knobs", knobs)
    return result


def reset_knobs(url: str) -> None:
    set_knobs(
        url,
        latency_ms=0.0,
        jitter_ms=0.0,
        error_rate=0.0,
        fault="none",
        retry_after_s=1,
        retry_after_as_date=False,
        fault_only="",
        record_requests=False,
    )


def call(
    url: str, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    """One JSON request to a simulated system's own API: its status and decoded body;
    with ``token``, as its contract asks, a bearer token."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
