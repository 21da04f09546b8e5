"""Where a client stands, and the directory of every store and warehouse."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from adapters.errors import BadUserInput
from adapters.records import LocationRecord
from geodata import locate
from resolvers.catalogue.geo import distance_km, position
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.types.common import NearInput
from resolvers.loading.ready import settle


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float

    def km_to(self, record: LocationRecord) -> float:
        """The distance to a place; infinite where the place's position is unknown, so
        it sorts last."""
        at = position(record)
        return math.inf if at is None else _km(self.lat, self.lon, *at)


@lru_cache(maxsize=16_384)
def _km(lat: float, lon: float, to_lat: float, to_lon: float) -> float:
    """Remembered: a listing asks the distance from one point to the same stores for
    every product (about 500 times a request), and stores do not move."""
    return round(distance_km(lat, lon, to_lat, to_lon), 1)


def point_of(near: NearInput | None) -> Point | None:
    """The coordinates of a ``near`` argument; an unknown postal code is bad input."""
    if near is None:
        return None
    if near.point:
        if not (-90 <= near.point.lat <= 90 and -180 <= near.point.lon <= 180):
            raise BadUserInput("point is outside WGS 84 bounds")
        return Point(near.point.lat, near.point.lon)
    area = locate(near.postal_code or "")
    if area is None:
        raise BadUserInput(f"{near.postal_code!r} is not a known Dutch postal code")
    return Point(area.lat, area.lon)


def by_id(*found: Sequence[LocationRecord] | None) -> dict[str, LocationRecord]:
    """Locations by global id, from the lists the sources gave (None: that source
    failed, and its kind is left out)."""
    return {ids.location_id(r.kind, r.id): r for records in found for r in records or ()}


async def stores(info: Info) -> dict[str, LocationRecord]:
    """Every store by global id, when only stores matter (availability in store)."""
    return by_id(*await settle(info, info.context.loaders.all_stores()))


async def directory(info: Info) -> dict[str, LocationRecord]:
    """Every store and warehouse by global id. A failing source leaves its kind out
    and is reported against the asking field, so the other kind still answers."""
    loaders = info.context.loaders
    return by_id(*await settle(info, loaders.all_stores(), loaders.all_warehouses()))
