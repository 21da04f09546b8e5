"""Dutch postal areas: the real centroid of every 4-digit Dutch postal code, from
GeoNames (geonames.org, CC BY 4.0), and the lookup of a postal code in any usual
spelling.

Shared by the gateway (distances to stores, delivery addresses:
``resolvers/catalogue/geo.py``) and the simulated systems (where their stores and
customers live: ``legacy/world.py``), which import nothing else of each other. Shipping
the table means no geocoding service is called, which keeps personal addresses inside
the retailer's walls and answers in microseconds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class PostalArea:
    postal_code: str
    city: str
    lat: float
    lon: float


@cache
def postal_areas() -> dict[str, PostalArea]:
    """All 4-digit postal areas, keyed by code; read once per process."""
    raw = json.loads(resources.files(__package__).joinpath("netherlands_pc4.json").read_text())
    return {
        row["zipcode"]: PostalArea(
            row["zipcode"], row["name"], float(row["latitude"]), float(row["longitude"])
        )
        for row in raw
    }


#: a Dutch postal code: four digits, the first not 0, and optionally two letters
#: (``1012 AB``, ``1012ab``, ``1012``); anything else is no Dutch postal code (Berlin's
#: ``10115`` is not Amsterdam's 1011)
DUTCH_POSTAL_CODE = re.compile(r"([1-9][0-9]{3}) ?([A-Za-z]{2})?")


def locate(postal_code: str) -> PostalArea | None:
    """The area of a Dutch postal code in any usual spelling; None for a code that is
    not Dutch, or that no area has."""
    found = DUTCH_POSTAL_CODE.fullmatch(postal_code.strip())
    return postal_areas().get(found.group(1)) if found else None
