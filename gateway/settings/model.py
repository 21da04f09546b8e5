"""The gateway's settings as nested models: one per source, and one per concern.

Each setting's default and meaning are declared here, once: ``mosaic config`` and the
README's table are generated from these fields. An operator names a setting by its
environment variable, ``MOSAIC_`` + the group's ``env_prefix`` + the field's name
(``crm.timeout_s`` is ``MOSAIC_CRM_TIMEOUT_S``, ``limits.max_depth`` is
``MOSAIC_MAX_DEPTH``), or by a field's ``alias`` where the historic name is neither
(``caching.enabled`` is ``MOSAIC_CACHE``): the names operators have set stay what they were
(gateway/settings/names.py reads them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from adapters.config import SQUARE_VERSION, SourceConfig, checked_fields, merged_pages
from adapters.transport.resilience import GuardConfig
from gateway.settings.names import Group, flat_sources

C = TypeVar("C", bound=SourceConfig)


class ApiKey(BaseModel):
    """What one partner's API key grants (``MOSAIC_API_KEYS``)."""

    partner: str
    scopes: list[str] = Field(default_factory=list)


class SourceSettings(Group):
    """Where one legacy system lives, and how hard Mosaic may lean on it."""

    url: str = Field(description="the system's base URL")
    timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="whole-call timeout in seconds, connect included (SOAP calls too: "
        "zeep sets no operation timeout of its own)",
    )
    max_batch: int = Field(
        default=100,
        ge=1,
        description="most keys per upstream call; larger batches are split into parallel chunks",
    )
    max_concurrency: int = Field(
        default=32,
        ge=1,
        description="calls in flight to the system at once (adapters/transport/resilience.py); "
        "the ERP, the most fragile, gets the fewest",
    )


class CrmSettings(SourceSettings):
    """HubSpot (contracts/crm/README.md)."""

    env_prefix = "crm_"
    token: SecretStr | None = Field(
        default=None,
        description="the HubSpot private app's access token, sent as `Authorization: "
        "Bearer`; none: HubSpot answers 401 (SOURCE_AUTH_FAILED)",
    )
    phone_region: str = Field(
        default="NL",
        description="the country (ISO 3166-1) of phone numbers the CRM keeps without a "
        "country code",
    )


class ErpSettings(SourceSettings):
    """Dynamics NAV or Business Central over SOAP (contracts/erp/README.md)."""

    env_prefix = "erp_"
    company: str = Field(default="CRONUS", description="the NAV company whose pages are published")
    pages: dict[str, str] = Field(
        default_factory=dict,
        description="each logical page's service name (or full URL), as the ERP's "
        "administrator published it, where it is not the standard page's "
        '(`{"items": "Items"}`); only the pages named change, an unknown page stops '
        "start-up",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="the fields the installation added, our name -> its field "
        "(`brand`, `channels`, `document_channel`, `payment_channel`, `payment_store`, "
        "`payment_mirror`, `order_partner`); unmapped: no brand, sold in every channel, "
        "`WEB`, no store, no mirror, no order is a partner's",
    )
    channel_groups: dict[str, str] = Field(
        default_factory=dict,
        description="each channel's customer price group and customer discount group, "
        'where it is not the channel\'s name (`{"STORE": "SHOPS"}`)',
    )
    username: str | None = Field(
        default=None, description="NAV's web service user (HTTP Basic), with `password`"
    )
    password: SecretStr | None = Field(default=None, description="the web service user's password")
    token_url: str | None = Field(
        default=None,
        description="Business Central: the OAuth2 token URL (client credentials; the token "
        "is kept and renewed before it expires); none of these: no credentials are sent",
    )
    client_id: str | None = Field(
        default=None, description="Business Central: the OAuth2 client id"
    )
    client_secret: SecretStr | None = Field(
        default=None, description="Business Central: the OAuth2 client secret"
    )
    scope: str | None = Field(default=None, description="Business Central: the OAuth2 scope")

    @field_validator("pages")
    @classmethod
    def _pages_known(cls, pages: dict[str, str]) -> dict[str, str]:
        merged_pages(pages)
        return pages

    @field_validator("fields")
    @classmethod
    def _fields_known(cls, fields: dict[str, str]) -> dict[str, str]:
        return checked_fields(fields)


