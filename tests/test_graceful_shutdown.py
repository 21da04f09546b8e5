"""Stopping the gateway (SIGTERM, as Kubernetes does) finishes the requests in flight."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from typing import Any

import pytest

from legacy.examples import examples
from tests.conftest import CRM_TOKEN, SEED, SIZE, WMS_TOKEN
from tests.gateway_client import run_reference
from tests.simulators import reset_knobs, set_knobs
from tests.timing import poll_until

pytestmark = pytest.mark.process  # `mosaic serve` stopped by SIGTERM


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(
    port: int, timeout_s: float = 20, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Until something listens on ``port``; fails at once, with its exit code, when
    ``process`` (the one meant to listen) has ended instead."""

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    def settled() -> bool:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before listening on {port}")
        return listening()

    poll_until(settled, timeout_s, what=f"something listens on {port}")


def erp_calls_in_flight(url: str) -> int:
    with urllib.request.urlopen(url + "/readyz", timeout=5) as reply:
        count: int = json.loads(reply.read())["sources"]["erp"]["in_flight"]
        return count


def gateway_environment(systems: dict[str, str], **settings: str) -> dict[str, str]:
    """The environment of a gateway started as its own process, for these systems."""
    urls = {f"MOSAIC_{name.upper()}_URL": url for name, url in systems.items()}
    return {
        **os.environ,
        **urls,
        "MOSAIC_CRM_TOKEN": CRM_TOKEN,
        "MOSAIC_WMS_TOKEN": WMS_TOKEN,
        **settings,
    }


def test_a_request_in_flight_completes_after_sigterm(systems: dict[str, str]) -> None:
    port = free_port()
    env = gateway_environment(systems, MOSAIC_CACHE="false")
    gateway = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "gateway.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    answer: dict[str, Any] = {}
    try:
        wait_listening(port)
        set_knobs(systems["erp"], latency_ms=1500)
        variables = examples(SEED, SIZE)["StockCheck"]
        client = threading.Thread(
            target=lambda: answer.update(
                run_reference(f"http://127.0.0.1:{port}", "StockCheck", variables)
            )
        )
        client.start()
        url = f"http://127.0.0.1:{port}"
        poll_until(lambda: erp_calls_in_flight(url), what="the request is in flight")
        gateway.send_signal(signal.SIGTERM)
        client.join(timeout=20)
        # uvicorn re-raises the signal once it has shut down gracefully
        assert gateway.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        reset_knobs(systems["erp"])
        if gateway.poll() is None:
            gateway.kill()
    assert "errors" not in answer
    assert len(answer["data"]["products"]) == len(variables["skus"])
