"""deploy/kubernetes/ is what a platform team applies. No cluster runs here, so these
tests check the manifests offline: each against the Kubernetes API's own schemas
(strictly: a misspelt field fails), and against the code: every MOSAIC_* variable is a
real setting and every credential sits in the Secret, the container runs a `mosaic`
command that parses, the probes hit routes the gateway serves, and the Service, the
autoscaler and the disruption budget all point at the gateway's pods.
(deploy/README.md explains the choices these tests hold the files to.)"""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from gateway.cli import build_parser
from gateway.http.health import PROBE_TIMEOUT_S
from gateway.settings import Settings
from gateway.settings.names import by_name, settings_of
from tests.test_docker import DOCKER, GATEWAY_PORT, final_stage, served_paths

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "deploy" / "kubernetes"
#: the oldest Kubernetes the manifests claim, and the newest the schemas know
VERSIONS = ("1.30", kubernetes_validate.latest_version())


def documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return found


RESOURCES = [d for d in documents() if d["kind"] != "Kustomization"]


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    [found] = [r for r in RESOURCES if r["kind"] == kind and name in (None, r["metadata"]["name"])]
    return found


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    return one("Deployment", "mosaic-gateway")


@pytest.fixture(scope="module")
def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [found] = deployment["spec"]["template"]["spec"]["containers"]
    return found


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


# --- The Kubernetes API's schemas -------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "resource", RESOURCES, ids=[f"{r['kind']}/{r['metadata']['name']}" for r in RESOURCES]
)
def test_every_manifest_is_valid_for_kubernetes(resource: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(resource, version, strict=True)


def test_the_validation_would_catch_a_misspelt_field(deployment: dict[str, Any]) -> None:
    misspelt = copy.deepcopy(deployment)
    spec = misspelt["spec"]["template"]["spec"]["containers"][0]
    spec["readinesProbe"] = spec.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(misspelt, VERSIONS[0], strict=True)


def test_kustomize_applies_every_manifest() -> None:
    [kustomization] = [d for d in documents() if d["kind"] == "Kustomization"]
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml"
    )


@pytest.mark.parametrize(
    "kind", ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
)
def test_the_gateway_has_each_part_of_a_deployment(kind: str) -> None:
    assert one(kind, "mosaic-gateway")


# --- Settings ---------------------------------------------------------------------------


def environment(deployment: dict[str, Any]) -> dict[str, dict[str, str]]:
    """What the gateway's pods get, by the ConfigMap or Secret it comes from."""
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    sources = {}
    for source in container["envFrom"]:
        [(kind, ref)] = source.items()
        resource = one({"configMapRef": "ConfigMap", "secretRef": "Secret"}[kind], ref["name"])
        sources[resource["kind"]] = resource.get("data") or resource.get("stringData") or {}
    return sources


def test_every_mosaic_variable_is_a_real_setting(
    deployment: dict[str, Any], tmp_path: Path
) -> None:
    settings = {setting.variable for setting in settings_of(Settings)}
    given = {name for values in environment(deployment).values() for name in values}
    assert {name for name in given if name.startswith("MOSAIC_")} - settings == set()
    # and each value is one the setting takes, read as the pods read it (JSON included)
    env_file = tmp_path / "configmap.env"
    env_file.write_text(
        "".join(
            f"{name}={shlex.quote(value)}\n"
            for name, value in environment(deployment)["ConfigMap"].items()
        )
    )
    assert Settings(_env_file=env_file).env == "production"


def test_credentials_are_in_the_secret_and_only_there(deployment: dict[str, Any]) -> None:
    secrets = {setting.variable for setting in settings_of(Settings) if setting.secret}
    sources = environment(deployment)
    assert set(sources["ConfigMap"]) & secrets == set()
    assert {"MOSAIC_JWT_SECRET", "MOSAIC_CRM_TOKEN", "MOSAIC_POS_TOKEN"} <= set(sources["Secret"])
    assert set(sources["Secret"]) <= secrets


def test_the_replicas_share_the_redis_of_the_manifests(deployment: dict[str, Any]) -> None:
    redis = urlsplit(environment(deployment)["ConfigMap"]["MOSAIC_REDIS_URL"])
    service = one("Service", redis.hostname)
    assert [p["port"] for p in service["spec"]["ports"]] == [redis.port]
    statefulset = one("StatefulSet", "mosaic-redis")
    assert matches(
        service["spec"]["selector"], statefulset["spec"]["template"]["metadata"]["labels"]
    )


def redis_policy(arguments: list[str]) -> str:
    return arguments[arguments.index("--maxmemory-policy") + 1]


