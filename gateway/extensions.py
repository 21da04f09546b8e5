"""Schema extensions the gateway adds: what the response should say about how it was
answered, beside the data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from strawberry.extensions import SchemaExtension

from adapters.cache import StaleNotice, stale_served


class StaleNotes(SchemaExtension):
    """Lists, under ``extensions.stale``, every cached value that stood in for a failing
    source in this response, with the source, the failure and the value's age, so a
    client can tell a fresh answer from a fallback."""

    def on_operation(self) -> Iterator[None]:
        self._notices: list[StaleNotice] = []
        token = stale_served.set(self._notices)
        try:
            yield
        finally:
            stale_served.reset(token)

    def get_results(self) -> dict[str, Any]:
        return {"stale": [asdict(n) for n in self._notices]} if self._notices else {}
