"""The JSON API: catalog, manifests, variants, ETag/304, gzip, errors, health, the index page."""

from __future__ import annotations

import gzip
import json

import pytest

from server.web.catalog import JsonDocument, load_build
from tests.server.conftest import SECRET, fetch, with_config


def test_catalog_lists_halls_of_current_build_with_strong_etag(server):
    reply = fetch(server.port, "/api/halls")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    catalog = reply.json()
    assert catalog["build"] == "b1"
    assert [hall["id"] for hall in catalog["halls"]] == ["alpha", "beta"]
    assert catalog["halls"][0]["url"] == "/api/halls/alpha"
    etag = reply.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert reply.headers["Cache-Control"] == "no-cache"


def test_catalog_with_matching_if_none_match_answers_304_without_body(server):
    etag = fetch(server.port, "/api/halls").headers["ETag"]
    reply = fetch(server.port, "/api/halls", headers={"If-None-Match": etag})
    assert reply.status == 304 and reply.body == b""
    assert reply.headers["ETag"] == etag


def test_catalog_with_stale_if_none_match_answers_200(server):
    reply = fetch(server.port, "/api/halls", headers={"If-None-Match": '"stale"'})
    assert reply.status == 200 and reply.json()["build"] == "b1"


def test_manifest_answers_published_manifest_with_etag(server, build_dir):
    reply = fetch(server.port, "/api/halls/alpha")
    assert reply.status == 200
    published = json.loads((build_dir / "current/halls/alpha/manifest.json").read_text())
    assert reply.json() == published
    again = fetch(server.port, "/api/halls/alpha", headers={"If-None-Match": reply.headers["ETag"]})
    assert again.status == 304


