"""`mosaic demo`'s processes: the four simulated systems as children, the gateway on a
thread of this one, all in one temporary folder, and how they end together.

SIGINT (Ctrl-C) and SIGTERM (an orchestrator, `kill`) end the demo the same way: the
gateway stops serving, every child is asked to stop (and killed if it has not within
CHILD_GRACE_S), the folder is removed. A second signal while that happens kills the
children at once, removes the folder and exits. uvicorn is run on a thread so that its
own signal handling (it re-raises the signal after shutting down, which for SIGTERM
ends the process before any cleanup) never comes into play: signals are this module's.
The children run in process groups of their own, so a terminal's Ctrl-C (sent to the
whole foreground group) reaches this process alone: a child stopped twice, by the
terminal and by the supervisor, would be cut short mid-shutdown and print tracebacks.
A child is asked to stop with SIGTERM: a serving one shuts down as on Ctrl-C, and one
still importing or seeding its data simply ends, where SIGINT's KeyboardInterrupt would
print a traceback from wherever it happened to be.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from types import FrameType, TracebackType

import uvicorn

#: how long a child and the gateway get to stop before they are killed
CHILD_GRACE_S = 10.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(Exception):
    """A stop signal arrived: unwinds whatever the demo was doing to its cleanup."""


class Supervisor:
    """A context manager: on leaving it, by a signal, an error or normally, every child
    is stopped and the folder is gone."""

    def __init__(self, prefix: str) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=prefix))
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._previous: dict[signal.Signals, object] = {}

    def __enter__(self) -> Supervisor:
        self._previous = {s: signal.signal(s, self._first_signal) for s in STOP_SIGNALS}
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        for stop in STOP_SIGNALS:
            signal.signal(stop, self._second_signal)
        if kind is Stopped:
            print("\nstopping the demo (a second signal kills it at once)", flush=True)
        try:
            self._stop_gateway()
            self._stop_children()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
            for previous, handler in self._previous.items():
                signal.signal(previous, handler)  # type: ignore[arg-type]
        return kind is Stopped

    def serve(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        """Runs the gateway on ``sockets`` (bound before anything was started: see
        gateway/process/ports.py) until a signal arrives (or the server ends by
        itself)."""
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": sockets},
            name="mosaic-demo-gateway",
            daemon=True,
        )
        self._thread.start()
        while self._thread.is_alive():
            self._thread.join(0.5)  # a signal's handler runs between these waits

    def _first_signal(self, signum: int, frame: FrameType | None) -> None:
        raise Stopped(signum)

    def _second_signal(self, signum: int, frame: FrameType | None) -> None:
        for child in self.children.values():
            child.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)
        os._exit(128 + signum)  # now: no cleanup is left that a second signal should wait for

    def _stop_gateway(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(CHILD_GRACE_S)

    def _stop_children(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(timeout=CHILD_GRACE_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
