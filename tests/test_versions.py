"""The suite runs on the versions in requirements.lock (issue 16: an upgrade is a
decision, not a surprise): the README's test command installs from the lock, and this
fails when what is installed has drifted from it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from scripts.lock_drift import drift, pins

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def test_every_installed_locked_distribution_is_at_its_locked_version() -> None:
    assert drift(LOCK) == {}


def test_the_lock_pins_every_distribution_the_code_declares() -> None:
    """Each dependency pyproject.toml declares (and the test extra) has a pin."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    names = {_name(requirement) for requirement in declared}
    assert names - set(pins(LOCK)) == set()


def _name(requirement: str) -> str:
    bare = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()
