"""The ERP's configuration: pages an administrator renamed merge with the standard ones
key by key, an unknown page or field stops start-up with one line naming it, fields an
installation added are mapped (and defaults hold where they are not), credentials are
secrets; and ``mosaic sources check`` finds what is wrong with a configured NAV."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr, ValidationError

from adapters.config import ERP_PAGES, ErpConfig
from adapters.erp.adapter import ErpAdapter
from gateway.settings import Settings
from legacy.common.knobs import Knobs
from legacy.common.runner import ServerThread
from legacy.erp.pages import INSTALLATION_FIELDS
from legacy.erp.server import create_app
from legacy.world import World
from tests.contracts.soap import erp_checks


def test_a_partial_page_override_keeps_every_other_page() -> None:
    settings = Settings(erp_pages={"items": "Items"})
    pages = settings.adapter_config(ErpConfig, settings.erp).pages
    assert pages == {**ERP_PAGES, "items": "Items"}


@pytest.mark.process  # `mosaic serve` as a process
@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("MOSAIC_ERP_PAGES", '{"itemz": "ItemCard"}', "itemz"),
        ("MOSAIC_ERP_FIELDS", '{"colour": "Colour"}', "colour"),
    ],
)
def test_an_unknown_page_or_field_stops_start_up_with_one_line_naming_it(
    variable: str, value: str, named: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", "1"],
        env={**os.environ, variable: value, "MOSAIC_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"mosaic: {variable}: unknown ERP")
    assert named in line


def test_credentials_are_secrets_and_one_way_to_sign_in() -> None:
    settings = Settings(erp_username="MOSAIC", erp_password=SecretStr("pa55word"))
    assert "pa55word" not in repr(settings)
    assert "pa55word" not in repr(settings.adapter_config(ErpConfig, settings.erp))
    with pytest.raises(ValidationError, match="not both"):
        ErpConfig(
            url="-",
            username="u",
            password=SecretStr("p"),
            token_url="https://login.invalid/token",
            client_id="c",
            client_secret=SecretStr("s"),
        )
    with pytest.raises(ValidationError, match="needs a password"):
        ErpConfig(url="-", username="u")


# --- mosaic sources check --------------------------------------------------------------


@pytest.fixture(scope="module")
def nav(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The simulated installation (its extension fields declared), asking Basic auth."""
    path = tmp_path_factory.mktemp("check") / "erp.sqlite"
    app = create_app(
        world, path, Knobs(), credentials=("MOSAIC", "pa55word"), middleware=erp_checks()
    )
    server = ServerThread(app).start()
    yield server.url
    server.stop()


def configured(url: str, **changes: object) -> ErpConfig:
    settings: dict[str, object] = {
        "url": url,
        "username": "MOSAIC",
        "password": SecretStr("pa55word"),
        "fields": dict(INSTALLATION_FIELDS),
        **changes,
    }
    return ErpConfig(**settings)  # type: ignore[arg-type]


async def test_sources_check_finds_everything_in_order_on_the_demo_installation(
    session: aiohttp.ClientSession, nav: str
) -> None:
    findings = await ErpAdapter(session, configured(nav)).check()
    assert [f for f in findings if not f.ok] == []
    whats = {f.what for f in findings}
    assert "credentials" in whats
    assert {f"page {service} ({page})" for page, service in ERP_PAGES.items()} <= whats
    assert "mapped field brand -> ItemCard.Brand" in whats


async def test_sources_check_says_a_password_was_refused_in_one_line(
    session: aiohttp.ClientSession, nav: str
) -> None:
    findings = await ErpAdapter(session, configured(nav, password=SecretStr("wrong"))).check()
    (finding,) = findings
    assert (finding.what, finding.ok) == ("credentials", False)
    assert "MOSAIC" in finding.detail
    assert "401" in finding.detail
    assert "wrong" not in finding.detail


async def test_sources_check_says_a_wrong_url_is_unreachable(
    session: aiohttp.ClientSession,
) -> None:
    (finding,) = await ErpAdapter(session, configured("http://127.0.0.1:9")).check()
    assert (finding.what, finding.ok) == ("connection", False)
    assert "cannot reach" in finding.detail


async def test_sources_check_names_a_page_not_published_and_a_mapped_field_missing(
    session: aiohttp.ClientSession, nav: str
) -> None:
    config = configured(
        nav, pages={"returns": "ReturnOrders"}, fields={"brand": "Manufacturer_Code"}
    )
    findings = await ErpAdapter(session, config).check()
    bad = {f.what: f.detail for f in findings if not f.ok}
    assert set(bad) == {
        "page ReturnOrders (returns)",
        "mapped field brand -> ItemCard.Manufacturer_Code",
    }
    assert "404" in bad["page ReturnOrders (returns)"]
    assert bad["mapped field brand -> ItemCard.Manufacturer_Code"] == (
        "ItemCard has no field Manufacturer_Code"
    )
