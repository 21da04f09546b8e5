"""The root of writes. Each mutation is idempotent by a key the client chooses, so a
client that lost the answer may simply send it again."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.graphql.context import Info
from resolvers.graphql.inputs import CUSTOMER_ID, IDEMPOTENCY_KEY, argument
from resolvers.privacy import erasure, gdpr


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Erase a customer (GDPR): deleted in the CRM and the POS, anonymised "
        "in the ERP, which keeps the invoices. Once started it is finished by the gateway "
        "itself, whatever fails meanwhile; until then the answer is its progress, with "
        "ERASURE_INCOMPLETE. The same idempotencyKey again changes nothing and answers as "
        "the first; a new key for a customer being (or already) erased joins that erasure.",
        extensions=[gdpr.subject_or_agent()],
    )
    async def erase_customer(
        self,
        info: Info,
        customer_id: Annotated[strawberry.ID, argument(CUSTOMER_ID)],
        idempotency_key: Annotated[str, argument(IDEMPOTENCY_KEY)],
    ) -> erasure.Erasure:
        return await erasure.erase(info, str(customer_id), idempotency_key)
