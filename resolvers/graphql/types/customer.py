"""The golden customer record, assembled live from its CRM, ERP and POS fragments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import strawberry
import strawberry.federation

from adapters.errors import BadUserInput, UpstreamError
from resolvers.golden import survivorship
from resolvers.golden.identity import PREFERENCE, Identity, start_keys_of_id
from resolvers.golden.purchases import (
    HISTORY_SYSTEMS,
    after_positions,
    order_history,
    page_positions,
)
from resolvers.golden.recommendations import Recommendation, recommend
from resolvers.golden.survivorship import PRECEDENCE, Fragments, Survivor
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.inputs import CUSTOMER_ID, check
from resolvers.graphql.types.common import Address, ChannelArgument, asked_channel
from resolvers.graphql.types.connection import (
    After,
    Connection,
    Edge,
    First,
    cursor,
    first_checked,
    position,
)
from resolvers.graphql.types.node import Node
from resolvers.graphql.types.order import Order
from resolvers.graphql.types.payment import Payment, payments_of
from resolvers.graphql.types.vocabulary import (
    ConsentPurpose,
    CustomerField,
    LoyaltyTier,
    SourceSystem,
)
from resolvers.loading.loaders import Loaders
from resolvers.privacy.authz import (
    DENY,
    VIA_ID,
    Mask,
    NeedsConsent,
    admit,
    mask_address,
    mask_email,
    mask_phone,
    personal,
)

T = TypeVar("T")
#: the list an order history's cursors belong to
HISTORY = "orderHistory"
MAX_ORDERS = 200
MAX_PAYMENTS = 500


@strawberry.type(description="The customer's loyalty account at the POS (Square Loyalty).")
class Loyalty:
    card_number: str | None = strawberry.field(
        description="Null where the POS keeps no card for the account (contracts/pos)."
    )
    tier: LoyaltyTier | None = strawberry.field(
        description="The highest tier the account's lifetime points reach; null where the "
        "retailer has no tiers, or none is reached."
    )
    points: int | None = strawberry.field(description="Points to spend (the balance).")


@strawberry.type(description="A consent the customer gave or withdrew (kept in the CRM).")
class Consent:
    purpose: ConsentPurpose = strawberry.field(description="What it is for.")
    granted: bool = strawberry.field(description="True when given, false when withdrawn.")
    valid_until: date | None = strawberry.field(
        description="The last day it holds; null: without end."
    )


@strawberry.type(description="A record about this customer in one system.")
class SourceRecord:
    system: SourceSystem = strawberry.field(description="The system holding it.")
    record_id: str = strawberry.field(description="Its id in that system.")


@strawberry.type(description="Where a golden-record field's value came from.")
class Provenance:
    field: CustomerField = strawberry.field(description="The golden-record field.")
    system: SourceSystem = strawberry.field(description="The system whose value survived.")
    record_id: str = strawberry.field(description="The record it came from, in that system.")


@strawberry.federation.type(
    keys=["id"], description="One person across CRM, POS loyalty and ERP, assembled live."
)
class Customer(Node):
    """Who may read each field is declared on it (``resolvers/privacy/authz.py``); a new
    field of this type needs a ``personal(...)`` policy too (a test checks that it has
    one)."""

    identity: strawberry.Private[Identity]
    # how the request reached this person (authz.VIA_*): a store employee may see a
    # customer recognised by loyalty card, not one looked up by id or e-mail
    via: strawberry.Private[str] = VIA_ID

    @classmethod
    async def find(
        cls, loaders: Loaders, known: dict[str, str], via: str = VIA_ID
    ) -> Customer | None:
        identity = Identity(loaders, known)
        if await identity.found():
            return cls(identity=identity, via=via)
        if identity.failures:  # nobody found because the systems that could know are down
            raise next(iter(identity.failures.values()))
        return None

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Customer | None:
        """A federation router's entity lookup, as ``customer(by: {id})`` and admitted
        the same way. Every representation of one ``_entities`` call starts its search
        in the same round, so N customers are one CRM batch call."""
        check(str(id), CUSTOMER_ID, ["id"])  # a representation is a client's text
        found = await cls.find(info.context.loaders, start_keys_of_id(str(id)))
        return await admit(info, found, "this customer")

    async def _fragments(self) -> Fragments:
        return await self.identity.complete()

    @strawberry.field(
        description="The CRM id where the CRM knows the person, else the "
        "id of the fragment that found them.",
        extensions=[personal()],
    )
    async def id(self, info: Info) -> strawberry.ID:
        found = await self.identity.first(("crm", "pos", "erp"), _global_id, _reporter(info))
        assert found is not None  # a Customer exists only once a fragment was found
        return found

    @strawberry.field(
        description="The name, from the most trusted system that has one (CRM, then ERP, "
        "then POS).",
        extensions=[personal(marketing=NeedsConsent("email_marketing"))],
    )
    async def name(self, info: Info) -> str | None:
        return await self._survivor(info, "name", survivorship.name)

    @strawberry.field(
        description="The e-mail address, by the survivorship rule; masked for store "
        "employees (`j***@example.nl`).",
        extensions=[
            personal(store_employee=Mask(mask_email), marketing=NeedsConsent("email_marketing"))
        ],
    )
    async def email(self, info: Info) -> str | None:
        return await self._survivor(info, "email", survivorship.email)

    @strawberry.field(
        description="The phone number, by the survivorship rule; masked for store employees.",
        extensions=[personal(store_employee=Mask(mask_phone), marketing=DENY)],
    )
    async def phone(self, info: Info) -> str | None:
        return await self._survivor(info, "phone", survivorship.phone)

    @strawberry.field(
        description="The postal address, by the survivorship rule; store employees see the "
        "town and the postal code's digits only.",
        extensions=[personal(store_employee=Mask(mask_address), marketing=DENY)],
    )
    async def address(self, info: Info) -> Address | None:
        found = await self._survivor(info, "address", survivorship.address)
        return Address.of(found)

    @strawberry.field(
        description="The POS loyalty account.",
        extensions=[personal(marketing=NeedsConsent("personalisation"))],
    )
    async def loyalty(self) -> Loyalty | None:
        f = await self.identity.settled("pos")
        self._raise_if_failed("pos", found=f.pos is not None)
        if f.pos is None:
            return None
        tier = LoyaltyTier(f.pos.tier) if f.pos.tier else None
        return Loyalty(card_number=f.pos.card_number, tier=tier, points=f.pos.points)

    @strawberry.field(description="Consents per purpose, from the CRM.", extensions=[personal()])
    async def consents(self) -> list[Consent] | None:
        f = await self.identity.settled("crm")
        self._raise_if_failed("crm", found=f.crm is not None)
        if f.crm is None:
            return None
        return [
            Consent(purpose=ConsentPurpose(c.purpose), granted=c.granted, valid_until=c.valid_until)
            for c in f.crm.consents
        ]

    @strawberry.field(
        description="Orders from every channel, newest first; null when `last` is refused.",
        extensions=[personal(marketing=NeedsConsent("personalisation"))],
    )
    async def orders(
        self,
        info: Info,
        last: Annotated[
            int, strawberry.argument(description=f"How many, at most {MAX_ORDERS}.")
        ] = 20,
    ) -> list[Order] | None:
        if not 0 <= last <= MAX_ORDERS:
            raise BadUserInput(f"last must be between 0 and {MAX_ORDERS}")
        history = await order_history(info, self.identity)
        return await Order.many(info, history[:last])

    @strawberry.field(
        description="Every order from every channel (the ERP's online orders and the "
        "POS's receipts), merged newest first, a page at a time; each cursor carries each "
        "system's position, so the next page goes on in both. Null when `first` or "
        "`after` is refused.",
        extensions=[personal(marketing=NeedsConsent("personalisation"))],
    )
    async def order_history(
        self,
        info: Info,
        first: First = 20,
        after: After = None,
    ) -> Connection[Order] | None:
        size = first_checked(first)
        start = _history_positions(position(after, HISTORY))
        left = after_positions(await order_history(info, self.identity), start)
        page = left[:size]
        orders = await Order.many(info, page, under=("edges", "node"))
        edges = [
            Edge(cursor=cursor(HISTORY, at), node=order)
            for order, at in zip(orders, page_positions(page, start), strict=True)
        ]
        return Connection.of(edges, more=len(left) > size)

    @strawberry.field(
        description="Payments and refunds of the customer's orders in every channel, "
        "each once, newest first; null when `last` is refused.",
        extensions=[personal(marketing=DENY)],
    )
    async def payments(
        self,
        info: Info,
        last: Annotated[
            int, strawberry.argument(description=f"How many, at most {MAX_PAYMENTS}.")
        ] = 50,
    ) -> list[Payment] | None:
        if not 0 <= last <= MAX_PAYMENTS:
            raise BadUserInput(f"last must be between 0 and {MAX_PAYMENTS}")
        history = await order_history(info, self.identity)
        found = await payments_of(info, [(o.source, o.id) for o in history])
        return found[::-1][:last]

    @strawberry.field(
        description="Products for this customer in the asking channel, from what they "
        "bought online and in store; each says why. Needs their valid consent for "
        "personalisation (else null with CONSENT_REQUIRED); sensitive categories never "
        "count, and no more than two come from one category.",
        extensions=[personal()],
    )
    async def recommendations(
        self,
        info: Info,
        limit: Annotated[int, strawberry.argument(description="How many, at most.")] = 5,
        channel: ChannelArgument = None,
    ) -> list[Recommendation] | None:
        wanted = asked_channel(channel, info.context.channel)
        return await recommend(info, self.identity, limit, wanted)

    @strawberry.field(
        description="Marketing segments from the CRM, used to personalise: shown only "
        "with a valid consent for personalisation.",
        extensions=[
            personal(
                store_employee=NeedsConsent("personalisation"),
                marketing=NeedsConsent("personalisation"),
            )
        ],
    )
    async def segments(self) -> list[str] | None:
        f = await self.identity.settled("crm")
        self._raise_if_failed("crm", found=f.crm is not None)
        return list(f.crm.segments) if f.crm else None

    @strawberry.field(
        description="Every system holding a record of this customer.",
        extensions=[personal(marketing=DENY)],
    )
    async def sources(self, info: Info) -> list[SourceRecord]:
        f = await self._fragments()
        self._report_unasked(info, *PREFERENCE)
        found = [
            ("crm", f.crm.record_id if f.crm else None),
            ("erp", f.erp.record_id if f.erp else None),
            ("pos", f.pos.customer_id if f.pos else None),
        ]
        return [
            SourceRecord(system=SourceSystem(s), record_id=r) for s, r in found if r is not None
        ]

    @strawberry.field(
        description="Which system each golden-record value came from.",
        extensions=[personal(marketing=DENY)],
    )
    async def provenance(self, info: Info) -> list[Provenance]:
        f = await self._fragments()
        self._report_unasked(info, *PREFERENCE)
        survivors: dict[str, Survivor[Any] | None] = {
            "name": survivorship.name(f),
            "email": survivorship.email(f),
            "phone": survivorship.phone(f),
            "address": survivorship.address(f),
        }
        return [
            Provenance(field=CustomerField(k), system=SourceSystem(s.system), record_id=s.record_id)
            for k, s in survivors.items()
            if s is not None
        ]

    async def _survivor(
        self, info: Info, field: str, pick: Callable[[Fragments], Survivor[T] | None]
    ) -> T | None:
        """A golden-record value by its survivorship rule; a more trusted system that
        could not be asked is reported (the value shown may be a fallback)."""
        return _value(await self.identity.first(PRECEDENCE[field], pick, _reporter(info)))

    def _report_unasked(self, info: Info, *systems: str) -> None:
        """Each system that could not be asked is reported on the field: a list of the
        person's records or of where values came from is never silently short."""
        for failure in self.identity.unasked(*systems):
            info.context.report(info, failure)

    def _raise_if_failed(self, system: str, found: bool) -> None:
        """A field owned by a system that failed is null with that system's error."""
        failure = self.identity.failures.get(system)
        if failure is not None and not found:
            raise failure


def _history_positions(found: Any) -> dict[str, list[str] | None]:
    """The systems' positions an order history cursor holds; anything else is not one
    of its cursors."""
    if found is None:
        return {}
    if (
        isinstance(found, dict)
        and set(found) <= set(HISTORY_SYSTEMS)
        and all(_is_position(value) for value in found.values())
    ):
        return found
    raise BadUserInput(f"after is not a cursor of {HISTORY}", field=["after"])


def _is_position(value: Any) -> bool:
    if value is None:
        return True
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        return False
    try:
        return datetime.fromisoformat(value[0]).tzinfo is not None
    except ValueError:
        return False


def _reporter(info: Info) -> Callable[[UpstreamError], None]:
    return lambda failure: info.context.report(info, failure)


def _value(survivor: Survivor[survivorship.T] | None) -> survivorship.T | None:
    return survivor.value if survivor else None


def _global_id(f: Fragments) -> strawberry.ID | None:
    if f.crm:
        return strawberry.ID(ids.make("crm", f.crm.record_id))
    if f.pos:
        return strawberry.ID(ids.make("pos", f.pos.customer_id))
    if f.erp:
        return strawberry.ID(ids.make("erp", f.erp.record_id))
    return None
