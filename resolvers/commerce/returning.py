"""``registerReturn``: goods of any order (an ERP online order or a POS receipt) coming
back at any store, or by post; planned, then registered as a saga.

What may come back follows the goods and the money (issue 17):

- **the goods**: of each line, what was shipped or handed over (NAV's
  ``Quantity_Shipped`` on an open order's line, every piece of a posted invoice, every
  piece of a completed store receipt), less what earlier returns of the order took back
  (the return orders in the ERP applying to its invoice or naming it). More is refused
  ``NOT_RETURNABLE`` with a reason: ``NOT_FULFILLED`` (not shipped or collected yet; a
  cancelled order never was), ``ALREADY_RETURNED``, ``MORE_THAN_BOUGHT``;
- **the money**: the refund is what the customer paid for those lines (each piece at its
  line's price, the promotion taken off), at most what the order's payments took less
  what was refunded or is owed already (``resolvers/commerce/refunds.py``), against the
  payment it refunds, by that payment's method. An order with nothing paid (or nothing
  left) is refused ``NOT_PAID``.

The saga then:

1. creates the sales return order in the ERP (``SalesReturnOrder``, applying to the
   order's posted invoice, or naming the order or store receipt; each line at what the
   customer paid, with the return reason): the ERP books returns for every channel, so a
   store receipt's return is recorded there too;
2. checks that the order is not over-returned (below);
3. pays a store receipt's money back at the till: Square's RefundPayment against the
   receipt's payment, which returns it the way it was paid (cash as cash). This is the
   saga's pivot: money paid back is not taken back, so from here on the saga is finished,
   never undone (``Step.forward``). An online order's refund is paid by NAV's finance when
   it posts the return order (credit memo, then the refund to the payment's method:
   ``contracts/erp/DECISIONS.md``); its answer shows it pending against its payment;
4. puts the goods back into the store's stock in the POS (from RETURNED_BY_CUSTOMER to
   IN_STOCK). Goods sent by post arrive at a warehouse later, where the WMS books them
   in on arrival; that is not part of registering the return.

Returns of one order are serialised (``resolvers/commerce/service.py`` holds a lease
named after the order in the saga log around planning and running), so returns at
several desks at once each count the ones before and all stand. The recount of step 2
stays as the guard for when the lease ran out (a saga slower than the lease): once its
own return order exists, the saga counts every return order of the order again, and when
more would come back than was delivered it undoes its return order and refuses
``NOT_RETURNABLE``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import strawberry

from adapters.erp.writes import ErpWrites, NewDocument
from adapters.errors import BadUserInput, PayloadCode, Refused
from adapters.pos import IN_STOCK, StockMove
from adapters.records import Money, OrderLineRecord, OrderRecord, PaymentRecord
from resolvers.commerce import returnable
from resolvers.commerce.holds import Invalidate, occurred_at, pos_move, pos_unmove
from resolvers.commerce.ordering import check_key, merged_lines, refusal
from resolvers.commerce.refunds import capped, planned, refund_payment, refundable
from resolvers.commerce.sagas import Json, Results, Step
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.types.common import Money as MoneyType
from resolvers.graphql.types.order import Return, ReturnLine
from resolvers.graphql.types.payment import Payment
from resolvers.graphql.types.vocabulary import RefusalReason, ReturnStatus
from resolvers.graphql.types.writes import RegisterReturnInput, UserError
from resolvers.loading.sources import Sources

FROM_CUSTOMER = "RETURNED_BY_CUSTOMER"


def return_reference(plan: Json) -> str:
    return "MOSR-" + str(plan["saga_id"])[:24]


def fingerprint_of(request: RegisterReturnInput) -> Json:
    return {
        "order": str(request.order_id),
        "location": str(request.location_id) if request.location_id else None,
        "lines": sorted((str(line.sku), line.quantity) for line in request.lines),
        "reason": request.reason,
    }


def not_returnable(reason: str, message: str, *path: str) -> UserError:
    refused = refusal(PayloadCode.NOT_RETURNABLE, message, *path)
    refused.reason = RefusalReason(reason)
    return refused


async def plan_return(
    info: Info, sources: Sources, erp: ErpWrites, request: RegisterReturnInput
) -> tuple[Json | None, list[UserError]]:
    wanted, errors = merged_lines(request.lines)
    errors += check_key(request.idempotency_key)
    if errors:
        return None, errors
    try:
        source, order_no = ids.order_key(str(request.order_id))
    except BadUserInput as error:
        return None, [refusal(PayloadCode.UNKNOWN_ORDER, error.message, "orderId")]
    system = sources.erp if source == "erp" else sources.pos
    order = (await system.orders([order_no])).get(order_no)
    if order is None:
        return None, [refusal(PayloadCode.UNKNOWN_ORDER, f"no order {request.order_id}", "orderId")]
    # a return applies to the order's posted invoice; an order not yet invoiced, or a
    # store receipt, is named as it is
    applies_to = order.invoice_id or order_no
    location, errors = await _store(info, request.location_id)
    (returned, owed), paid = await asyncio.gather(
        _returned(erp, returnable.documents(order)), system.payments_by_order([order_no])
    )
    lines, line_errors = _returnable(order, wanted, returned)
    errors += line_errors
    if errors:
        return None, errors
    refund, money_errors = _refund(lines, paid.get(order_no, []), owed)
    if money_errors or refund is None:
        return None, money_errors
    plan: Json = {
        "order": {
            "source": source,
            "no": order_no,
            "channel": order.channel,
            "status": order.status,
            "customer_no": order.customer_ref if source == "erp" else None,
        },
        "applies_to": applies_to,
        "returns_of": returnable.documents(order),
        "to_invoice": order.invoice_id is not None,
        "location": location,
        "lines": lines,
        "reason": request.reason,
        "delivered": returnable.delivered(order),
        "refund": refund,
    }
    return plan, []


def _refund(
    lines: Sequence[Json], payments: Sequence[PaymentRecord], owed: Decimal
) -> tuple[Json | None, list[UserError]]:
    """What the lines cost the customer, capped at what is left of what was paid, and
    the payment it goes against."""
    currency = lines[0]["currency"]
    cost = sum((Decimal(line["price"]) * line["quantity"] for line in lines), Decimal(0))
    money = refundable(payments, owed, currency)
    if money.payment is None:
        return None, [not_returnable("NOT_PAID", "nothing was paid for this order", "orderId")]
    if money.left.amount <= 0:
        message = "what was paid for this order has been refunded already"
        return None, [not_returnable("NOT_PAID", message, "orderId")]
    return planned(money.payment, capped(Money(cost, currency), money)), []


async def _returned(erp: ErpWrites, numbers: list[str]) -> tuple[dict[str, int], Decimal]:
    """Quantities per SKU on the order's return orders (applying to its invoice, or
    naming the order or its receipt), and what they owe in all
    (``resolvers.commerce.returnable``)."""
    found = await erp.erp.returns_of(numbers)
    records = [back for number in numbers for back in found.get(number, [])]
    owed = sum((back.total.amount for back in records if back.total), Decimal(0))
    return returnable.returned(records), owed


async def _store(
    info: Info, location_id: strawberry.ID | None
) -> tuple[str | None, list[UserError]]:
    if location_id is None:
        return None, []  # by post
    try:
        prefix, local = ids.split(str(location_id), ("store", "warehouse"), "location")
    except BadUserInput as error:
        return None, [refusal(PayloadCode.UNKNOWN_LOCATION, error.message, "locationId")]
    stores = {s.id: s for s in await info.context.loaders.all_stores()}
    store = stores.get(local) if prefix == "store" else None
    if store is None:
        message = f"{location_id} is not a store that takes returns"
        return None, [refusal(PayloadCode.UNKNOWN_LOCATION, message, "locationId")]
    if not store.active:
        return None, [refusal(PayloadCode.STORE_CLOSED, f"{store.name} is closed", "locationId")]
    return local, []


def _returnable(
    order: OrderRecord, wanted: dict[str, int], returned: dict[str, int]
) -> tuple[list[Json], list[UserError]]:
    bought: dict[str, int] = {}
    for line in order.lines:
        bought[line.sku] = bought.get(line.sku, 0) + line.quantity
    shipped = returnable.delivered(order)
    prices = {line.sku: line.unit_price for line in order.lines}
    lines: list[Json] = []
    errors: list[UserError] = []
    for sku, n in wanted.items():
        back = returned.get(sku, 0)
        if sku not in bought:
            errors.append(refusal(PayloadCode.NOT_IN_ORDER, f"{sku} is not on this order", "lines"))
        elif back + n > shipped[sku]:
            errors.append(_too_many(sku, n, bought[sku], shipped[sku], back))
        else:
            price = prices[sku] or Money(Decimal(0), "EUR")
            lines.append(
                {"sku": sku, "quantity": n, "price": str(price.amount), "currency": price.currency}
            )
    return lines, errors


def _too_many(sku: str, n: int, bought: int, delivered: int, back: int) -> UserError:
    """Why ``n`` pieces of a line cannot come back, most telling reason first."""
    left = max(delivered - back, 0)
    message = f"only {left} of {sku} can still be returned"
    if back + n <= bought:
        return not_returnable("NOT_FULFILLED", f"{message}: {bought - delivered} not delivered")
    if back > 0:
        return not_returnable("ALREADY_RETURNED", f"{message}: {back} came back already")
    return not_returnable("MORE_THAN_BOUGHT", f"{message}: {bought} were bought")


class RegisterReturn:
    kind = "register_return"

    def __init__(self, sources: Sources, erp: ErpWrites, invalidate: Invalidate) -> None:
        self.sources = sources
        self.erp = erp
        self.invalidate = invalidate

    def steps(self, plan: Json) -> Sequence[Step]:
        steps = [
            Step("erp_return", self._create, self._cancel),
            Step("not_over_returned", self._recount),
        ]
        refund = _refund_of(plan)
        if refund is not None and refund["system"] == "pos":
            steps.append(Step("refund", self._refund, forward=True))
        if plan["location"]:
            steps.append(Step("restock", self._restock, self._unstock))
        return steps

    def answer(self, plan: Json, results: Results) -> Json:
        return {
            **results["erp_return"],
            "order_id": ids.order_id(*_order_key(plan)),
            "refund_payment": _refund_of(plan),
            "refund_record": results.get("refund"),
            "channel": "STORE" if plan["location"] else plan["order"]["channel"],
            "location": plan["location"],
            "at": plan["started_at"],
            "lines": plan["lines"],
            "reason": plan["reason"],
        }

    async def _create(self, plan: Json, results: Results) -> Json:
        order = plan["order"]
        document = await self.erp.create(
            "returns",
            NewDocument(
                reference=return_reference(plan),
                customer_no=order["customer_no"],
                channel="STORE" if plan["location"] else order["channel"],
                location_code=plan["location"],
                applies_to=plan["applies_to"],
                applies_to_invoice=plan["to_invoice"],
                reason=plan["reason"],
                lines=[
                    _line(line["sku"], line["quantity"], line["price"], line["currency"])
                    for line in plan["lines"]
                ],
            ),
        )
        refund = _refund_of(plan)
        amount, currency = (
            (refund["amount"], refund["currency"]) if refund else _money_text(document.total)
        )
        return {"no": document.no, "status": document.state, "refund": amount, "currency": currency}

    async def _cancel(self, plan: Json, results: Results) -> None:
        await self.erp.delete("returns", return_reference(plan))

    async def _recount(self, plan: Json, results: Results) -> None:
        """Every return order of the order, this one included, within what was delivered."""
        returned, _ = await _returned(self.erp, plan.get("returns_of") or [plan["applies_to"]])
        delivered_per_sku: dict[str, int] = plan.get("delivered") or plan.get("ordered") or {}
        for sku, delivered in delivered_per_sku.items():
            if returned.get(sku, 0) > delivered:
                raise Refused(
                    PayloadCode.NOT_RETURNABLE,
                    f"another return of this order came first: {sku} would come back "
                    f"{returned[sku]} times, {delivered} were delivered",
                )

    async def _refund(self, plan: Json, results: Results) -> str:
        """The receipt's money back at the till, against its payment (the pivot)."""
        refund = _refund_of(plan)
        assert refund is not None
        return await self.sources.pos.refund(
            return_reference(plan),
            refund["payment"],
            Money(Decimal(refund["amount"]), refund["currency"]),
            plan["reason"],
        )

    async def _restock(self, plan: Json, results: Results) -> None:
        await pos_move(self.sources, self.invalidate, *self._moves(plan), occurred_at(plan))

    async def _unstock(self, plan: Json, results: Results) -> None:
        await pos_unmove(self.sources, self.invalidate, *self._moves(plan), occurred_at(plan))

    def _moves(self, plan: Json) -> tuple[str, list[StockMove]]:
        moves = [
            StockMove(line["sku"], plan["location"], line["quantity"], FROM_CUSTOMER, IN_STOCK)
            for line in plan["lines"]
        ]
        return f"{return_reference(plan)}:restock", moves


