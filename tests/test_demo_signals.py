"""`mosaic demo` ends cleanly however it is told to: SIGINT (Ctrl-C) and SIGTERM (an
orchestrator, `kill`) both stop the gateway and every simulated system it started and
remove its temporary folder, without a traceback; a second signal while that happens
kills them at once. With its port taken it starts nothing and says so in one line.

A terminal's Ctrl-C is a SIGINT to the whole foreground process group, the demo's
children included, so the tests send it that way: the demo runs in a group of its own."""

from __future__ import annotations

import os
import signal
import socket
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
    errors: Path

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


def start(tmp_path: Path, port: int, *options: str, **environ: str) -> Demo:
    """A small demo whose temporary folder is made under its own TMPDIR, in a process
    group of its own (as a terminal's foreground job)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    output, errors = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with output.open("wb") as out, errors.open("wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "demo",
                "--size",
                "small",
                "--port",
                str(port),
                *options,
            ],
            stdout=out,
            stderr=err,
            env={**os.environ, **environ, "TMPDIR": str(tmp)},
            start_new_session=True,
        )
    return Demo(process, tmp, output, errors)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """A small demo, up and serving."""
    port = free_port()
    started = start(tmp_path, port)
    try:
        wait_listening(port, timeout_s=GUARD_S)
        yield started
    finally:
        if started.process.poll() is None:
            os.killpg(started.process.pid, signal.SIGKILL)
            started.process.wait()


def tracebacks(demo: Demo) -> list[str]:
    """What the demo and its children printed of tracebacks (stderr has the gateway's
    JSON log lines besides)."""
    return [line for line in demo.errors.read_text().splitlines() if "Traceback" in line]


def ctrl_c(demo: Demo) -> None:
    """What a terminal does: SIGINT to the demo's whole process group."""
    os.killpg(demo.process.pid, signal.SIGINT)


@pytest.mark.parametrize("stop", ["SIGTERM", "Ctrl-C"])
def test_a_stop_signal_ends_every_child_and_removes_the_folder(demo: Demo, stop: str) -> None:
    children = demo.children()
    assert len(children) == 4
    assert [p.name[:12] for p in demo.tmp.iterdir()] == ["mosaic-demo-"]
    if stop == "SIGTERM":
        demo.process.send_signal(signal.SIGTERM)
    else:
        ctrl_c(demo)
    assert demo.process.wait(timeout=GUARD_S) == 0
    assert [pid for pid in children if alive(pid)] == []
    assert list(demo.tmp.iterdir()) == []
    assert tracebacks(demo) == []


def test_ctrl_c_while_the_systems_seed_stops_everything_without_a_traceback(
    tmp_path: Path,
) -> None:
    demo = start(tmp_path, free_port())
    try:
        demo.wait_for_output("seeding small world")  # a child is building its data
        children = demo.children()
        ctrl_c(demo)
        assert demo.process.wait(timeout=GUARD_S) == 0
    finally:
        if demo.process.poll() is None:
            os.killpg(demo.process.pid, signal.SIGKILL)
    assert "Mosaic demo is up" not in demo.output.read_text()
    assert [pid for pid in children if alive(pid)] == []
    assert list(demo.tmp.iterdir()) == []
    assert tracebacks(demo) == []


def test_a_taken_port_starts_nothing_and_is_one_line(tmp_path: Path) -> None:
    """It used to seed four systems, announce GraphiQL on the port, then fail."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        demo = start(tmp_path, port)
        assert demo.process.wait(timeout=GUARD_S) == 2
    assert demo.errors.read_text() == (
        f"mosaic demo: port {port} on 127.0.0.1 is taken by another program; "
        "choose another with --port\n"
    )
    assert demo.output.read_text() == ""  # nothing seeded, nothing announced
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
