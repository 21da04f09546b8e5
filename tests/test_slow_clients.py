"""Slow clients cannot hold the gateway's connections: under `mosaic serve` (as the demo
and the image run it) a request's headers must arrive within MOSAIC_HEADER_TIMEOUT_S
and its body within MOSAIC_BODY_TIMEOUT_S, or the client gets a coded 408 and the
connection is closed; a client address holds at most MOSAIC_MAX_CONNECTIONS_PER_CLIENT
connections; refused connections linger at most MOSAIC_MAX_LINGERING_CONNECTIONS at
once. The probe's cases: headers trickled, a body trickled at 200 B/s, a
Content-Length larger than what is sent, a connection that sends nothing."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from tests.test_graceful_shutdown import free_port, gateway_environment, wait_listening
from tests.timing import poll_until

pytestmark = pytest.mark.process  # `mosaic serve` against slow clients

HEADER_TIMEOUT_S = 0.5
BODY_TIMEOUT_S = 1.0
MOST_CONNECTIONS = 4
MOST_LINGERING = 8
#: how long anything here may take before the test calls it a hang
GUARD_S = 20.0
HEADERS = b"POST /graphql HTTP/1.1\r\nHost: mosaic\r\nContent-Type: application/json\r\n"


@dataclass(frozen=True)
class Server:
    port: int
    pid: int  # one worker: the process that holds the connections


@pytest.fixture(scope="module")
def server(systems: dict[str, str]) -> Iterator[Server]:
    """`mosaic serve`, as deployed, with short deadlines."""
    chosen = free_port()
    env = gateway_environment(
        systems,
        MOSAIC_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        MOSAIC_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
        MOSAIC_MAX_CONNECTIONS_PER_CLIENT=str(MOST_CONNECTIONS),
        MOSAIC_MAX_LINGERING_CONNECTIONS=str(MOST_LINGERING),
        MOSAIC_RATE_LIMIT_PER_S="0",
        MOSAIC_CACHE="false",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(chosen)], env=env
    )
    yield from (Server(ready, process.pid) for ready in serving(process, chosen))


@pytest.fixture(scope="module")
def port(server: Server) -> int:
    return server.port


def serving(process: subprocess.Popen[bytes], port: int) -> Iterator[int]:
    """``port`` once ``process`` listens on it; the process is ended afterwards."""
    try:
        wait_listening(port, timeout_s=GUARD_S)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=GUARD_S)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=GUARD_S)


def trickle(sock: socket.socket, data: bytes, every_s: float) -> threading.Thread:
    """Sends ``data`` a piece at a time until done or the server hangs up."""

    def send() -> None:
        for i in range(len(data)):
            try:
                sock.sendall(data[i : i + 1])
            except OSError:
                return  # closed by the server: what the test waits for
            time.sleep(every_s)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def answer_then_closed(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """Reads until the server closes the connection: the status and the JSON body."""
    received = b""
    started = time.monotonic()
    while chunk := sock.recv(65536):
        received += chunk
        assert time.monotonic() - started < GUARD_S
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    return int(head.split()[1]), json.loads(body)


def refused_with(sock: socket.socket, status: int, code: str) -> None:
    answer_status, answer = answer_then_closed(sock)
    assert answer_status == status
    assert [e["extensions"]["code"] for e in answer["errors"]] == [code]


def test_a_connection_that_sends_nothing_is_answered_408_and_closed(port: int) -> None:
    with connect(port) as sock:
        refused_with(sock, 408, "REQUEST_TIMEOUT")


@pytest.mark.parametrize("every_s", [None, 0.1], ids=["half-sent", "trickled"])
def test_headers_not_complete_by_the_deadline_are_answered_408(
    port: int, every_s: float | None
) -> None:
    with connect(port) as sock:
        if every_s is None:
            sock.sendall(HEADERS)
        else:
            trickle(sock, HEADERS * 20, every_s)  # 1 byte every 0.1 s: never done in time
        refused_with(sock, 408, "REQUEST_TIMEOUT")


@pytest.mark.parametrize("every_s", [None, 0.005], ids=["content-length-larger", "200-B-per-s"])
def test_a_body_not_arrived_by_its_deadline_is_answered_408(
    port: int, every_s: float | None
) -> None:
    body = json.dumps({"query": "{ __typename }", "padding": "x" * 4000}).encode()
    with connect(port) as sock:
        sock.sendall(HEADERS + b"Content-Length: %d\r\n\r\n" % len(body))
        if every_s is None:
            sock.sendall(body[:100])  # and the rest never
        else:
            trickle(sock, body, every_s)  # 200 B/s: 20 s for the whole body
        refused_with(sock, 408, "REQUEST_TIMEOUT")


def test_a_client_still_sending_when_refused_reads_its_408_not_a_reset(port: int) -> None:
    """The server shuts its side and drops what still comes (a lingering close): closed
    outright with the client's bytes unread, its socket would answer them with a reset,
    and the client would lose the 408 it was sent (3 times in 10 before the fix)."""

    def refused_while_sending() -> int:
        with connect(port) as sock:
            sock.sendall(HEADERS + b"Content-Length: 10000000\r\n\r\n")
            trickle(sock, b"x" * 1_000_000, 0.0005)  # still sending when the deadline hits
            return answer_then_closed(sock)[0]

    for _ in range(2):
        with ThreadPoolExecutor(MOST_CONNECTIONS) as clients:
            statuses = list(clients.map(lambda _: refused_while_sending(), range(MOST_CONNECTIONS)))
        assert statuses == [408] * MOST_CONNECTIONS


def test_a_kept_alive_connection_gets_a_new_header_deadline_per_request(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=GUARD_S)
    try:
        for _ in range(2):
            connection.request("GET", "/healthz")
            answer = connection.getresponse()
            assert (answer.status, json.loads(answer.read())) == (200, {"status": "alive"})
            time.sleep(HEADER_TIMEOUT_S * 2)  # idle longer than the header deadline
    finally:
        connection.close()


def test_a_client_holds_at_most_its_share_of_connections(port: int) -> None:
    held = [connect(port) for _ in range(MOST_CONNECTIONS)]
    try:
        with connect(port) as one_too_many:
            refused_with(one_too_many, 429, "RATE_LIMITED")
    finally:
        for sock in held:
            sock.close()

    def served() -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=GUARD_S)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    poll_until(served, GUARD_S, what="room again once the server sees the closes")


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_refused_connections_linger_no_more_than_the_bound_at_once(
    server: Server,
) -> None:
    """A client opening connections faster than they are refused (the hostile bench
    opened 3,000 at once) would make the server hold a descriptor for each for the
    lingering's 2 s: past the bound, a refused connection is closed outright, and its
    client still reads its 429 (it had sent nothing a reset could lose)."""
    before = descriptors(server.pid)
    held = [connect(server.port) for _ in range(MOST_CONNECTIONS)]
    refused = [connect(server.port) for _ in range(3 * MOST_LINGERING)]
    try:
        for sock in refused:
            refused_with(sock, 429, "RATE_LIMITED")
        assert descriptors(server.pid) <= before + MOST_CONNECTIONS + MOST_LINGERING
    finally:
        for sock in held + refused:
            sock.close()
