"""`mosaic` commands that print to a pipe end quietly when the reader goes away before
they are done, as in `mosaic examples | head -c 1`: no BrokenPipeError traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.process  # `mosaic` commands writing into pipes


@pytest.mark.parametrize(
    "command", [["examples", "--size", "small"], ["schema", "export"]], ids=" ".join
)
def test_a_reader_that_goes_away_early_gets_no_traceback(command: list[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()  # the reader is gone before the command has printed anything
    with process.stderr:
        errors = process.stderr.read().decode()
    process.wait(timeout=60)
    assert "Traceback" not in errors
    assert "BrokenPipeError" not in errors
