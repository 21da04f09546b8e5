"""How to reach one legacy system; the gateway's settings hold one of these per source."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

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
