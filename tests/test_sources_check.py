"""``mosaic sources check`` (issue 14, item 7): run as an operator runs it, the real command
against real simulated systems, it says per source what is fine and what is missing, and
exits non-zero on a problem."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.settings.listing import variables
from legacy.common.knobs import Knobs
from legacy.common.runner import ServerThread
from legacy.world import World
from tests.conftest import gateway_settings
from tests.contracts.checks import checks

pytestmark = pytest.mark.process  # `mosaic sources check` as a process

ERP_USER, ERP_PASSWORD = "MOSAIC-WS", "s3cret-web-service-key"


@pytest.fixture(scope="module")
def guarded_erp(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An ERP that asks its web service user's password, as a NAV installation does."""
    from legacy.erp.server import create_app

    path = tmp_path_factory.mktemp("erp-guarded") / "erp.sqlite"
    app = create_app(
        world, path, Knobs(), credentials=(ERP_USER, ERP_PASSWORD), middleware=checks("erp")
    )
    server = ServerThread(app).start()
    yield server.url
    server.stop()


def environment(systems: dict[str, str], erp_url: str, **overrides: Any) -> dict[str, str]:
    """The command's environment: every setting the tests' gateway has, as MOSAIC_*."""
    settings = gateway_settings(
        {**systems, "erp": erp_url},
        erp_username=ERP_USER,
        erp_password=ERP_PASSWORD,
        **overrides,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_")}
    return {**env, **variables(settings)}


def verdicts(report: str) -> dict[str, str]:
    """Each source's first line, ``crm (URL): ok`` or ``...: 2 problems``, by source."""
    return {
        line.split(" ", 1)[0]: line.rsplit(": ", 1)[1]
        for line in report.splitlines()
        if not line.startswith(" ")
    }


def run_check(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "sources", "check"],
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_against_systems_set_up_as_mosaic_needs_every_source_is_ok(
    systems: dict[str, str], guarded_erp: str, tmp_path: Path
) -> None:
    done = run_check(environment(systems, guarded_erp), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert verdicts(done.stdout) == dict.fromkeys(("crm", "erp", "pos", "wms"), "ok")
    assert "BAD" not in done.stdout
    assert "Traceback" not in done.stderr


def test_a_wrong_password_and_an_unpublished_page_are_each_one_clear_line(
    systems: dict[str, str], guarded_erp: str, tmp_path: Path
) -> None:
    """The operator sees which source, what, and why; the other sources still report,
    and the password itself is never printed."""
    wrong = "not-the-token"
    env = environment(
        systems,
        guarded_erp,
        crm_token=wrong,
        erp_pages={"prices": "SalesPricesNotPublished"},
    )
    done = run_check(env, tmp_path)
    assert done.returncode == 1
    bad = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("BAD")]
    assert any("credentials" in line and "401" in line for line in bad), done.stdout
    assert any("SalesPricesNotPublished" in line for line in bad), done.stdout
    assert verdicts(done.stdout) == {
        "crm": "1 problem",
        "erp": "1 problem",
        "pos": "ok",
        "wms": "ok",
    }
    assert wrong not in done.stdout
    assert ERP_PASSWORD not in done.stdout
    assert "Traceback" not in done.stderr


def test_an_unreachable_system_is_reported_not_raised(
    systems: dict[str, str], guarded_erp: str, tmp_path: Path
) -> None:
    env = environment({**systems, "wms": "http://127.0.0.1:9"}, guarded_erp)
    done = run_check(env, tmp_path)
    assert done.returncode == 1
    assert verdicts(done.stdout)["wms"] != "ok"
    assert "Traceback" not in done.stderr
