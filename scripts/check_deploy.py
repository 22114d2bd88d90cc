"""Validate the deployment files offline (CI runs this from scripts/test.sh).

Kubernetes (deploy/k8s):
  1. Render the base and each overlay with kustomize: ``kubectl kustomize`` (its
     built-in kustomize) or a ``kustomize`` binary. With neither, the base's
     files are read as they are and the overlays are only parsed (reported).
  2. Validate every built-in object against the Kubernetes OpenAPI schemas
     shipped in the PyPI package ``kubernetes-validate`` (strict: unknown
     fields are errors), for Kubernetes ``--k8s-version`` (default 1.30).
  3. The operators' objects (RabbitmqCluster, CloudNativePG Cluster, Database,
     ScheduledBackup) have no schema there: they are checked against the subset
     of their CRD schemas written below (required fields, known spec fields).
  4. House rules: every Deployment has readiness, liveness and startup probes on
     its ``health`` port, requests and limits, runs as non-root, and has a
     Service, ConfigMap, Secret, HorizontalPodAutoscaler and PodDisruptionBudget.

Compose (deploy/docker-compose.yml): checked against the Compose Specification
JSON Schema (deploy/schemas/compose-spec.json, vendored), plus depends_on
targets; and with ``docker compose config`` when a compose client is installed.

    python scripts/check_deploy.py [--k8s-version 1.30]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
COMPOSE_FILE = REPO_ROOT / "deploy" / "docker-compose.yml"
COMPOSE_SCHEMA = REPO_ROOT / "deploy" / "schemas" / "compose-spec.json"
TARGETS = ("base", "overlays/dev", "overlays/prod")

_OBJ = {"type": "object"}
_NAME_REF = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


def _crd(spec_properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "metadata": {"type": "object", "required": ["name"]},
            "spec": {
                "type": "object",
                "required": required,
                "additionalProperties": False,
                "properties": spec_properties,
            },
        },
    }


# Subsets of the operators' CRD schemas (rabbitmq.com/v1beta1; postgresql.cnpg.io/v1,
# CloudNativePG 1.25): the spec fields they define, the types of those we use.
CRD_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): _crd(
        {
            "replicas": {"type": "integer", "minimum": 0},
            "image": {"type": "string"},
            "imagePullSecrets": {"type": "array"},
            "service": _OBJ,
            "persistence": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "storage": {"type": "string"},
                    "storageClassName": {"type": "string"},
                },
            },
            "resources": _OBJ,
            "affinity": _OBJ,
            "tolerations": {"type": "array"},
            "rabbitmq": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "additionalConfig": {"type": "string"},
                    "advancedConfig": {"type": "string"},
                    "envConfig": {"type": "string"},
                    "erlangInetConfig": {"type": "string"},
                    "additionalPlugins": {"type": "array", "items": {"type": "string"}},
                },
            },
            "tls": _OBJ,
            "override": _OBJ,
            "skipPostDeploySteps": {"type": "boolean"},
            "terminationGracePeriodSeconds": {"type": "integer"},
            "delayStartSeconds": {"type": "integer"},
            "secretBackend": _OBJ,
            "autoEnableAllFeatureFlags": {"type": "boolean"},
        },
        [],
    ),
    ("postgresql.cnpg.io/v1", "Cluster"): _crd(
        {
            "instances": {"type": "integer", "minimum": 1},
            "imageName": {"type": "string"},
            "imageCatalogRef": _OBJ,
            "imagePullPolicy": {"type": "string"},
            "imagePullSecrets": {"type": "array"},
            "primaryUpdateStrategy": {"enum": ["supervised", "unsupervised"]},
            "primaryUpdateMethod": {"enum": ["switchover", "restart"]},
            "storage": {"type": "object", "required": ["size"]},
            "walStorage": _OBJ,
            "postgresql": _OBJ,
            "resources": _OBJ,
            "monitoring": _OBJ,
            "managed": {
                "type": "object",
                "properties": {
                    "roles": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "ensure": {"enum": ["present", "absent"]},
                                "login": {"type": "boolean"},
                                "passwordSecret": _NAME_REF,
                            },
                        },
                    }
                },
            },
            "backup": {
                "type": "object",
                "properties": {
                    "retentionPolicy": {"type": "string", "pattern": "^[1-9][0-9]*[dwm]$"},
                    "barmanObjectStore": {"type": "object", "required": ["destinationPath"]},
                },
            },
            "bootstrap": _OBJ,
            "superuserSecret": _NAME_REF,
            "enableSuperuserAccess": {"type": "boolean"},
            "affinity": _OBJ,
            "topologySpreadConstraints": {"type": "array"},
            "description": {"type": "string"},
            "inheritedMetadata": _OBJ,
            "replica": _OBJ,
            "externalClusters": {"type": "array"},
            "certificates": _OBJ,
            "minSyncReplicas": {"type": "integer"},
            "maxSyncReplicas": {"type": "integer"},
            "postgresGID": {"type": "integer"},
            "postgresUID": {"type": "integer"},
            "startDelay": {"type": "integer"},
            "stopDelay": {"type": "integer"},
            "smartShutdownTimeout": {"type": "integer"},
            "switchoverDelay": {"type": "integer"},
            "failoverDelay": {"type": "integer"},
            "logLevel": {"type": "string"},
            "env": {"type": "array"},
            "envFrom": {"type": "array"},
            "nodeMaintenanceWindow": _OBJ,
            "priorityClassName": {"type": "string"},
            "schedulerName": {"type": "string"},
            "serviceAccountTemplate": _OBJ,
            "tablespaces": {"type": "array"},
            "plugins": {"type": "array"},
            "probes": _OBJ,
            "projectedVolumeTemplate": _OBJ,
            "ephemeralVolumeSource": _OBJ,
            "ephemeralVolumesSizeLimit": _OBJ,
            "seccompProfile": _OBJ,
            "enablePDB": {"type": "boolean"},
            "replicationSlots": _OBJ,
            "livenessProbeTimeout": {"type": "integer"},
        },
        ["instances", "storage"],
    ),
    ("postgresql.cnpg.io/v1", "Database"): _crd(
        {
            "name": {"type": "string"},
            "owner": {"type": "string"},
            "cluster": _NAME_REF,
            "ensure": {"enum": ["present", "absent"]},
            "databaseReclaimPolicy": {"enum": ["retain", "delete"]},
            "template": {"type": "string"},
            "encoding": {"type": "string"},
            "locale": {"type": "string"},
            "allowConnections": {"type": "boolean"},
            "connectionLimit": {"type": "integer"},
            "isTemplate": {"type": "boolean"},
            "tablespace": {"type": "string"},
        },
        ["name", "owner", "cluster"],
    ),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): _crd(
        {
            "schedule": {"type": "string"},
            "cluster": _NAME_REF,
            "backupOwnerReference": {"enum": ["none", "self", "cluster"]},
            "method": {"enum": ["barmanObjectStore", "volumeSnapshot", "plugin"]},
            "immediate": {"type": "boolean"},
            "suspend": {"type": "boolean"},
            "target": {"type": "string"},
            "online": {"type": "boolean"},
            "onlineConfiguration": _OBJ,
            "pluginConfiguration": _OBJ,
        },
        ["schedule", "cluster"],
    ),
}


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.notes: list[str] = []

    def error(self, message: str) -> None:
        self.errors.append(message)
        print(f"check_deploy: ERROR: {message}")

    def note(self, message: str) -> None:
        self.notes.append(message)
        print(f"check_deploy: {message}")


# -- Kubernetes ---------------------------------------------------------------------


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render(target: Path, report: Report) -> list[dict[str, Any]] | None:
    command = kustomize_command()
    if command is None:
        return None
    result = subprocess.run([*command, str(target)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        report.error(f"{target.relative_to(REPO_ROOT)}: kustomize failed: {result.stderr.strip()}")
        return []
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def base_files_as_they_are(report: Report) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S_DIR / "base" / "kustomization.yaml").read_text())
    docs = []
    for resource in kustomization["resources"]:
        docs += [
            doc for doc in yaml.safe_load_all((K8S_DIR / "base" / resource).read_text()) if doc
        ]
    report.note("no kustomize/kubectl: validating the base files as they are, overlays parsed only")
    for overlay in TARGETS[1:]:
        for path in sorted((K8S_DIR / overlay).glob("*.yaml")):
            list(yaml.safe_load_all(path.read_text()))
    return docs


def validate_object(doc: dict[str, Any], version: str, where: str, report: Report) -> None:
    import kubernetes_validate

    name = f"{where}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    crd_schema = CRD_SCHEMAS.get((doc.get("apiVersion"), doc.get("kind")))
    if crd_schema is not None:
        for problem in jsonschema.Draft202012Validator(crd_schema).iter_errors(doc):
            report.error(f"{name}: {'.'.join(map(str, problem.path))}: {problem.message}")
        return
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        report.error(f"{name}: no schema for {doc.get('apiVersion')} (a typo, or a new CRD)")
    except kubernetes_validate.ValidationError as problem:
        report.error(f"{name}: {'.'.join(map(str, problem.path))}: {problem.message}")


def house_rules(docs: list[dict[str, Any]], where: str, report: Report) -> None:
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    targets = {
        kind: {d["spec"]["scaleTargetRef"]["name"] for d in by_kind.get(kind, {}).values()}
        for kind in ("HorizontalPodAutoscaler",)
    }
    pdb_selectors = [
        d["spec"]["selector"]["matchLabels"]
        for d in by_kind.get("PodDisruptionBudget", {}).values()
    ]
    for name, deployment in by_kind.get("Deployment", {}).items():
        problems = list(_deployment_problems(deployment))
        if name not in targets["HorizontalPodAutoscaler"]:
            problems.append("no HorizontalPodAutoscaler")
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        if not any(selector.items() <= pod_labels.items() for selector in pdb_selectors):
            problems.append("no PodDisruptionBudget")
        for kind, wanted in (("Service", name), ("Secret", name), ("ConfigMap", f"{name}-config")):
            if wanted not in by_kind.get(kind, {}):
                problems.append(f"no {kind} {wanted}")
        for problem in problems:
            report.error(f"{where}: Deployment/{name}: {problem}")


def _deployment_problems(deployment: dict[str, Any]) -> Iterator[str]:
    pod = deployment["spec"]["template"]["spec"]
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        yield "pod does not set runAsNonRoot"
    for container in pod["containers"]:
        ports = {port.get("name") for port in container.get("ports", [])}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            port = container.get(probe, {}).get("httpGet", {}).get("port")
            if port != "health" or "health" not in ports:
                yield f"{container['name']}: {probe} not on its health port"
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(resources.get(part, {})):
                yield f"{container['name']}: no cpu/memory {part}"


def check_kubernetes(version: str, report: Report) -> None:
    for target in TARGETS:
        docs = render(K8S_DIR / target, report)
        if docs is None:
            if target != "base":
                continue
            docs = base_files_as_they_are(report)
        for doc in docs:
            validate_object(doc, version, target, report)
        house_rules(docs, target, report)
        kinds = sorted({doc["kind"] for doc in docs})
        report.note(f"{target}: {len(docs)} objects validated ({', '.join(kinds)})")


# -- Compose -------------------------------------------------------------------------


def check_compose(report: Report) -> None:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves anchors and merge keys
    if not isinstance(compose.pop("name", ""), str):
        report.error("docker-compose.yml: `name` must be a string")
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    for problem in jsonschema.Draft201909Validator(schema).iter_errors(compose):
        report.error(f"docker-compose.yml: {'.'.join(map(str, problem.path))}: {problem.message}")
    services = compose.get("services", {})
    for name, service in services.items():
        for dependency in service.get("depends_on", {}) or {}:
            if dependency not in services:
                report.error(f"docker-compose.yml: {name} depends on unknown {dependency}")
    report.note(f"docker-compose.yml: {len(services)} services match the Compose Specification")
    client = _compose_client()
    if client is None:
        report.note("no docker compose client here: `docker compose config` skipped")
        return
    result = subprocess.run(
        [*client, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        report.error(f"{' '.join(client)} config: {result.stderr.strip()}")
    else:
        report.note(f"{' '.join(client)} config: valid")


def _compose_client() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validate deploy/ offline.")
    parser.add_argument("--k8s-version", default="1.30", help="Kubernetes version (default 1.30)")
    args = parser.parse_args(argv)
    report = Report()
    check_kubernetes(args.k8s_version, report)
    check_compose(report)
    if report.errors:
        print(f"check_deploy: {len(report.errors)} problem(s)")
        return 1
    print("check_deploy: deploy/ is valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
