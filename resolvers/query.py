"""The root fields: how a client enters the graph."""

from __future__ import annotations

import asyncio

import strawberry

from adapters.errors import BadUserInput, MosaicError
from resolvers import ids
from resolvers.context import Info, settle
from resolvers.identity import start_keys_of_id
from resolvers.places import directory, point_of
from resolvers.prefetch import prefetch_products
from resolvers.survivorship import normalise_email
from resolvers.types.common import NearInput
from resolvers.types.customer import Customer
from resolvers.types.location import Location, LocationKind
from resolvers.types.order import Order
from resolvers.types.product import Product

MAX_KEYS = 500  # longest list argument; a real listing page asks for at most ~100


@strawberry.input(one_of=True, description="Exactly one way to recognise a customer.")
class CustomerBy:
    id: strawberry.ID | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    loyalty_card: str | None = strawberry.UNSET


def _start_keys(by: CustomerBy) -> dict[str, str]:
    if by.id:
        return start_keys_of_id(str(by.id))
    if by.email:
        email = normalise_email(by.email)
        if not email or "@" not in email:
            raise BadUserInput(f"{by.email!r} is not an e-mail address")
        return {"email": email}
    card = (by.loyalty_card or "").strip()
    if not card:
        raise BadUserInput("loyaltyCard is empty")
    return {"card": card}


async def _customer(info: Info, by: CustomerBy) -> Customer | None:
    return await Customer.find(info.context.loaders, _start_keys(by))


def _check_length(name: str, values: list[strawberry.ID]) -> None:
    if len(values) > MAX_KEYS:
        raise BadUserInput(f"{name} takes at most {MAX_KEYS} values, got {len(values)}")


@strawberry.type
class Query:
    @strawberry.field(description="One customer, recognised by id, e-mail or loyalty card.")
    async def customer(self, info: Info, by: CustomerBy) -> Customer | None:
        return await _customer(info, by)

    @strawberry.field(description="Customers by id, in the order asked; null where unknown.")
    async def customers(self, info: Info, ids: list[strawberry.ID]) -> list[Customer | None]:
        _check_length("ids", ids)
        return list(await asyncio.gather(*(_customer(info, CustomerBy(id=i)) for i in ids)))

    @strawberry.field
    async def product(self, info: Info, sku: strawberry.ID) -> Product | None:
        prefetch_products(info, [str(sku)])
        try:
            item = await info.context.loaders.item.load(str(sku))
        except MosaicError as error:  # the ERP is down: answer what others can tell
            info.context.report(info, error)
            return Product(sku=sku)
        return Product(sku=sku) if item else None

    @strawberry.field(description="Products by SKU, in the order asked; null where unknown.")
    async def products(self, info: Info, skus: list[strawberry.ID]) -> list[Product | None]:
        _check_length("skus", skus)
        prefetch_products(info, [str(s) for s in skus])
        (items,) = await settle(info, info.context.loaders.item.load_many([str(s) for s in skus]))
        if items is None:
            # The ERP is down: which SKUs exist is unknown, but their stock and
            # availability are not the ERP's to tell, so every SKU still answers.
            return [Product(sku=s) for s in skus]
        return [Product(sku=s) if item else None for s, item in zip(skus, items, strict=True)]

    @strawberry.field
    async def location(self, info: Info, id: strawberry.ID) -> Location | None:
        ids.split(str(id), tuple(ids.LOCATION_PREFIXES.values()), "location")
        place = (await directory(info)).get(str(id))
        return Location.of(place) if place else None

    @strawberry.field(description="Stores and warehouses, nearest first when `near` is given.")
    async def locations(
        self,
        info: Info,
        near: NearInput | None = None,
        limit: int = 10,
        kind: LocationKind | None = None,
    ) -> list[Location]:
        if not 0 <= limit <= MAX_KEYS:
            raise BadUserInput(f"limit must be between 0 and {MAX_KEYS}")
        point = point_of(near)
        places = [
            p for p in (await directory(info)).values() if kind is None or p.kind == kind.value
        ]
        if point is not None:
            places.sort(key=point.km_to)
        return [Location.of(p) for p in places[:limit]]

    @strawberry.field(description="One order from any channel, by its id.")
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        prefix, local = ids.split(str(id), ids.ORDER_PREFIXES, "order")
        loaders = info.context.loaders
        loader = loaders.erp_order if prefix == "erp" else loaders.pos_order
        record = await loader.load(local)
        return Order.of(record) if record else None
