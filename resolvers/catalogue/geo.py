"""Where places are, and distances between them: a place's own coordinates, else the
centre of its Dutch postal area (``geodata``: GeoNames' centroids, CC BY 4.0)."""

from __future__ import annotations

import math

from adapters.records import LocationRecord
from geodata import locate


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
