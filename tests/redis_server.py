"""A real Redis for the tests: Debian's ``redis-server`` on a free loopback port, its
files in a temporary folder, nothing persisted, stopped at the end of the session."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.timing import poll_until


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """Yields the URL of a running redis-server (``redis://127.0.0.1:<port>/0``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (scripts/run-tests installs it)")
    port = _free_port()
    options = {"bind": "127.0.0.1", "port": str(port), "dir": str(folder), "save": ""}
    options |= {"appendonly": "no", "protected-mode": "yes"}
    process = subprocess.Popen(
        [binary, *(part for name, value in options.items() for part in (f"--{name}", value))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        with redis.Redis.from_url(url) as client:

            def answers() -> bool:
                if process.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                try:
                    return bool(client.ping())
                except redis.ConnectionError:
                    return False

            poll_until(answers, 10, what="redis-server answers")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
