"""Where the gateway's CPU goes under load: py-spy sampling the running gateway from the
outside (no change to the process under test), summarised by function.

Optional (``--profile``): it needs the ``py-spy`` command, and sampling pauses the
gateway briefly at every sample, so profiled cells are not the ones to quote
throughput from.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

RATE_HZ = 200  # blocking samples (exact stacks): each pauses the gateway for a moment
#: The process's plumbing, on every stack: left out of the inclusive figures
PLUMBING = ("<frozen runpy>", "click/", "uvicorn/", "asyncio/runners.py", "asyncio/base_events.py")
ROOT = Path(__file__).resolve().parent.parent


def py_spy() -> str | None:
    """The py-spy command beside this interpreter, or on the PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, duration_s: float, output: Path, subprocesses: bool) -> subprocess.Popen[bytes]:
    """Sample ``pid`` (and its workers) for ``duration_s`` into collapsed stacks."""
    command = py_spy()
    if command is None:
        raise RuntimeError("--profile needs py-spy: pip install py-spy")
    argv = [
        command, "record", "--pid", str(pid), "--duration", str(max(1, round(duration_s))),
        "--rate", str(RATE_HZ), "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    if subprocesses:
        argv.append("--subprocesses")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@dataclass(frozen=True, slots=True)
class Summary:
    samples: int
    self_share: list[tuple[str, float]]  # function, share of samples on top of the stack
    inclusive_share: list[tuple[str, float]]  # function, share of samples it is on the stack


def summarise(collapsed: Iterable[str], top: int = 25) -> Summary:
    """py-spy's collapsed stacks (``frame;frame;... count`` lines, outermost first) as the
    functions taking most samples by themselves and with what they call."""
    own: Counter[str] = Counter()
    within: Counter[str] = Counter()
    total = 0
    for line in collapsed:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if not any(p in frame for p in PLUMBING):
                within[frame] += count
    return Summary(
        samples=total,
        self_share=[(f, n / total) for f, n in own.most_common(top)] if total else [],
        inclusive_share=[(f, n / total) for f, n in within.most_common(top)] if total else [],
    )


def _function(frame: str) -> str:
    """``name (path/to/module.py:123)`` -> ``name (module.py)``: lines differ per call
    site, which would split one function into many rows."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({_short(path)})" if path else name


def _short(path: str) -> str:
    """A path relative to the project or to site-packages, else its last two parts."""
    where = Path(path)
    if where.is_relative_to(ROOT):
        return str(where.relative_to(ROOT))
    parts = where.parts
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1 :])
    return "/".join(parts[-2:])
