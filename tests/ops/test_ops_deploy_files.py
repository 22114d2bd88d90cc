"""The deployment files' checks catch what they are for (scripts/check_deploy.py
runs on the real files in scripts/test.sh), and every image and README follows
the one entrypoint and the service's config."""

from __future__ import annotations

import copy
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from wpis_common.observability import DEFAULT_HEALTH_PORTS

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_deploy = load_script("check_deploy")


@pytest.fixture(scope="module")
def permits_docs() -> list[dict]:
    text = (REPO_ROOT / "deploy" / "k8s" / "base" / "permits.yaml").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def kind(docs: list[dict], wanted: str) -> dict:
    return next(doc for doc in docs if doc["kind"] == wanted)


def test_the_permits_manifests_pass_every_check(permits_docs):
    report = check_deploy.Report()
    for doc in permits_docs:
        check_deploy.validate_object(doc, "1.30", "base", report)
    check_deploy.house_rules(permits_docs, "base", report)
    assert report.errors == []


def test_a_misspelt_field_is_refused_by_the_kubernetes_schema(permits_docs):
    deployment = copy.deepcopy(kind(permits_docs, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    report = check_deploy.Report()

    check_deploy.validate_object(deployment, "1.30", "base", report)

    assert len(report.errors) == 1 and "readinessProbes" in report.errors[0]


def test_a_deployment_without_probes_or_budget_breaks_the_house_rules(permits_docs):
    docs = copy.deepcopy(permits_docs)
    container = kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    del container["readinessProbe"]
    docs = [doc for doc in docs if doc["kind"] != "PodDisruptionBudget"]
    report = check_deploy.Report()

    check_deploy.house_rules(docs, "base", report)

    assert any("readinessProbe not on its health port" in error for error in report.errors)
    assert any("no PodDisruptionBudget" in error for error in report.errors)


def test_operator_objects_are_checked_against_their_crd_subset():
    cluster = next(yaml.safe_load_all((REPO_ROOT / "deploy/k8s/base/postgres.yaml").read_text()))
    cluster["spec"]["instance"] = cluster["spec"].pop("instances")  # a typo
    report = check_deploy.Report()

    check_deploy.validate_object(cluster, "1.30", "base", report)

    assert any("'instances' is a required property" in error for error in report.errors)
    assert any("'instance' was unexpected" in error for error in report.errors)


def test_the_compose_file_matches_the_compose_specification(tmp_path, monkeypatch):
    report = check_deploy.Report()
    check_deploy.check_compose(report)
    assert report.errors == []

    broken = yaml.safe_load(check_deploy.COMPOSE_FILE.read_text())
    broken["services"]["gateway"]["healthchek"] = broken["services"]["gateway"].pop("healthcheck")
    broken["services"]["gateway"]["depends_on"]["billing"] = {"condition": "service_healthy"}
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    monkeypatch.setattr(check_deploy, "COMPOSE_FILE", path)
    monkeypatch.setattr(check_deploy, "_compose_client", lambda: None)
    report = check_deploy.Report()
    check_deploy.check_compose(report)
    assert any("healthchek" in error for error in report.errors)
    assert any("depends on unknown billing" in error for error in report.errors)


@pytest.mark.parametrize("service", sorted(DEFAULT_HEALTH_PORTS))
def test_every_image_starts_from_the_entrypoint_with_its_health_port(service):
    dockerfile = (REPO_ROOT / "services" / service / "Dockerfile").read_text()
    package = "wpis_statistics" if service == "statistics" else service
    port = DEFAULT_HEALTH_PORTS[service]
    assert f'ENTRYPOINT ["wpis-entrypoint", "{package}"]' in dockerfile
    assert "COPY --chmod=0755 deploy/entrypoint.sh /usr/local/bin/wpis-entrypoint" in dockerfile
    assert re.search(rf"HEALTH_PORT={port}\b", dockerfile)
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE)  # never root
    compose = yaml.safe_load((REPO_ROOT / "deploy" / "docker-compose.yml").read_text())
    assert compose["services"][service]["environment"]["HEALTH_PORT"] == str(port)
    assert "healthcheck" in compose["services"][service]


def test_service_readmes_document_every_config_env_var():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "gen_service_readmes.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
