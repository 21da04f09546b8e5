"""Contract checks: every exchange with a simulated system judged against the product's
published description (DESIGN: "The real interfaces are the contract").

A checker sits next to a simulated system, inside its fault knobs (so it sees what the
system really exchanged, never a fault a knob put in its place), and records every way a
request the gateway sent, or an answer the system gave, departs from the description.
``tests/conftest.py`` fails each test during which a departure was recorded, so the
whole suite is the contract test: every exchange any test makes is checked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

Direction = Literal["request", "response"]


@dataclass(frozen=True, slots=True)
class Departure:
    source: str  # crm, erp, pos, wms
    direction: Direction  # the gateway's request, or the system's answer
    operation: str  # "POST /v2/orders/search", "ItemCard:ReadMultiple"
    detail: str  # what the description says that the exchange did not do

    def __str__(self) -> str:
        return f"{self.source} {self.direction} {self.operation}: {self.detail}"


class Departures:
    """What the checkers found, kept until a test takes it. The simulated systems run in
    threads of their own, so recording and taking are locked."""

    def __init__(self) -> None:
        self._found: list[Departure] = []
        self._lock = threading.Lock()

    def record(self, departure: Departure) -> None:
        with self._lock:
            self._found.append(departure)

    def take(self) -> list[Departure]:
        with self._lock:
            found, self._found = self._found, []
        return found


#: The test session's one recorder: every checked simulated system records here, and
#: ``tests/conftest.py`` takes what was found after each test.
SUITE = Departures()
