"""Runs an ASGI app on a real uvicorn server in a background thread, on a free port.

Tests start every simulated system (and the gateway) this way once per session, the
way httpx's own test suite runs a real server: the code under test speaks real HTTP
over loopback, and nothing is mocked. ``stop()`` closes the port for real, so a
client's connection is refused, and ``start()`` listens again on the same port with
the same app, its data and knobs intact.
"""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.types import ASGIApp


class ServerThread:
    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> ServerThread:
        # A request held by the "hang" knob must not hold up a stop for long.
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self.server, self.thread = server, threading.Thread(target=server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
            self.server = self.thread = None
