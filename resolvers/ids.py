"""Global ids: opaque to clients, but carrying the system that owns the record.

``crm:1001``, ``erp:SO0000042``, ``store:LOC-003``: an id names its kind or source so it
is unique across systems and stable across requests, and the gateway knows where to go
back to without a lookup table (it keeps no copy of anything).
"""

from __future__ import annotations

from adapters.errors import BadUserInput

CUSTOMER_PREFIXES = ("crm", "erp", "pos")
ORDER_PREFIXES = ("erp", "pos")
LOCATION_PREFIXES = {"STORE": "store", "WAREHOUSE": "warehouse"}


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


def product_id(sku: str) -> str:
    return make("product", sku)


def location_id(kind: str, local_id: str) -> str:
    return make(LOCATION_PREFIXES[kind], local_id)