def test_manifest_is_gzipped_when_accepted_and_revalidates_with_either_etag(server):
    plain = fetch(server.port, "/api/halls/alpha")
    zipped = fetch(server.port, "/api/halls/alpha", headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert len(zipped.body) < len(plain.body)
    assert json.loads(gzip.decompress(zipped.body)) == plain.json()
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert "Accept-Encoding" in zipped.headers["Vary"]
    for etag in (plain.headers["ETag"], zipped.headers["ETag"]):
        reply = fetch(server.port, "/api/halls/alpha", headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
        assert reply.status == 304


def test_manifest_is_not_gzipped_when_gzip_is_refused(server):
    reply = fetch(server.port, "/api/halls/alpha", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in reply.headers


def test_small_json_is_not_gzipped_because_it_would_not_pay():
    assert JsonDocument.of({"a": 1}).gzipped is None
    assert JsonDocument.of({"text": "屯兰" * 2000}).gzipped is not None


def test_unknown_hall_answers_404_json_error(server):
    reply = fetch(server.port, "/api/halls/x")
    assert reply.status == 404
    assert reply.json() == {"error": "unknown hall 'x'"}
    assert reply.headers["Content-Type"].startswith("application/json")


def test_unknown_api_path_answers_404_json_error(server):
    reply = fetch(server.port, "/api/nothing/here")
    assert reply.status == 404 and reply.json() == {"error": "not found"}


@pytest.mark.parametrize(
    "query, header, kind",
    [
        ("?variant=meshopt", None, "glb_meshopt"),
        ("?variant=plain", None, "glb"),
        ("?variant=bam", None, "bam"),
        ("", "application/json; variant=meshopt", "glb_meshopt"),
        ("", "application/json;variant=bam, */*;q=0.1", "bam"),
        ("?variant=plain", "application/json; variant=bam", "glb"),
    ],
)
def test_manifest_variant_from_query_or_accept_gives_each_chunk_one_model(server, query, header, kind):
    reply = fetch(server.port, f"/api/halls/alpha{query}", headers={"Accept": header} if header else {})
    assert reply.status == 200
    manifest = reply.json()
    for chunk in manifest["chunks"]:
        model = chunk["model"]
        assert model["kind"] == kind
        assert model["name"] == chunk["objects"][kind]["name"]
        assert model["url"] == "/objects/" + model["name"]
    assert "Accept" in reply.headers["Vary"]


def test_manifest_meshopt_variant_falls_back_to_plain_glb_when_build_has_no_meshopt(build_dir):
    manifest = json.loads((build_dir / "current/halls/beta/manifest.json").read_text())
    del manifest["chunks"][0]["objects"]["glb_meshopt"]
    (build_dir / "current/halls/beta/manifest.json").write_text(json.dumps(manifest))
    view = load_build(build_dir)
    chunk = view.manifests["beta"]["meshopt"].value["chunks"][0]
    assert chunk["model"]["kind"] == "glb"


def test_manifest_unknown_variant_answers_400_json_error(server):
    reply = fetch(server.port, "/api/halls/alpha?variant=draco")
    assert reply.status == 400
    assert reply.json() == {"error": "unknown variant 'draco' (choose meshopt, plain, bam)"}


def test_objects_url_config_points_variant_models_at_a_cdn(start_server, config):
    server = start_server(with_config(config, objects_url="https://cdn.example.org/halls/"))
    chunk = fetch(server.port, "/api/halls/alpha?variant=plain").json()["chunks"][0]
    assert chunk["model"]["url"] == "https://cdn.example.org/halls/" + chunk["model"]["name"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/halls/alpha/../../private/answers/alpha.json",
        "/api/halls/%2e%2e%2fprivate%2fanswers%2falpha",
        "/api/halls/..%2f..%2fprivate%2fanswers%2falpha.json",
        "/api/halls/private",
        "/private/answers/alpha.json",
    ],
)
def test_answer_keys_are_never_served(server, path):
    reply = fetch(server.port, path)
    assert reply.status == 404 and SECRET.encode() not in reply.body


def test_health_reports_build_uptime_and_requests(server):
    reply = fetch(server.port, "/api/health")
    assert reply.status == 200
    health = reply.json()
    assert health["status"] == "ok" and health["build"] == "b1" and health["halls"] == 2
    assert health["uptime_s"] >= 0 and health["requests_in_flight"] >= 1
    assert "hub" in health
    assert reply.headers["Cache-Control"] == "no-store"


def test_health_includes_the_hubs_connections_and_members(server):
    hub = fetch(server.port, "/api/health").json()["hub"]
    assert hub["connections"] == 0 and hub["backend"] == "local" and hub["members"] == {}


def test_index_page_lists_halls_when_viewer_is_missing(server):
    reply = fetch(server.port, "/")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    assert b'href="/api/halls/alpha"' in reply.body and b'href="/api/halls/beta"' in reply.body


def test_viewer_files_are_served_from_web_folder_when_present(start_server, config, tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>viewer</title>")
    (web / "app.js").write_text("console.log('hi')")
    server = start_server(with_config(config, web_dir=web))
    assert fetch(server.port, "/").body == b"<!doctype html><title>viewer</title>"
    script = fetch(server.port, "/app.js")
    assert script.status == 200 and script.body == b"console.log('hi')"
    assert fetch(server.port, "/api/halls").json()["build"] == "b1"
    assert fetch(server.port, "/%2e%2e/build/current/private/answers/alpha.json").status == 404


def test_server_with_nothing_built_serves_an_empty_catalog(start_server, config, tmp_path):
    server = start_server(with_config(config, build_dir=tmp_path / "empty"))
    assert fetch(server.port, "/api/halls").json()["halls"] == []
    assert fetch(server.port, "/api/health").json()["build"] is None


def test_wrong_method_on_api_answers_405_json_error_with_allow(server):
    reply = fetch(server.port, "/api/halls", method="DELETE")
    assert reply.status == 405 and reply.json() == {"error": "method not allowed"}
    assert "GET" in reply.headers["Allow"]
