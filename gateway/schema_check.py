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
  run ``mosaic schema export --output schema.graphql`` and commit the new contract;
- 4: there is no contract to compare with (missing, unreadable, not SDL): one line says
  which file, or where it was looked for.

Without ``--contract`` the contract is ``schema.graphql`` in the current directory, else
the one beside the code (a checkout's root), so the command works from anywhere in a
checkout; an installed package has none and says where it looked.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    is_specified_scalar_type,
)
from graphql.utilities import find_breaking_changes, find_dangerous_changes

from resolvers.graphql.schema import build_schema as build_code_schema

IDENTICAL, BREAKING, DANGEROUS, SAFE, NO_CONTRACT = 0, 1, 2, 3, 4
CONTRACT = "schema.graphql"
#: where the contract is looked for without --contract: here, then beside the code
PLACES = (Path(CONTRACT), Path(__file__).resolve().parent.parent / CONTRACT)
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
        if name.startswith("__") or is_specified_scalar_type(kind):
            # Int, Float, String, Boolean, ID: every schema has them, whether or not its
            # SDL happens to mention them; a first use is no new type
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


def check(contract: Path | None, places: Sequence[Path] = PLACES) -> int:
    """Print the differences between the code and ``contract`` (None: the first of
    ``places`` that exists); the exit code above."""
    if contract is None:
        contract = next((place for place in places if place.is_file()), None)
        if contract is None:
            looked = ", ".join(str(place.resolve()) for place in places)
            return _no_contract(f"no {CONTRACT} found (looked at {looked}); pass --contract FILE")
    try:
        published = contract.read_text()
        _read(published)
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        return _no_contract(f"cannot read the contract {contract}: {reason}")
    except GraphQLError as error:
        return _no_contract(f"the contract {contract} is not GraphQL SDL: {error.message}")
    diff = compare(published, build_code_schema().as_str())
    print(diff.report(str(contract)), end="")
    return diff.exit_code


def _no_contract(line: str) -> int:
    print(f"mosaic schema check: {line}", file=sys.stderr)
    return NO_CONTRACT
