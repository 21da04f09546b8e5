"""The README stands alone in a fresh clone: it points at nothing outside the repository,
every file it names is there, every `mosaic` command it shows parses, and the ids in its
examples exist in the seeded world. (Its first curl runs against a real demo in
tests/test_demo.py.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from gateway.cli import build_parser
from legacy.world import build_world
from resolvers.graphql import ids

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
#: a path in the repository, as the README writes one in backticks: it starts at one of
#: the repository's own top-level folders (not a media type, nor a setting's folder)
PATH = re.compile(r"^[\w.-]+(?:/[\w.*-]+)+/?$")
TOP = {entry.name for entry in ROOT.iterdir() if entry.is_dir() and not entry.name.startswith(".")}


def shell_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]


def mosaic_commands() -> list[list[str]]:
    return [shlex.split(line) for line in shell_lines() if line.startswith("mosaic ")]


def test_nothing_outside_the_repository_is_pointed_at() -> None:
    """A clone has no ../shared/ and no design notes beside it."""
    assert re.findall(r"(?<!\.)\.\./|\bshared/|\bDESIGN\b", README) == []


def test_every_file_and_folder_it_names_is_in_the_repository() -> None:
    named = set(re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README))  # relative links
    named |= {
        span
        for span in re.findall(r"`([^`\s]+)`", README)
        if PATH.match(span) and span.split("/")[0] in TOP
    }
    missing = [
        path
        for path in sorted(named)
        if not any(ROOT.glob(path.rstrip("/"))) and not path.startswith(("http", "/"))
    ]
    assert missing == []
    assert len(named) > 20  # the search found the README's paths


def test_every_mosaic_command_shown_parses() -> None:
    commands = mosaic_commands()
    assert len(commands) >= 4
    for command in commands:
        build_parser().parse_args(command[1:])


@pytest.mark.parametrize("size", ["small", "default"])
def test_the_ids_in_its_examples_exist_in_the_seeded_world(size: str) -> None:
    """`--store store:S001` used to name no store."""
    world = build_world(42, size)  # type: ignore[arg-type]
    stores = {ids.location_id("STORE", s.id) for s in world.stores}
    customers = {ids.make("crm", c.id) for c in world.crm_contacts}
    named = {"--store": stores, "--customer": customers}
    shown = [
        (option, command[command.index(option) + 1])
        for command in mosaic_commands()
        for option in named
        if option in command
    ]
    assert {option for option, _ in shown} == set(named)
    assert [(option, value) for option, value in shown if value not in named[option]] == []
