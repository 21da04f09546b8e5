"""The README's demo: `mosaic demo` brings up four simulated systems and the gateway,
and each reference query answers with data from them and no errors, without a token;
the README's first curl works against it as written."""

from __future__ import annotations

import http.client
import json
import os
import re
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


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo(output: Path) -> Iterator[str]:
    port = free_port()
    errors = output.with_name("stderr.txt")
    # the child keeps its own copies of the descriptors
    with output.open("wb") as log, errors.open("wb") as said:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "demo", "--size", "small", "--port", str(port)],
            stdout=log,
            stderr=said,
            start_new_session=True,  # a process group of its own, as in a terminal
        )
    try:
        try:
            wait_listening(port, timeout_s=90, process=process)
        except AssertionError as failed:  # with what the demo said (its one-line refusals)
            raise AssertionError(f"{failed}; the demo said: {errors.read_text()[-2000:]}") from None
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
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


def readme_first_curl() -> str:
    """The README's first curl, exactly as written: the first shell block under
    "A first query"."""
    section = (ROOT / "README.md").read_text().split("## A first query", 1)[1]
    [block] = re.findall(r"```sh\n(.*?)```", section, re.S)[:1]
    assert "curl" in block
    return block


def test_the_readmes_first_curl_finds_the_showcase_customer_at_any_size(demo: str) -> None:
    """It used to ask `mosaic examples` for a card of the default world (rebuilding
    it, 9 s), which a small demo does not have: `customer: null`. The demo serves its
    own examples, so the curl fits whatever world runs."""
    command = readme_first_curl()
    assert command.count("http://127.0.0.1:8000/") == 2
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + command.replace("http://127.0.0.1:8000", demo)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert "errors" not in answer
    customer = answer["data"]["customer"]
    assert customer["loyalty"]["points"] is not None
    assert customer["orders"]
    assert {s["system"].lower() for s in customer["sources"]} >= {"crm", "pos", "erp"}


def test_the_demo_serves_the_examples_of_the_world_it_runs(demo: str, output: Path) -> None:
    with urllib.request.urlopen(demo + "/examples", timeout=10) as response:
        served = json.loads(response.read())
    assert served == examples(42, "small")
    assert f"  examples  {demo}/examples" in output.read_text()


def test_the_root_leads_to_graphiql(demo: str) -> None:
    connection = http.client.HTTPConnection(demo.removeprefix("http://"), timeout=10)
    connection.request("GET", "/", headers={"Accept": "text/html"})
    response = connection.getresponse()
    assert (response.status, response.getheader("Location")) == (302, "/graphql")
    connection.close()


def test_no_simulated_system_listens_on_the_gateways_port(demo: str, output: Path) -> None:
    systems = re.findall(r"^  (?:CRM|ERP|POS|WMS)\s+(http://\S+)$", output.read_text(), re.M)
    assert len(systems) == 4
    assert demo not in systems
