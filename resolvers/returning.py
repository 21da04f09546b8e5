"""``registerReturn``: goods of any order (an ERP online order or a POS receipt) coming
back at any store, or by post; planned, then registered as a saga.

Planning checks the order (it exists, is not cancelled), the lines (each was on the
order, and no more comes back than was bought, counting earlier returns) and the store
(it exists and is open). The saga then:

1. creates the return order in the ERP (``SalesReturnOrder``, ``Applies_to_Order_No``
   the order, the refund as its amount, status ``REFUNDED``): the ERP books refunds for
   every channel, so a store receipt's return is recorded there too;
2. for an ERP order, books the refund in the ERP's payments (``CustomerPayments``, a
   ``Refund`` against the order's payment, naming the return order), so the order's
   payments show it at once; a POS receipt's refund is the till's, paid out there;
3. sets an ERP order's status to ``RETURNED`` or ``PARTIALLY_RETURNED``. A POS receipt
   is left as it is: the till's receipts are closed records (Square records a return as
   a return order of its own), and the ERP's return order names the receipt;
4. puts the goods back into the store's stock in the POS (from RETURNED_BY_CUSTOMER to
   IN_STOCK). Goods sent by post arrive at a warehouse later, where the WMS books them
   in on arrival; that is not part of registering the return.

Between 1 and 2 the saga checks that the order is not over-returned. Planning counted
the earlier returns, but two returns of the same order with different idempotency keys
may be planned at the same moment and both pass; so once its own return order exists,
the saga counts again, every return order of the order included. When more would come
back than was bought, it undoes its return order and refuses NOT_RETURNABLE. Two
returns racing for the last unit may thus both be refused (the client asks again);
goods are never refunded twice.

The restock is last on purpose: it is the one step that cannot be refused, so no later
failure can ask to take goods back off a shelf they may already have been sold from.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import strawberry

from adapters.erp_writes import ErpWrites, NewDocument, NewRefund
from adapters.errors import BadUserInput
from adapters.pos import IN_STOCK, StockMove
from adapters.records import Money, OrderLineRecord, OrderRecord
from resolvers import ids
from resolvers.context import Info
from resolvers.holds import Invalidate, occurred_at, pos_move, pos_unmove
from resolvers.ordering import check_key, merged_lines, refusal
from resolvers.sagas import Json, Refused, Results, Step
from resolvers.sources import Sources
from resolvers.types.common import Money as MoneyType
from resolvers.types.writes import RegisterReturnInput, Return, UserError

REFUNDED, CANCELLED = "REFUNDED", "CANCELLED"
RETURNED, PARTIALLY_RETURNED = "RETURNED", "PARTIALLY_RETURNED"
FROM_CUSTOMER = "RETURNED_BY_CUSTOMER"
NOT_RETURNABLE = ("CANCELLED", "CANCELED")


def return_reference(plan: Json) -> str:
    return "MOSR-" + str(plan["saga_id"])[:24]


def fingerprint_of(request: RegisterReturnInput) -> Json:
    return {
        "order": str(request.order_id),
        "location": str(request.location_id) if request.location_id else None,
        "lines": sorted((str(line.sku), line.quantity) for line in request.lines),
        "reason": request.reason,
    }


async def plan_return(
    info: Info, sources: Sources, erp: ErpWrites, request: RegisterReturnInput
) -> tuple[Json | None, list[UserError]]:
    wanted, errors = merged_lines(request.lines)
    errors += check_key(request.idempotency_key)
    if errors:
        return None, errors
    try:
        source, order_no = ids.split(str(request.order_id), ids.ORDER_PREFIXES, "order")
    except BadUserInput as error:
        return None, [refusal("UNKNOWN_ORDER", error.message, "orderId")]
    read = sources.erp.orders if source == "erp" else sources.pos.orders
    order = (await read([order_no])).get(order_no)
    if order is None:
        return None, [refusal("UNKNOWN_ORDER", f"no order {request.order_id}", "orderId")]
    if order.status in NOT_RETURNABLE:
        message = f"order {request.order_id} was cancelled"
        return None, [refusal("NOT_RETURNABLE", message, "orderId")]
    location, errors = await _store(info, request.location_id)
    returned = await _returned(erp, order_no)
    lines, line_errors = _returnable(order, wanted, returned)
    errors += line_errors
    if errors:
        return None, errors
    ordered = _quantities(order)
    everything = all(returned.get(sku, 0) + wanted.get(sku, 0) >= n for sku, n in ordered.items())
    plan: Json = {
        "order": {
            "source": source,
            "no": order_no,
            "channel": order.channel,
            "status": order.status,
            "customer_no": order.customer_ref if source == "erp" else None,
        },
        "location": location,
        "lines": lines,
        "reason": request.reason,
        "order_status": RETURNED if everything else PARTIALLY_RETURNED,
        "ordered": ordered,
    }
    return plan, []


async def _returned(erp: ErpWrites, order_no: str) -> dict[str, int]:
    """Quantities per SKU on the order's return orders that stand (not cancelled)."""
    returned: dict[str, int] = {}
    for document in await erp.find("returns", "Applies_to_Order_No", order_no):
        if document.status != CANCELLED:
            for line in document.lines:
                returned[line.sku] = returned.get(line.sku, 0) + line.quantity
    return returned


