"""The `mosaic` command as an operator meets it: every option says what it does, a
token the gateway would refuse is not minted, examples can be written where a
deployment reads them, and a port that is taken is one line, not a log after start-up."""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from gateway.cli import DEMO_ERP_USER, build_parser, demo_erp_credentials, main
from gateway.process.ports import PortTaken, claim, for_serving
from legacy.examples import examples
from tests.auth_tokens import SECRET


def commands(parser: argparse.ArgumentParser, path: str = "mosaic") -> Iterator[tuple[str, Any]]:
    """Every (sub)command's name and parser, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}")


def test_every_option_of_every_command_says_what_it_does() -> None:
    undocumented = [
        f"{path}: {action.option_strings or action.dest}"
        for path, parser in commands(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and not (action.help or "").strip()
    ]
    assert undocumented == []
    assert len(list(commands(build_parser()))) >= 10  # the walk reached the subcommands


def test_a_customer_token_without_the_customer_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The gateway refuses such a token (gateway/security/auth.py); minting one helps nobody."""
    assert main(["token", "--role", "customer", "--secret", SECRET]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "customer claim" in captured.err


def test_a_customer_token_with_the_customer_is_minted(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["token", "--role", "customer", "--customer", "crm:1001", "--secret", SECRET]
    assert main(argv) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), SECRET, algorithms=["HS256"])
    assert (claims["role"], claims["customer"]) == ("customer", "crm:1001")


def test_examples_can_be_written_to_the_file_a_deployment_reads(tmp_path: Path) -> None:
    written = tmp_path / "examples.json"
    assert main(["examples", "--size", "small", "--output", str(written)]) == 0
    assert json.loads(written.read_text()) == examples(42, "small")


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_serve_on_a_taken_port_is_one_line_and_exit_2(
    taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", str(taken_port)]) == 2
    error = capsys.readouterr().err
    assert error == (
        f"mosaic serve: port {taken_port} on 127.0.0.1 is taken by another program; "
        "choose another with --port\n"
    )


def test_a_claimed_port_is_nobody_elses_and_refuses_connections_until_served() -> None:
    """What keeps the demo's simulated systems off its port: it is bound from the
    start (the kernel hands out no bound port as a free one), yet nothing half-started
    answers on it before the gateway serves."""
    with claim("127.0.0.1", 0) as held:
        port = held.getsockname()[1]
        with pytest.raises(PortTaken, match=f"port {port} on 127.0.0.1 is taken"):
            claim("127.0.0.1", port)
        with socket.socket() as other, pytest.raises(OSError, match="Address already in use"):
            other.bind(("127.0.0.1", port))
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_port_a_stopped_server_just_left_can_be_claimed_again() -> None:
    """Its closed connections wait out TIME_WAIT on the port; a demo stopped and started
    again at once must not be told its port is taken."""
    with for_serving(claim("127.0.0.1", 0)) as served:
        port = served.getsockname()[1]
        served.listen()
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = served.accept()
            accepted.close()  # the server closes first: its side waits in TIME_WAIT
            assert client.recv(1) == b""
    claim("127.0.0.1", port).close()


@pytest.mark.parametrize("password", ["-starts-with-a-dash", "--looks-like-an-option", "plain_"])
def test_the_demos_erp_password_reaches_the_simulated_erp_whatever_it_begins_with(
    password: str,
) -> None:
    """The demo's random ERP password (``secrets.token_urlsafe``) begins with ``-`` one
    run in 64; passed as a separate argument, argparse took it for an option and the
    simulated ERP exited at start."""
    parsed = build_parser().parse_args(["legacy", "erp", *demo_erp_credentials(password)])
    assert (parsed.username, parsed.password) == (DEMO_ERP_USER, password)
