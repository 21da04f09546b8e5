"""``cancelOrder``: an online order nothing of which was shipped or collected yet,
cancelled as a saga.

Planning reads the order from the ERP: it must be open (PLACED or PROCESSING) with no
line shipped; a store receipt was completed at the till and is returned, not cancelled.
It finds the saga that placed it (``resolvers.commerce.ordering.PLACED``, the saga log's
index by order number), which says where its goods are held, and what the order's
payments took.

The saga then deletes the sales order in the ERP (NAV cancels an order nothing was
shipped from by deleting it: it has no cancelled status), releases each hold as the
placing saga would have undone it (a store's reserved pieces back in stock in the POS,
a warehouse's reservation released in the WMS), and answers the refund of what was
paid: against the payment, by its method, paid out by NAV's finance as an online
order's refunds are (``contracts/erp/DECISIONS.md``). The deletion is the pivot: it
cannot be undone (NAV would give a new order a new number), so the releases after it
are finished, never undone, retried by the sweep until done. An order placed before
Mosaic kept that index (or not through Mosaic) has no holds Mosaic knows of.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import strawberry

from adapters.erp.writes import ErpWrites
from adapters.errors import BadUserInput, PayloadCode
from adapters.records import OrderRecord, PaymentRecord
from resolvers.commerce.ordering import PLACED, PlaceOrder, check_key, order_reference, refusal
from resolvers.commerce.refunds import planned, refund_payment, refundable
from resolvers.commerce.sagas import Json, Results, SagaLog, Step
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.types.vocabulary import OrderStatus
from resolvers.graphql.types.writes import Cancellation, UserError
from resolvers.loading.sources import Sources

#: the states an order may be cancelled in: nothing shipped yet
CANCELLABLE = ("PLACED", "PROCESSING")


def fingerprint_of(order_id: str) -> Json:
    return {"order": order_id}


async def plan_cancel(
    info: Info, sources: Sources, log: SagaLog, order_id: str, key: str
) -> tuple[Json | None, list[UserError]]:
    errors = check_key(key)
    try:
        system, order_no = ids.order_key(order_id)
    except BadUserInput as error:
        return None, [refusal(PayloadCode.UNKNOWN_ORDER, error.message, "orderId")]
    if errors:
        return None, errors
    if system != "erp":
        message = "a store receipt was completed at the till: return it instead"
        return None, [refusal(PayloadCode.NOT_CANCELLABLE, message, "orderId")]
    order = (await sources.erp.orders([order_no])).get(order_no)
    if order is None:
        return None, [refusal(PayloadCode.UNKNOWN_ORDER, f"no order {order_id}", "orderId")]
    if order.status not in CANCELLABLE or any(line.delivered for line in order.lines):
        state = order.status.lower().replace("_", " ")
        message = f"order {order_id} is {state}: only an order nothing was shipped of"
        return None, [refusal(PayloadCode.NOT_CANCELLABLE, message, "orderId")]
    placing = await log.get_key(PLACED, order_no)
    record = await log.load(placing) if placing else None
    paid = (await sources.erp.payments_by_order([order_no])).get(order_no, [])
    return {
        "order_no": order_no,
        "channel": order.channel,
        "placed": record.plan if record else None,
        "refund": _refund(order, paid),
    }, []


def _refund(order: OrderRecord, paid: Sequence[PaymentRecord]) -> Json | None:
    """What was paid for the order and is not refunded yet, against its payment."""
    currency = order.total.currency if order.total else "EUR"
    money = refundable(paid, Decimal(0), currency)
    if money.payment is None or money.left.amount <= 0:
        return None
    return planned(money.payment, money.left)


class CancelOrder:
    kind = "cancel_order"

    def __init__(self, erp: ErpWrites, placer: PlaceOrder) -> None:
        self.erp = erp
        self.placer = placer

    def steps(self, plan: Json) -> list[Step]:
        placed = plan["placed"]
        releases = [
            Step(f"release:{s['location']}", self._release(s), forward=True)
            for s in (placed["shipments"] if placed else [])
        ]
        return [Step("erp_order", self._delete), *releases]

    def answer(self, plan: Json, results: Results) -> Json:
        return {**plan, "at": plan["started_at"]}

    async def _delete(self, plan: Json, results: Results) -> bool:
        """NAV's cancel of an order nothing was shipped from; gone already is done."""
        placed = plan["placed"]
        if placed is not None:
            return await self.erp.delete("orders", order_reference(placed))
        return await self.erp.delete("orders", plan["order_no"], by="No")

    def _release(self, shipment: Json) -> Any:
        release = self.placer.release(shipment)

        async def undo_hold(plan: Json, results: Results) -> None:
            await release(plan["placed"], {})

        return undo_hold


def cancelled(answer: Json) -> Cancellation:
    order_id = ids.order_id("erp", answer["order_no"])
    refund = answer.get("refund")
    return Cancellation(
        order_id=strawberry.ID(order_id),
        status=OrderStatus.CANCELLED,
        released=len(answer["placed"]["shipments"]) if answer.get("placed") else 0,
        refund_payment=None
        if refund is None
        else refund_payment(
            refund,
            record=ids.make("erp", answer["order_no"]),
            paid=False,
            order_id=order_id,
            channel=answer["channel"],
            at=answer["at"],
            store=None,
        ),
    )
