"""The layout a newcomer finds their way in: a folder per concern, and no folder with
more than fifteen modules side by side (issue 16), so that a folder's name says what
its modules do. tests/ may hold more: it is organised by markers."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "resolvers", "adapters", "legacy", "geodata", "contracts")
MOST = 15


def sizes() -> dict[str, int]:
    """Each package folder, with how many modules it holds beside its __init__."""
    return {
        str(init.parent.relative_to(ROOT)): sum(
            1 for p in init.parent.glob("*.py") if p.name != "__init__.py"
        )
        for package in PACKAGES
        for init in (ROOT / package).rglob("__init__.py")
    }


def test_the_counter_counts_the_modules_of_a_package_folder() -> None:
    assert sizes()["resolvers/engine"] == len(list((ROOT / "resolvers/engine").glob("*.py"))) - 1


def test_no_folder_holds_more_than_fifteen_modules() -> None:
    assert {folder: n for folder, n in sizes().items() if n > MOST} == {}
