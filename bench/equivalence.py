"""Do two gateways give the same data for a compared query? Their answers normalised and
compared, as pure functions over JSON.

The normal form keeps what the data says and drops what only the wire does:

- the ``products`` list keeps its order (a product list answers in the order asked);
  every list inside a product (stock levels, promotions) is a set, sorted;
- money amounts are decimals (Mosaic writes ``"89.90"``, the peer's NAV reader ``89.9``);
- a stock level with nothing on hand and nothing reserved says what no level says: none
  of it there. Until issue 19 item 3 Mosaic listed a location awaiting a shipment even
  when the query did not ask about shipments (it read them anyway); it now reads them
  only for ``inTransit``, and the peer reads none. The count of such levels on each side
  is reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

Json = Any
#: how many differences a verdict spells out
SHOWN = 10


@dataclass(frozen=True, slots=True)
class Verdict:
    query: str
    same: bool
    identical: bool  # the same before normalising too
    differences: list[str]
    empty_levels: dict[str, int] = field(default_factory=dict)  # dropped, per gateway
    values: int = 0  # leaf values compared (of the first answer's normal form)

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "same": self.same,
            "identical_before_normalising": self.identical,
            "differences": self.differences,
            "empty_stock_levels_dropped": self.empty_levels,
            "values_compared": self.values,
        }


def _is_empty_level(value: Json) -> bool:
    return (
        isinstance(value, dict)
        and "location" in value
        and value.get("onHand") == 0
        and value.get("reserved") == 0
    )


def _decimal(value: Json) -> Json:
    try:
        return str(Decimal(str(value)).normalize())
    except InvalidOperation:
        return value


def _canonical(value: Json) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def normalise(value: Json, ordered: bool = True) -> tuple[Json, int]:
    """The normal form of an answer's data, and how many empty stock levels it dropped.
    ``ordered``: whether the lists met before any other list keep their order (the
    outermost do; every list inside one of their items is sorted)."""
    dropped = 0
    if isinstance(value, dict):
        out: dict[str, Json] = {}
        for key, item in value.items():
            if key == "amount" and item is not None:
                out[key] = _decimal(item)
            else:
                out[key], count = normalise(item, ordered)
                dropped += count
        return out, dropped
    if isinstance(value, list):
        kept = []
        for item in value:
            if _is_empty_level(item):
                dropped += 1
                continue
            normal, count = normalise(item, ordered=False)
            kept.append(normal)
            dropped += count
        return (kept if ordered else sorted(kept, key=_canonical)), dropped
    return value, dropped


def _leaves(value: Json) -> int:
    if isinstance(value, dict):
        return sum(_leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(_leaves(v) for v in value)
    return 1


def _differences(left: Json, right: Json, path: str, names: tuple[str, str]) -> list[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        found: list[str] = []
        for key in sorted(set(left) | set(right)):
            if key not in right:
                found.append(f"{path}.{key}: only {names[0]} has it")
            elif key not in left:
                found.append(f"{path}.{key}: only {names[1]} has it")
            else:
                found += _differences(left[key], right[key], f"{path}.{key}", names)
        return found
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [
            d
            for index, (a, b) in enumerate(zip(left, right, strict=True))
            for d in _differences(a, b, f"{path}[{index}]", names)
        ]
    if left != right:
        return [
            f"{path}: {names[0]} {_canonical(left)[:200]} != {names[1]} {_canonical(right)[:200]}"
        ]
    return []


def compare(query: str, answers: Mapping[str, Json]) -> Verdict:
    """The verdict on two gateways' answers (name -> the whole JSON response) to ``query``.
    An answer with ``errors`` or without ``data`` is a difference in itself."""
    (first, one), (second, other) = answers.items()
    problems = [
        f"{name} answered errors: {_canonical(answer.get('errors'))[:300]}"
        for name, answer in answers.items()
        if not isinstance(answer, dict) or answer.get("errors") or answer.get("data") is None
    ]
    if problems:
        return Verdict(query, False, False, problems)
    left, left_dropped = normalise(one["data"])
    right, right_dropped = normalise(other["data"])
    differences = _differences(left, right, "data", (first, second))
    return Verdict(
        query=query,
        same=not differences,
        identical=one["data"] == other["data"],
        differences=differences[:SHOWN]
        + ([f"... and {len(differences) - SHOWN} more"] if len(differences) > SHOWN else []),
        empty_levels={first: left_dropped, second: right_dropped},
        values=_leaves(left),
    )
