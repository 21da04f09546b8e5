"""How to reach one legacy system; the gateway's settings hold one of these per source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from adapters.records import ChannelName
from adapters.transport.resilience import GuardConfig


class SourceConfig(BaseModel):
    url: str  # base URL, e.g. http://127.0.0.1:8101
    timeout_s: float = Field(default=5.0, gt=0)  # whole-call timeout, connect included
    max_batch: int = Field(default=100, ge=1)  # keys per upstream call; larger batches split
    token: SecretStr | None = None  # bearer token, where the system wants one (never logged)
    guard: GuardConfig = Field(default_factory=GuardConfig)  # concurrency, retries, breaker


class CrmConfig(SourceConfig):
    """HubSpot, with the country whose numbers its contacts' phones are mostly written
    in: a number without a country code (``06 1234 5678``) is taken to be from there."""

    phone_region: str = Field(default="NL", pattern="^[A-Z]{2}$")  # ISO 3166-1 alpha-2


#: Each logical page Mosaic reads or writes, and the standard NAV page published under
#: that service name by default (contracts/erp/PAGES.md says which page each one is).
ERP_PAGES: dict[str, str] = {
    "items": "ItemCard",  # page 30 Item Card
    "categories": "ItemCategoryCard",  # page 5733 Item Category Card
    "customers": "Customer",  # page 21 Customer Card
    "prices": "SalesPrices",  # page 7002 Sales Prices
    "promotions": "SalesLineDiscounts",  # page 7004 Sales Line Discounts
    "orders": "SalesOrder",  # page 42 Sales Order, lines page 46
    "invoices": "PostedSalesInvoice",  # page 132 Posted Sales Invoice, lines page 133
    "returns": "SalesReturnOrder",  # page 6630 Sales Return Order, lines page 6631
    "payments": "CustomerLedgerEntries",  # page 25 Customer Ledger Entries
}

#: What an installation may keep in fields of its own (MOSAIC_ERP_FIELDS): our name ->
#: the logical pages whose field it names. Unmapped, each has a default that never
#: refuses an order (contracts/erp/README.md): no brand; an item is sold in every
#: channel; a document or payment is in ``default_channel``; no store; no mirror; no
#: order came in through a partner (so a partner reads none).
ERP_FIELDS: dict[str, tuple[str, ...]] = {
    "brand": ("items",),  # the item's brand
    "channels": ("items",),  # the channels that sell the item: "WEB|APP" (| , or spaces)
    "document_channel": ("orders", "invoices", "returns"),  # an order's or return's channel
    "payment_channel": ("payments",),  # where a payment or refund happened
    "payment_store": ("payments",),  # the store (POS location id) of a store refund
    "payment_mirror": ("payments",),  # the POS's record of the same refund
    "order_partner": ("orders", "invoices"),  # the partner an order came in through
}


def merged_pages(overrides: Mapping[str, str]) -> dict[str, str]:
    """Every logical page's service: the defaults, each overridden key replaced. An
    unknown key is an error naming it (a typo must not make a page vanish)."""
    unknown = sorted(set(overrides) - set(ERP_PAGES))
    if unknown:
        raise ValueError(
            f"unknown ERP page {', '.join(unknown)}; the pages are {', '.join(ERP_PAGES)}"
        )
    return {**ERP_PAGES, **overrides}


def checked_fields(fields: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(fields) - set(ERP_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown ERP field {', '.join(unknown)}; the fields are {', '.join(ERP_FIELDS)}"
        )
    return dict(fields)


class ErpConfig(SourceConfig):
    """The ERP publishes each NAV page as its own SOAP service under a company.

    A real installation names its pages as its administrator chose, so each page's
    service name is configuration, and so are the fields it added (``fields``).
    Credentials: a NAV web service user (``username``, ``password``: HTTP Basic), or
    Business Central's OAuth2 client credentials (``token_url``, ``client_id``,
    ``client_secret``, ``scope``); neither: the ERP is asked without credentials.
    """

    company: str = "CRONUS"
    pages: dict[str, str] = Field(default_factory=lambda: dict(ERP_PAGES))
    fields: dict[str, str] = Field(default_factory=dict)
    #: the Customer Price Group and Customer Disc. Group standing for each channel
    channel_groups: dict[str, str] = Field(
        default_factory=lambda: {"WEB": "WEB", "APP": "APP", "STORE": "STORE"}
    )
    #: the channel of a document or payment whose installation keeps none
    default_channel: ChannelName = "WEB"
    username: str | None = None
    password: SecretStr | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str | None = None

    @field_validator("pages")
    @classmethod
    def _all_pages(cls, pages: dict[str, str]) -> dict[str, str]:
        return merged_pages(pages)

    @field_validator("channel_groups")
    @classmethod
    def _channels_only(cls, groups: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(groups) - {"WEB", "APP", "STORE"})
        if unknown:
            raise ValueError(f"channel groups of unknown channels: {', '.join(unknown)}")
        return {"WEB": "WEB", "APP": "APP", "STORE": "STORE", **groups}

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, fields: dict[str, str]) -> dict[str, str]:
        return checked_fields(fields)

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> ErpConfig:
        if self.token_url and self.username:
            raise ValueError("ERP credentials: a user name or an OAuth token URL, not both")
        if self.token_url and not (self.client_id and self.client_secret):
            raise ValueError("ERP OAuth: a token URL needs a client id and a client secret")
        if (self.username is None) != (self.password is None):
            raise ValueError("ERP credentials: a user name needs a password, and the reverse")
        return self

    def page_url(self, page: str) -> str:
        """The service URL of a logical page (``items``, ``orders``, ...)."""
        service = self.pages[page]
        if service.startswith(("http://", "https://")):
            return service
        return f"{self.url.rstrip('/')}/WS/{self.company}/Page/{service}"

    def field(self, name: str) -> str | None:
        """The installation's field for one of our names, or None when unmapped."""
        return self.fields.get(name)


