"""The contract against a real build of every hall: exact round trips, and the JSON Schemas accept it."""

from __future__ import annotations

import json

import jsonschema
import pytest

from halls_contract.catalog import dump_catalog, parse_catalog
from halls_contract.manifest import dump_answer_keys, dump_manifest, parse_answer_keys, parse_manifest
from halls_contract.schema import schemas
from tests.conftest import BuiltHalls

pytestmark = pytest.mark.slow


def _published(value) -> bytes:
    """The bytes `halls build` writes for a JSON document."""
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def _release(built: BuiltHalls):
    return built.root / "build" / "current"


def test_every_built_manifest_reads_and_dumps_back_byte_for_byte(built_halls):
    paths = sorted(_release(built_halls).glob("halls/*/manifest.json"))
    assert len(paths) == len(built_halls.result.halls) > 1
    for path in paths:
        assert _published(dump_manifest(parse_manifest(path.read_bytes()))) == path.read_bytes(), path


def test_built_catalog_and_answer_keys_read_and_dump_back_byte_for_byte(built_halls):
    catalog = _release(built_halls) / "catalog.json"
    assert _published(dump_catalog(parse_catalog(catalog.read_bytes()))) == catalog.read_bytes()
    for path in sorted(_release(built_halls).glob("private/answers/*.json")):
        assert _published(dump_answer_keys(parse_answer_keys(path.read_bytes()))) == path.read_bytes(), path


def test_json_schemas_accept_the_built_manifests_catalog_and_answer_keys(built_halls):
    found = schemas()
    release = _release(built_halls)
    documents = [("catalog", release / "catalog.json")]
    documents += [("manifest", path) for path in sorted(release.glob("halls/*/manifest.json"))]
    documents += [("answer-keys", path) for path in sorted(release.glob("private/answers/*.json"))]
    manifests = [path for name, path in documents if name == "manifest"]
    assert len(manifests) == len(built_halls.result.halls)  # every hall's manifest is among those checked
    for name, path in documents:
        errors = list(jsonschema.Draft202012Validator(found[name]).iter_errors(json.loads(path.read_bytes())))
        assert errors == [], f"{path}: {errors[0].message if errors else ''}"


def test_manifest_schema_refuses_a_manifest_without_spawn(built_halls):
    hall = built_halls.result.halls[0]
    data = built_halls.manifest(hall)
    del data["spawn"]
    with pytest.raises(jsonschema.ValidationError, match="'spawn' is a required property"):
        jsonschema.Draft202012Validator(schemas()["manifest"]).validate(data)
