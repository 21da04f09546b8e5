"""`mosaic schema check` tells a contract that still holds from one that breaks clients:
the code's schema against an edited copy of the contract in a temporary file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.schema_check import (
    BREAKING,
    DANGEROUS,
    IDENTICAL,
    NO_CONTRACT,
    SAFE,
    compare,
)
from gateway.schema_check import check as check_contract
from resolvers.graphql.schema import build_schema


@pytest.fixture(scope="module")
def code_sdl() -> str:
    return build_schema().as_str() + "\n"


def edited(sdl: str, type_name: str, line: str, replacement: str) -> str:
    """``sdl`` with the first ``line`` of ``type_name``'s body replaced (by nothing, to
    remove it; by itself and more, to add), with the description before it: every field
    has one since issue 18, and one left without its field would not parse."""
    match = re.search(rf"^(type|enum) {type_name}\b[^{{]*\{{\n", sdl, flags=re.MULTILINE)
    assert match, type_name
    head, body = sdl[: match.end()], sdl[match.end() :]
    described = re.compile(rf'(?:  """(?:[^"]|"(?!""))*"""\n)?  {re.escape(line)}\n')
    found = described.search(body)
    assert found, line
    return head + body[: found.start()] + replacement + body[found.end() :]


def check(contract: Path, sdl: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    contract.write_text(sdl)
    code = main(["schema", "check", "--contract", str(contract)])
    return code, capsys.readouterr().out


def section(report: str, title: str) -> str:
    """The lines under one heading of the report."""
    found = re.search(rf"^{title} changes \(\d+\):\n((?:  - .*\n)+)", report, re.MULTILINE)
    return found.group(1) if found else ""


def test_the_code_matches_an_unchanged_contract(
    tmp_path: Path, code_sdl: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = check(tmp_path / "schema.graphql", code_sdl, capsys)
    assert code == IDENTICAL
    assert "exactly" in report


def test_a_field_the_code_no_longer_serves_is_breaking_and_a_new_one_safe(
    tmp_path: Path, code_sdl: str, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = edited(code_sdl, "Customer", "id: ID!", "  id: ID!\n  legacyNotes: String\n")
    contract = edited(gone, "Customer", "phone: String", "")  # the code has it: new
    code, report = check(tmp_path / "schema.graphql", contract, capsys)
    assert code == BREAKING
    assert "Customer.legacyNotes was removed" in section(report, "Breaking")
    assert "Customer.phone was added" in section(report, "Safe")
    assert "mosaic schema export --output" in report


def test_only_added_fields_are_safe_changes(
    tmp_path: Path, code_sdl: str, capsys: pytest.CaptureFixture[str]
) -> None:
    contract = edited(code_sdl, "Customer", "phone: String", "")
    code, report = check(tmp_path / "schema.graphql", contract, capsys)
    assert code == SAFE
    assert section(report, "Breaking") == section(report, "Dangerous") == ""
    assert section(report, "Safe").strip() == "- FIELD_ADDED: Field Customer.phone was added."


def test_a_new_enum_value_is_dangerous(
    tmp_path: Path, code_sdl: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A client switching over the enum may meet a value it does not know."""
    contract = edited(code_sdl, "Channel", "APP", "")
    code, report = check(tmp_path / "schema.graphql", contract, capsys)
    assert code == DANGEROUS
    assert "Enum value Channel.APP was added" in section(report, "Dangerous")


def test_a_description_change_alone_still_asks_for_a_new_export(
    tmp_path: Path, code_sdl: str, capsys: pytest.CaptureFixture[str]
) -> None:
    described = '  """An outdated description."""\n  name: String\n'
    contract = edited(code_sdl, "Customer", "name: String", described)
    code, report = check(tmp_path / "schema.graphql", contract, capsys)
    assert code == SAFE
    assert "Only descriptions" in report


def test_scalars_every_schema_has_are_never_added() -> None:
    """A contract that did not mention Float yet has it all the same (GraphQL's own
    scalars); only the field that first uses it is new."""
    diff = compare("type Query { a: String }", "type Query { a: String b: Float c: ID }")
    assert diff.safe == [
        "FIELD_ADDED: Field Query.b was added.",
        "FIELD_ADDED: Field Query.c was added.",
    ]


@pytest.mark.parametrize(
    ("contract", "said"),
    [
        ("missing.graphql", "cannot read the contract {path}: No such file or directory"),
        (".", "cannot read the contract {path}: Is a directory"),
        ("not-sdl.graphql", "the contract {path} is not GraphQL SDL: Syntax Error"),
    ],
    ids=["missing", "a folder", "not SDL"],
)
def test_a_contract_that_cannot_be_read_is_exit_4_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], contract: str, said: str
) -> None:
    """Exit 1 means "breaking": a CI step must tell a broken contract from a missing one."""
    (tmp_path / "not-sdl.graphql").write_text("type {")
    path = tmp_path / contract
    assert main(["schema", "check", "--contract", str(path)]) == NO_CONTRACT
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("mosaic schema check: " + said.format(path=path))
    assert captured.err.count("\n") == 1


def test_without_a_contract_anywhere_it_says_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    places = [tmp_path / "here" / "schema.graphql", tmp_path / "code" / "schema.graphql"]
    assert check_contract(None, places) == NO_CONTRACT
    assert capsys.readouterr().err == (
        f"mosaic schema check: no schema.graphql found (looked at {places[0]}, {places[1]}); "
        "pass --contract FILE\n"
    )


@pytest.mark.process  # `mosaic schema check` as a process
@pytest.mark.parametrize("given", [True, False], ids=["--contract", "beside the code"])
def test_it_works_from_any_directory(tmp_path: Path, given: bool) -> None:
    contract = Path(__file__).resolve().parent.parent / "schema.graphql"
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "schema", "check"]
        + (["--contract", str(contract)] if given else []),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (IDENTICAL, "")
    assert done.stdout == f"The code serves exactly the contract in {contract}.\n"
