"""Writing a simulated system's seeded data to its own SQLite file, once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path


def build_once(
    db_path: Path,
    schema: str,
    load: Callable[[sqlite3.Connection], None],
    *,
    connect: Callable[[Path], sqlite3.Connection] = sqlite3.connect,
) -> None:
    """Create ``db_path`` with ``schema`` and ``load`` it in one transaction, unless it
    exists already: a system keeps the writes it recorded across restarts. Written
    aside and moved into place, so a crash while seeding leaves no half-filled file."""
    if db_path.exists():
        return
    db_path.parent.mkdir(parents=True, exist_ok=True)
    partial = db_path.with_name(db_path.name + ".building")
    partial.unlink(missing_ok=True)
    db = connect(partial)
    try:
        if schema:
            db.executescript(schema)
        db.execute("BEGIN")
        load(db)
        db.execute("COMMIT")
    finally:
        db.close()
    partial.replace(db_path)
