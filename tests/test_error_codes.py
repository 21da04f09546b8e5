"""Every code a client can meet is declared once, in adapters/errors.py's tree: the
source writes no code of its own beside it, the GraphQL enum of payload codes is that
tree's, and the README's list is the tree's list."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from adapters.errors import ErrorCode, MosaicError, PayloadCode
from resolvers.graphql.schema import build_schema

ROOT = Path(__file__).resolve().parent.parent
#: the gateway's own code (the simulated systems in legacy/ speak their products' codes)
PACKAGES = ("gateway", "resolvers", "adapters")
TREE = {c.value for c in ErrorCode} | {c.value for c in PayloadCode}
#: functions that take a code as a plain argument: name -> its position
TAKES_A_CODE = {"Refused": 0, "refusal": 0, "coded": 1, "error_body": 1, "_refuse": 2}
CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


def _text(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _reads_code(node: ast.AST) -> bool:
    """``x["code"]``, ``x.get("code")`` or ``x.code``."""
    if isinstance(node, ast.Subscript):
        return _text(node.slice) == "code"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "get" and bool(node.args) and _text(node.args[0]) == "code"
    return isinstance(node, ast.Attribute) and node.attr == "code"


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def code_literals(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every string written where a code goes: as a dict's ``"code"``,
    a ``code=`` argument, a ``code = ...`` assignment, compared with a code read, in a
    ``*_CODES`` table, or as the code argument of a function that takes one."""
    for node in ast.walk(ast.parse(source)):
        found: list[ast.AST] = []
        if isinstance(node, ast.Dict):
            found += [v for k, v in zip(node.keys, node.values, strict=True) if _text(k) == "code"]
        elif isinstance(node, ast.keyword) and node.arg == "code":
            found.append(node.value)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [getattr(t, "id", None) or getattr(t, "attr", None) for t in targets]
            if "code" in names:
                found.append(node.value) if node.value else None
            if any(str(n).endswith("_CODES") for n in names) and node.value is not None:
                found += [n for n in ast.walk(node.value) if isinstance(n, ast.Constant)]
        elif isinstance(node, ast.Compare) and any(
            _reads_code(side) for side in [node.left, *node.comparators]
        ):
            found += [node.left, *node.comparators]
        elif isinstance(node, ast.Call) and _name(node) in TAKES_A_CODE:
            position = TAKES_A_CODE[str(_name(node))]
            # written as a code, not a message (graphql_http's coded takes a message there)
            found += [
                a for a in node.args[position : position + 1] if CODE.fullmatch(_text(a) or "")
            ]
        for value in found:
            text = _text(value)
            if text is not None:
                yield value.lineno, text


def test_the_scan_finds_a_code_written_in_each_place_a_code_goes() -> None:
    sample = "\n".join(
        [
            'a = {"code": "ONE"}',
            'f(code="TWO")',
            'class E:\n    code = "THREE"',
            'if error.get("code") == "FOUR": pass',
            'LIMIT_CODES = frozenset({"FIVE"})',
            'raise Refused("SIX", "message")',
        ]
    )
    assert {text for _, text in code_literals(sample)} == {
        "ONE",
        "TWO",
        "THREE",
        "FOUR",
        "FIVE",
        "SIX",
    }


def test_every_code_the_source_writes_belongs_to_the_tree() -> None:
    strays = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, text in code_literals(path.read_text())
        if text not in TREE
    ]
    assert strays == []


def test_every_error_class_carries_a_code_of_the_tree() -> None:
    def every(cls: type[MosaicError]) -> Iterator[type[MosaicError]]:
        yield cls
        for sub in cls.__subclasses__():
            yield from every(sub)

    classes = list(every(MosaicError))
    assert len(classes) > 15
    assert all(isinstance(cls.code, ErrorCode | PayloadCode) for cls in classes)


def test_every_code_of_the_tree_is_used() -> None:
    """No code is declared that nothing writes (``ErrorCode.X`` or ``PayloadCode.X``)."""
    used = {
        match
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for match in re.findall(r"(?:ErrorCode|PayloadCode)\.([A-Z_]+)", path.read_text())
    }
    assert TREE - used == set()


def test_the_payload_codes_are_the_graphql_enum_of_user_error_code() -> None:
    schema = build_schema()._schema
    enum = schema.type_map["UserErrorCode"]
    assert set(enum.values) == {c.value for c in PayloadCode}  # type: ignore[attr-defined]
    code = schema.type_map["UserError"].fields["code"]  # type: ignore[attr-defined]
    assert str(code.type) == "UserErrorCode!"


def test_the_readmes_list_of_codes_is_the_trees() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Error codes", 1)[1].split("\n#", 1)[0]
    in_errors, in_payloads = section.split("- **in a write's payload", 1)
    assert set(re.findall(r"`([A-Z][A-Z_]+)`", in_errors)) == {c.value for c in ErrorCode}
    assert set(re.findall(r"`([A-Z][A-Z_]+)`", in_payloads)) == {c.value for c in PayloadCode}
