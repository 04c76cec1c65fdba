"""JSON Schemas of the manifest, the catalog, the answer keys and the hub's messages, made from the models.

python -m halls_contract.schema --out DIR     # one <name>.schema.json per document
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from halls_contract import hub
from halls_contract.catalog import Catalog
from halls_contract.manifest import AnswerKeys, Manifest

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schemas() -> dict[str, dict]:
    """Name -> JSON Schema (validation form: what a reader accepts)."""
    documents: dict[str, tuple[Any, str]] = {
        "manifest": (Manifest, "Tunlan Halls hall manifest"),
        "catalog": (Catalog, "Tunlan Halls catalog"),
        "answer-keys": (AnswerKeys, "Tunlan Halls answer keys (server only)"),
        "hub-client-message": (hub.ClientMessage, "Tunlan Halls hub: a client's text message"),
        "hub-server-message": (hub.ServerMessage, "Tunlan Halls hub: a server's text message"),
    }
    result = {}
    for name, (model, title) in documents.items():
        schema = TypeAdapter(model).json_schema()
        result[name] = {"$schema": DIALECT, "title": title, **{k: v for k, v in schema.items() if k != "title"}}
    return result


def write_schemas(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m halls_contract.schema", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the <name>.schema.json files")
    args = parser.parse_args(argv)
    for path in write_schemas(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
