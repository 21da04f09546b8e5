"""The deployment's nginx (docker/nginx.conf, Debian's nginx on loopback) ends slow
clients before a gateway replica sees them: headers that do not arrive in time close
the connection, a body that stops arriving is a coded 408, one address has at most its
share of requests in progress (a coded 429), and a trickled body reaches the gateway
only once it is whole. The configuration is the deployment's own file, with the
replicas' addresses and its timeouts and bound made small enough for a test."""

from __future__ import annotations

import json
import re
import select
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _gateway
from tests.test_graceful_shutdown import free_port
from tests.test_slow_clients import (
    GUARD_S,
    HEADERS,
    answer_then_closed,
    connect,
    refused_with,
    serving,
)
from tests.timing import poll_until

pytestmark = pytest.mark.process  # nginx in front of the gateway

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 1
MOST = 4
HELD_S = 30  # how long a test waits for nginx to refuse, or to serve again


def local_config(deployed: str, gateway_ports: list[int], port: int) -> str:
    """The deployment's nginx.conf, pointed at local replicas and made quick."""
    replicas = "".join(f"\n        server 127.0.0.1:{p};" for p in gateway_ports)
    config = re.sub(r"(\n\s*server gateway-\d:8000[^\n]*)+", replicas, deployed)
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{port};",
        "client_header_timeout 10s;": f"client_header_timeout {TIMEOUT_S}s;",
        "client_body_timeout 10s;": f"client_body_timeout {TIMEOUT_S}s;",
        "limit_conn mosaic_per_client 64;": f"limit_conn mosaic_per_client {MOST};",
        "access_log /dev/stdout json;": "access_log off;",
    }
    for deployed_text, local in replacements.items():
        assert deployed_text in config, deployed_text
        config = config.replace(deployed_text, local)
    return config


def nginx(work: Path, gateway_urls: list[str], **replacements: str) -> Iterator[int]:
    """Debian's nginx on a free port with the deployment's configuration in front of
    ``gateway_urls`` (``replacements``: more of the deployed text made local)."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(binary).exists(), "Debian's nginx: scripts/run-tests installs it"
    chosen = free_port()
    config = local_config(
        (ROOT / "docker" / "nginx.conf").read_text(),
        [int(url.rsplit(":", 1)[1]) for url in gateway_urls],
        chosen,
    )
    for deployed_text, local in replacements.items():
        assert deployed_text in config, deployed_text
        config = config.replace(deployed_text, local)
    (work / "nginx.conf").write_text(config)
    process = subprocess.Popen(
        [
            binary,
            "-p",
            str(work),
            "-c",
            str(work / "nginx.conf"),
            "-g",
            f"daemon off; user root; pid {work}/nginx.pid; error_log {work}/error.log;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield from serving(process, chosen)


@pytest.fixture(scope="module")
def replica(systems: dict[str, str]) -> Iterator[str]:
    """One gateway replica behind this module's nginx instances."""
    yield from _gateway(systems, cache=False, rate_limit_per_s=0.0)


@pytest.fixture(scope="module")
def port(replica: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    yield from nginx(tmp_path_factory.mktemp("nginx"), [replica])


@pytest.fixture(scope="module")
def patient_port(replica: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """nginx that waits for a body longer than a test polls (HELD_S): requests held in
    progress stay in progress however slow the machine, instead of ending in nginx's
    408 after TIMEOUT_S and giving the address its share back mid-test."""
    yield from nginx(
        tmp_path_factory.mktemp("nginx-patient"),
        [replica],
        **{f"client_body_timeout {TIMEOUT_S}s;": f"client_body_timeout {2 * HELD_S}s;"},
    )


@pytest.mark.parametrize(
    "sent",
    [HEADERS, HEADERS + b"Content-Length: 1000\r\n\r\n" + b"{" * 10],
    ids=["headers-half-sent", "body-stopped"],
)
def test_a_request_that_stops_arriving_is_cut_off(port: int, sent: bytes) -> None:
    with connect(port) as sock:
        sock.sendall(sent)
        started = time.monotonic()
        assert sock.recv(65536) == b""  # nginx hangs up without an answer (a 408 in its log)
        assert time.monotonic() - started < GUARD_S


def test_a_body_too_large_is_a_coded_413(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(HEADERS + b"Content-Length: 1000000\r\n\r\n")
        refused_with(sock, 413, "PAYLOAD_TOO_LARGE")


def _healthz(port: int) -> tuple[int, dict[str, Any]]:
    with connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: mosaic\r\nConnection: close\r\n\r\n")
        return answer_then_closed(sock)


def _first_answer(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of the first answer on ``sock``, without waiting for
    the connection to close (nginx lingers on one whose body is still pending)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536) or pytest.fail("closed before an answer")
    head, _, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length: (\d+)", head)
    assert length is not None
    while len(body) < int(length.group(1)):
        body += sock.recv(65536) or pytest.fail("closed inside an answer")
    return int(head.split()[1]), json.loads(body)


def test_an_address_has_at_most_its_share_of_requests_in_progress(patient_port: int) -> None:
    """One more request than the share, all in progress at once (headers complete, body
    pending): nginx admits the share and refuses the one it read last with a coded 429.
    The test waits for that refusal instead of probing with a request of its own, which
    nginx may read first and admit in a held request's place."""
    held = [connect(patient_port) for _ in range(MOST + 1)]
    try:
        for sock in held:
            sock.sendall(HEADERS + b"Content-Length: 1000\r\n\r\n")
        answered, _, _ = select.select(held, [], [], HELD_S)
        assert len(answered) == 1, "exactly one request over the share is refused"
        status, answer = _first_answer(answered[0])
        assert status == 429
        assert answer["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # the share is still taken by the held requests: one more is refused too
        assert _healthz(patient_port)[0] == 429
    finally:
        for sock in held:
            sock.close()
    # and once they are gone, the address has its share back
    poll_until(lambda: _healthz(patient_port)[0] == 200, timeout_s=HELD_S, what="the share back")


def test_a_whole_body_sent_in_pieces_is_served(port: int) -> None:
    body = json.dumps({"query": "{ __typename }"}).encode()
    with connect(port) as sock:
        sock.sendall(HEADERS + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
        for piece in (body[:10], body[10:]):
            sock.sendall(piece)
            time.sleep(TIMEOUT_S / 4)
        status, answer = answer_then_closed(sock)
    assert status == 200
    assert answer == {"data": {"__typename": "Query"}}
