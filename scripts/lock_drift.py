"""Which installed distributions differ from a lock file's pins: ``name locked -> installed``
per line, or a line saying there are none. Used by scripts/test-newest (the newest
versions the ranges allow, against the ones the suite was run on) and by
tests/test_versions.py (the installed versions are the locked ones)."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def pins(lock: Path) -> dict[str, str]:
    """``name -> version`` for every ``name==version`` line, names normalised."""
    found: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        if match := _PIN.match(line.strip()):
            found[_normal(match[1])] = match[2]
    return found


def drift(lock: Path) -> dict[str, tuple[str, str]]:
    """Locked distributions installed at another version: ``name -> (locked, installed)``.
    Those not installed (another extra's) are not drift."""
    installed = {_normal(d.metadata["Name"]): d.version for d in metadata.distributions()}
    return {
        name: (version, installed[name])
        for name, version in pins(lock).items()
        if name in installed and installed[name] != version
    }


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(argv: list[str]) -> int:
    found = drift(Path(argv[1]))
    for name, (locked, installed) in sorted(found.items()):
        print(f"  {name} {locked} -> {installed}")
    if not found:
        print("  none: the newest allowed versions are the locked ones")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
