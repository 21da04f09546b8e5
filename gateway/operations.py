"""The project's own copy of the reference operations, as GraphiQL and the tests use them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from graphql import OperationDefinitionNode, parse


@cache
def reference_operations() -> dict[str, str]:
    """Operation name -> document text, for every ``operations/*.graphql``."""
    found: dict[str, str] = {}
    folder = resources.files(__package__).joinpath("operations")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".graphql"):
            continue
        text = entry.read_text()
        for definition in parse(text).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                found[definition.name.value] = text
    return found


def load_examples(path: Path | None) -> dict[str, dict[str, Any]]:
    """Example variables per operation name, from a JSON file (`mosaic examples`)."""
    if path is None or not path.exists():
        return {}
    data: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return data
