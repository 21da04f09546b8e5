"""A setting that cannot be right stops every entry point with one line that names the
variable, what it was given and what it expects, never a traceback; a MOSAIC_* variable
no setting reads is named at start-up, with the one it was probably meant to be."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import SettingsProblem, load, unknown_variables
from tests.test_graceful_shutdown import free_port, wait_listening

GUARD_S = 30


def problem(**given: object) -> list[str]:
    with pytest.raises(SettingsProblem) as raised:
        load(**given)
    return raised.value.lines


def test_a_bad_number_names_the_variable_the_value_and_what_it_expects() -> None:
    assert problem(crm_timeout_s="abc") == [
        "MOSAIC_CRM_TIMEOUT_S='abc': input should be a valid number, unable to parse "
        "string as a number; expects a number greater than 0"
    ]


def test_a_value_out_of_bounds_says_the_bounds() -> None:
    [line] = problem(refresh_ahead="2")
    assert line.startswith("MOSAIC_REFRESH_AHEAD='2': ")
    assert line.endswith("expects a number at least 0 and less than 1")


def test_a_closed_choice_lists_the_choices() -> None:
    [line] = problem(env="prod")
    assert line.startswith("MOSAIC_ENV='prod': ")
    assert line.endswith("expects one of 'development', 'production'")


def test_a_validators_own_sentence_is_kept() -> None:
    [line] = problem(erp_pages={"stock": "ItemStock"})
    assert line.startswith("MOSAIC_ERP_PAGES: ")
    assert "unknown ERP page stock; the pages are items, categories, customers" in line


def test_each_bad_setting_is_one_line() -> None:
    lines = problem(crm_timeout_s="abc", retries="-1")
    assert [line.split("=", 1)[0] for line in lines] == ["MOSAIC_CRM_TIMEOUT_S", "MOSAIC_RETRIES"]


def test_a_partners_key_is_never_repeated_in_the_line() -> None:
    """The keys of MOSAIC_API_KEYS are the partners' secrets."""
    [line] = problem(api_keys={"secret-partner-key-0123456789": "acme"})
    assert line.startswith("MOSAIC_API_KEYS: ")
    assert "secret-partner-key" not in line
    assert 'expects a JSON object of text to {"partner": ..., "scopes": ...}' in line


def test_a_misspelt_variable_is_named_with_the_one_meant() -> None:
    environ = {"MOSAIC_CRM_ULR": "http://crm", "MOSAIC_CRM_URL": "x", "PATH": "/bin"}
    assert unknown_variables(environ) == [
        "MOSAIC_CRM_ULR is not a Mosaic setting and is ignored; did you mean MOSAIC_CRM_URL?"
    ]


def test_an_unknown_variable_like_no_setting_gets_no_guess() -> None:
    assert unknown_variables({"MOSAIC_FLUX_CAPACITOR": "1", "MOSAIC_CONFIG_FILE": "m.toml"}) == [
        "MOSAIC_FLUX_CAPACITOR is not a Mosaic setting and is ignored"
    ]


def run(argv: list[str], tmp_path: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    """A `mosaic` command as an operator runs it, in a folder of its own (no .env)."""
    return subprocess.run(
        [sys.executable, "-m", *argv],
        capture_output=True,
        text=True,
        timeout=GUARD_S,
        cwd=tmp_path,
        env={**os.environ, **environ},
    )


ENTRY_POINTS = {
    "mosaic serve": ["gateway.cli", "serve", "--port", "0"],
    "mosaic demo": ["gateway.cli", "demo", "--size", "small", "--port", "0"],
    "mosaic sources check": ["gateway.cli", "sources", "check"],
    "the app factory": ["uvicorn", "--factory", "gateway.app:create_app", "--port", "0"],
}


@pytest.mark.process  # `mosaic` as a process
@pytest.mark.parametrize("entry", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_every_entry_point_stops_with_one_line_and_no_traceback(
    entry: list[str], tmp_path: Path
) -> None:
    done = run(entry, tmp_path, MOSAIC_CRM_TIMEOUT_S="abc")
    assert done.returncode == 2
    assert done.stderr == (
        "mosaic: MOSAIC_CRM_TIMEOUT_S='abc': input should be a valid number, unable to "
        "parse string as a number; expects a number greater than 0\n"
    )
    assert "Mosaic demo is up" not in done.stdout


@pytest.mark.process  # `mosaic` as a process
def test_json_that_does_not_parse_is_one_line_too(tmp_path: Path) -> None:
    done = run(ENTRY_POINTS["mosaic serve"], tmp_path, MOSAIC_ERP_FIELDS="{brand: Brand}")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("mosaic: MOSAIC_ERP_FIELDS: not valid JSON (")
    assert line.endswith("expects a JSON object of text to text")


@pytest.mark.process  # `mosaic` as a process
def test_a_config_file_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    done = run(ENTRY_POINTS["mosaic serve"], tmp_path, MOSAIC_CONFIG_FILE="mosaic.toml")
    assert (done.returncode, done.stderr) == (
        2,
        "mosaic: MOSAIC_CONFIG_FILE=mosaic.toml: no such file\n",
    )


@pytest.mark.process  # `mosaic` as a process
def test_the_gateway_warns_of_a_misspelt_variable_at_start_up(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        serving = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=tmp_path,
            env={**os.environ, "MOSAIC_CRM_ULR": "http://crm.example"},
        )
    try:
        wait_listening(port, timeout_s=GUARD_S)  # the lifespan has run: it logs first
    finally:
        serving.send_signal(signal.SIGTERM)
        serving.wait(timeout=GUARD_S)
    assert (
        "MOSAIC_CRM_ULR is not a Mosaic setting and is ignored; did you mean MOSAIC_CRM_URL?"
        in (log.read_text())
    )
