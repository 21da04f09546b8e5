"""What ``mosaic sources check`` reports: one finding per thing Mosaic needs of a source.

Each adapter checks its own system against what it uses (a NAV page and its mapped
fields, a REST endpoint, the credentials) and answers a list of these; the command
prints them per source and fails when any is not ok.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    source: str  # crm, erp, pos, wms
    what: str  # the thing checked: "credentials", "page ItemCard", "POST /v2/orders/search"
    ok: bool
    detail: str = ""  # what was found wrong, or what was confirmed; never a secret
