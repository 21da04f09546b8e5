"""Production refuses credentials that can be guessed: an HS256 secret shorter than the
hash it keys (32 bytes) and partners' API keys shorter than 24 characters, each with one
line that says what is wrong; development still starts with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.cli import main
from gateway.security.auth import ConfigurationError
from gateway.settings import Settings
from tests.auth_tokens import SECRET

STRONG_KEY = "k" * 24


def test_production_refuses_a_short_hs256_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        create_app(Settings(env="production", jwt_secret="s3cr3", data_dir=tmp_path))
    assert "MOSAIC_JWT_SECRET is 5 bytes" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_production_refuses_a_short_api_key_inline_or_in_a_file(tmp_path: Path) -> None:
    grant = {"partner": "acme", "scopes": ["orders:read"]}
    with pytest.raises(ConfigurationError, match="acme are shorter than 24 characters"):
        create_app(Settings(env="production", api_keys={"k": grant}, data_dir=tmp_path))
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"k" * 23: grant}))
    with pytest.raises(ConfigurationError, match="24 characters"):
        create_app(Settings(env="production", api_keys_file=keys, data_dir=tmp_path))


def test_production_starts_with_credentials_at_the_floors(tmp_path: Path) -> None:
    grant = {"partner": "acme"}
    settings = Settings(
        env="production", jwt_secret="x" * 32, api_keys={STRONG_KEY: grant}, data_dir=tmp_path
    )
    assert create_app(settings) is not None


def test_development_still_starts_with_a_short_secret(tmp_path: Path) -> None:
    assert create_app(Settings(jwt_secret="dev", data_dir=tmp_path)) is not None


def test_mosaic_serve_in_production_with_a_short_secret_exits_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOSAIC_ENV", "production")
    monkeypatch.setenv("MOSAIC_JWT_SECRET", SECRET[:10])
    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("mosaic serve: MOSAIC_JWT_SECRET is 10 bytes")