class PosSettings(SourceSettings):
    """Square (contracts/pos/README.md)."""

    env_prefix = "pos_"
    token: SecretStr | None = Field(
        default=None,
        description="the Square access token, sent as `Authorization: Bearer`; none: the "
        "POS is asked without one (as the simulator, unless started with --token, accepts)",
    )
    square_version: str = Field(
        default=SQUARE_VERSION, description="the `Square-Version` header: the API version asked for"
    )
    card_field: Literal["reference_id"] | None = Field(
        default="reference_id",
        description="the Square customer field holding the loyalty card number (`none`: "
        "the retailer's cards are not in Square)",
    )
    tier_thresholds: dict[str, int] = Field(
        default_factory=dict,
        description="loyalty tiers by the lifetime points that reach each "
        '(`{"SILVER": 3000, "GOLD": 7000}`; the tiers are `BRONZE`, `SILVER`, `GOLD`, '
        "`PLATINUM`, the schema's `LoyaltyTier`); none: every tier is null",
    )
    poll_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="seconds between polls of the store stock's changes while someone "
        "subscribes to them",
    )

    @field_validator("card_field", mode="before")
    @classmethod
    def _none_is_no_field(cls, value: Any) -> Any:
        return None if value == "none" else value


class WmsSettings(SourceSettings):
    """The retailer's own WMS (contracts/wms/README.md)."""

    env_prefix = "wms_"
    token: SecretStr | None = Field(
        default=None, description="the WMS's API token, sent as `Authorization: Bearer`"
    )


class ResilienceSettings(Group):
    """How every upstream call is guarded (adapters/transport/resilience.py)."""

    request_timeout_s: float = Field(
        default=15.0,
        gt=0,
        description="deadline of one client request: every upstream call it makes "
        "inherits what is left of it, so no answer takes longer (plus the last field's work)",
    )
    max_queue: int = Field(
        default=256,
        ge=0,
        description="calls waiting for a slot at one source beyond which it is "
        "overloaded (refused at once)",
    )
    retries: int = Field(default=2, ge=0, description="extra attempts for idempotent reads")
    retry_budget: float = Field(
        default=0.2, ge=0, description="the share of all calls retries may add"
    )
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="consecutive failures that open a source's breaker"
    )
    breaker_open_s: float = Field(
        default=5.0, gt=0, description="seconds an open breaker waits before a probe"
    )

    def guard(self, source: SourceSettings) -> GuardConfig:
        """The protection ``source`` gets: its own concurrency, these for the rest."""
        return GuardConfig(
            max_concurrency=source.max_concurrency,
            max_queue=self.max_queue,
            retries=self.retries,
            retry_budget=self.retry_budget,
            failure_threshold=self.breaker_failure_threshold,
            open_s=self.breaker_open_s,
        )


class CacheSettings(Group):
    """The cross-request layer (gateway/caching/policy.py): cache by freshness, single
    flight, batching; off only for the benchmark's naive baseline."""

    enabled: bool = Field(
        default=True,
        alias="cache",
        description="the cross-request cache, single flight and the batching window; off "
        "only for the benchmark's naive baseline",
    )
    ttl_s: dict[str, float] = Field(
        default_factory=dict,
        alias="cache_ttl_s",
        description='per-read TTL overrides in seconds (`{"price": 30, "store_stock": 2}`)',
    )
    reference_ttl_s: float = Field(
        default=3600.0,
        ge=0,
        description="reference data, in seconds (places change rarely: fresh for an hour): how "
        "long the cache keeps the store list (Square's locations) and the warehouse list, "
        "and how long the POS adapter keeps the location ids its inventory pages and order "
        "searches are planned on (kept even with `MOSAIC_CACHE=false`, as configuration "
        "would be); 0: read again whenever needed",
    )
    refresh_ahead: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description="the share of each TTL, at its end, in which a read gets the cached "
        "value and starts a refetch in the background, so a key read all the time is "
        "renewed before it expires; 0: off",
    )
    response_cache_mb: float = Field(
        default=16.0,
        ge=0,
        description="whole answers of queries built from cached values alone, kept per "
        "worker while each value is fresh (gateway/caching/response_cache.py), bounded by the "
        "kept JSON's size in MB; 0 or `MOSAIC_CACHE=false`: off",
    )
    batching: bool = Field(
        default=True,
        description="batch keys into one upstream call per round; off only for the "
        "benchmark's naive baseline (one call per object)",
    )
    batch_window_ms: float = Field(
        default=0.0,
        ge=0,
        description="how long concurrent requests' keys are collected into one upstream "
        "call; 0: the next turn of the event loop, a few ms trade that much latency for "
        "fewer calls under load",
    )


