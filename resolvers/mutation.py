"""The root of writes. Each mutation is idempotent by a key the client chooses, so a
client that lost the answer may simply send it again."""

from __future__ import annotations

import strawberry

from resolvers import gdpr
from resolvers.context import Info


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Erase a customer (GDPR): deleted in the CRM and the POS, anonymised "
        "in the ERP, which keeps the invoices. The same idempotencyKey again changes nothing "
        "and answers the first result.",
        extensions=[gdpr.subject_or_agent()],
    )
    async def erase_customer(
        self, info: Info, customer_id: strawberry.ID, idempotency_key: str
    ) -> gdpr.Erasure:
        return await gdpr.erase(info, str(customer_id), idempotency_key)
