"""wrk as the load generator of the side-by-side run: a closed loop in C, so the gateway's
core, not the client, is the limit even when a cache answers in a millisecond (this
process's aiohttp loop tops out near the cached gateways' rate).

One thread, ``concurrency`` keep-alive connections, each sending its next request as soon
as its last is answered, for ``duration_s``; ``bench/wrk.lua`` sends the request and
counts answers that are not HTTP 200 or carry ``errors``. Debian packages it (``wrk``);
the bench installs it with apt when it is missing, as it installs the peer's npm packages.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
#: wrk's own time limit per request, far above any answer the bench expects
TIMEOUT_S = 60


class WrkUnavailable(RuntimeError):
    """wrk is not installed and could not be, with what to do about it."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int  # answered within the duration
    duration_s: float
    failed: int  # answered, but not HTTP 200 or with an `errors` entry
    socket_errors: int  # connect, read, write errors and timeouts
    latency_ms: dict[str, float]  # p50, p95, p99, mean, max
    sample: str  # the start of the first failed answer, "" when none failed


def ensure() -> str:
    """The path of wrk, installing Debian's package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise WrkUnavailable("the side-by-side run needs wrk (https://github.com/wg/wrk)")
    for step in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "wrk"]):
        run = subprocess.run(step, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise WrkUnavailable(
                f"installing wrk failed ({' '.join(step)}): {run.stderr[-1000:]}; "
                "install Debian's package wrk by hand"
            )
    found = shutil.which("wrk")
    if found is None:
        raise WrkUnavailable("apt installed wrk, but it is not on PATH")
    return found


def parse(stdout: str) -> WrkResult:
    """The JSON line ``bench/wrk.lua`` writes when wrk is done."""
    line = next((line for line in reversed(stdout.splitlines()) if line.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"wrk wrote no summary:\n{stdout[-2000:]}")
    raw = json.loads(line)
    return WrkResult(
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        failed=raw["failed"],
        socket_errors=raw["socket_errors"],
        latency_ms={name: us / 1000 for name, us in raw["latency_us"].items()},
        sample=raw["sample"],
    )


def run(url: str, body: Path, concurrency: int, duration_s: float) -> WrkResult:
    """POST ``body`` to ``url`` from ``concurrency`` connections for ``duration_s``."""
    argv = [
        ensure(), "--threads", "1", "--connections", str(concurrency),
        "--duration", f"{max(1, round(duration_s))}s", "--timeout", f"{TIMEOUT_S}s",
        "--script", str(SCRIPT), url, "--", str(body),
    ]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration_s + TIMEOUT_S + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
    return parse(done.stdout)
