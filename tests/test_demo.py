"""The README's demo: `mosaic demo` brings up four simulated systems and the gateway,
and each reference query answers with data from them and no errors, without a token."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.operations import reference_operations
from legacy.examples import examples
from tests.test_graceful_shutdown import free_port, wait_listening

pytestmark = pytest.mark.process  # `mosaic demo` as a process


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo") / "stdout.txt"


@pytest.fixture(scope="module")
def demo(output: Path) -> Iterator[str]:
    port = free_port()
    with output.open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "demo", "--size", "small", "--port", str(port)],
            stdout=log,
            stderr=subprocess.DEVNULL,
        )
    try:
        wait_listening(port, timeout_s=90)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.parametrize("name", ["Customer360", "ProductListing", "StockCheck"])
def test_each_reference_query_answers_without_errors_in_the_demo(demo: str, name: str) -> None:
    body = json.dumps(
        {"query": reference_operations()[name], "variables": examples(42, "small")[name]}
    ).encode()
    request = urllib.request.Request(
        demo + "/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result = json.loads(response.read())
    assert "errors" not in result
    assert all(value for value in result["data"].values())


def test_the_demo_shows_its_progress_while_the_systems_seed(demo: str, output: Path) -> None:
    shown = output.read_text()
    assert "seeding" in shown
    assert "crm ready  erp ready  pos ready  wms ready" in shown
    assert "GraphiQL" in shown


def test_the_demo_says_it_runs_open(demo: str) -> None:
    with urllib.request.urlopen(demo + "/readyz", timeout=10) as response:
        ready = json.loads(response.read())
    assert ready["mode"] == "open"


def test_mosaic_sources_check_passes_against_the_demo_with_the_settings_it_prints(
    demo: str, output: Path
) -> None:
    """Issue 14: the demo's systems ask credentials as the products do, and the demo
    says where its settings are, so an operator can check its sources as their own."""
    command = next(line for line in output.read_text().splitlines() if "sources check" in line)
    env_file = command.split("--env-file ", 1)[1].strip()
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "sources", "check", "--env-file", env_file],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    verdicts = [line for line in done.stdout.splitlines() if not line.startswith(" ")]
    assert [line.split(" ", 1)[0] for line in verdicts] == ["crm", "erp", "pos", "wms"]
    assert all(line.endswith(": ok") for line in verdicts)
