"""What a process tree costs, read from Linux's /proc, and where it may run.

The gateway runs as a parent with worker children (`mosaic serve`), so every figure is
taken over the process and all its descendants: CPU time as the sum (the work done),
peak RSS as the largest single process (the figure a per-worker memory budget is
judged by) and as the total.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, which may hold spaces."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:  # the process ended meanwhile
        return None
    return raw[raw.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """``pid`` and every living process below it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its living descendants."""
    total = 0
    for each in descendants(pid):
        fields = _stat_fields(each)
        if fields is not None:  # utime and stime are fields 14 and 15 of stat
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


@dataclass(frozen=True, slots=True)
class Memory:
    peak_rss_mb_max: float  # the largest VmHWM of any one process of the tree
    peak_rss_mb_total: float  # the VmHWMs added up
    processes: int


def peak_rss(pid: int) -> Memory:
    peaks = [p for p in (_vm_hwm_kb(each) for each in descendants(pid)) if p is not None]
    return Memory(
        peak_rss_mb_max=max(peaks, default=0) / 1024,
        peak_rss_mb_total=sum(peaks) / 1024,
        processes=len(peaks),
    )


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        lines = (PROC / str(pid) / "status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


@dataclass(frozen=True, slots=True)
class Layout:
    """Which cores the gateway and the rest (simulated systems, load generator) get.

    ``None`` means unpinned: on one core there is nothing to separate.
    """

    cores: int
    gateway: frozenset[int] | None
    others: frozenset[int] | None

    def describe(self) -> str:
        if self.gateway is None or self.others is None:
            return f"{self.cores} core(s), nothing pinned: all processes share the CPU"
        return (
            f"{self.cores} cores: gateway pinned to core(s) {_cores(self.gateway)}; "
            f"simulated systems and load generator pinned to core(s) {_cores(self.others)}"
        )


def _cores(cores: frozenset[int]) -> str:
    return ",".join(str(c) for c in sorted(cores))


def plan_layout(available: set[int] | None = None, *, shared: bool = False) -> Layout:
    """Half the cores (at least one) for the gateway, the rest for everything else;
    ``shared``: nothing pinned, so a gateway with a worker per core can use every core
    while the systems and the load generator idle (with the cache on, they mostly do)."""
    cores = sorted(available if available is not None else os.sched_getaffinity(0))
    if len(cores) < 2 or shared:
        return Layout(cores=len(cores), gateway=None, others=None)
    split = max(1, len(cores) // 2)
    return Layout(
        cores=len(cores), gateway=frozenset(cores[:split]), others=frozenset(cores[split:])
    )


def pin(cores: frozenset[int] | None, pid: int = 0) -> None:
    """Restrict ``pid`` (0: this process) to ``cores``; children inherit it."""
    if cores is not None:
        os.sched_setaffinity(pid, cores)