def _refund_of(plan: Json) -> Json | None:
    """The planned refund (plans logged before issue 17 have none)."""
    refund: Json | None = plan.get("refund")
    return refund


def _money_text(money: Money | None) -> tuple[str | None, str | None]:
    return (str(money.amount), money.currency) if money else (None, None)


def _order_key(plan: Json) -> tuple[str, str]:
    return plan["order"]["source"], plan["order"]["no"]


def _line(sku: str, quantity: int, price: str, currency: str) -> OrderLineRecord:
    return OrderLineRecord(sku, quantity, Money(Decimal(price), currency))


def registered_return(answer: Json) -> Return:
    refund = answer.get("refund")
    return Return(
        id=strawberry.ID(ids.return_id(answer["no"])),
        status=ReturnStatus(answer["status"]),
        refund=MoneyType(amount=Decimal(refund), currency=answer["currency"] or "EUR")
        if refund
        else None,
        order_id=answer["order_id"],
        refund_payment=_refund_payment(answer),
        lines=[
            ReturnLine(
                sku=strawberry.ID(line["sku"]),
                quantity=line["quantity"],
                received=None,
                unit_refund=MoneyType(amount=Decimal(line["price"]), currency=line["currency"]),
                reason=answer.get("reason"),
            )
            for line in answer.get("lines", ())
        ],
        location_ref=ids.location_id("STORE", answer["location"]) if answer["location"] else None,
        registered_at=datetime.fromisoformat(answer["at"]) if answer.get("at") else None,
    )


def _refund_payment(answer: Json) -> Payment | None:
    """The refund as a movement of money: COMPLETED once a till paid it (its record is
    Square's refund), PENDING while an online order's waits for the ERP to post the
    return order."""
    planned_refund = answer.get("refund_payment")
    if not planned_refund:
        return None
    record = answer.get("refund_record")
    return refund_payment(
        planned_refund,
        record=ids.make(planned_refund["system"], record)
        if record
        else ids.make("erp", answer["no"]),
        paid=record is not None,
        order_id=answer["order_id"],
        channel=answer["channel"],
        at=answer["at"],
        store=answer["location"],
    )