class LimitSettings(Group):
    """What one request may ask (gateway/security/limits.py, gateway/http/body.py, rate
    limits), in every mode; the defaults are past what a real frontend reaches
    (Customer360 is 6 deep, ~100 tokens, cost ~2,000)."""

    max_depth: int = Field(default=12, ge=1, description="deepest selection of an operation")
    max_aliases: int = Field(default=50, ge=0, description="most aliases in an operation")
    max_tokens: int = Field(default=5_000, ge=1, description="most tokens in a document")
    max_cost: int = Field(
        default=50_000,
        ge=1,
        description="estimated objects an operation may resolve: list sizes asked (skus, "
        "ids, last, limit) multiply what is selected under them",
    )
    max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1,
        description="largest request body; refused with 413 before it is read further",
    )
    max_json_depth: int = Field(
        default=32,
        ge=2,
        description="deepest nesting of arrays and objects in a request's JSON "
        "(variables, extensions); deeper is refused with 400 before it is used",
    )
    max_analysis_ms: float = Field(
        default=100.0,
        gt=0,
        description="milliseconds the depth, aliases or cost analysis of one document may "
        "take (`MAX_ANALYSIS_TIME_EXCEEDED`); it is linear, so only a hostile one comes near",
    )
    body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="seconds from a request's headers to the end of its body; later, 408 "
        "and the connection closed (the gateway's own check, whatever is in front)",
    )
    rate_limit_per_s: float = Field(
        default=50.0,
        ge=0,
        description="requests per second each client (API key, bearer token, else IP) may "
        "make on average; 0: no limit",
    )
    rate_limit_burst: int = Field(
        default=100, ge=1, description="requests a client may make at once beyond the rate"
    )


class ServerSettings(Group):
    """`mosaic serve` and the demo's uvicorn protocol (gateway/http/server.py)."""

    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="seconds a connection may take to send a request's headers (from its "
        "first byte, or the connection's start) before 408 and closed",
    )
    max_connections_per_client: int = Field(
        default=64,
        ge=0,
        description="open connections per client address (429 beyond); 0: no limit, as "
        "behind a proxy, where every connection comes from the proxy and it counts them",
    )
    max_lingering_connections: int = Field(
        default=256,
        ge=0,
        description="refused connections (408, 429) that may linger at once, their answer "
        "sent and what the client still sends drained for 2 s; beyond, one is closed "
        "outright: a flood of refusals holds no more descriptors than this",
    )


class AuthSettings(Group):
    """Who is asking (gateway/security/auth.py). Configuring any credential turns
    authentication on; with none the gateway runs open (every caller reads everything),
    which production refuses."""

    jwt_secret: SecretStr | None = Field(
        default=None,
        description="the shared secret HS256 bearer tokens are checked with (`mosaic token` "
        "mints them)",
    )
    jwks_url: str | None = Field(
        default=None,
        description="the JWKS URL whose keys RS256 bearer tokens are checked with (kid matched)",
    )
    jwt_audience: str | None = Field(
        default=None, description="the `aud` every token must carry, when set"
    )
    jwt_issuer: str | None = Field(
        default=None, description="the `iss` every token must carry, when set"
    )
    api_keys: dict[str, ApiKey] = Field(
        default_factory=dict,
        json_schema_extra={"secret": True},
        description='partners\' API keys (header X-API-Key): `{"<key>": {"partner": "acme", '
        '"scopes": ["orders:read"]}}`',
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="a JSON file of partners' API keys, shaped as `MOSAIC_API_KEYS` (both "
        "may be given)",
    )
    graphiql_tokens: dict[str, str] = Field(
        default_factory=dict,
        json_schema_extra={"secret": True},
        description="bearer tokens GraphiQL offers in its role picker, by role (development "
        "only; `mosaic demo --auth` fills it)",
    )
    audit_log: Path | None = Field(
        default=None,
        description="a file every read of personal data is appended to as JSON lines (it "
        "is always logged to the logger `mosaic.audit`)",
    )


class SagaSettings(Group):
    """Writes across systems are sagas (resolvers/commerce/sagas.py), logged in the data
    directory's sagas.sqlite, or in Redis when `MOSAIC_REDIS_URL` is set."""

    env_prefix = "saga_"
    lease_s: float = Field(
        default=30.0,
        gt=0,
        description="a saga's lease, renewed at every step; one whose lease ran out (its "
        "gateway died) is finished or undone by another gateway or at the next start; "
        "longer than any one step may take",
    )
    timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="the longest a saga may run, undo included; a client waits for it",
    )
    sweep_s: float | None = Field(
        default=None,
        gt=0,
        description="how often the sweep finishes abandoned sagas and those past their "
        "pivot (erasures) with a failed step; none: every `MOSAIC_SAGA_LEASE_S`",
    )
    max_backoff_s: float = Field(
        default=600.0,
        gt=0,
        description="the longest wait before a saga past its pivot is tried again (the "
        "sweep interval, doubling with each failed attempt)",
    )


