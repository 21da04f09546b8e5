"""`mosaic demo` ends cleanly however it is told to: SIGINT (Ctrl-C) and SIGTERM (an
orchestrator, `kill`) both stop the gateway and every simulated system it started and
remove its temporary folder; a second signal while that happens kills them at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_graceful_shutdown import free_port, wait_listening
from tests.timing import poll_until

pytestmark = pytest.mark.process  # `mosaic demo` stopped by signals

#: how long anything here may take before the test calls it a hang
GUARD_S = 60.0


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    tmp: Path
    output: Path

    def children(self) -> list[int]:
        pid = self.process.pid
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in listed]

    def wait_for_output(self, text: str) -> None:
        poll_until(lambda: text in self.output.read_text(), GUARD_S, what=text)


def alive(pid: int) -> bool:
    """A process that still runs (a zombie has ended: only its exit status is left)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """A small demo whose temporary folder is made under its own TMPDIR, up and serving."""
    port = free_port()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    output = tmp_path / "stdout.txt"
    with output.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "demo", "--size", "small", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TMPDIR": str(tmp)},
        )
    started = Demo(process, tmp, output)
    try:
        wait_listening(port, timeout_s=GUARD_S)
        yield started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_every_child_and_removes_the_folder(
    demo: Demo, stop: signal.Signals
) -> None:
    children = demo.children()
    assert len(children) == 4
    assert [p.name[:12] for p in demo.tmp.iterdir()] == ["mosaic-demo-"]
    demo.process.send_signal(stop)
    assert demo.process.wait(timeout=GUARD_S) == 0
    assert [pid for pid in children if alive(pid)] == []
    assert list(demo.tmp.iterdir()) == []


def test_a_second_signal_kills_at_once(demo: Demo) -> None:
    children = demo.children()
    for child in children:  # children that will not stop by themselves
        os.kill(child, signal.SIGSTOP)
    demo.process.send_signal(signal.SIGTERM)
    demo.wait_for_output("a second signal kills it at once")
    demo.process.send_signal(signal.SIGTERM)
    assert demo.process.wait(timeout=GUARD_S) == 128 + signal.SIGTERM
    poll_until(lambda: not any(alive(pid) for pid in children), GUARD_S, what="children gone")
    assert list(demo.tmp.iterdir()) == []
