"""The one price engine: what a channel charges for a product today, shown and charged
alike (DESIGN: Prices).

A channel's regular price is its ERP sales price in force, else the item card's list
price (``adapters.erp.adapter.ErpAdapter.prices``). A promotion is a line discount of
the channel's customer discount group running today; where several run, the largest
applies, as NAV's price calculation takes the best line discount for the customer.
What the channel charges for one piece is the regular price less that discount, to the
cent (``adapters.records.discounted``, the rounding NAV applies to a sales line).
``Product.price`` shows it, ``Product.compareAtPrice`` shows the regular price beside
it, and ``placeOrder`` writes both halves on the ERP's sales line (the regular price as
its Unit Price, the promotion's percentage as its Line Discount %), so NAV's line amount
is what the customer was shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from adapters.records import Money, PriceRecord, ProductRecord, PromotionRecord, discounted


def today() -> date:
    """The day prices and promotions are in force: NAV's dates are days, read in UTC
    as every other moment Mosaic shows (DESIGN: Time)."""
    return datetime.now(UTC).date()


def running(
    promotions: Iterable[PromotionRecord], channel: str, day: date
) -> list[PromotionRecord]:
    """The channel's promotions running on ``day``."""
    return [
        p
        for p in promotions
        if p.channel == channel
        and (p.starts is None or p.starts <= day)
        and (p.ends is None or day <= p.ends)
    ]


@dataclass(frozen=True, slots=True)
class Quote:
    """What a channel charges for one piece of a product, and why."""

    regular: Money
    promotion: PromotionRecord | None  # the running promotion that lowers it, if any

    @property
    def charged(self) -> Money:
        if self.promotion is None:
            return self.regular
        return discounted(self.regular, self.promotion.discount_percent)

    @property
    def compare_at(self) -> Money | None:
        """The regular price, where a promotion lowers it."""
        return self.regular if self.charged.amount < self.regular.amount else None


def quote(
    item: ProductRecord | None,
    price: PriceRecord | None,
    promotions: Iterable[PromotionRecord],
    channel: str,
    day: date,
) -> Quote | None:
    """The channel's quote; None where neither a sales price nor a list price is known."""
    regular = price.price if price is not None else item.list_price if item else None
    if regular is None:
        return None
    best = max(
        (p for p in running(promotions, channel, day) if p.discount_percent > 0),
        key=lambda p: p.discount_percent,
        default=None,
    )
    return Quote(regular, best)
