"""The root fields: how a client enters the graph."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry

from adapters.errors import BadUserInput, MosaicError
from resolvers import gdpr, ids
from resolvers.authz import (
    ALLOW,
    DENY,
    VIA_EMAIL,
    VIA_ID,
    VIA_LOYALTY_CARD,
    NeedsScope,
    When,
    admit,
    guarded,
    made_through,
)
from resolvers.context import Info
from resolvers.identity import start_keys_of_id
from resolvers.inputs import (
    CUSTOMER_ID,
    EMAIL,
    LOCATION_ID,
    LOYALTY_CARD,
    ORDER_ID,
    SKU,
    argument,
    text,
)
from resolvers.places import directory, point_of
from resolvers.prefetch import arrived, prefetch_products
from resolvers.survivorship import normalise_email
from resolvers.types.common import NearInput
from resolvers.types.customer import Customer
from resolvers.types.location import Location, LocationKind
from resolvers.types.order import Order
from resolvers.types.product import Product

MAX_KEYS = 500  # longest list argument; a real listing page asks for at most ~100


@strawberry.input(one_of=True, description="Exactly one way to recognise a customer.")
class CustomerBy:
    id: strawberry.ID | None = text(CUSTOMER_ID, default=strawberry.UNSET)
    email: str | None = text(EMAIL, default=strawberry.UNSET)
    loyalty_card: str | None = text(LOYALTY_CARD, default=strawberry.UNSET)


def _start_keys(by: CustomerBy) -> dict[str, str]:
    if isinstance(by.id, str):  # given, even empty: an empty id is refused as an id
        return start_keys_of_id(str(by.id))
    if isinstance(by.email, str):
        email = normalise_email(by.email)
        if not email or "@" not in email:
            raise BadUserInput(f"{by.email!r} is not an e-mail address")
        return {"email": email}
    card = (by.loyalty_card or "").strip()
    if not card:
        raise BadUserInput("loyaltyCard is empty")
    return {"card": card}


async def _customer(info: Info, by: CustomerBy) -> Customer | None:
    via = VIA_ID if isinstance(by.id, str) else VIA_EMAIL if by.email else VIA_LOYALTY_CARD
    found = await Customer.find(info.context.loaders, _start_keys(by), via=via)
    return await admit(info, found, "this customer")


def _own_id_or_search(info: Info, args: dict[str, Any]) -> bool:
    """A customer may look themself up by card or e-mail (the answer is then checked to
    be theirs) or by their own id; never by somebody else's id."""
    by: CustomerBy = args["by"]
    return not by.id or str(by.id) == info.context.principal.customer


def _by_loyalty_card(info: Info, args: dict[str, Any]) -> bool:
    return bool(args["by"].loyalty_card)


def _only_own_ids(info: Info, args: dict[str, Any]) -> bool:
    return all(str(i) == info.context.principal.customer for i in args["ids"])


def _check_length(name: str, values: list[strawberry.ID]) -> None:
    if len(values) > MAX_KEYS:
        raise BadUserInput(f"{name} takes at most {MAX_KEYS} values, got {len(values)}")


