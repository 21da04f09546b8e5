"""`GET /` leads to GraphiQL; the examples GraphiQL's tabs open with are served at
/examples by a development gateway that has them, and never in production (where
GraphiQL is off too). The demo's real answers are in tests/test_demo.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.routing import Route

from gateway.app import create_app
from gateway.http.first_steps import EXAMPLES_PATH
from gateway.settings import Settings

STRONG = "s" * 32


def routes(settings: Settings) -> dict[str, Route]:
    app = create_app(settings)
    return {r.path: r for r in app.routes if isinstance(r, Route)}


@pytest.fixture
def examples_file(tmp_path: Path) -> Path:
    path = tmp_path / "examples.json"
    path.write_text(json.dumps({"Customer360": {"card": "LC-1"}}))
    return path


def test_a_development_gateway_with_examples_serves_them(
    examples_file: Path, tmp_path: Path
) -> None:
    served = routes(Settings(examples_file=examples_file, data_dir=tmp_path))
    assert served[EXAMPLES_PATH].methods == {"GET", "HEAD"}


def test_without_an_examples_file_there_is_nothing_to_serve(tmp_path: Path) -> None:
    assert EXAMPLES_PATH not in routes(Settings(data_dir=tmp_path))


def test_production_never_serves_examples(examples_file: Path, tmp_path: Path) -> None:
    settings = Settings(
        env="production", jwt_secret=STRONG, examples_file=examples_file, data_dir=tmp_path
    )
    assert EXAMPLES_PATH not in routes(settings)


@pytest.mark.parametrize("env", ["development", "production"])
def test_the_root_leads_to_graphql_in_every_mode(env: str, tmp_path: Path) -> None:
    settings = Settings(env=env, jwt_secret=STRONG, data_dir=tmp_path)  # type: ignore[arg-type]
    assert "GET" in (routes(settings)["/"].methods or set())
