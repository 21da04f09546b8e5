"""``mosaic serve --workers N`` (gateway/process/workers.py): each worker listens on its
own SO_REUSEPORT socket, so connections arriving together are spread over the workers;
SIGTERM stops them all gracefully, and a worker that dies takes the rest down."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from gateway.process.workers import BALANCED
from tests.test_graceful_shutdown import free_port, gateway_environment, wait_listening
from tests.timing import poll_until

pytestmark = [
    pytest.mark.process,  # `mosaic serve` with worker processes
    pytest.mark.skipif(not BALANCED, reason="SO_REUSEPORT balancing is Linux's"),
]
WORKERS = 2
CLIENTS = 32


ESTABLISHED, LISTEN = "01", "0A"  # socket states in /proc/net/tcp


def sockets(pid: int, port: int, state: str) -> int:
    """How many of process ``pid``'s sockets on ``port`` are in ``state`` (from /proc).
    A starting worker opens and closes files while it is read: a descriptor gone
    between the listing and its link is simply not one of its sockets."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        count += local_port == port and fields[3] == state and fields[9] in inodes
    return count


def workers(parent: int, port: int) -> list[int]:
    """The parent's children that listen on ``port`` (not multiprocessing's helper)."""
    found = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in found if _listening(int(pid), port)]


def _listening(pid: int, port: int) -> bool:
    try:
        return sockets(pid, port, LISTEN) > 0
    except FileNotFoundError:  # the child ended while it was read
        return False


@pytest.fixture
def gateway(systems: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = gateway_environment(systems)
    command = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(WORKERS)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port)
        poll_until(lambda: len(workers(process.pid, port)) == WORKERS, 20, what="every worker")
        yield process, port
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def test_connections_arriving_together_are_spread_over_the_workers(
    gateway: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = gateway
    with ExitStack() as open_connections:
        for _ in range(CLIENTS):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            open_connections.callback(connection.close)
            connection.request("GET", "/healthz")
            connection.getresponse().read()  # kept alive: the worker holds it
        per_worker = [sockets(pid, port, ESTABLISHED) for pid in workers(process.pid, port)]
    assert sum(per_worker) == CLIENTS
    # each worker gets its share, give or take the hash's luck (one worker alone: 0)
    assert min(per_worker) >= CLIENTS // WORKERS // 3, per_worker


def test_sigterm_stops_every_worker_and_the_parent_gracefully(
    gateway: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = gateway
    started = workers(process.pid, port)
    assert len(started) == WORKERS
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert not [pid for pid in started if Path(f"/proc/{pid}").exists()]


def test_a_worker_that_dies_takes_the_others_down(
    gateway: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = gateway
    first, *others = workers(process.pid, port)
    os.kill(first, signal.SIGKILL)
    assert process.wait(timeout=20) == 1  # for the orchestrator to restart the whole
    assert not [pid for pid in others if Path(f"/proc/{pid}").exists()]