def test_redis_never_evicts_the_saga_log_and_keeps_it_on_a_volume() -> None:
    """The saga log and its idempotency keys have no expiry and must survive: Redis
    may evict only keys that expire, and keeps an append-only file on its volume."""
    [redis] = one("StatefulSet", "mosaic-redis")["spec"]["template"]["spec"]["containers"]
    assert redis_policy(redis["args"]) in {
        "volatile-lru",
        "volatile-lfu",
        "volatile-ttl",
        "noeviction",
    }
    assert redis["args"][redis["args"].index("--appendonly") + 1] == "yes"
    data_dir = redis["args"][redis["args"].index("--dir") + 1]
    claims = one("StatefulSet", "mosaic-redis")["spec"]["volumeClaimTemplates"]
    mounted = {m["name"]: m["mountPath"] for m in redis["volumeMounts"]}
    assert mounted[claims[0]["metadata"]["name"]] == data_dir


def test_compose_redis_never_evicts_the_saga_log_either() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert redis_policy(compose["services"]["redis"]["command"]).startswith("volatile-")


# --- The gateway's pods -------------------------------------------------------------------


def test_the_container_runs_a_mosaic_command_on_its_port(container: dict[str, Any]) -> None:
    arguments = container["args"]
    assert arguments[:2] == ["mosaic", "serve"]
    build_parser().parse_args(arguments[1:])
    assert arguments[arguments.index("--host") + 1] == "0.0.0.0"
    assert int(arguments[arguments.index("--port") + 1]) == GATEWAY_PORT
    assert container["ports"] == [{"name": "http", "containerPort": GATEWAY_PORT}]


def test_probes_liveness_at_healthz_and_readiness_at_readyz(container: dict[str, Any]) -> None:
    probes = {
        kind: container[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")
    }
    assert {kind: probe["path"] for kind, probe in probes.items()} == {
        "startup": "/healthz",
        "liveness": "/healthz",
        "readiness": "/readyz",
    }
    assert {"/healthz", "/readyz", "/metrics"} <= served_paths()
    assert {probe["port"] for probe in probes.values()} == {"http"}


def test_readiness_waits_longer_than_readyz_asks_the_sources(container: dict[str, Any]) -> None:
    assert container["readinessProbe"]["timeoutSeconds"] > PROBE_TIMEOUT_S


def test_a_stopping_pod_finishes_its_longest_request(deployment: dict[str, Any]) -> None:
    """The preStop pause takes the pod out of the Service; then every request in flight
    may take up to the request deadline before the kubelet's grace period ends."""
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    pause = container["lifecycle"]["preStop"]["exec"]["command"]
    seconds = float(re.findall(r"time\.sleep\((\d+(?:\.\d+)?)\)", shlex.join(pause))[0])
    timeout = by_name(Settings)["request_timeout_s"].default
    assert pod["terminationGracePeriodSeconds"] > seconds + timeout


def test_each_pod_asks_for_what_it_needs(container: dict[str, Any]) -> None:
    """The autoscaler measures CPU against the request: without one it cannot scale."""
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]


def test_the_pods_run_as_the_images_non_root_user(
    deployment: dict[str, Any], container: dict[str, Any]
) -> None:
    security = deployment["spec"]["template"]["spec"]["securityContext"]
    [user] = [arguments for keyword, arguments in final_stage() if keyword == "USER"]
    assert security["runAsNonRoot"] is True
    assert str(security["runAsUser"]) == user.split(":")[0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert f"/app/{by_name(Settings)['data_dir'].default}" in mounted  # WORKDIR /app


def test_metrics_are_scraped_from_every_pod(deployment: dict[str, Any]) -> None:
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == GATEWAY_PORT


# --- What points at the pods ------------------------------------------------------------


def test_the_service_reaches_the_gateways_port(deployment: dict[str, Any]) -> None:
    service = one("Service", "mosaic-gateway")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert matches(service["spec"]["selector"], labels)
    assert matches(deployment["spec"]["selector"]["matchLabels"], labels)
    [port] = service["spec"]["ports"]
    assert port["targetPort"] == "http"


def test_the_autoscaler_owns_the_replica_count(deployment: dict[str, Any]) -> None:
    autoscaler = one("HorizontalPodAutoscaler", "mosaic-gateway")["spec"]
    target = autoscaler["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert target["apiVersion"] == deployment["apiVersion"]
    assert "replicas" not in deployment["spec"]  # an apply would reset the autoscaler's
    assert 2 <= autoscaler["minReplicas"] < autoscaler["maxReplicas"]


def test_the_disruption_budget_keeps_a_replica_serving(deployment: dict[str, Any]) -> None:
    budget = one("PodDisruptionBudget", "mosaic-gateway")["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert matches(budget["selector"]["matchLabels"], labels)
    minimum = one("HorizontalPodAutoscaler", "mosaic-gateway")["spec"]["minReplicas"]
    assert 1 <= budget["minAvailable"] < minimum  # a node can still be drained
