"""Trim Square's OpenAPI description to what Mosaic uses, so it can be redone.

    python contracts/pos/trim.py path/to/square/api.json > contracts/pos/square.json

Keeps every path operation named in ``OPERATIONS`` (by Square's ``operationId``), and
of the components only the security schemes and the schemas those operations reach
through ``$ref``, followed transitively. Nothing is edited: what remains is Square's
text as published. The component extensions that index Square's whole API
(``x-apis``, ``x-categories``, ``x-categories-order``, ``x-v1-api-mappings``) describe
operations that are gone, so they go too; so does ``info.externalDocs``, a link to
Square's documentation that OpenAPI 3.0 does not allow in ``info`` (the one thing that
keeps Square's file from validating as OpenAPI).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Square operations Mosaic uses, and why (contracts/pos/README.md says more)
OPERATIONS = {
    "ListLocations": "stores, and the location ids SearchOrders needs",
    "SearchCustomers": "a loyalty card (the customer's reference_id) or e-mail to a customer",
    "BulkRetrieveCustomers": "a loyalty account's customer: name, contact, card",
    "RetrieveCustomer": "tests: a customer is gone after an erasure",
    "DeleteCustomer": "GDPR erasure",
    "SearchLoyaltyAccounts": "loyalty accounts by customer id or phone mapping",
    "SearchOrders": "a customer's store receipts",
    "BatchRetrieveOrders": "receipts by id, with their tenders and refunds (payments)",
    "CreateOrder": "a sale at the till (tests and the demo's till)",
    "CreatePayment": "paying a till sale, which completes its order",
    "GetPaymentRefund": "the POS's record of a refund, named by the ERP's refund",
    "RefundPayment": "a store receipt's money back at the till, the way it was paid",
    "BatchRetrieveInventoryCounts": "store stock, and the stock changes followed",
    "BatchChangeInventory": "holding and restocking goods at stores",
    "RetrieveTokenStatus": "mosaic sources check: the access token's scopes",
}
METHODS = ("get", "put", "post", "delete", "patch")
DROPPED_EXTENSIONS = ("x-apis", "x-categories", "x-categories-order", "x-v1-api-mappings")


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def trim(spec: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    found: set[str] = set()
    for path, item in spec["paths"].items():
        kept = {
            key: value
            for key, value in item.items()
            if key not in METHODS or value.get("operationId") in OPERATIONS
        }
        operations = {key: value for key, value in kept.items() if key in METHODS}
        if operations:
            paths[path] = kept
            found.update(op["operationId"] for op in operations.values())
    missing = set(OPERATIONS) - found
    if missing:
        raise SystemExit(f"not in this spec: {', '.join(sorted(missing))}")
    schemas = spec["components"]["schemas"]
    reached: set[str] = set()
    todo = list(_refs(paths))
    while todo:
        ref = todo.pop()
        name = ref.removeprefix("#/components/schemas/")
        if name == ref:
            raise SystemExit(f"a $ref outside the schemas: {ref}")
        if name not in reached:
            reached.add(name)
            todo.extend(_refs(schemas[name]))
    components = {
        key: value
        for key, value in spec["components"].items()
        if key not in ("schemas", *DROPPED_EXTENSIONS)
    }
    components["schemas"] = {name: body for name, body in schemas.items() if name in reached}
    info = {key: value for key, value in spec["info"].items() if key != "externalDocs"}
    return {**spec, "info": info, "paths": paths, "components": components}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[1]).read_text())
    sys.stdout.write(json.dumps(trim(spec), indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
