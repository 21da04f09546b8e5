"""Stores (from the POS) and warehouses (from the WMS) as one Location type."""

from __future__ import annotations

from enum import Enum
from functools import lru_cache

import strawberry

from adapters.records import LocationRecord
from resolvers.catalogue.geo import position
from resolvers.catalogue.places import directory
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.types.common import Address, Coordinates
from resolvers.graphql.types.node import Node


@strawberry.enum(description="A STORE (the POS's) or a WAREHOUSE (the WMS's).")
class LocationKind(Enum):
    STORE = "STORE"
    WAREHOUSE = "WAREHOUSE"


@strawberry.type(description="A store (POS) or a warehouse (WMS), at a real place.")
class Location(Node):
    id: strawberry.ID = strawberry.field(
        description="`store:<POS location id>` or `warehouse:<WMS site id>`."
    )
    kind: LocationKind = strawberry.field(description="A store or a warehouse.")
    name: str | None = strawberry.field(description="What it is called.")
    city: str | None = strawberry.field(description="The town it is in.")
    address: Address | None = strawberry.field(description="Its postal address.")
    coordinates: Coordinates | None = strawberry.field(
        description="Where it is: from its system, else from its postal code."
    )
    opening_hours: str | None = strawberry.field(
        description="Opening hours in local time (`Mo-Sa 09:00-18:00; Su 12:00-17:00`)."
    )
    open: bool | None = strawberry.field(description="False while a store is closed.")

    @classmethod
    def of(cls, record: LocationRecord) -> Location:
        """One Location per place, shared: a stock check lists the same 28 places under
        every product, and the objects are never changed once made."""
        return _location(record)

    @classmethod
    def known_by_id(cls, kind: str, global_id: str) -> Location:
        """A location known by its id alone, for a selection that asks nothing else of
        it (``stock { location { id } }``): no directory is read to make it."""
        return _known_by_id(kind, global_id)

    @classmethod
    async def at(cls, info: Info, global_id: str | None) -> Location | None:
        """The store or warehouse of a global id, from the request's directory; None
        without an id or where nobody knows the place."""
        if global_id is None:
            return None
        place = (await directory(info)).get(global_id)
        return cls.of(place) if place else None

    @classmethod
    def _make(cls, record: LocationRecord) -> Location:
        return cls(
            id=strawberry.ID(ids.location_id(record.kind, record.id)),
            kind=LocationKind(record.kind),
            name=record.name,
            city=record.address.city,
            address=Address.of(record.address),
            coordinates=Coordinates(lat=at[0], lon=at[1]) if (at := position(record)) else None,
            opening_hours=record.opening_hours,
            open=record.active,
        )


@lru_cache(maxsize=4096)
def _location(record: LocationRecord) -> Location:
    return Location._make(record)


@lru_cache(maxsize=4096)
def _known_by_id(kind: str, global_id: str) -> Location:
    return Location(
        id=strawberry.ID(global_id),
        kind=LocationKind(kind),
        name=None,
        city=None,
        address=None,
        coordinates=None,
        opening_hours=None,
        open=None,
    )
