"""The omnichannel writes: ``placeOrder``, ``registerReturn``, ``updateCustomer`` and
``setConsent``, and what they need at run time (:class:`Commerce`).

Every write that spans systems is a saga (``resolvers.commerce.sagas``) keyed by the
client's idempotency key: planned first (refusals come back in the payload's ``errors``,
nothing written), then run step by step. A source that fails a step is a GraphQL error
with its code and source, as everywhere in Mosaic, after what was done is undone; the
client may send the same key again. Reads after a write see it: the steps invalidate the
cached stock they changed, and orders and customers are read live.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Protocol

import strawberry

from adapters.erp.writes import ErpWrites
from adapters.errors import EmailTaken, MosaicError, PayloadCode, Refused
from adapters.feeds import Feed, StockEvent
from resolvers.catalogue.live import StockFeed
from resolvers.commerce.cancelling import CancelOrder, cancelled, plan_cancel
from resolvers.commerce.cancelling import fingerprint_of as cancel_fingerprint
from resolvers.commerce.holds import leased
from resolvers.commerce.ordering import PlaceOrder, placed_order, plan_order
from resolvers.commerce.ordering import fingerprint_of as order_fingerprint
from resolvers.commerce.profile import consent_changes, contact_changes, crm_contact, write_contact
from resolvers.commerce.returning import RegisterReturn, plan_return, registered_return
from resolvers.commerce.returning import fingerprint_of as return_fingerprint
from resolvers.commerce.sagas import AfterStep, Outcome, SagaEngine, SagaLog
from resolvers.graphql.context import Info, Services
from resolvers.graphql.inputs import CUSTOMER_ID, IDEMPOTENCY_KEY, ORDER_ID, argument
from resolvers.graphql.types.customer import Consent
from resolvers.graphql.types.product import Product
from resolvers.graphql.types.vocabulary import ConsentPurpose
from resolvers.graphql.types.writes import (
    CancelOrderPayload,
    PlaceOrderInput,
    PlaceOrderPayload,
    RegisterReturnInput,
    ReturnPayload,
    SetConsentPayload,
    UpdateCustomerInput,
    UpdateCustomerPayload,
    UserError,
)
from resolvers.loading.sources import Sources
from resolvers.privacy.authz import ALLOW, DENY, guarded, own
from resolvers.privacy.erasure import EraseCustomer


class Layer(Protocol):
    async def invalidate(self, keys: Sequence[Any]) -> None: ...


@dataclass
class Commerce:
    """The writes' run-time parts: the adapters, the ERP's write side, the saga engine
    with its log, and the live stock feed. Made at start-up, started in the lifespan."""

    sources: Sources
    erp: ErpWrites
    sagas: SagaEngine
    feed: StockFeed
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        sources: Sources,
        log: SagaLog,
        layers: Mapping[str, Layer],
        feeds: Sequence[Feed],
        *,
        lease_s: float = 30.0,
        timeout_s: float = 60.0,
        sweep_s: float = 30.0,
        max_backoff_s: float = 600.0,
        after_step: AfterStep | None = None,
    ) -> Commerce:
        async def invalidate(name: str, keys: Sequence[str]) -> None:
            layer = layers.get(name)
            if layer is not None:
                await layer.invalidate(list(dict.fromkeys(keys)))

        async def on_change(events: Sequence[StockEvent]) -> None:
            for name, source in (("store_stock", "pos"), ("warehouse_stock", "wms")):
                await invalidate(name, [e.sku for e in events if e.source == source])

        erp = ErpWrites(sources.erp)
        placer = PlaceOrder(sources, erp, invalidate, log)
        sagas = SagaEngine(
            log,
            [
                placer,
                RegisterReturn(sources, erp, invalidate),
                CancelOrder(erp, placer),
                EraseCustomer(sources),
            ],
            lease_s=lease_s,
            timeout_s=timeout_s,
            sweep_s=sweep_s,
            max_backoff_s=max_backoff_s,
            after_step=after_step,
        )
        return cls(
            sources=sources,
            erp=erp,
            sagas=sagas,
            feed=StockFeed(feeds, on_change),
        )

    async def start(self) -> None:
        """Recover what a crash left half done (now, and by a sweep from then on)."""
        self._tasks.append(asyncio.create_task(self.sagas.sweep()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.feed.stop()
        await self.sagas.wait_idle()
        await self.sagas.log.close()


def _commerce(info: Info) -> Services:
    commerce = info.context.commerce
    if commerce is None:
        raise MosaicError("writes are not available in this context")
    return commerce


def _refused(code: PayloadCode, message: str) -> list[UserError]:
    return [UserError(code=code, message=message)]


@strawberry.type
class CommerceMutation:
    @strawberry.mutation(
        description="Place an order: click & collect in a store, or delivery from the "
        "nearest stock. The same idempotencyKey again places no second order and answers "
        "the first; refusals (UNKNOWN_SKU, INSUFFICIENT_STOCK, STORE_CLOSED, ...) come "
        "back in errors with order null.",
        extensions=[  # who may act is declared here (resolvers/privacy/authz.py)
            guarded(
                default=DENY,
                customer=own(lambda a: a["input"].customer_id),
                store_employee=ALLOW,
                service_agent=ALLOW,
            )
        ],
    )
    async def place_order(
        self,
        info: Info,
        input: Annotated[PlaceOrderInput, strawberry.argument(description="The order.")],
    ) -> PlaceOrderPayload:
        commerce = _commerce(info)
        engine = commerce.sagas
        fingerprint = engine.fingerprint(order_fingerprint(input))
        replay = await engine.replay(PlaceOrder.kind, input.idempotency_key, fingerprint)
        if replay is None:
            plan, errors = await plan_order(info, commerce.sources, input)
            if plan is None:
                return PlaceOrderPayload(order=None, errors=errors)
            replay = await engine.run(PlaceOrder.kind, input.idempotency_key, fingerprint, plan)
        if replay.refusal is not None:
            errors = _refused(replay.refusal.code, replay.refusal.message)
            return PlaceOrderPayload(order=None, errors=errors)
        assert replay.answer is not None
        skus = [line["sku"] for line in replay.answer["plan"]["lines"]]
        products = await Product.load_many(info, skus)
        return PlaceOrderPayload(order=placed_order(replay.answer, products), errors=[])

    @strawberry.mutation(
        description="Cancel an online order nothing of which was shipped or collected: "
        "the ERP deletes it, the goods held for it are released, and what was paid is "
        "refunded against its payment. Refusals (NOT_CANCELLABLE, UNKNOWN_ORDER) come "
        "back in errors. Idempotent by idempotencyKey.",
        extensions=[guarded(default=DENY, store_employee=ALLOW, service_agent=ALLOW)],
    )
    async def cancel_order(
        self,
        info: Info,
        order_id: Annotated[strawberry.ID, argument(ORDER_ID)],
        idempotency_key: Annotated[str, argument(IDEMPOTENCY_KEY)],
    ) -> CancelOrderPayload:
        commerce = _commerce(info)
        engine = commerce.sagas
        fingerprint = engine.fingerprint(cancel_fingerprint(str(order_id)))
        replay = await engine.replay(CancelOrder.kind, idempotency_key, fingerprint)
        if replay is None:
            plan, errors = await plan_cancel(
                info, commerce.sources, engine.log, str(order_id), idempotency_key
            )
            if plan is None:
                return CancelOrderPayload(cancellation=None, errors=errors)
            replay = await engine.run(CancelOrder.kind, idempotency_key, fingerprint, plan)
        if replay.refusal is not None:
            errors = _refused(replay.refusal.code, replay.refusal.message)
            return CancelOrderPayload(cancellation=None, errors=errors)
        assert replay.answer is not None
        return CancelOrderPayload(cancellation=cancelled(replay.answer), errors=[])

    @strawberry.mutation(
        description="Take back lines of any order (online or in store) at any store, or "
        "by post: a return order with the refund in the ERP, the goods back into the "
        "store's stock, the order's status updated. Idempotent by idempotencyKey.",
        extensions=[guarded(default=DENY, store_employee=ALLOW, service_agent=ALLOW)],
    )
    async def register_return(
        self,
        info: Info,
        input: Annotated[RegisterReturnInput, strawberry.argument(description="The return.")],
    ) -> ReturnPayload:
        commerce = _commerce(info)
        engine = commerce.sagas
        fingerprint = engine.fingerprint(return_fingerprint(input))
        replay = await engine.replay(RegisterReturn.kind, input.idempotency_key, fingerprint)
        if replay is None:
            try:  # one return of an order at a time: each counts the ones before it
                async with leased(engine.log, [f"return:{input.order_id}"]):
                    plan, errors = await plan_return(info, commerce.sources, commerce.erp, input)
                    if plan is None:
                        return ReturnPayload(return_=None, errors=errors)
                    replay = await engine.run(
                        RegisterReturn.kind, input.idempotency_key, fingerprint, plan
                    )
            except Refused as busy:
                replay = Outcome(refusal=busy)
        if replay.refusal is not None:
            errors = _refused(replay.refusal.code, replay.refusal.message)
            return ReturnPayload(return_=None, errors=errors)
        assert replay.answer is not None
        return ReturnPayload(return_=registered_return(replay.answer), errors=[])

    @strawberry.mutation(
        description="Change a customer's name, e-mail, phone or address, in the system "
        "that owns each (the CRM). Fields left out stay; null clears one.",
        extensions=[
            guarded(
                default=DENY,
                customer=own(lambda a: a["input"].customer_id),
                service_agent=ALLOW,
            )
        ],
    )
    async def update_customer(
        self,
        info: Info,
        input: Annotated[UpdateCustomerInput, strawberry.argument(description="The changes.")],
    ) -> UpdateCustomerPayload:
        changes, errors = contact_changes(input)
        customer, contact_id, found_errors = await crm_contact(info, str(input.customer_id))
        errors += found_errors
        if errors or contact_id is None:
            return UpdateCustomerPayload(customer=customer, errors=errors)
        try:
            updated = await write_contact(info, _commerce(info).sources, contact_id, changes)
        except EmailTaken as taken:
            errors = [
                UserError(code=PayloadCode.EMAIL_TAKEN, message=taken.message, field=["email"])
            ]
            return UpdateCustomerPayload(customer=customer, errors=errors)
        return UpdateCustomerPayload(customer=updated, errors=[])

    @strawberry.mutation(
        description="Grant or withdraw a consent (EMAIL_MARKETING, PERSONALISATION, "
        "ANALYTICS), until a date or without end; kept in the CRM.",
        extensions=[
            guarded(default=DENY, customer=own(lambda a: a["customer_id"]), service_agent=ALLOW)
        ],
    )
    async def set_consent(
        self,
        info: Info,
        customer_id: Annotated[strawberry.ID, argument(CUSTOMER_ID)],
        purpose: Annotated[
            ConsentPurpose, strawberry.argument(description="What the consent is for.")
        ],
        granted: Annotated[
            bool, strawberry.argument(description="True to give it, false to withdraw it.")
        ],
        valid_until: Annotated[
            date | None, strawberry.argument(description="The last day it holds; none: no end.")
        ] = None,
    ) -> SetConsentPayload:
        changes = consent_changes(purpose.value, granted, valid_until)
        customer, contact_id, errors = await crm_contact(info, str(customer_id))
        if errors or contact_id is None:
            return SetConsentPayload(consent=None, customer=customer, errors=errors)
        updated = await write_contact(info, _commerce(info).sources, contact_id, changes)
        consent = Consent(purpose=purpose, granted=granted, valid_until=valid_until)
        return SetConsentPayload(consent=consent, customer=updated, errors=[])
