"""The settings as nested models (issue 16, "Settings"), keyed by requirement:

- every environment variable keeps its name: each one set lands in its nested field,
  from the environment, a .env file, the TOML file and keyword arguments alike;
- every setting has a description, and ``mosaic config`` lists every variable the code
  reads, with its default, its current value where set (secrets masked) and its meaning;
  the README's table is that listing's;
- no credential has a default (the demo sets its own), and no test hook is a setting.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from gateway.settings import ApiKey, Settings
from gateway.settings.listing import MASK, markdown, variables
from gateway.settings.names import CONFIG_FILE, settings_of

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("crm", "erp", "pos", "wms")

#: Every variable operators have set since before the settings were nested, a value for
#: it (as its text) that is not its default, where that value lands, and what it is there.
#: Written out by hand on purpose: the names are the contract, not what the model makes.
GIVEN: dict[str, tuple[str, str, Any]] = {
    "MOSAIC_ENV": ("production", "env", "production"),
    "MOSAIC_DEBUG": ("true", "debug", True),
    "MOSAIC_OTEL_EXPORTER": ("console", "otel_exporter", "console"),
    "MOSAIC_EXECUTOR": ("standard", "executor", "standard"),
    "MOSAIC_GC_YOUNG_THRESHOLD": ("12345", "gc_young_threshold", 12345),
    "MOSAIC_DATA_DIR": ("/srv/mosaic", "data_dir", Path("/srv/mosaic")),
    "MOSAIC_REDIS_URL": ("redis://redis:6379/0", "redis_url", "redis://redis:6379/0"),
    "MOSAIC_PERSISTED_QUERIES": ("false", "persisted_queries", False),
    "MOSAIC_TRUSTED_DOCUMENTS_DIR": ("/srv/trusted", "trusted_documents_dir", Path("/srv/trusted")),
    "MOSAIC_EXAMPLES_FILE": ("/srv/examples.json", "examples_file", Path("/srv/examples.json")),
    "MOSAIC_SENSITIVE_CATEGORIES": ('["BEAUTY"]', "sensitive_categories", ["BEAUTY"]),
    **{
        f"MOSAIC_{source.upper()}_{name.upper()}": (text, f"{source}.{name}", value)
        for source in SOURCES
        for name, text, value in (
            ("url", f"https://{source}.example", f"https://{source}.example"),
            ("timeout_s", "7.5", 7.5),
            ("max_batch", "42", 42),
            ("max_concurrency", "3", 3),
        )
    },
    "MOSAIC_CRM_TOKEN": ("pat-eu1-secret", "crm.token", SecretStr("pat-eu1-secret")),
    "MOSAIC_CRM_PHONE_REGION": ("BE", "crm.phone_region", "BE"),
    "MOSAIC_ERP_COMPANY": ("ACME", "erp.company", "ACME"),
    "MOSAIC_ERP_PAGES": ('{"items": "Items"}', "erp.pages", {"items": "Items"}),
    "MOSAIC_ERP_FIELDS": ('{"brand": "Brand"}', "erp.fields", {"brand": "Brand"}),
    "MOSAIC_ERP_CHANNEL_GROUPS": ('{"STORE": "SHOPS"}', "erp.channel_groups", {"STORE": "SHOPS"}),
    "MOSAIC_ERP_USERNAME": ("MOSAIC", "erp.username", "MOSAIC"),
    "MOSAIC_ERP_PASSWORD": ("pa55word", "erp.password", SecretStr("pa55word")),
    "MOSAIC_ERP_TOKEN_URL": ("https://login.example/t", "erp.token_url", "https://login.example/t"),
    "MOSAIC_ERP_CLIENT_ID": ("client", "erp.client_id", "client"),
    "MOSAIC_ERP_CLIENT_SECRET": ("cl1ent-secret", "erp.client_secret", SecretStr("cl1ent-secret")),
    "MOSAIC_ERP_SCOPE": ("api://nav/.default", "erp.scope", "api://nav/.default"),
    "MOSAIC_POS_TOKEN": ("sq-secret", "pos.token", SecretStr("sq-secret")),
    "MOSAIC_POS_SQUARE_VERSION": ("2024-01-18", "pos.square_version", "2024-01-18"),
    "MOSAIC_POS_CARD_FIELD": ("none", "pos.card_field", None),
    "MOSAIC_POS_TIER_THRESHOLDS": ('{"GOLD": 7000}', "pos.tier_thresholds", {"GOLD": 7000}),
    "MOSAIC_POS_POLL_INTERVAL_S": ("0.5", "pos.poll_interval_s", 0.5),
    "MOSAIC_WMS_TOKEN": ("wms-secret", "wms.token", SecretStr("wms-secret")),
    "MOSAIC_REQUEST_TIMEOUT_S": ("9", "resilience.request_timeout_s", 9.0),
    "MOSAIC_MAX_QUEUE": ("10", "resilience.max_queue", 10),
    "MOSAIC_RETRIES": ("0", "resilience.retries", 0),
    "MOSAIC_RETRY_BUDGET": ("0.5", "resilience.retry_budget", 0.5),
    "MOSAIC_BREAKER_FAILURE_THRESHOLD": ("3", "resilience.breaker_failure_threshold", 3),
    "MOSAIC_BREAKER_OPEN_S": ("1.5", "resilience.breaker_open_s", 1.5),
    "MOSAIC_CACHE": ("false", "caching.enabled", False),
    "MOSAIC_CACHE_TTL_S": ('{"price": 30}', "caching.ttl_s", {"price": 30.0}),
    "MOSAIC_REFERENCE_TTL_S": ("120", "caching.reference_ttl_s", 120.0),
    "MOSAIC_REFRESH_AHEAD": ("0.4", "caching.refresh_ahead", 0.4),
    "MOSAIC_RESPONSE_CACHE_MB": ("0", "caching.response_cache_mb", 0.0),
    "MOSAIC_BATCHING": ("false", "caching.batching", False),
    "MOSAIC_BATCH_WINDOW_MS": ("5", "caching.batch_window_ms", 5.0),
    "MOSAIC_MAX_DEPTH": ("8", "limits.max_depth", 8),
    "MOSAIC_MAX_ALIASES": ("7", "limits.max_aliases", 7),
    "MOSAIC_MAX_TOKENS": ("900", "limits.max_tokens", 900),
    "MOSAIC_MAX_COST": ("1000", "limits.max_cost", 1000),
    "MOSAIC_MAX_BODY_BYTES": ("1024", "limits.max_body_bytes", 1024),
    "MOSAIC_MAX_JSON_DEPTH": ("5", "limits.max_json_depth", 5),
    "MOSAIC_MAX_ANALYSIS_MS": ("50", "limits.max_analysis_ms", 50.0),
    "MOSAIC_BODY_TIMEOUT_S": ("12", "limits.body_timeout_s", 12.0),
    "MOSAIC_RATE_LIMIT_PER_S": ("0", "limits.rate_limit_per_s", 0.0),
    "MOSAIC_RATE_LIMIT_BURST": ("5", "limits.rate_limit_burst", 5),
    "MOSAIC_HEADER_TIMEOUT_S": ("4", "server.header_timeout_s", 4.0),
    "MOSAIC_MAX_CONNECTIONS_PER_CLIENT": ("0", "server.max_connections_per_client", 0),
    "MOSAIC_MAX_LINGERING_CONNECTIONS": ("32", "server.max_lingering_connections", 32),
    "MOSAIC_JWT_SECRET": (
        "a-long-shared-secret",
        "auth.jwt_secret",
        SecretStr("a-long-shared-secret"),
    ),
    "MOSAIC_JWKS_URL": ("https://id.example/jwks", "auth.jwks_url", "https://id.example/jwks"),
    "MOSAIC_JWT_AUDIENCE": ("mosaic", "auth.jwt_audience", "mosaic"),
    "MOSAIC_JWT_ISSUER": ("https://id.example", "auth.jwt_issuer", "https://id.example"),
    "MOSAIC_API_KEYS": (
        '{"partner-key": {"partner": "acme", "scopes": ["orders:read"]}}',
        "auth.api_keys",
        {"partner-key": ApiKey(partner="acme", scopes=["orders:read"])},
    ),
    "MOSAIC_API_KEYS_FILE": ("/srv/keys.json", "auth.api_keys_file", Path("/srv/keys.json")),
    "MOSAIC_GRAPHIQL_TOKENS": ('{"customer": "tok"}', "auth.graphiql_tokens", {"customer": "tok"}),
    "MOSAIC_AUDIT_LOG": ("/srv/audit.jsonl", "auth.audit_log", Path("/srv/audit.jsonl")),
    "MOSAIC_SAGA_LEASE_S": ("3", "sagas.lease_s", 3.0),
    "MOSAIC_SAGA_TIMEOUT_S": ("20", "sagas.timeout_s", 20.0),
    "MOSAIC_SAGA_SWEEP_S": ("2", "sagas.sweep_s", 2.0),
    "MOSAIC_SAGA_MAX_BACKOFF_S": ("60", "sagas.max_backoff_s", 60.0),
}


def at(settings: Settings, path: str) -> Any:
    return functools.reduce(getattr, path.split("."), settings)


def plain(value: Any) -> Any:
    """A value comparable across processes: secrets in clear, the rest as JSON."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return json.loads(
        json.dumps(value, default=lambda v: v.model_dump() if hasattr(v, "model_dump") else str(v))
    )


