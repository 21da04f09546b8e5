"""The hostile requests of issue 15, measured against the gateway as it is run: `mosaic
serve` in production mode in front of the four simulated systems, and the deployment's
nginx (docker/nginx.conf, Debian's nginx) in front of that when nginx is installed.

- Refusals: the 30-level fragment fan-out, a JSON body nested 100,000 deep and a body
  that is not UTF-8, each sent REPEATS times, one after another; meanwhile another
  client asks /healthz every HEALTHZ_EVERY_S. Each is refused with its code, and both
  the refusals and /healthz answer in milliseconds.
- Slow clients (the probe's cases): headers trickled 1 byte / 0.5 s, a body at 200 B/s,
  a Content-Length larger than what is sent, and 3,000 connections with half-sent
  bodies: how long each is held before the server closes it, and the gateway's open
  descriptors and memory meanwhile.

    python -m bench.hostile        # bench/results/hostile.json and hostile.md
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bench.cluster import Latency, free_port, gateway, simulated_systems

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 500
HEALTHZ_EVERY_S = 0.005
HALF_SENT = 3000
#: the most any one slow-client case is watched before it counts as held for ever
WATCH_S = 60.0
SECRET = "bench-hostile-secret-of-at-least-32-bytes"
HEADERS = b"POST /graphql HTTP/1.1\r\nHost: mosaic\r\nContent-Type: application/json\r\n"


def fan_out(levels: int = 30) -> bytes:
    fragments = " ".join(
        f"fragment F{i} on Product {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    last = f"fragment F{levels} on Product {{ sku }}"
    text = f'{{ product(sku: "10000") {{ ...F0 }} }} {fragments} {last}'
    return json.dumps({"query": text}).encode()


REFUSALS: dict[str, bytes] = {
    "30-level fragment fan-out (1.3 KB)": fan_out(),
    "JSON nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "invalid UTF-8": b'{"query": "{ __typename \xff\xfe }"}',
}


def http(port: int, request: bytes) -> tuple[int, bytes, float]:
    """One request on its own connection: status, body, seconds."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=WATCH_S) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), body, time.monotonic() - started


def post(body: bytes) -> bytes:
    return HEADERS + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: mosaic\r\nConnection: close\r\n\r\n"


@contextmanager
def healthz_during(port: int) -> Iterator[list[float]]:
    """/healthz asked over and over by another client; the seconds each answer took."""
    seconds: list[float] = []
    done = threading.Event()

    def ask() -> None:
        while not done.wait(HEALTHZ_EVERY_S):
            status, _, took = http(port, HEALTHZ)
            seconds.append(took if status == 200 else float("inf"))

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    try:
        yield seconds
    finally:
        done.set()
        thread.join(WATCH_S)


def ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def refusals(port: int) -> dict[str, Any]:
    measured = {}
    for name, body in REFUSALS.items():
        with healthz_during(port) as healthz:
            answers = [http(port, post(body)) for _ in range(REPEATS)]
        codes = Counter(
            error["extensions"]["code"]
            for _, answer, _ in answers
            for error in json.loads(answer)["errors"]
        )
        measured[name] = {
            "sent": REPEATS,
            "statuses": dict(Counter(status for status, _, _ in answers)),
            "codes": dict(codes),
            "refusal": ms([took for _, _, took in answers]),
            "healthz_meanwhile": {"asked": len(healthz), **ms(healthz)},
        }
    return measured


# --- slow clients ----------------------------------------------------------------------


