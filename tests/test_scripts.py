"""The README's two commands show what they are doing while they install: the first run
of either used to sit silent for most of a minute (pip --quiet, apt-get -qq)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

#: the shell scripts (the Python helpers beside them have a suffix)
SCRIPTS = sorted(
    p for p in (Path(__file__).resolve().parent.parent / "scripts").iterdir() if not p.suffix
)
ANNOUNCED_WITHIN = 2  # lines between the announcement and the install


def lines(script: Path) -> list[str]:
    return [line.strip() for line in script.read_text().splitlines()]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_pip_shows_its_progress(script: Path) -> None:
    installs = [line for line in lines(script) if re.search(r"\bpip install\b", line)]
    assert installs, "a script in scripts/ that installs nothing with pip"
    assert [line for line in installs if re.search(r"\s(--quiet|-q+)\b", line)] == []


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_every_silent_install_is_announced_first(script: Path) -> None:
    """apt-get and npm are kept quiet (their output is noise here), so each says first
    what it installs and why."""
    text = lines(script)
    for number, line in enumerate(text):
        if re.search(r"apt-get install|npm ci", line):
            before = text[max(0, number - ANNOUNCED_WITHIN) : number]
            assert any(b.startswith('echo "Installing') for b in before), line