#: the Square API version Mosaic is written and tested against (contracts/pos/square.json)
SQUARE_VERSION = "2025-08-20"


#: the loyalty tiers Mosaic can name (a closed vocabulary: the schema's LoyaltyTier);
#: the retailer's thresholds (``tier_thresholds``) give some of them points
LOYALTY_TIERS = ("BRONZE", "SILVER", "GOLD", "PLATINUM")


class PosConfig(SourceConfig):
    """Square: the API version asked for, and what the retailer's Square account adds.

    Square's loyalty accounts have points but neither a card number nor a tier: the card
    number is kept in a customer profile field (``card_field``; None: the retailer's
    cards are not in Square), and the tier follows from ``lifetime_points`` by
    ``tier_thresholds`` (tier -> the lifetime points that reach it; empty: no tiers).
    """

    square_version: str = Field(default=SQUARE_VERSION, pattern=r"^\d{4}-\d{2}-\d{2}$")
    card_field: Literal["reference_id"] | None = "reference_id"
    tier_thresholds: dict[str, int] = Field(default_factory=dict)
    #: how long the merchant's location ids are kept (reference data: DESIGN's 1 h)
    reference_ttl_s: float = Field(default=3600.0, ge=0)

    @model_validator(mode="after")
    def _thresholds_are_points(self) -> PosConfig:
        if any(points < 0 for points in self.tier_thresholds.values()):
            raise ValueError("tier thresholds are lifetime points, 0 or more")
        unknown = sorted(set(self.tier_thresholds) - set(LOYALTY_TIERS))
        if unknown:
            raise ValueError(
                f"unknown loyalty tier {', '.join(unknown)}; the tiers are "
                + ", ".join(LOYALTY_TIERS)
            )
        return self

    def tier(self, lifetime_points: int | None) -> str | None:
        """The highest tier whose threshold ``lifetime_points`` reach; None without
        thresholds, points or a tier reached."""
        if lifetime_points is None:
            return None
        reached = [(points, tier) for tier, points in self.tier_thresholds.items()]
        reached = [pair for pair in reached if pair[0] <= lifetime_points]
        return max(reached)[1] if reached else None