def held(port: int, send: Callable[[socket.socket], None]) -> dict[str, Any]:
    """Seconds until the server closes a connection fed by ``send`` (on a thread), and
    the status it answered with, if any."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=WATCH_S) as sock:
        threading.Thread(target=_quietly, args=(send, sock), daemon=True).start()
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            return {"held_s": f"more than {WATCH_S:g}", "answer": None}
        except ConnectionResetError:
            pass  # closed while the client was still sending: the answer may have come first
    status = int(received.split()[1]) if received else None
    return {"held_s": round(time.monotonic() - started, 2), "answer": status}


def _quietly(send: Callable[[socket.socket], None], sock: socket.socket) -> None:
    with suppress(OSError):  # the server hung up: what is measured
        send(sock)


def trickle(data: bytes, every_s: float) -> Callable[[socket.socket], None]:
    def send(sock: socket.socket) -> None:
        for i in range(len(data)):
            sock.sendall(data[i : i + 1])
            time.sleep(every_s)

    return send


BODY = json.dumps({"query": "{ __typename }", "padding": "x" * 16_000}).encode()
SLOW = {
    "headers at 1 byte / 0.5 s": trickle(HEADERS * 10, 0.5),
    "body at 200 B/s": lambda sock: (
        sock.sendall(HEADERS + b"Content-Length: %d\r\n\r\n" % len(BODY)),
        trickle(BODY, 0.005)(sock),
    ),
    "Content-Length larger than what is sent": lambda sock: sock.sendall(
        HEADERS + b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY[:1000]
    ),
}


def descriptors_and_memory(pid: int) -> tuple[int, int]:
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss_kb = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))  # type: ignore[union-attr]
    return fds, rss_kb


def half_sent(port: int, gateway_pid: int) -> dict[str, Any]:
    """HALF_SENT connections, each with its headers and part of its body sent."""
    before = descriptors_and_memory(gateway_pid)
    started = time.monotonic()
    sockets = []
    statuses: Counter[str] = Counter()
    for _ in range(HALF_SENT):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=WATCH_S)
        except OSError:
            statuses["not accepted"] += 1
            continue
        sockets.append(sock)
        with suppress(OSError):  # refused at once: its answer is read below
            sock.sendall(HEADERS + b"Content-Length: 1000\r\n\r\n" + b"{" * 10)
    peak = descriptors_and_memory(gateway_pid)
    for sock in sockets:
        try:
            received = sock.recv(65536)
            statuses[str(int(received.split()[1])) if received else "closed, no answer"] += 1
        except TimeoutError:
            statuses[f"held more than {WATCH_S:g} s"] += 1
        except OSError:
            statuses["reset"] += 1
        sock.close()
    return {
        "connections": HALF_SENT,
        "answers": dict(statuses),
        "all_closed_after_s": round(time.monotonic() - started, 2),
        "gateway_descriptors": {"before": before[0], "with_all_open": peak[0]},
        "gateway_rss_mb": {
            "before": round(before[1] / 1024, 1),
            "with_all_open": round(peak[1] / 1024, 1),
        },
    }


def slow_clients(port: int, gateway_pid: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    threads = [
        threading.Thread(target=lambda n=n, s=s: results.__setitem__(n, held(port, s)))
        for n, s in SLOW.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results["3,000 half-sent bodies"] = half_sent(port, gateway_pid)
    return results


@contextmanager
def nginx_in_front(gateway_port: int, work: Path) -> Iterator[int | None]:
    """The deployment's nginx.conf, pointed at the local gateway; None without nginx."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        yield None
        return
    port = free_port()
    config = (ROOT / "docker" / "nginx.conf").read_text()
    config = re.sub(
        r"(\n\s*server gateway-\d:8000[^\n]*)+",
        f"\n        server 127.0.0.1:{gateway_port};",
        config,
    )
    config = config.replace("listen 80;", f"listen 127.0.0.1:{port};").replace(
        "access_log /dev/stdout json;", "access_log off;"
    )
    (work / "nginx.conf").write_text(config)
    directives = f"daemon off; user root; pid {work}/nginx.pid; error_log {work}/nginx-error.log;"
    process = subprocess.Popen(
        [binary, "-p", str(work), "-c", str(work / "nginx.conf"), "-g", directives],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WATCH_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(WATCH_S)


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Hostile requests, {result['when']}",
        "",
        "`python -m bench.hostile`: `mosaic serve` in production mode (one worker) in front of "
        "the four simulated systems; each refusal sent "
        f"{REPEATS} times in a row while another client asked /healthz every "
        f"{HEALTHZ_EVERY_S * 1000:g} ms.",
        "",
        "| request | statuses | codes | refusal p50 / p99 / max "
        "| /healthz meanwhile p50 / p99 / max (asked) |",
        "|---|---|---|---|---|",
    ]
    for name, case in result["refusals"].items():
        r, h = case["refusal"], case["healthz_meanwhile"]
        lines.append(
            f"| {name} | {case['statuses']} | {case['codes']} | {r['p50_ms']} / {r['p99_ms']} / "
            f"{r['max_ms']} ms | {h['p50_ms']} / {h['p99_ms']} / {h['max_ms']} ms ({h['asked']}) |"
        )
    for setup, cases in result["slow_clients"].items():
        lines += ["", f"## Slow clients: {setup}", "", "| case | held | answer |", "|---|---|---|"]
        for name, case in cases.items():
            if "held_s" in case:
                lines.append(
                    f"| {name} | {case['held_s']} s | {case['answer'] or 'closed, no answer'} |"
                )
            else:
                fds, rss = case["gateway_descriptors"], case["gateway_rss_mb"]
                lines.append(
                    f"| {name} | all closed after {case['all_closed_after_s']} s "
                    f"| {case['answers']}; gateway descriptors {fds['before']} → "
                    f"{fds['with_all_open']}, RSS {rss['before']} → {rss['with_all_open']} MB |"
                )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 3,000 sockets, here and there
    settings = {"MOSAIC_ENV": "production", "MOSAIC_JWT_SECRET": SECRET}
    quiet = dict.fromkeys(("crm", "erp", "pos", "wms"), Latency(0.0, 0.0))
    with TemporaryDirectory(prefix="mosaic-hostile-") as work:
        work_dir = Path(work)
        with simulated_systems(quiet, "small", 42, work_dir, cores=None) as systems:
            with gateway("hostile", systems, settings, 1, work_dir, cores=None) as alone:
                port = int(alone.url.rsplit(":", 1)[1])
                result: dict[str, Any] = {
                    "when": datetime.now(UTC).isoformat(timespec="seconds"),
                    "refusals": refusals(port),
                    "slow_clients": {"mosaic serve, alone": slow_clients(port, alone.pid)},
                }
            # behind nginx every connection is nginx's: the replica counts none per client
            behind = {**settings, "MOSAIC_MAX_CONNECTIONS_PER_CLIENT": "0"}
            with (
                gateway("behind-nginx", systems, behind, 1, work_dir, cores=None) as replica,
                nginx_in_front(int(replica.url.rsplit(":", 1)[1]), work_dir) as nginx_port,
            ):
                if nginx_port is not None:
                    setup = "nginx (docker/nginx.conf) in front of mosaic serve"
                    result["slow_clients"][setup] = slow_clients(nginx_port, replica.pid)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hostile.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "hostile.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