@strawberry.type
class Query:
    @strawberry.field(
        description="One customer, recognised by id, e-mail or loyalty card.",
        extensions=[
            guarded(
                default=DENY,
                customer=When(_own_id_or_search, "by another customer's id"),
                store_employee=When(_by_loyalty_card, "needs the customer's loyalty card"),
                service_agent=ALLOW,
                marketing=ALLOW,
            )
        ],
    )
    async def customer(self, info: Info, by: CustomerBy) -> Customer | None:
        return await _customer(info, by)

    @strawberry.field(
        description="Customers by id, in the order asked; null where unknown. The list is "
        "null when `ids` is refused (too many).",
        extensions=[
            guarded(
                default=DENY,
                customer=When(_only_own_ids, "by another customer's id"),
                service_agent=ALLOW,
                marketing=ALLOW,
            )
        ],
    )
    async def customers(
        self, info: Info, ids: Annotated[list[strawberry.ID], argument(CUSTOMER_ID)]
    ) -> list[Customer | None] | None:
        _check_length("ids", ids)
        found = await asyncio.gather(
            *(_customer(info, CustomerBy(id=i)) for i in ids), return_exceptions=True
        )
        for result in found:  # one customer's failure is that customer's null
            if isinstance(result, MosaicError):
                info.context.report(info, result)
            elif isinstance(result, BaseException):
                raise result
        return [c if isinstance(c, Customer) else None for c in found]

    @strawberry.field
    async def product(
        self, info: Info, sku: Annotated[strawberry.ID, argument(SKU)]
    ) -> Product | None:
        loads = prefetch_products(info, [str(sku)])
        product = await Product.load(info, str(sku))
        await arrived(loads)
        if product.failure is not None:  # the ERP is down: answer what others can tell
            info.context.report(info, product.failure)
        return product if product.item or product.failure else None

    @strawberry.field(
        description="Products by SKU, in the order asked; null where unknown. The list is "
        "null when `skus` is refused (too many)."
    )
    async def products(
        self, info: Info, skus: Annotated[list[strawberry.ID], argument(SKU)]
    ) -> list[Product | None] | None:
        _check_length("skus", skus)
        loads = prefetch_products(info, [str(s) for s in skus])
        try:
            items = await info.context.loaders.item.load_many([str(s) for s in skus])
        except MosaicError as error:
            # The ERP is down: which SKUs exist is unknown, but their stock and
            # availability are not the ERP's to tell, so every SKU still answers.
            info.context.report(info, error)
            return [Product(sku=s, failure=error) for s in skus]
        await arrived(loads)
        return [
            Product(sku=s, item=item) if item else None for s, item in zip(skus, items, strict=True)
        ]

    @strawberry.field
    async def location(
        self, info: Info, id: Annotated[strawberry.ID, argument(LOCATION_ID)]
    ) -> Location | None:
        ids.split(str(id), tuple(ids.LOCATION_PREFIXES.values()), "location")
        place = (await directory(info)).get(str(id))
        return Location.of(place) if place else None

    @strawberry.field(
        description="Stores and warehouses, nearest first when `near` is given; null when "
        "`near` or `limit` is refused (an unknown postal code, say)."
    )
    async def locations(
        self,
        info: Info,
        near: NearInput | None = None,
        limit: int = 10,
        kind: LocationKind | None = None,
    ) -> list[Location] | None:
        if not 0 <= limit <= MAX_KEYS:
            raise BadUserInput(f"limit must be between 0 and {MAX_KEYS}")
        point = point_of(near)
        places = [
            p for p in (await directory(info)).values() if kind is None or p.kind == kind.value
        ]
        if point is not None:
            places.sort(key=point.km_to)
        return [Location.of(p) for p in places[:limit]]

    @strawberry.field(
        description="One order from any channel, by its id. A partner (scope orders:read) "
        "reads the orders that came in through it, never who placed them; any other id "
        "is null to it, as an unknown one.",
        extensions=[
            guarded(
                default=DENY,
                customer=ALLOW,  # their own orders: checked below
                store_employee=ALLOW,
                service_agent=ALLOW,
                partner=NeedsScope("orders:read"),
            )
        ],
    )
    async def order(
        self, info: Info, id: Annotated[strawberry.ID, argument(ORDER_ID)]
    ) -> Order | None:
        prefix, local = ids.split(str(id), ids.ORDER_PREFIXES, "order")
        loaders = info.context.loaders
        loader = loaders.erp_order if prefix == "erp" else loaders.pos_order
        record = await loader.load(local)
        principal = info.context.principal
        if record and principal.role == "partner" and not made_through(principal, record):
            return None  # not "forbidden": that would say the id is an order
        order = (await Order.many(info, [record]))[0] if record else None
        if info.context.principal.role == "customer":
            await admit(info, await order.placed_by(loaders) if order else None, f"order {id}")
        return order

    @strawberry.field(
        description="GDPR right of access: every system, record and personal value held "
        "about the customer, asked live.",
        extensions=[gdpr.subject_or_agent()],
    )
    async def data_subject_report(
        self, info: Info, customer_id: Annotated[strawberry.ID, argument(CUSTOMER_ID)]
    ) -> gdpr.DataSubjectReport:
        return await gdpr.report(info, str(customer_id))
