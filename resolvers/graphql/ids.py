"""Global ids: opaque to clients, but carrying the kind of thing and the system that owns
the record, so any id leads back to its record without a lookup table (the gateway
keeps no copy of anything), and ``node(id:)`` can find any of them.

- customer: ``crm:1001``, ``pos:<Square customer id>``, ``erp:<customer no.>`` (the
  system that found the person; DESIGN: Ids), as always;
- order: ``order:erp:SO0000042``, ``order:pos:<Square order id>`` since issue 18; the
  forms before it, ``erp:SO…`` and ``pos:…``, are still accepted wherever an order id is;
- return: ``return:erp:SR0000001`` since issue 18 (before: ``erp:SR…``, never input);
- product: ``product:<SKU>``, since issue 18 (``Product.sku`` stays);
- location: ``store:<Square location id>``, ``warehouse:<WMS id>``, as always.

A customer's id carries its source only: ``crm``, ``pos`` and ``erp`` with nothing
before them are customers, so every other kind carries its kind in front. That made the
old order ids ambiguous (``erp:…`` was a customer or an order), which is why orders
and returns gained theirs.
"""

from __future__ import annotations

from adapters.errors import BadUserInput

CUSTOMER_PREFIXES = ("crm", "erp", "pos")
ORDER_PREFIXES = ("erp", "pos")
LOCATION_PREFIXES = {"STORE": "store", "WAREHOUSE": "warehouse"}
ORDER, RETURN, PRODUCT = "order", "return", "product"


def make(prefix: str, local_id: str) -> str:
    return f"{prefix}:{local_id}"


def split(global_id: str, allowed: tuple[str, ...], kind: str) -> tuple[str, str]:
    """``(prefix, local id)``; a malformed id is the caller's mistake, not a miss."""
    prefix, sep, local = global_id.partition(":")
    if not sep or not local or prefix not in allowed:
        raise BadUserInput(
            f"{global_id!r} is not a {kind} id (expected one of "
            + ", ".join(f"'{p}:…'" for p in allowed)
            + ")"
        )
    return prefix, local


def order_id(source: str, local_id: str) -> str:
    """An order's global id: ``order:erp:SO0000042``."""
    return make(ORDER, make(source, local_id))


def order_key(global_id: str) -> tuple[str, str]:
    """``(system, order number)`` of an order id, in its form since issue 18
    (``order:erp:…``) or the one before (``erp:…``)."""
    kind, sep, rest = global_id.partition(":")
    if sep and kind == ORDER:
        return split(rest, ORDER_PREFIXES, "order")
    try:
        return split(global_id, ORDER_PREFIXES, "order")
    except BadUserInput:
        raise BadUserInput(
            f"{global_id!r} is not an order id (expected 'order:erp:…' or 'order:pos:…')"
        ) from None


def return_id(local_id: str) -> str:
    """A return's global id: ``return:erp:SR0000001`` (the ERP keeps every return)."""
    return make(RETURN, make("erp", local_id))


def product_id(sku: str) -> str:
    return make(PRODUCT, sku)


def location_id(kind: str, local_id: str) -> str:
    return make(LOCATION_PREFIXES[kind], local_id)
