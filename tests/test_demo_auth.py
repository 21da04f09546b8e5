"""`mosaic demo --auth` signs its tokens with the operator's MOSAIC_JWT_SECRET when one
is set, and says how to mint more, so the `mosaic token` recipes work against it."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from tests.auth_tokens import SECRET
from tests.test_demo_signals import GUARD_S, start
from tests.test_graceful_shutdown import free_port, wait_listening

pytestmark = pytest.mark.process  # `mosaic demo --auth` as a process


@dataclass
class AuthDemo:
    url: str
    banner: str

    def line(self, label: str) -> str:
        found = re.search(rf"^  {label}\s*(.*)$", self.banner, re.M)
        assert found, self.banner
        return found.group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthDemo]:
    port = free_port()
    started = start(tmp_path_factory.mktemp("demo"), port, "--auth", MOSAIC_JWT_SECRET=SECRET)
    try:
        wait_listening(port, timeout_s=GUARD_S)
        yield AuthDemo(f"http://127.0.0.1:{port}", started.output.read_text())
    finally:
        os.killpg(started.process.pid, signal.SIGINT)
        started.process.wait(timeout=GUARD_S)


def ask(demo: AuthDemo, query: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(
        demo.url + "/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def test_the_demos_tokens_are_signed_with_the_operators_secret(demo: AuthDemo) -> None:
    token = demo.line("TOKEN=")
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["role"] == "store_employee"


def test_the_demo_says_how_to_mint_more_without_repeating_the_secret(demo: AuthDemo) -> None:
    mint = demo.line("mint")
    assert mint.startswith("mosaic token --role customer --customer crm:")
    assert "your MOSAIC_JWT_SECRET" in mint
    assert SECRET not in demo.banner


def test_a_token_minted_as_the_demo_says_is_accepted_by_it(demo: AuthDemo) -> None:
    command = shlex.split(demo.line("mint").split("  (", 1)[0])
    assert command[:2] == ["mosaic", "token"]
    minted = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *command[1:]],
        capture_output=True,
        text=True,
        timeout=GUARD_S,
        env={**os.environ, "MOSAIC_JWT_SECRET": SECRET},
        check=True,
    )
    customer = command[command.index("--customer") + 1]
    answer = ask(
        demo, f'{{ customer(by: {{id: "{customer}"}}) {{ id name }} }}', minted.stdout.strip()
    )
    assert "errors" not in answer
    assert answer["data"]["customer"]["id"] == customer


def test_the_demo_with_auth_says_it_authenticates(demo: AuthDemo) -> None:
    with urllib.request.urlopen(demo.url + "/readyz", timeout=10) as response:
        assert json.loads(response.read())["mode"] == "authenticated"