async def _store(
    info: Info, location_id: strawberry.ID | None
) -> tuple[str | None, list[UserError]]:
    if location_id is None:
        return None, []  # by post
    try:
        prefix, local = ids.split(str(location_id), ("store", "warehouse"), "location")
    except BadUserInput as error:
        return None, [refusal("UNKNOWN_LOCATION", error.message, "locationId")]
    stores = {s.id: s for s in await info.context.loaders.all_stores()}
    store = stores.get(local) if prefix == "store" else None
    if store is None:
        message = f"{location_id} is not a store that takes returns"
        return None, [refusal("UNKNOWN_LOCATION", message, "locationId")]
    if not store.active:
        return None, [refusal("STORE_CLOSED", f"{store.name} is closed", "locationId")]
    return local, []


def _quantities(order: OrderRecord) -> dict[str, int]:
    ordered: dict[str, int] = {}
    for line in order.lines:
        ordered[line.sku] = ordered.get(line.sku, 0) + line.quantity
    return ordered


def _returnable(
    order: OrderRecord, wanted: dict[str, int], returned: dict[str, int]
) -> tuple[list[Json], list[UserError]]:
    ordered = _quantities(order)
    prices = {line.sku: line.unit_price for line in order.lines}
    lines: list[Json] = []
    errors: list[UserError] = []
    for sku, n in wanted.items():
        left = ordered.get(sku, 0) - returned.get(sku, 0)
        if sku not in ordered:
            errors.append(refusal("NOT_IN_ORDER", f"{sku} is not on this order", "lines"))
        elif n > left:
            message = f"only {max(left, 0)} of {sku} can still be returned"
            errors.append(refusal("NOT_RETURNABLE", message, "lines"))
        else:
            price = prices[sku] or Money(Decimal(0), "EUR")
            lines.append(
                {"sku": sku, "quantity": n, "price": str(price.amount), "currency": price.currency}
            )
    return lines, errors


