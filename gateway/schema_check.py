"""``mosaic schema check``: the schema the code serves against the published contract
(``schema.graphql``), as a client team would judge the difference.

graphql-core finds the *breaking* changes (a removed field, a changed type, a new
required argument: some client's query stops working) and the *dangerous* ones (a new
enum value, a new optional argument: queries still validate but may behave
differently). The *safe* ones it does not list (a new type, a new field, a new
directive) are found here. Both sides are read from SDL, so the comparison sees
exactly what a client or a federation router would see.

Exit codes, most serious first, so CI can tell them apart:

- 0: the code serves exactly the published contract;
- 1: breaking changes;
- 2: dangerous changes, none breaking;
- 3: only safe changes (or only descriptions, directives applied, ordering):
  run ``mosaic schema export --output schema.graphql`` and commit the new contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)
from graphql.utilities import find_breaking_changes, find_dangerous_changes

from resolvers.schema import build_schema as build_code_schema

IDENTICAL, BREAKING, DANGEROUS, SAFE = 0, 1, 2, 3
FIELDED = (GraphQLObjectType, GraphQLInterfaceType)


@dataclass(frozen=True, slots=True)
class SchemaDiff:
    breaking: list[str]
    dangerous: list[str]
    safe: list[str]
    differs: bool  # the SDL text differs at all

    @property
    def exit_code(self) -> int:
        if self.breaking:
            return BREAKING
        if self.dangerous:
            return DANGEROUS
        return SAFE if self.differs else IDENTICAL

    def report(self, contract: str) -> str:
        if not self.differs:
            return f"The code serves exactly the contract in {contract}.\n"
        lines = [f"The code's schema differs from {contract}:"]
        for title, changes in (
            ("Breaking", self.breaking),
            ("Dangerous", self.dangerous),
            ("Safe", self.safe),
        ):
            if changes:
                lines.append(f"\n{title} changes ({len(changes)}):")
                lines += [f"  - {change}" for change in changes]
        if not (self.breaking or self.dangerous or self.safe):
            lines.append("\nOnly descriptions, applied directives or ordering changed.")
        lines.append(f"\nIf intended, publish it: mosaic schema export --output {contract}")
        return "\n".join(lines) + "\n"


def compare(published_sdl: str, current_sdl: str) -> SchemaDiff:
    """What changed from the published SDL to the current one."""
    old, new = _read(published_sdl), _read(current_sdl)
    return SchemaDiff(
        breaking=[f"{c.type.name}: {c.description}" for c in find_breaking_changes(old, new)],
        dangerous=[f"{c.type.name}: {c.description}" for c in find_dangerous_changes(old, new)],
        safe=_additions(old, new),
        differs=published_sdl.strip() != current_sdl.strip(),
    )


def _read(sdl: str) -> GraphQLSchema:
    # Federation's directives (@link, @key) are applied without being defined in the
    # subgraph SDL, as routers expect; they do not change what a client can ask.
    return build_schema(sdl, assume_valid_sdl=True)


def _additions(old: GraphQLSchema, new: GraphQLSchema) -> list[str]:
    """Additions graphql-core does not report: they cannot affect an existing query."""
    found: list[str] = []
    for name, kind in new.type_map.items():
        before = old.type_map.get(name)
        if name.startswith("__"):
            continue
        if before is None:
            found.append(f"TYPE_ADDED: {name} was added.")
        elif isinstance(kind, FIELDED) and isinstance(before, FIELDED):
            found += [
                f"FIELD_ADDED: Field {name}.{field} was added."
                for field in kind.fields
                if field not in before.fields
            ]
    found += [
        f"DIRECTIVE_ADDED: Directive @{d.name} was added."
        for d in new.directives
        if old.get_directive(d.name) is None
    ]
    return found


def check(contract: Path) -> int:
    """Print the differences between the code and ``contract``; the exit code above."""
    diff = compare(contract.read_text(), build_code_schema().as_str())
    print(diff.report(str(contract)), end="")
    return diff.exit_code
