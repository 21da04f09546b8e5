"""``registerReturn``: goods of any order (an ERP online order or a POS receipt) coming
back at any store, or by post; planned, then registered as a saga.

Planning checks the order (it exists and is completed: an online order is returnable
once NAV has invoiced it, a store receipt always), the lines (each was on the order,
and no more comes back than was bought, counting earlier returns) and the store (it
exists and is open). The saga then:

1. creates the sales return order in the ERP (``SalesReturnOrder``, applying to the
   order's posted invoice, or naming the store receipt; each line at what the customer
   paid, with the return reason): the ERP books returns for every channel, so a store
   receipt's return is recorded there too. The return order is what the customer is
   owed; NAV pays it out when finance posts the return (credit memo, then refund), and
   the order's payments show the refund from then on: no standard page takes a ledger
   entry from outside (``contracts/erp/DECISIONS.md``);
2. puts the goods back into the store's stock in the POS (from RETURNED_BY_CUSTOMER to
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

from adapters.erp_writes import ErpWrites, NewDocument
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

FROM_CUSTOMER = "RETURNED_BY_CUSTOMER"
#: The one order state goods can come back from: delivered, and (online) invoiced.
RETURNABLE = "COMPLETED"


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
    if order.status != RETURNABLE:
        state = (order.status or "unknown").lower().replace("_", " ")
        message = f"order {request.order_id} is {state}: only completed orders can be returned"
        return None, [refusal("NOT_RETURNABLE", message, "orderId")]
    # a return applies to the order's posted invoice; a store receipt is named as it is
    applies_to = order.invoice_id or order_no
    location, errors = await _store(info, request.location_id)
    returned = await _returned(erp, applies_to)
    lines, line_errors = _returnable(order, wanted, returned)
    errors += line_errors
    if errors:
        return None, errors
    plan: Json = {
        "order": {
            "source": source,
            "no": order_no,
            "channel": order.channel,
            "status": order.status,
            "customer_no": order.customer_ref if source == "erp" else None,
        },
        "applies_to": applies_to,
        "to_invoice": order.invoice_id is not None,
        "location": location,
        "lines": lines,
        "reason": request.reason,
        "ordered": _quantities(order),
    }
    return plan, []


async def _returned(erp: ErpWrites, applies_to: str) -> dict[str, int]:
    """Quantities per SKU on the return orders applying to the order's invoice (or
    naming its receipt); a return undone was deleted, so every one found stands."""
    returned: dict[str, int] = {}
    for document in await erp.find("returns", "Applies_to_Doc_No", applies_to):
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
        steps = [
            Step("erp_return", self._create, self._cancel),
            Step("not_over_returned", self._recount),
        ]
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
        return {
            "no": document.no,
            "status": document.state,
            "refund": str(document.total.amount) if document.total else None,
            "currency": document.total.currency if document.total else None,
        }

    async def _cancel(self, plan: Json, results: Results) -> None:
        await self.erp.delete("returns", return_reference(plan))

    async def _recount(self, plan: Json, results: Results) -> None:
        """Every return order of the order, this one included, within what was bought."""
        returned = await _returned(self.erp, plan["applies_to"])
        for sku, bought in plan["ordered"].items():
            if returned.get(sku, 0) > bought:
                raise Refused(
                    "NOT_RETURNABLE",
                    f"another return of this order came first: {sku} would come back "
                    f"{returned[sku]} times, {bought} were bought",
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
