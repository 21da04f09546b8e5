"""Values worked out once per set of objects, for as long as the holder lives.

An operation hands every object of a list the same selection and the same field node,
and a request's loaders hand every product the same store list: what is derived from
them (a plan of the fields, converted arguments, an index) is the same each time.
Keyed by the objects' identities, which stay unique because the memo keeps the objects
themselves alive: an id is only reused once its object is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class ByIdentity(Generic[V]):
    def __init__(self) -> None:
        self._known: dict[object, tuple[tuple[object, ...], V]] = {}

    def get(self, make: Callable[..., V], *parts: object) -> V:
        """``make(*parts)``, the first time these very objects are asked for together.
        One object is the common case (the field loop asks once per object of a list),
        so its key is its id alone."""
        key = id(parts[0]) if len(parts) == 1 else tuple(map(id, parts))
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = (parts, make(*parts))
        return known[1]
