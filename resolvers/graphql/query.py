"""The root fields: how a client enters the graph."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry

from adapters.errors import BadUserInput, MosaicError
from resolvers.catalogue import search as catalogue
from resolvers.catalogue.places import directory, point_of
from resolvers.golden.identity import start_keys_of_id
from resolvers.golden.survivorship import normalise_email
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.inputs import (
    CATEGORY,
    CUSTOMER_ID,
    EMAIL,
    LOCATION_ID,
    LOYALTY_CARD,
    NODE_ID,
    ORDER_ID,
    SEARCH_TEXT,
    SKU,
    argument,
    check,
    text,
)
from resolvers.graphql.types.common import Channel, NearInput
from resolvers.graphql.types.connection import After, Connection, First
from resolvers.graphql.types.customer import Customer
from resolvers.graphql.types.location import Location, LocationKind
from resolvers.graphql.types.node import Node
from resolvers.graphql.types.order import Order, Return
from resolvers.graphql.types.product import Product
from resolvers.loading.prefetch import arrived, prefetch_products
from resolvers.privacy import gdpr
from resolvers.privacy.authz import (
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


#: who may find a customer (``customer(by:)``, and ``node(id:)`` by a customer's id)
CUSTOMER_POLICY = guarded(
    default=DENY,
    customer=When(_own_id_or_search, "by another customer's id"),
    store_employee=When(_by_loyalty_card, "needs the customer's loyalty card"),
    service_agent=ALLOW,
    marketing=ALLOW,
)
#: who may find an order or a return (``order(id:)``, ``node(id:)``); a customer their
#: own only, a partner the orders that came in through it (checked where they are read)
ORDER_POLICY = guarded(
    default=DENY,
    customer=ALLOW,
    store_employee=ALLOW,
    service_agent=ALLOW,
    partner=NeedsScope("orders:read"),
)
RETURN_POLICY = guarded(default=DENY, customer=ALLOW, store_employee=ALLOW, service_agent=ALLOW)


async def _product(info: Info, sku: str) -> Product | None:
    loads = prefetch_products(info, [sku])
    product = await Product.load(info, sku)
    await arrived(loads)
    if product.failure is not None:  # the ERP is down: answer what others can tell
        info.context.report(info, product.failure)
    return product if product.item or product.failure else None


async def _location(info: Info, id: str) -> Location | None:
    ids.split(id, tuple(ids.LOCATION_PREFIXES.values()), "location")
    return await Location.at(info, id)


async def _order(info: Info, id: str) -> Order | None:
    prefix, local = ids.order_key(id)
    loaders = info.context.loaders
    loader = loaders.erp_order if prefix == "erp" else loaders.pos_order
    record = await loader.load(local)
    principal = info.context.principal
    if record and principal.role == "partner" and not made_through(principal, record):
        return None  # not "forbidden": that would say the id is an order
    order = (await Order.many(info, [record]))[0] if record else None
    if principal.role == "customer":
        await admit(info, await order.placed_by(info.context) if order else None, f"order {id}")
    return order


async def _return(info: Info, id: str) -> Return | None:
    _, local = ids.split(id.partition(":")[2], ("erp",), "return")
    record = await info.context.loaders.erp_return.load(local)
    found = Return.of(record) if record else None
    if info.context.principal.role == "customer":
        order = await found.order(info) if found else None
        placed_by = await order.placed_by(info.context) if order else None
        await admit(info, placed_by, f"return {id}")
    return found


async def _node(info: Info, id: str) -> Node | None:
    """Any object by its global id, as the root field that finds its kind would find
    it, under that field's policy (``resolvers/graphql/ids.py`` has the forms)."""
    kind = id.partition(":")[0]
    if kind in ids.CUSTOMER_PREFIXES:
        by = CustomerBy(id=strawberry.ID(id))
        CUSTOMER_POLICY.check(info, {"by": by})
        return await _customer(info, by)
    if kind == ids.ORDER:
        ORDER_POLICY.check(info, {"id": id})
        return await _order(info, id)
    if kind == ids.RETURN:
        RETURN_POLICY.check(info, {"id": id})
        return await _return(info, id)
    if kind == ids.PRODUCT:
        check(id.partition(":")[2], SKU, ["id"])
        return await _product(info, id.partition(":")[2])
    return await _location(info, id)


@strawberry.type(description="Reading: customers, products, orders, places, asked live.")
class Query:
    @strawberry.field(
        description="One customer, recognised by id, e-mail or loyalty card.",
        extensions=[CUSTOMER_POLICY],
    )
    async def customer(
        self,
        info: Info,
        by: Annotated[CustomerBy, strawberry.argument(description="How to recognise them.")],
    ) -> Customer | None:
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

    @strawberry.field(description="One product by its SKU; null when the ERP does not know it.")
    async def product(
        self, info: Info, sku: Annotated[strawberry.ID, argument(SKU)]
    ) -> Product | None:
        return await _product(info, str(sku))

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

    @strawberry.field(
        description="Browse or search the catalogue: the products whose name contains "
        "`text` (without regard to case), in `category`, that `channel` (default: the "
        "asking channel) sells, a page at a time in the ERP's item order, read live; "
        "null when `first` or `after` is refused."
    )
    async def product_search(
        self,
        info: Info,
        text: Annotated[
            str | None, argument(SEARCH_TEXT, "Part of the product's name; none: any.")
        ] = None,
        category: Annotated[
            str | None, argument(CATEGORY, "A category's code (`categories`); none: any.")
        ] = None,
        channel: Annotated[
            Channel | None, strawberry.argument(description="Default: the asking channel.")
        ] = None,
        first: First = 20,
        after: After = None,
    ) -> Connection[Product] | None:
        return await catalogue.search(info, text, category, channel, first, after)

    @strawberry.field(description="The ERP's item categories, to browse the catalogue by.")
    async def categories(self, info: Info) -> list[catalogue.Category]:
        return await catalogue.categories(info)

    @strawberry.field(description="One store or warehouse by its id; null when unknown.")
    async def location(
        self, info: Info, id: Annotated[strawberry.ID, argument(LOCATION_ID)]
    ) -> Location | None:
        return await _location(info, str(id))

    @strawberry.field(
        description="Stores and warehouses, nearest first when `near` is given; null when "
        "`near` or `limit` is refused (an unknown postal code, say)."
    )
    async def locations(
        self,
        info: Info,
        near: Annotated[
            NearInput | None, strawberry.argument(description="Nearest first from here.")
        ] = None,
        limit: Annotated[
            int, strawberry.argument(description=f"How many, at most {MAX_KEYS}.")
        ] = 10,
        kind: Annotated[
            LocationKind | None, strawberry.argument(description="Only stores, or warehouses.")
        ] = None,
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
        extensions=[ORDER_POLICY],
    )
    async def order(
        self, info: Info, id: Annotated[strawberry.ID, argument(ORDER_ID)]
    ) -> Order | None:
        return await _order(info, str(id))

    @strawberry.field(
        description="Any object by its global id (`Node.id`): a customer, product, order, "
        "return or location, under the same rules as the field that finds its kind; "
        "null when unknown."
    )
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, argument(NODE_ID)]
    ) -> Node | None:
        return await _node(info, str(id))

    @strawberry.field(
        description="GDPR right of access: every system, record and personal value held "
        "about the customer, asked live.",
        extensions=[gdpr.subject_or_agent()],
    )
    async def data_subject_report(
        self, info: Info, customer_id: Annotated[strawberry.ID, argument(CUSTOMER_ID)]
    ) -> gdpr.DataSubjectReport:
        return await gdpr.report(info, str(customer_id))
