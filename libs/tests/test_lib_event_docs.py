"""The event catalog: generated from the code, committed, and kept compatible."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from marshmallow import Schema, fields, validate

from wpis_common import event_docs
from wpis_common.envelope import EventSpec
from wpis_common.topology import DEFAULT_AGENCY_QUEUES_FILE, all_subscriptions, load_agency_queues

REGENERATE = "run `make events-docs` (scripts/gen_event_docs.py) and commit docs/events/"


@pytest.fixture(scope="module")
def entries() -> list[event_docs.CatalogEntry]:
    return event_docs.catalog_entries(event_docs.producer_catalogs())


@pytest.fixture(scope="module")
def generated(entries) -> dict[Path, str]:
    return event_docs.generated_files(
        entries, all_subscriptions(), load_agency_queues(DEFAULT_AGENCY_QUEUES_FILE)
    )


def test_committed_event_docs_are_what_the_code_generates(generated):
    assert event_docs.differences(generated) == [], REGENERATE


def test_no_schema_change_breaks_the_committed_schema_of_its_version(generated):
    assert event_docs.compatibility_problems(generated) == [], (
        "a change to a published event breaks consumers: keep the old fields, or publish it "
        "under a new schema_version (docs/events/README.md)"
    )


def test_every_example_is_valid_against_its_schema(entries):
    assert entries
    for entry in entries:
        schema = event_docs.event_json_schema(entry)
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        example = event_docs.example_message(entry)
        assert list(validator.iter_errors(example)) == [], entry.key
        # and the producer's own serializer accepts the example's data
        assert entry.spec.serialize(example["data"]) is not None


def test_asyncapi_document_describes_every_event(entries, generated):
    import yaml

    document = yaml.safe_load(generated[event_docs.DOCS_DIR / "asyncapi.yaml"])
    assert document["asyncapi"] == "2.6.0"
    for entry in entries:
        channel = document["channels"][f"{entry.producer}.events/{entry.spec.event_type}"]
        exchange = channel["bindings"]["amqp"]["exchange"]
        assert (exchange["name"], exchange["type"]) == (f"{entry.producer}.events", "topic")
        message = document["components"]["messages"][entry.key]
        assert message["payload"]["properties"]["event_type"] == {"const": entry.spec.event_type}
        [example] = message["examples"]
        jsonschema.validate(example["payload"], message["payload"])


class Passport(Schema):
    number = fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9]{5,20}$"))


class Sample(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=10))
    language = fields.String(load_default="en", validate=validate.OneOf(["en", "hy"]))
    note = fields.String(allow_none=True)
    when = fields.AwareDateTime(required=True, format="iso")
    born = fields.Date()
    count = fields.Integer(validate=validate.Range(min=1))
    passports = fields.List(fields.Nested(Passport), required=True)
    extra = fields.Dict()


def test_marshmallow_fields_become_json_schema():
    converted = event_docs.schema_to_json_schema(Sample)
    assert converted["required"] == ["name", "language", "when", "passports"]
    properties = converted["properties"]
    assert properties["name"] == {"type": "string", "minLength": 1, "maxLength": 10}
    assert properties["language"] == {"type": "string", "enum": ["en", "hy"]}
    assert properties["note"] == {"type": ["string", "null"]}
    assert properties["when"] == {"type": "string", "format": "date-time"}
    assert properties["born"] == {"type": "string", "format": "date"}
    assert properties["count"] == {"type": "integer", "minimum": 1}
    assert properties["passports"]["items"]["properties"]["number"]["pattern"] == (
        "^[A-Z0-9]{5,20}$"
    )
    assert properties["extra"] == {"type": "object"}


OLD = {
    "type": "object",
    "properties": {
        "a": {"type": "string"},
        "b": {"type": "string", "enum": ["x", "y"]},
        "c": {"type": "string", "format": "date"},
        "d": {"type": "object", "properties": {"e": {"type": "integer"}}, "required": ["e"]},
    },
    "required": ["a", "b", "c", "d"],
}


def changed(path: str, value) -> dict:
    schema = json.loads(json.dumps(OLD))
    target = schema
    *parents, last = path.split("/")
    for part in parents:
        target = target[part]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return schema


@pytest.mark.parametrize(
    "new",
    [
        pytest.param(OLD, id="unchanged"),
        pytest.param(changed("properties/z", {"type": "string"}), id="field added"),
        pytest.param(changed("required", ["a", "b", "c", "d", "z"]), id="new required field"),
        pytest.param(changed("properties/b/enum", ["x"]), id="enum narrowed"),
        pytest.param(changed("properties/a/format", "email"), id="format added"),
    ],
)
def test_compatible_changes(new):
    assert event_docs.breaking_changes(OLD, new) == []


@pytest.mark.parametrize(
    "new, problem",
    [
        (changed("properties/a", None), "a: removed (or renamed)"),
        (changed("properties/a/type", "integer"), "a: type"),
        (changed("properties/a/type", ["string", "null"]), "a: type"),
        (changed("required", ["b", "c", "d"]), "a: no longer required"),
        (changed("properties/b/enum", ["x", "y", "z"]), "b: enum"),
        (changed("properties/c/format", None), "c: format"),
        (changed("properties/d/properties/e", None), "d.e: removed"),
        (changed("properties/d/required", []), "d.e: no longer required"),
    ],
)
def test_breaking_changes_are_named(new, problem):
    problems = event_docs.breaking_changes(OLD, new)
    assert any(found.startswith(problem) for found in problems), problems


def test_the_generator_refuses_a_breaking_change_to_a_committed_schema(tmp_path):
    entry = event_docs.CatalogEntry("demo", EventSpec("thing_done", Sample, 1))
    files = event_docs.generated_files([entry], [], [], tmp_path, tmp_path / "routes.json")
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)

    class SampleWithoutNote(Sample):
        class Meta:
            exclude = ("name",)

    renamed = event_docs.CatalogEntry("demo", EventSpec("thing_done", SampleWithoutNote, 1))
    new_files = event_docs.generated_files([renamed], [], [], tmp_path, tmp_path / "routes.json")
    problems = [p.split(": ", 1)[1] for p in _problems(new_files, tmp_path)]
    assert problems == ["data.name: removed (or renamed)"]

    bumped = event_docs.CatalogEntry("demo", EventSpec("thing_done", SampleWithoutNote, 2))
    bumped_files = event_docs.generated_files([bumped], [], [], tmp_path, tmp_path / "routes.json")
    assert _problems(bumped_files, tmp_path) == []  # a new version may change anything


def _problems(files: dict[Path, str], root: Path) -> list[str]:
    problems = []
    for path, content in files.items():
        if path.suffix == ".json" and "schemas" in path.parts and path.exists():
            old, new = json.loads(path.read_text()), json.loads(content)
            problems += [
                f"{path.relative_to(root)}: {p}" for p in event_docs.breaking_changes(old, new)
            ]
    return problems
