"""How to reach one legacy system; the gateway's settings hold one of these per source."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from adapters.resilience import GuardConfig


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


class ErpConfig(SourceConfig):
    """The ERP publishes each NAV page as its own SOAP service under a company.

    A real installation names its pages as its administrator chose, so each page's
    service name is configuration, not code.
    """

    company: str = "CRONUS"
    pages: dict[str, str] = Field(
        default_factory=lambda: {
            "items": "ItemCard",
            "customers": "Customer",
            "prices": "SalesPrices",
            "promotions": "Promotions",
            "orders": "SalesOrder",
            "returns": "SalesReturnOrder",
            "payments": "CustomerPayments",
        }
    )

    def page_url(self, page: str) -> str:
        """The service URL of a logical page (``items``, ``orders``, ...)."""
        service = self.pages[page]
        if service.startswith(("http://", "https://")):
            return service
        return f"{self.url.rstrip('/')}/WS/{self.company}/Page/{service}"


#: the Square API version Mosaic is written and tested against (contracts/pos/square.json)
SQUARE_VERSION = "2025-08-20"


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

    @model_validator(mode="after")
    def _thresholds_are_points(self) -> PosConfig:
        if any(points < 0 for points in self.tier_thresholds.values()):
            raise ValueError("tier thresholds are lifetime points, 0 or more")
        return self

    def tier(self, lifetime_points: int | None) -> str | None:
        """The highest tier whose threshold ``lifetime_points`` reach; None without
        thresholds, points or a tier reached."""
        if lifetime_points is None:
            return None
        reached = [(points, tier) for tier, points in self.tier_thresholds.items()]
        reached = [pair for pair in reached if pair[0] <= lifetime_points]
        return max(reached)[1] if reached else None
