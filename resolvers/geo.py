"""Dutch postal codes to coordinates, and distances between coordinates.

The table is the real centroid of every 4-digit Dutch postal code, from GeoNames
(geonames.org, CC BY 4.0). Shipping it means no geocoding service is called, which
keeps personal addresses inside the retailer's walls and answers in microseconds.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from adapters.records import LocationRecord


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


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine); ample for ranking stores within a country."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def position(place: LocationRecord) -> tuple[float, float] | None:
    """Where a place is: its own coordinates, else the centre of its Dutch postal code's
    area (Square's locations need not have coordinates); None when neither is known."""
    if place.lat is not None and place.lon is not None:
        return place.lat, place.lon
    if place.address.country not in (None, "NL"):
        return None  # the table knows Dutch postal codes only
    area = locate(place.address.postal_code or "")
    return (area.lat, area.lon) if area else None
