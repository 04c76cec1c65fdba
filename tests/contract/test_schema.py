"""halls_contract.schema: JSON Schemas generated from the models, and the command that writes them."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema

from halls_contract import hub
from halls_contract.schema import schemas
from tests.conftest import ROOT


def test_every_schema_is_a_valid_draft_2020_12_schema():
    for name, schema in schemas().items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"].endswith("2020-12/schema") and schema["title"], name


def test_hub_schemas_accept_real_messages_and_refuse_an_unknown_type():
    client = jsonschema.Draft202012Validator(schemas()["hub-client-message"])
    server = jsonschema.Draft202012Validator(schemas()["hub-server-message"])
    client.validate({"v": 1, "type": "pose", "room": "hall", "p": [1.0, 2.0, 1.6], "q": [0, 0, 0, 1], "t": 5})
    server.validate(json.loads(hub.encode("reload", hall="red", chunks=["hall"])))
    assert not client.is_valid({"v": 1, "type": "dance"})


def test_schema_command_writes_one_file_per_document(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "halls_contract.schema", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == sorted(f"{name}.schema.json" for name in schemas())
    assert json.loads((tmp_path / "manifest.schema.json").read_text(encoding="utf-8")) == schemas()["manifest"]