class Settings(BaseSettings):
    """Every setting, by concern. Entry points read them through
    :func:`gateway.settings.load`, which says what is wrong in one line per problem."""

    model_config = SettingsConfigDict(
        env_prefix="MOSAIC_",
        env_file=".env",
        extra="ignore",
        nested_model_default_partial_update=True,
    )

    env: Literal["development", "production"] = Field(
        default="development",
        description="`production` refuses to start without authentication and turns off "
        "introspection, field suggestions and error details",
    )
    debug: bool = Field(
        default=False,
        description="lists each response's upstream calls in `extensions.upstream`",
    )
    otel_exporter: Literal["none", "console", "otlp"] = Field(
        default="none",
        description="OpenTelemetry spans per request and per upstream call: `console` "
        "prints them, `otlp` sends them to `OTEL_EXPORTER_OTLP_ENDPOINT` (the `otel` extra)",
    )
    executor: Literal["fast", "standard"] = Field(
        default="fast",
        description="`fast`: the engine (resolvers/engine/, which uses graphql-core's and "
        "strawberry's internals, named in its README); `standard`: strawberry's own "
        "execution, the engine never loaded, for when an upgrade breaks it; the same "
        "answers, about twice the CPU for a large answer; /readyz says which runs",
    )
    gc_young_threshold: int = Field(
        default=100_000,
        ge=0,
        description="garbage collection (gateway/process/tuning.py): the start-up heap frozen "
        "out of the collector's scans, the youngest generation scanned every this many "
        "allocations (Python's default: 700); 0 leaves Python's defaults",
    )
    data_dir: Path = Field(
        default=Path(".mosaic"),
        description="where the gateway keeps its own small state (the saga log, when not in Redis)",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by replicas (`redis://redis:6379/0`): the cache, "
        "persisted queries, rate limits and the saga log then live there, so replicas "
        "behave as one; none: in-process",
    )
    persisted_queries: bool = Field(
        default=True,
        description="automatic persisted queries (Apollo's APQ): a client may send a "
        "document's sha256 instead of a document the gateway has seen",
    )
    trusted_documents_dir: Path | None = Field(
        default=None,
        description="when set, only the operations in this folder's .graphql files run "
        "(by hash or identical text); every other document is refused",
    )
    examples_file: Path | None = Field(
        default=None,
        description="a JSON file of example variables per reference operation, ready in "
        "GraphiQL and at /examples in development (`mosaic examples` writes one)",
    )
    sensitive_categories: list[str] = Field(
        default_factory=lambda: ["HEALTH"],
        description="item categories that never drive nor appear in a customer's "
        "recommendations (health says too much about a person)",
    )

    crm: CrmSettings = Field(
        default=CrmSettings(url="http://127.0.0.1:8101"),
        description="the CRM (HubSpot); the URL is `mosaic legacy crm`'s, and HubSpot's "
        "search takes 100 values",
    )
    erp: ErpSettings = Field(
        default=ErpSettings(
            url="http://127.0.0.1:8102", timeout_s=10.0, max_batch=200, max_concurrency=16
        ),
        description="the ERP (Dynamics NAV, SOAP); the URL is `mosaic legacy erp`'s",
    )
    pos: PosSettings = Field(
        default=PosSettings(url="http://127.0.0.1:8103"),
        description="the POS (Square); the URL is `mosaic legacy pos`'s, and Square's "
        "order batch-retrieve takes 100 ids",
    )
    wms: WmsSettings = Field(
        default=WmsSettings(url="http://127.0.0.1:8104", max_batch=500),
        description="the WMS; the URL is `mosaic legacy wms`'s",
    )
    resilience: ResilienceSettings = Field(
        default_factory=ResilienceSettings, description="how every upstream call is guarded"
    )
    caching: CacheSettings = Field(
        default_factory=CacheSettings,
        description="the cross-request layer: cache, single flight, batching",
    )
    limits: LimitSettings = Field(
        default_factory=LimitSettings, description="what one request may ask"
    )
    server: ServerSettings = Field(
        default_factory=ServerSettings, description="`mosaic serve` and the demo's connections"
    )
    auth: AuthSettings = Field(
        default_factory=AuthSettings,
        description="who is asking; no credential configured: the gateway runs open",
    )
    sagas: SagaSettings = Field(
        default_factory=SagaSettings, description="writes across systems (sagas)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment wins over the .env file, which wins over the TOML file named
        by ``MOSAIC_CONFIG_FILE``; each read by the settings' historic flat names."""
        return flat_sources(settings_cls, init_settings, dotenv_settings)

    def sources(self) -> dict[str, SourceSettings]:
        """Each source's settings, by source name."""
        return {"crm": self.crm, "erp": self.erp, "pos": self.pos, "wms": self.wms}

    def source_urls(self) -> dict[str, str]:
        return {name: source.url for name, source in self.sources().items()}

    def adapter_config(self, kind: type[C], source: SourceSettings) -> C:
        """The adapter's configuration (``kind``) for ``source``: the settings the two
        share by name, and the guard these settings give the source."""
        shared = {name: getattr(source, name) for name in type(source).model_fields}
        shared["reference_ttl_s"] = self.caching.reference_ttl_s  # places, for the POS
        shared = {name: value for name, value in shared.items() if name in kind.model_fields}
        return kind.model_validate({**shared, "guard": self.resilience.guard(source)})