class RegisterReturn:
    kind = "register_return"

    def __init__(self, sources: Sources, erp: ErpWrites, invalidate: Invalidate) -> None:
        self.sources = sources
        self.erp = erp
        self.invalidate = invalidate

    def steps(self, plan: Json) -> Sequence[Step]:
        steps = [Step("erp_return", self._create, self._cancel)]
        if "ordered" in plan:  # sagas logged before the check was added have no counts
            steps.append(Step("not_over_returned", self._recount))
        if plan["order"]["source"] == "erp":
            steps.append(Step("refund", self._refund, self._void_refund))
            steps.append(Step("order_status", self._mark_order, self._unmark_order))
        if plan["location"]:
            steps.append(Step("restock", self._restock, self._unstock))
        return steps

    def answer(self, plan: Json, results: Results) -> Json:
        return {**results["erp_return"], "order_id": ids.make(*_order_key(plan))}

    async def _create(self, plan: Json, results: Results) -> Json:
        order = plan["order"]
        document = await self.erp.create(
            "returns",
            NewDocument(
                reference=return_reference(plan),
                customer_no=order["customer_no"],
                channel=order["channel"],
                status=REFUNDED,
                location_code=plan["location"],
                applies_to=order["no"],
                reason=plan["reason"],
                lines=[
                    _line(line["sku"], line["quantity"], line["price"], line["currency"])
                    for line in plan["lines"]
                ],
            ),
        )
        return {
            "no": document.no,
            "status": document.status,
            "refund": str(document.total.amount) if document.total else None,
            "currency": document.total.currency if document.total else None,
        }

    async def _cancel(self, plan: Json, results: Results) -> None:
        document = await self.erp.by_reference("returns", return_reference(plan))
        if document is not None:
            await self.erp.set_status("returns", document.no, CANCELLED)

    async def _recount(self, plan: Json, results: Results) -> None:
        """Every return order of the order, this one included, within what was bought."""
        returned = await _returned(self.erp, plan["order"]["no"])
        for sku, bought in plan["ordered"].items():
            if returned.get(sku, 0) > bought:
                raise Refused(
                    "NOT_RETURNABLE",
                    f"another return of this order came first: {sku} would come back "
                    f"{returned[sku]} times, {bought} were bought",
                )

    async def _refund(self, plan: Json, results: Results) -> Json:
        order, back = plan["order"], results["erp_return"]
        if not back.get("refund"):
            return {}  # nothing to pay back
        paid = (await self.sources.erp.payments_by_order([order["no"]])).get(order["no"], [])
        payment = next((p for p in paid if p.kind == "PAYMENT" and p.status == "COMPLETED"), None)
        document = await self.erp.book_refund(
            NewRefund(
                order_no=order["no"],
                return_no=back["no"],
                amount=Money(Decimal(back["refund"]), back["currency"] or "EUR"),
                channel="STORE" if plan["location"] else order["channel"],
                customer_no=order["customer_no"],
                location_code=plan["location"],
                payment_no=payment.id if payment else None,
                method=payment.method if payment else None,
                reason=plan["reason"],
            )
        )
        await self.invalidate("erp_payments", [order["no"]])
        return {"no": document.no}

    async def _void_refund(self, plan: Json, results: Results) -> None:
        back = results.get("erp_return")
        if back is None:
            return  # no return order, so no refund either
        for refund in await self.erp.find("payments", "Return_Order_No", back["no"]):
            await self.erp.set_status("payments", refund.no, "Voided")
        await self.invalidate("erp_payments", [plan["order"]["no"]])

    async def _mark_order(self, plan: Json, results: Results) -> None:
        await self.erp.set_status("orders", plan["order"]["no"], plan["order_status"])

    async def _unmark_order(self, plan: Json, results: Results) -> None:
        await self.erp.set_status("orders", plan["order"]["no"], plan["order"]["status"])

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


def _order_key(plan: Json) -> tuple[str, str]:
    return plan["order"]["source"], plan["order"]["no"]


def _line(sku: str, quantity: int, price: str, currency: str) -> OrderLineRecord:
    return OrderLineRecord(sku, quantity, Money(Decimal(price), currency))


def registered_return(answer: Json) -> Return:
    refund = answer.get("refund")
    return Return(
        id=strawberry.ID(ids.make("erp", answer["no"])),
        status=answer["status"],
        refund=MoneyType(amount=Decimal(refund), currency=answer["currency"] or "EUR")
        if refund
        else None,
        order_id=answer["order_id"],
    )