def landed(settings: Settings) -> dict[str, Any]:
    return {variable: plain(at(settings, path)) for variable, (_, path, _) in GIVEN.items()}


EXPECTED = {variable: plain(value) for variable, (_, _, value) in GIVEN.items()}


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any MOSAIC_* variable, plus ``extra``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_")}, **extra}


def mosaic(*argv: str, cwd: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *argv],
        env=clean_environment(PYTHONPATH=str(ROOT), **environ),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- every environment variable keeps its name --------------------------------------


def test_the_variables_are_the_ones_operators_have_always_set() -> None:
    """No variable was renamed, dropped or added unnoticed: the model's are exactly the
    historic names above (a new setting adds its line here)."""
    assert sorted(s.variable for s in settings_of(Settings)) == sorted(GIVEN)


def test_every_given_value_differs_from_its_default() -> None:
    """Otherwise landing in the field would prove nothing."""
    defaults = {s.variable: plain(s.default) for s in settings_of(Settings)}
    assert [v for v in GIVEN if EXPECTED[v] == defaults[v]] == []


def test_each_variable_in_the_environment_lands_in_its_nested_field(tmp_path: Path) -> None:
    program = (
        "import json, sys\n"
        "from gateway.settings import load\n"
        "from tests.test_settings import landed\n"
        "print(json.dumps(landed(load(_env_file=None))))\n"
    )
    environ = {variable: text for variable, (text, _, _) in GIVEN.items()}
    done = subprocess.run(
        [sys.executable, "-c", program],
        env=clean_environment(PYTHONPATH=str(ROOT), **environ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == EXPECTED


def test_each_variable_in_a_dotenv_file_lands_in_its_nested_field(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{v}='{text}'\n" for v, (text, _, _) in GIVEN.items()))
    assert landed(Settings(_env_file=env_file)) == EXPECTED


def test_the_toml_file_takes_the_same_names_in_lower_case(tmp_path: Path) -> None:
    (tmp_path / "mosaic.toml").write_text(
        'crm_timeout_s = 7.5\ncache = false\nmax_depth = 8\nerp_pages = {items = "Items"}\n'
    )
    done = mosaic("config", cwd=tmp_path, **{CONFIG_FILE: "mosaic.toml"})
    assert done.returncode == 0, done.stderr
    for line in (
        "MOSAIC_CRM_TIMEOUT_S=7.5 (default 5.0)",
        "MOSAIC_CACHE=false (default true)",
        "MOSAIC_MAX_DEPTH=8 (default 12)",
        'MOSAIC_ERP_PAGES={"items": "Items"} (default {})',
    ):
        assert line in done.stdout.splitlines()


def test_keyword_arguments_take_the_flat_names_and_the_nested_ones() -> None:
    settings = Settings(_env_file=None, crm_timeout_s=7.5, cache=False, erp={"company": "ACME"})
    assert (settings.crm.timeout_s, settings.caching.enabled) == (7.5, False)
    assert (settings.erp.company, settings.erp.timeout_s) == ("ACME", 10.0)  # rest: defaults


def test_the_environment_wins_over_the_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MOSAIC_CRM_TIMEOUT_S=3\nMOSAIC_MAX_DEPTH=4\n")
    done = mosaic("config", cwd=tmp_path, MOSAIC_CRM_TIMEOUT_S="7.5")
    assert "MOSAIC_CRM_TIMEOUT_S=7.5 (default 5.0)" in done.stdout.splitlines()
    assert "MOSAIC_MAX_DEPTH=4 (default 12)" in done.stdout.splitlines()


# --- described once, listed by `mosaic config` ---------------------------------------


def test_every_setting_and_every_group_has_a_description() -> None:
    undescribed = [s.variable for s in settings_of(Settings) if not s.field.description]
    undescribed += [n for n, f in Settings.model_fields.items() if not f.description]
    assert undescribed == []


def code_variables() -> set[str]:
    """Every MOSAIC_* name the code (not the tests) spells out whole in a string."""
    found: set[str] = set()
    for folder in ("gateway", "adapters", "resolvers", "legacy", "bench", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(re.findall(r"[\"'`](MOSAIC_[A-Z0-9_]*[A-Z0-9])\b", path.read_text()))
    return found


def test_mosaic_config_lists_every_variable_the_code_reads_with_its_default(
    tmp_path: Path,
) -> None:
    done = mosaic("config", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = dict(re.findall(r"^(MOSAIC_[A-Z0-9_]+)=(.*)$", done.stdout, re.MULTILINE))
    assert code_variables() - {"MOSAIC_CRM_ULR"} <= set(listed)  # ULR: the typo example
    assert set(listed) == set(GIVEN) | {CONFIG_FILE}
    assert listed["MOSAIC_ERP_TIMEOUT_S"] == "10.0 (default)"
    assert listed["MOSAIC_CRM_TOKEN"] == "none (default)"
    assert listed["MOSAIC_SENSITIVE_CATEGORIES"] == '["HEALTH"] (default)'
    # and each with its meaning, indented under it
    timeout = done.stdout.split("MOSAIC_CRM_TIMEOUT_S=", 1)[1].splitlines()[1]
    assert timeout.startswith("    whole-call timeout in seconds")


def test_mosaic_config_shows_values_set_and_masks_secrets(tmp_path: Path) -> None:
    secrets = {v: text for v, (text, _, value) in GIVEN.items() if isinstance(value, SecretStr)}
    secrets |= {v: GIVEN[v][0] for v in ("MOSAIC_API_KEYS", "MOSAIC_GRAPHIQL_TOKENS")}
    done = mosaic("config", cwd=tmp_path, MOSAIC_CRM_URL="https://api.hubapi.com", **secrets)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "MOSAIC_CRM_URL=https://api.hubapi.com (default http://127.0.0.1:8101)" in lines
    for variable in secrets:
        assert any(line.startswith(f"{variable}={MASK} (default ") for line in lines), variable
    for needle in ("pat-eu1-secret", "pa55word", "cl1ent-secret", "partner-key", '"tok"'):
        assert needle not in done.stdout


def test_the_readme_table_is_mosaic_configs() -> None:
    """The README's table of settings is `mosaic config --markdown`, not a copy kept
    by hand: regenerate it with that command when a setting changes."""
    readme = (ROOT / "README.md").read_text()
    begin, end = "<!-- mosaic config --markdown -->\n", "<!-- end of mosaic config --markdown -->"
    table = readme.split(begin, 1)[1].split(end, 1)[0]
    assert table == markdown()


def test_the_docs_name_only_real_variables() -> None:
    known = {s.variable for s in settings_of(Settings)} | {CONFIG_FILE}
    docs = [ROOT / "README.md", ROOT / "deploy" / "README.md", *ROOT.glob("contracts/*/README.md")]
    named = {
        (path.name, name)
        for path in docs
        for name in re.findall(r"\b(MOSAIC_[A-Z0-9_]*[A-Z0-9])\b", path.read_text())
    }
    assert {(doc, name) for doc, name in named if name not in known} == {
        ("README.md", "MOSAIC_CRM_ULR")  # the misspelt variable the warning names
    }


# --- no credentials as defaults, no test hooks ---------------------------------------


def test_no_credential_has_a_default() -> None:
    """Credentials come from the operator (or the demo, which makes its own)."""
    secrets = [s for s in settings_of(Settings) if s.secret]
    assert {s.variable for s in secrets} >= {
        "MOSAIC_CRM_TOKEN",
        "MOSAIC_ERP_PASSWORD",
        "MOSAIC_ERP_CLIENT_SECRET",
        "MOSAIC_POS_TOKEN",
        "MOSAIC_WMS_TOKEN",
        "MOSAIC_JWT_SECRET",
        "MOSAIC_API_KEYS",
        "MOSAIC_GRAPHIQL_TOKENS",
    }
    assert [s.variable for s in secrets if s.default] == []
    assert Settings(_env_file=None).erp.username is None


def test_no_setting_is_a_test_hook() -> None:
    described = " ".join(s.field.description or "" for s in settings_of(Settings)).lower()
    assert "test" not in described
    assert not [s for s in settings_of(Settings) if "crash" in s.name]


def test_the_demo_gives_the_sources_their_settings_as_variables() -> None:
    """What the demo writes to sources.env: each source setting it changed, secrets in
    clear (the systems need them), nothing of the other groups."""
    settings = Settings(_env_file=None, crm_token="demo", erp_fields={"brand": "Brand"}, debug=True)
    assert variables(settings, SOURCES) == {
        "MOSAIC_CRM_TOKEN": "demo",
        "MOSAIC_ERP_FIELDS": '{"brand": "Brand"}',
    }


@pytest.mark.parametrize("variable", sorted(GIVEN))
def test_a_value_that_cannot_be_right_names_the_variable(variable: str) -> None:
    """Problems keep naming the operator's variable, nested or not (gateway/settings/
    problems.py): a JSON object where a plain value is expected, or the reverse."""
    from gateway.settings import SettingsProblem, load

    _, _, value = GIVEN[variable]
    wrong: Any = "not-a-json-object" if isinstance(value, (dict, list)) else {"x": ["y"]}
    with pytest.raises(SettingsProblem) as raised:
        load(_env_file=None, **{variable.removeprefix("MOSAIC_").lower(): wrong})
    assert [line.split(":", 1)[0].split("=", 1)[0] for line in raised.value.lines] == [variable]
