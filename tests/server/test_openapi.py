"""The OpenAPI description cannot drift: it names every route the app registers, and nothing else.

Also: it is valid OpenAPI 3.1 with valid JSON Schemas, `/api/openapi.json` serves it, the xAPI
resources (registered for any method) answer exactly the methods described, and `/api/docs`
serves Swagger UI from node_modules under a strict Content-Security-Policy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from server.config import ServerConfig
from server.web.openapi import DOCS_POLICY, SWAGGER_FILES, describe, find_swagger_ui, operations
from tests.server.conftest import fetch
from tests.server.lrs_support import VERSION, basic, mount_lrs

ROOT = Path(__file__).resolve().parents[2]
XAPI_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")


def registered_routes(app) -> set[tuple[str, str]]:
    """(method, path template) of every route the app and its sub-apps register (`*` = any method)."""
    found = set()
    routers = [app.router]
    while routers:
        router = routers.pop()
        for resource in router.resources():
            info = resource.get_info()
            if "app" in info:  # a sub-application: its resources carry the prefix already
                routers.append(info["app"].router)
                continue
            if "directory" in info:
                path = info["prefix"] + "/{path}"
            else:
                path = info.get("formatter") or info["path"]
            for route in resource:
                found.add((route.method, path))
    return found


@pytest.fixture
def full_config(tmp_path, build_dir) -> ServerConfig:
    """Every subsystem on: the viewer's files (so the static route exists), the embedded LRS, the quiz."""
    return ServerConfig(
        root=tmp_path,
        build_dir=build_dir,
        port=0,
        reload_interval=0.05,
        web_dir=ROOT / "server" / "web" / "static",
        access_log=False,
    )


def test_every_registered_route_is_described_and_every_described_operation_is_registered(full_config):
    from server.app import create_app

    routes = registered_routes(create_app(full_config))
    described = {(method, path) for method, path, _ in operations()}
    concrete = {(m, p) for m, p in routes if m != "*"}
    assert concrete - described == set(), "routes the description does not name"
    any_method = {p for m, p in routes if m == "*"}
    missing = {(m, p) for m, p in described if (m, p) not in concrete and p not in any_method}
    assert missing == set(), "described operations no route answers"
    assert any_method - {p for _, p in described} == set(), "any-method routes the description does not name"
    assert len(routes) > 40 and any(p.startswith("/xapi/") for p in any_method)


def test_the_description_is_openapi_3_1_with_valid_schemas():
    from schemathesis.specs.openapi.definitions import OPENAPI_31

    document = describe()
    Draft202012Validator(OPENAPI_31).validate(document)
    assert document["openapi"] == "3.1.0" and document["servers"] == [{"url": "/"}]
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    text = json.dumps(document)
    refs = {ref.rsplit("/", 1)[-1] for ref in _refs(document)}
    assert refs <= set(document["components"]["schemas"]), "a $ref names no component"
    assert "answer" not in document["components"]["schemas"]["Checkpoint"]["properties"]
    assert "Idempotency-Key" in text and "Idempotent-Replay" in text and "X-Experience-API-Version" in text


def test_request_bodies_are_the_models_the_handlers_read():
    document = describe()
    attempts = document["paths"]["/api/halls/{hall_id}/checkpoints/{checkpoint_id}/attempts"]["post"]
    assert attempts["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AttemptBody"
    }
    body = document["components"]["schemas"]["AttemptBody"]
    assert body["required"] == ["registration", "answers"] and body["properties"]["answers"]["minProperties"] == 1
    assert {p["name"] for p in attempts["parameters"]} == {"hall_id", "checkpoint_id", "Idempotency-Key"}
    progress = {p["name"]: p for p in document["paths"]["/api/progress"]["get"]["parameters"]}
    assert set(progress) == {"from", "to", "branch", "format"}
    assert progress["format"]["schema"]["enum"] == ["json", "csv"] and progress["branch"]["explode"] is True
    manifest = document["paths"]["/api/halls/{hall_id}"]["get"]["responses"]["200"]["content"]
    assert manifest["application/json"]["schema"] == {"$ref": "#/components/schemas/Manifest"}


def test_the_description_is_served_as_json(server):
    reply = fetch(server.port, "/api/openapi.json")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert reply.json() == json.loads(json.dumps(describe()))


def test_xapi_resources_answer_exactly_the_described_methods(start_server, full_config, monkeypatch):
    monkeypatch.setattr("server.lrs.store.HASH_ITERATIONS", 1000)
    server = start_server(full_config, mount_lrs(full_config))
    described: dict[str, set[str]] = {}
    for method, path, _ in operations():
        if path.startswith("/xapi/"):
            described.setdefault(path, set()).add(method)
    for path, methods in described.items():
        for method in XAPI_METHODS:
            reply = fetch(server.port, path, method, {**VERSION, "Authorization": basic()})
            assert (reply.status == 405) == (method not in methods), (method, path, reply.status, reply.body)


def test_docs_page_loads_swagger_ui_from_node_modules_under_a_strict_policy(server):
    page = fetch(server.port, "/api/docs")
    assert page.status == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = page.headers["Content-Security-Policy"]
    assert policy == DOCS_POLICY and "'unsafe-inline'" not in policy and "script-src 'self' 'sha256-" in policy
    for name in SWAGGER_FILES:
        assert f"/vendor/swagger-ui/{name}".encode() in page.body
    swagger = find_swagger_ui(ROOT)
    if swagger is None:
        pytest.skip("swagger-ui-dist is not installed (npm ci)")
    bundle = fetch(server.port, "/vendor/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status == 200 and bundle.body == (swagger / "swagger-ui-bundle.js").read_bytes()
    assert bundle.headers["Content-Type"] == "text/javascript; charset=utf-8"
    css = fetch(server.port, "/vendor/swagger-ui/swagger-ui.css", headers={"Accept-Encoding": "gzip"})
    assert css.status == 200 and css.headers["Content-Encoding"] == "gzip"
    for path in (
        "/vendor/swagger-ui/index.html",
        "/vendor/swagger-ui/package.json",
        "/vendor/swagger-ui/..%2F..",
        "/vendor/swagger-ui/swagger-ui-bundle.js.map",
    ):
        assert fetch(server.port, path).status == 404, path


def _refs(value) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_the_readme_lists_every_described_path():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The HTTP API") :]
    missing = sorted({path for _, path, _ in operations() if f"{path}`" not in section and f"{path} " not in section})
    assert missing == [], "README.md's HTTP API section misses these paths"
