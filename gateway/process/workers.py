"""Several gateway processes on one port, each with its own listening socket.

uvicorn's ``--workers`` shares one listening socket between its processes, and the
process that wakes first accepts every connection waiting: 64 keep-alive clients
arriving together were split 52 to 12 between two workers. Both cores then run flat
out, but the clients of the crowded worker wait four times as long, and the tail
latency is theirs. With ``SO_REUSEPORT`` each worker binds a socket of its own to the
port and the kernel spreads new connections over them by the hash of their addresses
(nginx's ``reuseport``), so each worker gets about its share.

The parent only starts the workers and hands them its signals: SIGTERM or SIGINT is
passed on, and each worker shuts down gracefully as uvicorn does. A worker that exits
on its own takes the others down with it and the parent exits non-zero, for the
orchestrator to restart the whole, as it would a single process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
from types import FrameType
from typing import Any

#: whether this platform spreads connections over sockets sharing a port (Linux does)
BALANCED = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that other processes may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    import uvicorn

    sock = listening_socket(host, port)
    uvicorn.Server(uvicorn.Config(**options)).run(sockets=[sock])


def serve(host: str, port: int, workers: int, **options: Any) -> int:
    """Run ``workers`` uvicorn servers on ``host:port``; ``options`` are uvicorn's
    ``Config`` arguments (the app as an import string). Returns the exit status."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(host, port, options), name=f"mosaic-worker-{i}")
        for i in range(workers)
    ]
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            process.start()
        failed = False
        while any(p.is_alive() for p in processes):
            for process in processes:
                process.join(timeout=0.5)
                if not process.is_alive() and not stopping:
                    failed = True  # one went down on its own: take the rest down too
                    stop(signal.SIGTERM, None)
        return 1 if failed else 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
