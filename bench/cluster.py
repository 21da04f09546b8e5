"""The processes under test: the four simulated systems and the gateway, each started
the way it is run for real (``mosaic legacy ...``; ``mosaic serve``, the image's command),
on free loopback ports, and stopped again however the benchmark ends.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from legacy.world import TIER_THRESHOLDS

SYSTEMS = ("crm", "erp", "pos", "wms")
#: the systems started with credentials, and the token each takes
TOKENS = {"crm": "bench-crm-token", "pos": "bench-pos-token", "wms": "bench-wms-token"}
#: Settings every benchmarked gateway gets (a caller's settings win): the load generator
#: is one client, and the per-client rate limit would measure its quota, not the gateway.
BENCH_SETTINGS = {"MOSAIC_RATE_LIMIT_PER_S": "0"}
ROOT = Path(__file__).resolve().parent.parent
#: Base latency per system (ms); each also gets a jitter of JITTER_SHARE of it.
LATENCY_MS = {"crm": 25.0, "erp": 80.0, "pos": 20.0, "wms": 15.0}
JITTER_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class Latency:
    """What a simulated system adds to every answer: base plus uniform 0..jitter."""

    latency_ms: float
    jitter_ms: float


@dataclass(frozen=True, slots=True)
class Process:
    name: str
    url: str
    popen: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, chars: int = 3000) -> str:
        """The end of what the process printed (its log goes with the run's temp dir)."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        return self.popen.pid


def bench_latencies() -> dict[str, Latency]:
    """Each system's latency in a benchmark run: its base, and a share of it as jitter."""
    return {s: Latency(ms, round(ms * JITTER_SHARE, 3)) for s, ms in LATENCY_MS.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pinned(cores: frozenset[int] | None) -> Any:
    """A preexec_fn pinning the child before it runs anything (its children inherit)."""
    if cores is None:
        return None
    return lambda: os.sched_setaffinity(0, cores)


def start(
    name: str,
    argv: list[str],
    port: int,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cores: frozenset[int] | None = None,
    cwd: Path = ROOT,
) -> Process:
    """``argv`` started in ``cwd``, its output in ``log_dir``, pinned before it runs."""
    log_path = log_dir / f"{name}.log"
    log = log_path.open("ab")
    popen = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_pinned(cores),  # pins before exec: no window unpinned
    )
    log.close()  # the child has its own copy
    return Process(name=name, url=f"http://127.0.0.1:{port}", popen=popen, log=log_path)


def stop(process: Process) -> None:
    if process.popen.poll() is None:
        process.popen.send_signal(signal.SIGINT)
        try:
            process.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()


@contextmanager
def simulated_systems(
    latencies: Mapping[str, Latency],
    size: str,
    seed: int,
    work_dir: Path,
    cores: frozenset[int] | None,
) -> Iterator[dict[str, Process]]:
    """The four systems, each its own process on its own SQLite file, ready to answer."""
    with ExitStack() as stack:
        systems: dict[str, Process] = {}
        for name in SYSTEMS:
            port = free_port()
            argv = [
                sys.executable, "-m", "gateway.cli", "legacy", name,
                "--port", str(port), "--size", size, "--seed", str(seed),
                "--latency-ms", str(latencies[name].latency_ms),
                "--jitter-ms", str(latencies[name].jitter_ms),
                "--db", str(work_dir / f"{name}.sqlite"),
                *(["--token", TOKENS[name]] if name in TOKENS else []),
            ]  # fmt: skip
            systems[name] = start(name, argv, port, work_dir, cores=cores)
            stack.callback(stop, systems[name])
        for process in systems.values():
            wait_for(process, "/__admin/knobs", timeout_s=180)
        yield systems


@contextmanager
def gateway(
    name: str,
    systems: Mapping[str, Process],
    settings: Mapping[str, str],
    workers: int,
    work_dir: Path,
    cores: frozenset[int] | None,
) -> Iterator[Process]:
    """The gateway as deployed (``mosaic serve``: uvicorn, one SO_REUSEPORT socket per
    worker), pointed at ``systems``; ``settings`` are extra ``MOSAIC_*`` variables (the
    baseline's switches)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_")}
    env.update({f"MOSAIC_{s.upper()}_URL": p.url for s, p in systems.items()})
    env["MOSAIC_CRM_TOKEN"] = TOKENS["crm"]
    env["MOSAIC_POS_TOKEN"] = TOKENS["pos"]
    env["MOSAIC_WMS_TOKEN"] = TOKENS["wms"]
    env["MOSAIC_POS_TIER_THRESHOLDS"] = json.dumps(TIER_THRESHOLDS)
    env.update(BENCH_SETTINGS)
    env.update(settings)
    argv = [
        sys.executable, "-m", "gateway.cli", "serve",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    process = start(f"gateway-{name}", argv, port, work_dir, env=env, cores=cores)
    try:
        wait_for(process, "/readyz", timeout_s=120)
        yield process
    finally:
        stop(process)


def wait_for(process: Process, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(
                f"{process.name} exited early (code {process.popen.returncode}):\n"
                + process.log_tail()
            )
        try:
            with urllib.request.urlopen(process.url + path, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(
        f"{process.name} did not answer {path} within {timeout_s}s:\n" + process.log_tail()
    )


def admin(url: str, method: str, path: str) -> Any:
    """A simulated system's admin API (``/__admin/...``)."""
    request = urllib.request.Request(url + "/__admin/" + path, method=method)
    with urllib.request.urlopen(request, timeout=60) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def set_knobs(url: str, **knobs: Any) -> None:
    """Change a simulated system's knobs (``legacy/common/knobs.py``)."""
    request = urllib.request.Request(
        url + "/__admin/knobs",
        data=json.dumps(knobs).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()


def clear_calls(systems: Mapping[str, Process]) -> None:
    for process in systems.values():
        admin(process.url, "DELETE", "calls")


def settle(systems: Mapping[str, Process], quiet_s: float = 0.2, timeout_s: float = 30) -> None:
    """Clear the call logs once no system has been called for ``quiet_s``.

    A gateway may still be finishing upstream calls for requests whose clients already
    have an answer (an error, a timeout); those must not count in the next cell.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        clear_calls(systems)
        time.sleep(quiet_s)
        if not any(fetch_calls(systems).values()) or time.monotonic() > deadline:
            return


def quiet_calls(
    systems: Mapping[str, Process], quiet_s: float = 0.3, timeout_s: float = 60
) -> dict[str, list[dict[str, Any]]]:
    """The systems' call logs once no new call has come for ``quiet_s``: the gateway has
    finished what the requests still in flight when a load stopped asked of them."""
    deadline = time.monotonic() + timeout_s
    calls = fetch_calls(systems)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        again = fetch_calls(systems)
        if sum(map(len, again.values())) == sum(map(len, calls.values())):
            return again
        calls = again
    return calls


def fetch_calls(systems: Mapping[str, Process]) -> dict[str, list[dict[str, Any]]]:
    return {name: admin(p.url, "GET", "calls")["calls"] for name, p in systems.items()}
