"""The schema's closed vocabularies, one enum each, one spelling each (DESIGN: Closed
vocabularies are enums): what a client may switch on exhaustively, and what
graphql-codegen turns into a union type.

The states follow the decisions that settled them: orders and returns
``contracts/erp/DECISIONS.md`` (the ERP's, and a store receipt's Square states,
``contracts/pos/README.md``), ``CANCELLED`` spelt with two Ls everywhere. Where an
adapter already names the vocabulary (the CRM's consent purposes, the tiers the POS
settings accept), the enum is made from that one list.

A Python member's value is the word Mosaic's records use (``"erp"``, ``"email_marketing"``,
``"PLACED"``), so ``SourceSystem(record.source)`` maps a record; GraphQL shows the
member's name.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from adapters.config import LOYALTY_TIERS
from adapters.crm import CONSENT_PURPOSES


@strawberry.enum(
    description="How far an order is. Online orders (the ERP): PLACED, PROCESSING (handed to "
    "the warehouse), PARTIALLY_SHIPPED, SHIPPED, COMPLETED (invoiced), CANCELLED. Store "
    "receipts (the POS): OPEN, DRAFT, COMPLETED, CANCELLED."
)
class OrderStatus(Enum):
    PLACED = "PLACED"
    PROCESSING = "PROCESSING"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    OPEN = "OPEN"
    DRAFT = "DRAFT"


@strawberry.enum(
    description="How far a return is, from its return order's lines: REGISTERED (nothing "
    "received yet), PARTIALLY_RECEIVED, RECEIVED, REFUNDED (credited: the credit memo is "
    "posted)."
)
class ReturnStatus(Enum):
    REGISTERED = "REGISTERED"
    PARTIALLY_RECEIVED = "PARTIALLY_RECEIVED"
    RECEIVED = "RECEIVED"
    REFUNDED = "REFUNDED"


@strawberry.enum(
    description="Why a return is refused (NOT_RETURNABLE): NOT_FULFILLED (not shipped or "
    "collected yet), NOT_PAID (nothing paid, or nothing left to refund), ALREADY_RETURNED, "
    "MORE_THAN_BOUGHT."
)
class RefusalReason(Enum):
    NOT_FULFILLED = "NOT_FULFILLED"
    NOT_PAID = "NOT_PAID"
    ALREADY_RETURNED = "ALREADY_RETURNED"
    MORE_THAN_BOUGHT = "MORE_THAN_BOUGHT"


@strawberry.enum(description="A system of record Mosaic asks.")
class SourceSystem(Enum):
    CRM = "crm"
    ERP = "erp"
    POS = "pos"
    WMS = "wms"


@strawberry.enum(description="A golden-record field of a customer.")
class CustomerField(Enum):
    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"
    ADDRESS = "address"


@strawberry.enum(
    description="What kind of record about a person a system holds: the CRM's CONTACT, "
    "the ERP's CUSTOMER_ACCOUNT, Square's CUSTOMER_PROFILE and LOYALTY_ACCOUNT."
)
class RecordKind(Enum):
    CONTACT = "contact"
    CUSTOMER_ACCOUNT = "customer account"
    CUSTOMER_PROFILE = "customer profile"
    LOYALTY_ACCOUNT = "loyalty account"


@strawberry.enum(
    description="How far an erasure is: IN_PROGRESS while a step is left (the gateway "
    "finishes it by itself), COMPLETED."
)
class ErasureState(Enum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


@strawberry.enum(
    description="Where one record's erasure stands: DONE, PENDING (not tried yet, or to be "
    "tried again), FAILING (its system refused or did not answer on the last attempt), "
    "NOT_ERASABLE (the system's API cannot erase it)."
)
class ErasureStepStatus(Enum):
    DONE = "DONE"
    PENDING = "PENDING"
    FAILING = "FAILING"
    NOT_ERASABLE = "NOT_ERASABLE"


@strawberry.enum(
    description="What an erasure does to a record: DELETE or ANONYMISE while pending; "
    "DELETED, ANONYMISED or ALREADY_GONE once done; KEPT where the system offers no way "
    "to erase it."
)
class ErasureAction(Enum):
    DELETE = "delete"
    ANONYMISE = "anonymise"
    DELETED = "deleted"
    ANONYMISED = "anonymised"
    ALREADY_GONE = "already gone"
    KEPT = "kept"


if TYPE_CHECKING:  # to type checkers, plain enums; their members come from the lists below

    class ConsentPurpose(Enum):
        EMAIL_MARKETING = "email_marketing"

    class LoyaltyTier(Enum):
        GOLD = "GOLD"

else:
    ConsentPurpose = strawberry.enum(
        Enum("ConsentPurpose", {purpose.upper(): purpose for purpose in CONSENT_PURPOSES}),
        description="What a customer consents to (the CRM's consent properties): "
        "EMAIL_MARKETING, PERSONALISATION, ANALYTICS.",
    )
    LoyaltyTier = strawberry.enum(
        Enum("LoyaltyTier", {tier: tier for tier in LOYALTY_TIERS}),
        description="A loyalty tier, reached by lifetime points (the retailer's thresholds: "
        "MOSAIC_POS_TIER_THRESHOLDS names some of these).",
    )
