"""docker/ holds what a platform team runs: the image, and a compose file with two
gateway replicas behind nginx, Redis, the four simulated systems and the examples
GraphiQL offers for their data. No Docker engine runs here, so these tests read the
files and check that they fit the code: every command parses as a real `mosaic`
command, every MOSAIC_* variable is a real setting, every healthcheck hits a route the
gateway serves, and the ports, names, volumes and users agree with each other.
(deploy/kubernetes/ has its own: tests/test_kubernetes.py.)
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from gateway.app import create_app
from gateway.cli import SYSTEMS, build_parser
from gateway.settings import Settings
from gateway.settings.names import settings_of
from legacy.erp.pages import INSTALLATION_FIELDS

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
GATEWAY_PORT = 8000


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def final_stage() -> list[tuple[str, str]]:
    """The Dockerfile's final stage's instructions, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DOCKER / "Dockerfile").read_text())
    instructions = [
        tuple(line.split(maxsplit=1))
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return [(keyword, args) for keyword, args in instructions[last_from:]]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return final_stage()


@pytest.fixture(scope="module")
def nginx() -> str:
    return (DOCKER / "nginx.conf").read_text()


def gateways(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: s for name, s in services.items() if s.get("command", [])[:2] == ["mosaic", "serve"]
    }


def legacy_systems(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: s for name, s in services.items() if s.get("command", [])[:2] == ["mosaic", "legacy"]
    }


def jobs(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Services that run once and end (others wait for them to complete)."""
    return {name: s for name, s in services.items() if s.get("restart") == "no"}


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def healthcheck_url(service: dict[str, Any]) -> str:
    """The URL a `python -c urllib...urlopen('<url>')` healthcheck asks."""
    found = re.search(r"urlopen\('([^']+)'", " ".join(service["healthcheck"]["test"]))
    assert found, service["healthcheck"]
    return found.group(1)


def served_paths() -> set[str]:
    return {getattr(route, "path", "") for route in create_app(Settings()).routes}


# --- The gateway image --------------------------------------------------------------------


def test_the_image_is_slim_python_3_11(dockerfile: list[tuple[str, str]]) -> None:
    assert dockerfile[0] == ("FROM", "python:3.11-slim")


def test_the_image_runs_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    users = [args for keyword, args in dockerfile if keyword == "USER"]
    assert users, "no USER: the image would run as root"
    uid = users[-1].split(":")[0]
    assert uid not in {"root", "0"}
    assert any(f"--uid {uid}" in args for keyword, args in dockerfile if keyword == "RUN")


def test_the_image_checks_its_health_at_healthz(dockerfile: list[tuple[str, str]]) -> None:
    [check] = [args for keyword, args in dockerfile if keyword == "HEALTHCHECK"]
    url = re.search(r"urlopen\('([^']+)'", check)
    assert url
    assert urlsplit(url.group(1)).path == "/healthz" in served_paths()
    assert urlsplit(url.group(1)).port == GATEWAY_PORT


def test_the_image_serves_the_gateway_on_all_interfaces(dockerfile: list[tuple[str, str]]) -> None:
    [cmd] = [json.loads(args) for keyword, args in dockerfile if keyword == "CMD"]
    build_parser().parse_args(cmd[1:])
    assert cmd[:2] == ["mosaic", "serve"]
    assert option(cmd, "--host") == "0.0.0.0"
    assert int(option(cmd, "--port")) == GATEWAY_PORT
    assert ("EXPOSE", str(GATEWAY_PORT)) in dockerfile


def test_the_build_context_lets_in_every_copied_folder() -> None:
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (DOCKER / "Dockerfile").read_text(), re.M)
    for sources in copied:
        for source in sources.split():
            assert f"!{source}" in ignore or f"!{source}/**" in ignore, source
            assert (ROOT / source).exists(), source


# --- The compose file --------------------------------------------------------------------


def test_every_command_is_a_mosaic_command_that_parses(services: dict[str, dict[str, Any]]) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    ours = [s for s in services.values() if s.get("image", "").startswith("mosaic-gateway")]
    assert len(ours) == 7  # two gateways, four simulated systems, the examples job
    for service in ours:
        command = service["command"]
        assert command[0] in scripts
        build_parser().parse_args(command[1:])  # SystemExit on anything it does not know


def test_two_gateway_replicas_share_one_redis(services: dict[str, dict[str, Any]]) -> None:
    replicas = gateways(services)
    assert len(replicas) == 2
    for replica in replicas.values():
        redis = urlsplit(replica["environment"]["MOSAIC_REDIS_URL"])
        assert redis.hostname in services
        assert str(redis.port) in services[redis.hostname]["expose"]
        assert replica["depends_on"][redis.hostname]["condition"] == "service_healthy"


def test_nginx_balances_over_exactly_the_gateway_replicas(
    services: dict[str, dict[str, Any]], nginx: str
) -> None:
    [(name, body)] = re.findall(r"upstream (\w+) \{(.*?)\}", nginx, re.S)
    upstreams = set(re.findall(r"^\s*server (\S+?)[\s;]", body, re.M))
    assert upstreams == {f"{service}:{GATEWAY_PORT}" for service in gateways(services)}
    assert f"proxy_pass http://{name};" in nginx
    assert set(services["nginx"]["depends_on"]) == set(gateways(services))
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]


def test_nginx_passes_the_request_id_on(nginx: str) -> None:
    assert re.search(r"proxy_set_header X-Request-Id \$\w+;", nginx)


def test_the_gateways_serve_on_the_port_nginx_and_their_healthchecks_use(
    services: dict[str, dict[str, Any]],
) -> None:
    for replica in gateways(services).values():
        port = int(option(replica["command"], "--port"))
        assert port == GATEWAY_PORT
        assert str(port) in replica["expose"]
        url = urlsplit(healthcheck_url(replica))
        assert (url.port, url.path) == (port, "/healthz")


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if name not in jobs(services):
            assert service.get("healthcheck", {}).get("test"), name


def test_graphiql_gets_examples_for_the_simulated_systems_data(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], dockerfile: list[tuple[str, str]]
) -> None:
    """GraphiQL's tabs used to open with empty variables: no examples file. A job
    writes one for the systems' world into a volume, and the replicas wait for it."""
    [(name, job)] = jobs(services).items()
    command = job["command"]
    assert command[:2] == ["mosaic", "examples"]
    systems = legacy_systems(services).values()
    world = {(option(s["command"], "--size"), option(s["command"], "--seed")) for s in systems}
    assert world == {(option(command, "--size"), option(command, "--seed"))}
    written = Path(option(command, "--output"))
    [(volume, folder)] = [m.split(":")[:2] for m in job["volumes"]]
    assert written.parent == Path(folder)
    assert volume in compose["volumes"]
    for replica in gateways(services).values():
        assert replica["depends_on"][name]["condition"] == "service_completed_successfully"
        assert f"{volume}:{folder}:ro" in replica["volumes"]
        assert Path(replica["environment"]["MOSAIC_EXAMPLES_FILE"]) == written
    # a fresh volume takes the owner of the image's folder: the image's user may write it
    [user] = [args for keyword, args in dockerfile if keyword == "USER"]
    uid = user.split(":")[0]
    assert any(
        f"install -d -o {uid} -g {uid} {folder}" in args
        for keyword, args in dockerfile
        if keyword == "RUN"
    )


def test_the_four_simulated_systems_run_one_world_on_their_own_ports(
    services: dict[str, dict[str, Any]],
) -> None:
    systems = legacy_systems(services)
    assert {s["command"][2] for s in systems.values()} == set(SYSTEMS)
    worlds = {
        (option(s["command"], "--size"), option(s["command"], "--seed")) for s in systems.values()
    }
    assert len(worlds) == 1
    for name, service in systems.items():
        port = option(service["command"], "--port")
        assert option(service["command"], "--host") == "0.0.0.0"
        assert port in service["expose"]
        assert urlsplit(healthcheck_url(service)).port == int(port), name


def test_the_gateways_reach_each_system_where_it_listens(
    services: dict[str, dict[str, Any]],
) -> None:
    listening = {
        s["command"][2]: (name, int(option(s["command"], "--port")))
        for name, s in legacy_systems(services).items()
    }
    for replica in gateways(services).values():
        for system, (host, port) in listening.items():
            url = urlsplit(replica["environment"][f"MOSAIC_{system.upper()}_URL"])
            assert (url.hostname, url.port) == (host, port)


@pytest.mark.parametrize("system", ["crm", "pos", "wms"])
def test_the_tokens_match_on_both_sides(services: dict[str, dict[str, Any]], system: str) -> None:
    """Each simulated system started with a token, and the gateways sending it."""
    started = next(s for s in legacy_systems(services).values() if s["command"][2] == system)
    token = option(started["command"], "--token")
    for replica in gateways(services).values():
        assert replica["environment"][f"MOSAIC_{system.upper()}_TOKEN"] == token


def test_the_erp_web_service_user_matches_on_both_sides(
    services: dict[str, dict[str, Any]],
) -> None:
    """The simulated NAV asks Basic auth, as a NAV web service does, and the gateways
    send its user; they also map the installation fields the simulated NAV has."""
    started = next(s for s in legacy_systems(services).values() if s["command"][2] == "erp")
    for replica in gateways(services).values():
        environment = replica["environment"]
        assert environment["MOSAIC_ERP_USERNAME"] == option(started["command"], "--username")
        assert environment["MOSAIC_ERP_PASSWORD"] == option(started["command"], "--password")
        assert json.loads(environment["MOSAIC_ERP_FIELDS"]) == dict(INSTALLATION_FIELDS)


def test_every_mosaic_variable_is_a_real_setting(services: dict[str, dict[str, Any]]) -> None:
    settings = {setting.variable for setting in settings_of(Settings)}
    for replica in gateways(services).values():
        unknown = {k for k in replica["environment"] if k.startswith("MOSAIC_")} - settings
        assert not unknown
