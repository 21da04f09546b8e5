"""The four adapters the schema reads from, as one bundle passed into every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.crm import CrmAdapter
    from adapters.erp.adapter import ErpAdapter
    from adapters.pos import PosAdapter
    from adapters.wms import WmsAdapter


@dataclass(frozen=True, slots=True)
class Sources:
    crm: CrmAdapter
    erp: ErpAdapter
    pos: PosAdapter
    wms: WmsAdapter
