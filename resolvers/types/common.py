"""Small shared types: channels, money, coordinates, addresses."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

import strawberry

from adapters import records
from resolvers.inputs import POSTAL_CODE, text


@strawberry.enum(description="Where a shopper meets the retailer.")
class Channel(Enum):
    WEB = "WEB"
    APP = "APP"
    STORE = "STORE"


@strawberry.type(description="An amount in major units (euros, not cents) and its currency.")
class Money:
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")

    @classmethod
    def of(cls, money: records.Money | None) -> Money | None:
        return cls(amount=money.amount, currency=money.currency) if money else None


@strawberry.type
class Coordinates:
    lat: float
    lon: float


@strawberry.type
class Address:
    street: str | None
    city: str | None
    postal_code: str | None
    country: str | None

    @classmethod
    def of(cls, address: records.Address | None) -> Address | None:
        if address is None:
            return None
        return cls(
            street=address.street,
            city=address.city,
            postal_code=address.postal_code,
            country=address.country,
        )


@strawberry.input(description="A coordinate pair, WGS 84.")
class PointInput:
    lat: float
    lon: float


@strawberry.input(one_of=True, description="A place: a Dutch postal code or coordinates.")
class NearInput:
    postal_code: str | None = text(POSTAL_CODE, default=strawberry.UNSET)
    point: PointInput | None = strawberry.UNSET


def asked_channel(argument: Channel | None, context_channel: str) -> str:
    """The channel a field answers for: its argument if given, else the request's."""
    return argument.value if argument is not None else context_channel
