"""The event catalog, generated from the code: JSON Schemas, AsyncAPI, compatibility.

Every service lists the events it publishes in its ``schemas.EVENTS`` catalog
(marshmallow schemas). From them this module builds, for ``docs/events/``:

- one JSON Schema per event type and version (the whole message: envelope and
  ``data``), ``schemas/<producer>/<event_type>.v<N>.json``;
- an AsyncAPI 2.6 document (exchanges, routing keys, envelope, an example of
  each message), ``asyncapi.yaml``;
- a human-readable index, ``CATALOG.md``;

and ``libs/wpis_common/routes.json`` (which events WPIS's own services
consume, so producers publish those as mandatory).

``scripts/gen_event_docs.py`` (``make events-docs``) writes them; the tests
check that the committed files equal what the code generates, and that no
change breaks a committed schema of the same version (:func:`breaking_changes`;
the rule is in docs/events/README.md).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, fields, validate

from wpis_common.envelope import EventCatalog, EventSpec
from wpis_common.topology import (
    REPO_ROOT,
    ROUTES_FILE,
    SERVICE_MODULES,
    AgencyQueue,
    Subscription,
    internal_routes,
    service_classes,
)

DOCS_DIR = REPO_ROOT / "docs" / "events"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_DESCRIPTION = (
    "Every WPIS event travels in this envelope: a unique event_id, the event type "
    "(also the routing key), the version of its data schema, when it happened (UTC), "
    "the producing service, the producer's gap-free sequence number, and the data."
)

# Example values tried, in order, for a string field with a pattern (the first
# that matches wins); a field can give its own with metadata={"example": ...}.
EXAMPLE_STRINGS_BY_NAME = {
    "tax_id": "02563412",
    "employer_tax_id": "02563412",
    "number": "Z1234567",
    "passport_number": "Z1234567",
    "isco_code": "7212",
    "currency": "AMD",
    "region": "AM-ER",
    "phone": "+37491234567",
    "email": "hr@ararat.example",
    "worker_email": "ravi@example.org",
    "permit_number": "WP-2027-000042-K",
}
EXAMPLE_STRING_POOL = (
    "IND", "AMD", "02563412", "Z1234567", "7212", "+37491234567", "AM-ER", "en",
    "WP-2027-000042-K", "example", "AM", "2027", "ABC123",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # a SHA-256 hex digest
    "3f0c6d3e-8d1b-4e55-9a53-2b1f0f6c1a7e",
)  # fmt: skip
EXAMPLE_FORMATS = {
    "date": "2027-01-15",
    "date-time": "2027-01-15T09:30:00+00:00",
    "email": "someone@example.org",
    "uuid": "3f0c6d3e-8d1b-4e55-9a53-2b1f0f6c1a7e",
    "uri": "https://agency.example/hook",
}


@dataclass(frozen=True)
class CatalogEntry:
    producer: str
    spec: EventSpec

    @property
    def key(self) -> str:
        return f"{self.producer}.{self.spec.event_type}"

    @property
    def schema_path(self) -> str:
        return f"schemas/{self.producer}/{self.spec.event_type}.v{self.spec.version}.json"


def producer_catalogs(module_names: Iterable[str] = SERVICE_MODULES) -> dict[str, EventCatalog]:
    """``{service name: its event catalog}`` for every service that publishes events:
    the catalog its :class:`~wpis_common.dependencies.Database` emits through."""
    from wpis_common.dependencies import Database

    catalogs = {}
    for service_cls in service_classes(module_names):
        for value in vars(service_cls).values():
            if isinstance(value, Database) and value.catalog:
                catalogs[service_cls.name] = value.catalog
    return catalogs


def catalog_entries(catalogs: dict[str, EventCatalog]) -> list[CatalogEntry]:
    return [
        CatalogEntry(producer, catalogs[producer][event_type])
        for producer in sorted(catalogs)
        for event_type in sorted(catalogs[producer])
    ]


# -- marshmallow -> JSON Schema -----------------------------------------------


def schema_to_json_schema(schema: Schema | type[Schema]) -> dict[str, Any]:
    """A marshmallow schema as a JSON Schema of what ``EventSpec.serialize`` emits.

    A field is required when it is ``required`` or has a ``load_default`` (the
    producer's load-then-dump always fills it). Unknown properties are allowed:
    consumers must ignore fields added later.
    """
    instance = schema() if isinstance(schema, type) else schema
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in instance.fields.items():
        if field.load_only:
            continue
        key = field.data_key or name
        properties[key] = field_to_json_schema(field)
        if field.required or field.load_default is not _missing():
            required.append(key)
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    return result


def _missing() -> Any:
    from marshmallow.utils import missing

    return missing


def field_to_json_schema(field: fields.Field) -> dict[str, Any]:
    result = _base_type(field)
    for validator in _validators(field):
        result.update(_validator_keywords(validator, result.get("type")))
    if field.allow_none:
        result["type"] = [result["type"], "null"] if "type" in result else None
        if "enum" in result:
            result["enum"] = [*result["enum"], None]
    description = field.metadata.get("description")
    if description:
        result["description"] = description
    if "example" in field.metadata:
        result["examples"] = [field.metadata["example"]]
    return {key: value for key, value in result.items() if value is not None}


def _base_type(field: fields.Field) -> dict[str, Any]:
    # Order matters: subclasses before their bases.
    if isinstance(field, fields.Nested):
        nested = schema_to_json_schema(field.schema)
        if field.many:
            return {"type": "array", "items": nested}
        return nested
    if isinstance(field, fields.List):
        return {"type": "array", "items": field_to_json_schema(field.inner)}
    if isinstance(field, fields.Tuple):
        return {"type": "array"}
    if isinstance(field, fields.Dict):
        return {"type": "object"}
    if isinstance(field, fields.Email):
        return {"type": "string", "format": "email"}
    if isinstance(field, fields.Url):
        return {"type": "string", "format": "uri"}
    if isinstance(field, fields.UUID):
        return {"type": "string", "format": "uuid"}
    if isinstance(field, fields.Date):
        return {"type": "string", "format": "date"}
    if isinstance(field, fields.DateTime):
        return {"type": "string", "format": "date-time"}
    if isinstance(field, fields.Enum):
        values = [member.value if field.by_value else member.name for member in field.enum]
        return {"enum": values}
    if isinstance(field, fields.String):
        return {"type": "string"}
    if isinstance(field, fields.Boolean):
        return {"type": "boolean"}
    if isinstance(field, fields.Integer):
        return {"type": "integer"}
    if isinstance(field, fields.Number):
        return {"type": "number"}
    if isinstance(field, fields.Constant):
        return {"const": field.constant}
    return {}


def _validators(field: fields.Field) -> list[Any]:
    found = []
    for validator in field.validators:
        if isinstance(validator, validate.And):
            found.extend(validator.validators)
        else:
            found.append(validator)
    return found


def _validator_keywords(validator: Any, json_type: Any) -> dict[str, Any]:
    if isinstance(validator, validate.OneOf):
        return {"enum": list(validator.choices)}
    if isinstance(validator, validate.Regexp):
        return {"pattern": validator.regex.pattern}
    if isinstance(validator, validate.Length):
        low, high = ("minItems", "maxItems") if json_type == "array" else ("minLength", "maxLength")
        if validator.equal is not None:
            return {low: validator.equal, high: validator.equal}
        return {low: validator.min, high: validator.max}
    if isinstance(validator, validate.Range):
        keywords = {}
        if validator.min is not None:
            keywords["minimum" if validator.min_inclusive else "exclusiveMinimum"] = validator.min
        if validator.max is not None:
            keywords["maximum" if validator.max_inclusive else "exclusiveMaximum"] = validator.max
        return keywords
    return {}  # custom validators cannot be expressed; the README says so


def envelope_json_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": ENVELOPE_DESCRIPTION,
        "properties": {
            "event_id": {"type": "string", "format": "uuid"},
            "event_type": {"type": "string", "minLength": 1, "maxLength": 100},
            "schema_version": {"type": "integer", "minimum": 1},
            "occurred_at": {"type": "string", "format": "date-time"},
            "producer": {"type": "string", "minLength": 1, "maxLength": 60},
            "sequence": {"type": "integer", "minimum": 1},
            "data": {"type": "object"},
        },
        "required": [
            "event_id", "event_type", "schema_version", "occurred_at", "producer", "sequence",
            "data",
        ],
    }  # fmt: skip


def event_json_schema(entry: CatalogEntry) -> dict[str, Any]:
    """The whole message of one event type and version."""
    envelope = envelope_json_schema()
    properties = dict(envelope["properties"])
    properties["event_type"] = {"const": entry.spec.event_type}
    properties["schema_version"] = {"const": entry.spec.version}
    properties["producer"] = {"const": entry.producer}
    properties["data"] = schema_to_json_schema(entry.spec.schema)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:wpis:event:{entry.producer}:{entry.spec.event_type}:v{entry.spec.version}",
        "title": f"{entry.producer} {entry.spec.event_type} v{entry.spec.version}",
        "description": entry.spec.description or entry.spec.event_type,
        "type": "object",
        "properties": properties,
        "required": envelope["required"],
    }


# -- examples -----------------------------------------------------------------


def example_for(json_schema: dict[str, Any], name: str = "") -> Any:
    """A deterministic example value that satisfies ``json_schema``."""
    if "examples" in json_schema:
        return json_schema["examples"][0]
    if "const" in json_schema:
        return json_schema["const"]
    if "enum" in json_schema:
        return next(value for value in json_schema["enum"] if value is not None)
    json_type = json_schema.get("type")
    if isinstance(json_type, list):
        json_type = next(t for t in json_type if t != "null")
    if json_type == "object":
        properties = json_schema.get("properties", {})
        return {key: example_for(sub, key) for key, sub in properties.items()}
    if json_type == "array":
        items = json_schema.get("items")
        return [example_for(items, name)] if items else []
    if json_type == "integer":
        return max(int(json_schema.get("minimum", 1)), 1)
    if json_type == "number":
        return float(max(json_schema.get("minimum", 1), 1))
    if json_type == "boolean":
        return True
    if json_type == "string":
        return _example_string(json_schema, name)
    return None


LATER_NAMES = ("end", "until", "expir", "next", "due", "deadline")
LATER_FORMATS = {"date": "2027-12-31", "date-time": "2027-12-31T17:00:00+00:00"}


def _example_string(json_schema: dict[str, Any], name: str) -> str:
    json_format = json_schema.get("format")
    if json_format in LATER_FORMATS and any(word in name for word in LATER_NAMES):
        return LATER_FORMATS[json_format]  # ends come after starts
    if json_format in EXAMPLE_FORMATS and name not in EXAMPLE_STRINGS_BY_NAME:
        return EXAMPLE_FORMATS[json_format]
    pattern = json_schema.get("pattern")
    candidates = [EXAMPLE_STRINGS_BY_NAME[name]] if name in EXAMPLE_STRINGS_BY_NAME else []
    if pattern:
        candidates += EXAMPLE_STRING_POOL
        for candidate in candidates:
            if re.search(pattern, candidate):
                return candidate
        raise ValueError(
            f"no example fits the pattern {pattern!r} of field {name!r}: "
            "give the field metadata={'example': ...}"
        )
    if candidates:
        return candidates[0]
    if "format" in json_schema:
        return EXAMPLE_FORMATS.get(json_schema["format"], name or "text")
    return f"example {name}".strip() if name else "example"


def example_message(entry: CatalogEntry) -> dict[str, Any]:
    data_schema = schema_to_json_schema(entry.spec.schema)
    return {
        "event_id": EXAMPLE_FORMATS["uuid"],
        "event_type": entry.spec.event_type,
        "schema_version": entry.spec.version,
        "occurred_at": EXAMPLE_FORMATS["date-time"],
        "producer": entry.producer,
        "sequence": 42,
        "data": example_for(data_schema),
    }


# -- AsyncAPI -----------------------------------------------------------------


def asyncapi_document(
    entries: list[CatalogEntry],
    subscriptions: list[Subscription],
    agency_queues: list[AgencyQueue],
) -> dict[str, Any]:
    consumers = consumers_by_event(subscriptions, agency_queues)
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for entry in entries:
        exchange = f"{entry.producer}.events"
        description = entry.spec.description or entry.spec.event_type
        channels[f"{exchange}/{entry.spec.event_type}"] = {
            "description": (
                f"Exchange `{exchange}` (topic), routing key `{entry.spec.event_type}`. "
                f"{description}"
            ),
            "x-wpis-consumers": consumers.get((entry.producer, entry.spec.event_type), []),
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": exchange,
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": "0.2.0",
                }
            },
            "subscribe": {
                "operationId": f"on_{entry.producer}_{entry.spec.event_type}",
                "summary": f"{entry.producer} publishes {entry.spec.event_type}; bind your queue "
                f"to `{exchange}` with routing key `{entry.spec.event_type}`.",
                "bindings": {"amqp": {"deliveryMode": 2, "ack": True, "bindingVersion": "0.2.0"}},
                "message": {"$ref": f"#/components/messages/{entry.key}"},
            },
        }
        payload = event_json_schema(entry)
        payload = {k: v for k, v in payload.items() if k not in ("$schema", "$id")}
        messages[entry.key] = {
            "name": entry.spec.event_type,
            "title": f"{entry.spec.event_type} (v{entry.spec.version})",
            "summary": description,
            "contentType": "application/json",
            "x-wpis-schema-version": entry.spec.version,
            "x-wpis-json-schema": entry.schema_path,
            "bindings": {"amqp": {"messageType": entry.spec.event_type, "bindingVersion": "0.2.0"}},
            "payload": payload,
            "examples": [{"name": entry.spec.event_type, "payload": example_message(entry)}],
        }
    return {
        "asyncapi": "2.6.0",
        "id": "urn:wpis:events",
        "info": {
            "title": "WPIS events",
            "version": "1.0.0",
            "description": (
                "Facts published by the Work Permit Issuance System. Generated from the "
                "services' marshmallow schemas by scripts/gen_event_docs.py: do not edit. "
                "Each message is persistent JSON (message_id = event_id, type = event_type). "
                "Replay: GET /api/v1/events?producer=<producer>&after=<sequence>&limit=<n>. "
                "Compatibility rule: docs/events/README.md."
            ),
        },
        "servers": {
            "local": {
                "url": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ on one machine (make run)",
            }
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {
            "schemas": {"Envelope": envelope_json_schema()},
            "messages": messages,
        },
    }


def consumers_by_event(
    subscriptions: list[Subscription], agency_queues: list[AgencyQueue]
) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    for sub in subscriptions:
        found.setdefault((sub.source, sub.event_type), set()).add(sub.service)
    for queue in agency_queues:
        for pair in queue.bindings:
            found.setdefault(pair, set()).add(f"queue {queue.name}")
    return {pair: sorted(names) for pair, names in found.items()}


def catalog_markdown(
    entries: list[CatalogEntry],
    subscriptions: list[Subscription],
    agency_queues: list[AgencyQueue],
) -> str:
    consumers = consumers_by_event(subscriptions, agency_queues)
    lines = [
        "# WPIS event catalog",
        "",
        "Generated by `scripts/gen_event_docs.py` (`make events-docs`) from the services'",
        "marshmallow schemas; do not edit. How to subscribe, replay, and the compatibility",
        "rule: [README.md](README.md). Machine-readable: [asyncapi.yaml](asyncapi.yaml).",
        "",
        "| exchange | routing key (event type) | version | what happened | JSON Schema "
        "| consumers |",
        "|---|---|---|---|---|---|",
    ]
    for entry in entries:
        who = ", ".join(consumers.get((entry.producer, entry.spec.event_type), [])) or "—"
        lines.append(
            f"| `{entry.producer}.events` | `{entry.spec.event_type}` | {entry.spec.version} "
            f"| {entry.spec.description or ''} | [{entry.schema_path}]({entry.schema_path}) "
            f"| {who} |"
        )
    return "\n".join(lines) + "\n"


# -- the generated files ------------------------------------------------------


def render_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def generated_files(
    entries: list[CatalogEntry],
    subscriptions: list[Subscription],
    agency_queues: list[AgencyQueue],
    docs_dir: Path = DOCS_DIR,
    routes_file: Path = ROUTES_FILE,
) -> dict[Path, str]:
    """Every generated file and its content."""
    files = {
        docs_dir / entry.schema_path: render_json(event_json_schema(entry)) for entry in entries
    }
    files[docs_dir / "asyncapi.yaml"] = (
        "# Generated by scripts/gen_event_docs.py (make events-docs): do not edit.\n"
        + yaml.safe_dump(
            asyncapi_document(entries, subscriptions, agency_queues),
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
    )
    files[docs_dir / "CATALOG.md"] = catalog_markdown(entries, subscriptions, agency_queues)
    files[routes_file] = render_json(internal_routes(subscriptions))
    return files


def differences(files: dict[Path, str]) -> list[str]:
    """Generated files that are missing or differ on disk."""
    problems = []
    for path, content in files.items():
        if not path.exists():
            problems.append(f"{path.relative_to(REPO_ROOT)} is missing")
        elif path.read_text(encoding="utf-8") != content:
            problems.append(f"{path.relative_to(REPO_ROOT)} differs from what the code generates")
    return problems


# -- compatibility ------------------------------------------------------------


def breaking_changes(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[str]:
    """Why a consumer written against ``old`` could not read an event valid under ``new``.

    Compatible: adding properties (required or not), narrowing (an enum loses
    values, a string gains a format). Breaking: removing or renaming a
    property, changing its type or format, making it optional or nullable,
    an enum gaining a value, a changed pattern, looser length or range bounds.
    """
    where = path or "(root)"
    problems = []
    old_types, new_types = _types(old), _types(new)
    if old_types and not new_types <= _widen(old_types):
        problems.append(f"{where}: type {sorted(old_types)} became {sorted(new_types) or 'any'}")
    for keyword in ("format", "pattern", "const"):
        if keyword in old and old.get(keyword) != new.get(keyword):
            problems.append(f"{where}: {keyword} {old[keyword]!r} became {new.get(keyword)!r}")
    if "enum" in old and "enum" not in new:
        problems.append(f"{where}: enum {old['enum']!r} now allows any value")
    elif "enum" in old:
        added = [value for value in new["enum"] if value not in old["enum"]]
        if added:
            problems.append(f"{where}: enum {old['enum']!r} gained {added!r}")
    for keyword in ("minLength", "minItems", "minimum", "exclusiveMinimum"):
        if keyword in old and new.get(keyword, float("-inf")) < old[keyword]:
            problems.append(f"{where}: {keyword} {old[keyword]} became {new.get(keyword)}")
    for keyword in ("maxLength", "maxItems", "maximum", "exclusiveMaximum"):
        if keyword in old and new.get(keyword, float("inf")) > old[keyword]:
            problems.append(f"{where}: {keyword} {old[keyword]} became {new.get(keyword)}")
    old_properties = old.get("properties", {})
    new_properties = new.get("properties", {})
    for name, old_property in old_properties.items():
        sub_path = f"{path}.{name}" if path else name
        if name not in new_properties:
            problems.append(f"{sub_path}: removed (or renamed)")
            continue
        problems += breaking_changes(old_property, new_properties[name], sub_path)
    for name in sorted(set(old.get("required", [])) - set(new.get("required", []))):
        if name in new_properties:
            problems.append(f"{path + '.' if path else ''}{name}: no longer required")
    if "items" in old:
        problems += breaking_changes(old["items"], new.get("items", {}), f"{path}[]")
    return problems


def _types(schema: dict[str, Any]) -> set[str]:
    json_type = schema.get("type")
    if json_type is None:
        return set()
    return set(json_type) if isinstance(json_type, list) else {json_type}


def _widen(types: set[str]) -> set[str]:
    return types | {"integer"} if "number" in types else types


def committed_text(path: Path) -> str | None:
    """The file as committed in git (HEAD); without git, as it is on disk.

    None when git knows no committed version: a new event type or version
    has no baseline yet.
    """
    relative = path.resolve().relative_to(REPO_ROOT).as_posix()
    try:
        shown = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "show", f"HEAD:{relative}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return path.read_text(encoding="utf-8") if path.exists() else None
    if shown.returncode == 0:
        return shown.stdout
    if "not a git repository" in shown.stderr:
        return path.read_text(encoding="utf-8") if path.exists() else None
    return None


def compatibility_problems(files: dict[Path, str]) -> list[str]:
    """Breaking changes of generated event schemas against their committed versions."""
    problems = []
    for path, content in files.items():
        if path.suffix != ".json" or "schemas" not in path.parts:
            continue
        baseline = committed_text(path)
        if baseline is None:
            continue
        for problem in breaking_changes(json.loads(baseline), json.loads(content)):
            problems.append(f"{path.relative_to(REPO_ROOT)}: {problem}")
    return problems
