"""Gateway configuration: environment variables (``MOSAIC_*``), a ``.env`` file, or a
TOML file named by ``MOSAIC_CONFIG_FILE``; the environment wins over the files.

Each setting's default and meaning is written where it is declared.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from adapters.config import (
    SQUARE_VERSION,
    CrmConfig,
    ErpConfig,
    PosConfig,
    SourceConfig,
    checked_fields,
    merged_pages,
)
from adapters.resilience import GuardConfig


class ApiKey(BaseModel):
    """What one partner's API key grants (``MOSAIC_API_KEYS``)."""

    partner: str
    scopes: list[str] = Field(default_factory=list)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOSAIC_", env_file=".env", extra="ignore")

    # Mode. "production" refuses to run open (without authentication) and hides details.
    env: Literal["development", "production"] = "development"
    # Adds the upstream calls each response made to its extensions (development aid).
    debug: bool = False
    # OpenTelemetry traces (a span per request and per upstream call): "console" prints
    # them, "otlp" sends them to OTEL_EXPORTER_OTLP_ENDPOINT (needs the `otel` extra).
    otel_exporter: Literal["none", "console", "otlp"] = "none"

    # Where the legacy systems live. Defaults match `mosaic legacy <system>` defaults.
    crm_url: str = "http://127.0.0.1:8101"
    erp_url: str = "http://127.0.0.1:8102"
    pos_url: str = "http://127.0.0.1:8103"
    wms_url: str = "http://127.0.0.1:8104"

    # The HubSpot private app's access token (sent as a bearer token; `mosaic demo` sets
    # its own). No default: without it HubSpot answers 401 (SOURCE_AUTH_FAILED).
    crm_token: SecretStr | None = None
    # The country of phone numbers the CRM keeps without a country code (ISO 3166-1).
    crm_phone_region: str = "NL"
    # The WMS's API token (sent as a bearer token).
    wms_token: SecretStr | None = None
    # NAV company whose pages the ERP publishes, and each logical page's service name
    # (or full URL), as the ERP's administrator published them: only the pages named
    # are changed, an unknown page stops start-up (contracts/erp/README.md).
    erp_company: str = "CRONUS"
    erp_pages: dict[str, str] = Field(default_factory=dict)
    # Fields the ERP installation added, our name -> its field ("brand": "Brand");
    # unmapped, each has its documented default (contracts/erp/README.md).
    erp_fields: dict[str, str] = Field(default_factory=dict)
    # The customer price group and discount group code of each channel, where they are
    # not the channel's name ({"STORE": "SHOPS"}).
    erp_channel_groups: dict[str, str] = Field(default_factory=dict)
    # The ERP's credentials: a NAV web service user (HTTP Basic), or Business Central's
    # OAuth2 client credentials (token URL, client id, secret, scope). None: no auth.
    erp_username: str | None = None
    erp_password: SecretStr | None = None
    erp_token_url: str | None = None
    erp_client_id: str | None = None
    erp_client_secret: SecretStr | None = None
    erp_scope: str | None = None
    # Square (contracts/pos/README.md): the access token (none: the POS is open, as the
    # simulator is unless started with --token), the API version asked for, the customer
    # profile field that holds the loyalty card number (none: cards are not in Square),
    # the loyalty tiers by the lifetime points that reach each (none: tiers are null,
    # e.g. {"BRONZE": 0, "SILVER": 3000, "GOLD": 7000}), and how often the store stock's
    # changes are polled while someone subscribes to them.
    pos_token: SecretStr | None = None
    pos_square_version: str = SQUARE_VERSION
    pos_card_field: Literal["reference_id", "none"] = "reference_id"
    pos_tier_thresholds: dict[str, int] = Field(default_factory=dict)
    pos_poll_interval_s: float = Field(default=2.0, gt=0)

    # Deadline of one client request: every upstream call it makes inherits what is
    # left of it, so no answer takes longer than this (plus the last field's work).
    request_timeout_s: float = Field(default=15.0, gt=0)

    # Whole-call timeout per source, in seconds (connect included). SOAP calls too:
    # zeep sets no operation timeout of its own.
    crm_timeout_s: float = Field(default=5.0, gt=0)
    erp_timeout_s: float = Field(default=10.0, gt=0)
    pos_timeout_s: float = Field(default=5.0, gt=0)
    wms_timeout_s: float = Field(default=5.0, gt=0)

    # Most keys per upstream call; larger batches are split into parallel chunks.
    # HubSpot's search takes 100 values, Square's order batch-retrieve 100.
    crm_max_batch: int = Field(default=100, ge=1)
    erp_max_batch: int = Field(default=200, ge=1)
    pos_max_batch: int = Field(default=100, ge=1)
    wms_max_batch: int = Field(default=500, ge=1)

    # Batch keys into one upstream call per round. Off only for the benchmark's naive
    # baseline, which makes one upstream call per object.
    batching: bool = True

    # The cross-request layer: cache by freshness (gateway/caching.py), single flight
    # and the batching window. Off only for the benchmark's naive baseline.
    cache: bool = True
    # Per-read TTL overrides in seconds, e.g. {"price": 30, "store_stock": 2}.
    cache_ttl_s: dict[str, float] = Field(default_factory=dict)
    # Reference data, in seconds (DESIGN: places are fresh for 1 h): how long the cache
    # keeps the store list (Square's locations) and the warehouse list, and how long the
    # POS adapter keeps the location ids that Square's inventory pages and order searches
    # are planned on; those ids are kept even with cache=false, as configuration would
    # be. 0 reads them again whenever they are needed.
    reference_ttl_s: float = Field(default=3600.0, ge=0)
    # The share of each TTL, at its end, in which a read still gets the cached value
    # but also starts a refetch in the background: a key read all the time is renewed
    # before it expires, and no request waits for the source. 0 switches it off.
    refresh_ahead: float = Field(default=0.2, ge=0, lt=1)
    # How long concurrent requests' keys are collected into one upstream call. 0 sends
    # at the next turn of the event loop (already shared by requests arriving together);
    # a few milliseconds trade that much latency for fewer calls under load.
    batch_window_ms: float = Field(default=0.0, ge=0)
    # Whole answers of queries built from cached values alone, kept per worker while
    # each of those values is still fresh and unchanged (gateway/response_cache.py);
    # the bound is the kept JSON's size in MB. 0 switches it off; so does cache=false.
    response_cache_mb: float = Field(default=16.0, ge=0)

    # Protection of the legacy systems (adapters/resilience.py). Concurrent calls per
    # source: the ERP is the most fragile and gets the fewest.
    crm_max_concurrency: int = Field(default=32, ge=1)
    erp_max_concurrency: int = Field(default=16, ge=1)
    pos_max_concurrency: int = Field(default=32, ge=1)
    wms_max_concurrency: int = Field(default=32, ge=1)
    # Calls waiting for a slot beyond which a source is "overloaded" (refused at once).
    max_queue: int = Field(default=256, ge=0)
    # Extra attempts for idempotent reads, and the share of calls retries may add.
    retries: int = Field(default=2, ge=0)
    retry_budget: float = Field(default=0.2, ge=0)
    # Consecutive failures that open a source's breaker, and seconds before a probe.
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_open_s: float = Field(default=5.0, gt=0)

    # Redis shared by replicas (e.g. redis://redis:6379/0): the cache, persisted queries
    # and rate limits then live there, so replicas behave as one. None: in-process.
    redis_url: str | None = None

    # Automatic persisted queries (Apollo's APQ): a client may send a document's sha256
    # instead of the document once the gateway has seen it.
    persisted_queries: bool = True
    # Trusted documents: when set, only the operations in the .graphql files of this
    # folder run (by hash or by identical text); every other document is refused.
    trusted_documents_dir: Path | None = None

    # Requests per second each client (API key, bearer token, else IP) may make on
    # average, and how many at once beyond that; 0 switches the limit off.
    rate_limit_per_s: float = Field(default=50.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)

    # JSON file of example variables per reference operation, shown ready in GraphiQL
    # (written by `mosaic demo` for the seeded data; see `mosaic examples`).
    examples_file: Path | None = None

    # Item categories that never drive nor appear in a customer's recommendations
    # (health says too much about a person), e.g. ["HEALTH", "BEAUTY"].
    sensitive_categories: list[str] = Field(default_factory=lambda: ["HEALTH"])

    # Authentication (gateway/auth.py). Configuring any of these turns it on; with none
    # the gateway runs open (every caller reads everything), which production refuses.
    # HS256 tokens are checked with this shared secret (`mosaic token` mints them).
    jwt_secret: SecretStr | None = None
    # RS256 tokens are checked with the keys published at this JWKS URL (kid matched).
    jwks_url: str | None = None
    # The `aud` and `iss` every token must carry, when set.
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    # Partners' API keys (header X-API-Key): {"<key>": {"partner": "...", "scopes": [...]}},
    # inline as JSON or in a JSON file of the same shape; both may be given.
    api_keys: dict[str, ApiKey] = Field(default_factory=dict)
    api_keys_file: Path | None = None
    # Bearer tokens GraphiQL offers in its role picker, by role; the first is selected,
    # unless there is one for store_employee. Development only: `mosaic demo` fills it.
    graphiql_tokens: dict[str, str] = Field(default_factory=dict)
    # Every read of personal data is logged (logger "mosaic.audit"); also appended to
    # this file as JSON lines when set.
    audit_log: Path | None = None
    # Where the gateway keeps its own small state (the saga log, when not in Redis).
    data_dir: Path = Path(".mosaic")

    # Writes across systems are sagas (resolvers/sagas.py), logged in `data_dir`/sagas.sqlite,
    # or in Redis when redis_url is set (then replicas share the log and the idempotency
    # keys). A saga's owner renews its lease at every step; one whose lease ran out (its
    # gateway died) is finished or undone by another, or at the next start. Longer than
    # any one step may take (the slowest source's timeout, with retries).
    saga_lease_s: float = Field(default=30.0, gt=0)
    # The longest a saga may run, undo included; a client waits for it.
    saga_timeout_s: float = Field(default=60.0, gt=0)
    # How often the sweep looks for sagas to finish (abandoned ones, and those past their
    # pivot, such as erasures, with a step that failed); unset: every saga_lease_s. A saga
    # past its pivot is tried again after the sweep interval, doubling with each failed
    # attempt, at most saga_max_backoff_s.
    saga_sweep_s: float | None = Field(default=None, gt=0)
    saga_max_backoff_s: float = Field(default=600.0, gt=0)
    # TEST HOOK ONLY: "<saga>:<step>" exits the process right after that step is logged
    # ("<saga>:<step>:unlogged": done, not yet logged), to test recovery after a crash.
    saga_crash_after: str | None = None

    # Query limits, in every mode (gateway/limits.py); defaults no real frontend reaches
    # (Customer360 is 6 deep, ~100 tokens, cost ~2,000).
    max_depth: int = Field(default=12, ge=1)
    max_aliases: int = Field(default=50, ge=0)
    max_tokens: int = Field(default=5_000, ge=1)
    # Estimated objects an operation may resolve: list sizes asked (skus, ids, last,
    # limit) multiply what is selected under them.
    max_cost: int = Field(default=50_000, ge=1)
    # Largest request body, refused with 413 before it is read further.
    max_body_bytes: int = Field(default=256 * 1024, ge=1)
    # Deepest nesting of arrays and objects in a request's JSON (variables, extensions);
    # a real one nests a few levels. Deeper is refused with 400 before it is used.
    max_json_depth: int = Field(default=32, ge=2)
    # Milliseconds the depth and cost analysis of one document may take; past it the request
    # is refused (MAX_ANALYSIS_TIME_EXCEEDED). The analysis is linear in the document,
    # so only a hostile one can come near it.
    max_analysis_ms: float = Field(default=100.0, gt=0)

    # Slow clients (README, "Slow clients"). Seconds from a request's headers to the end
    # of its body: a body not fully arrived by then is answered 408 and its connection
    # closed. The gateway's own check, whatever server or proxy is in front.
    body_timeout_s: float = Field(default=30.0, gt=0)
    # `mosaic serve` and the demo: seconds a connection may take to send a request's
    # headers (from its first byte, or from the connection's start) before it is answered
    # 408 and closed, and open connections per client address (0: no limit; behind a
    # proxy every connection comes from the proxy, so set 0 there and let the proxy count).
    header_timeout_s: float = Field(default=10.0, gt=0)
    max_connections_per_client: int = Field(default=64, ge=0)
    # The executor: "fast" is the engine (resolvers/engine/, which uses graphql-core's
    # and strawberry's internals: its README names them); "standard" is strawberry's own
    # execution, never loading the engine: the same answers, more CPU per request, for
    # when an upgrade breaks the engine. /readyz says which runs.
    executor: Literal["fast", "standard"] = "fast"
    # Garbage collection at start-up (gateway/process.py): the start-up heap frozen out
    # of the collector's scans, the youngest generation scanned every this many
    # allocations (Python's default: 700). 0 leaves Python's defaults.
    gc_young_threshold: int = Field(default=10_000, ge=0)

    @field_validator("erp_pages")
    @classmethod
    def _erp_pages_known(cls, pages: dict[str, str]) -> dict[str, str]:
        merged_pages(pages)
        return pages

    @field_validator("erp_fields")
    @classmethod
    def _erp_fields_known(cls, fields: dict[str, str]) -> dict[str, str]:
        return checked_fields(fields)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("MOSAIC_CONFIG_FILE")
        files = (TomlConfigSettingsSource(settings_cls, toml_file),) if toml_file else ()
        return (init_settings, env_settings, dotenv_settings, *files, file_secret_settings)

    def guard(self, max_concurrency: int) -> GuardConfig:
        return GuardConfig(
            max_concurrency=max_concurrency,
            max_queue=self.max_queue,
            retries=self.retries,
            retry_budget=self.retry_budget,
            failure_threshold=self.breaker_failure_threshold,
            open_s=self.breaker_open_s,
        )

    def crm(self) -> CrmConfig:
        return CrmConfig(
            url=self.crm_url,
            timeout_s=self.crm_timeout_s,
            max_batch=self.crm_max_batch,
            token=self.crm_token,
            phone_region=self.crm_phone_region,
            guard=self.guard(self.crm_max_concurrency),
        )

    def erp(self) -> ErpConfig:
        return ErpConfig(
            url=self.erp_url,
            timeout_s=self.erp_timeout_s,
            max_batch=self.erp_max_batch,
            company=self.erp_company,
            pages=self.erp_pages,
            fields=self.erp_fields,
            channel_groups=self.erp_channel_groups,
            username=self.erp_username,
            password=self.erp_password,
            token_url=self.erp_token_url,
            client_id=self.erp_client_id,
            client_secret=self.erp_client_secret,
            scope=self.erp_scope,
            guard=self.guard(self.erp_max_concurrency),
        )

    def pos(self) -> PosConfig:
        return PosConfig(
            url=self.pos_url,
            timeout_s=self.pos_timeout_s,
            max_batch=self.pos_max_batch,
            token=self.pos_token,
            guard=self.guard(self.pos_max_concurrency),
            square_version=self.pos_square_version,
            card_field=None if self.pos_card_field == "none" else self.pos_card_field,
            tier_thresholds=self.pos_tier_thresholds,
            reference_ttl_s=self.reference_ttl_s,
        )

    def wms(self) -> SourceConfig:
        return SourceConfig(
            url=self.wms_url,
            timeout_s=self.wms_timeout_s,
            max_batch=self.wms_max_batch,
            token=self.wms_token,
            guard=self.guard(self.wms_max_concurrency),
        )

    def source_urls(self) -> dict[str, str]:
        return {"crm": self.crm_url, "erp": self.erp_url, "pos": self.pos_url, "wms": self.wms_url}
