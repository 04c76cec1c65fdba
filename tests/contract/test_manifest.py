"""halls_contract.manifest and .catalog: reading, checking and writing the build's documents."""

from __future__ import annotations

import json

import pytest

from halls_contract.catalog import CatalogError, catalog_of, dump_catalog, parse_catalog
from halls_contract.manifest import (
    MANIFEST_VERSION,
    Bounds,
    KeyedCheckpoint,
    Manifest,
    ManifestError,
    Room,
    Spawn,
    Text,
    Theme,
    dump_manifest,
    parse_manifest,
    text_of,
)
from halls_contract.themes import DEFAULT_LIGHT, hex_to_rgb

SHA = "ab" * 32


def objects(kinds=("bam", "glb", "glb_meshopt")) -> dict:
    suffix = {"bam": ".bam.pz", "glb": ".glb", "glb_meshopt": ".glb"}
    return {kind: {"name": SHA + suffix[kind], "sha256": SHA, "size": 10} for kind in kinds}


def manifest(**changes) -> dict:
    """A small valid manifest as JSON values."""
    room = Room(id="hall", title=Text(zh="大厅"), shape="room", bounds=Bounds(min=(0, 0, 0), max=(10, 8, 4)))
    chunk = {
        "id": "hall",
        "room": "hall",
        "bounds": room.bounds.model_dump(),
        "triangles": 12,
        "draw_calls": 1,
        "nodes": ["hall/shell"],
        "objects": objects(),
    }
    checkpoint = {
        "id": "quiz",
        "room": "hall",
        "title": {"zh": "答题"},
        "position": [1.0, 1.0, 0.0],
        "radius": 1.5,
        "pass_mark": 0.6,
        "attempts": 3,
        "cooldown": 0,
        "questions": [
            {
                "id": "q1",
                "type": "true-false",
                "prompt": {"zh": "对吗"},
                "options": [],
                "answer": True,
                "explanation": {"zh": "对。"},
            }
        ],
    }
    model = Manifest.model_validate(
        {
            "id": "red",
            "title": {"zh": "红色屯兰", "en": "Red"},
            "intro": None,
            "order": 1,
            "theme": {},
            "spawn": Spawn(room="hall", position=(5, 4, 0), heading=0),
            "rooms": [room],
            "doorways": [],
            "chunks": [chunk],
            "exhibits": [],
            "checkpoints": [KeyedCheckpoint.model_validate(checkpoint).public()],
        }
    )
    return dump_manifest(model) | changes


def test_dump_writes_keys_in_the_published_order_with_format_version_and_coordinates():
    data = manifest()
    assert list(data) == [
        "format",
        "version",
        "id",
        "title",
        "intro",
        "order",
        "theme",
        "coordinates",
        "spawn",
        "rooms",
        "doorways",
        "chunks",
        "exhibits",
        "checkpoints",
    ]
    assert data["format"] == "tunlan-hall-manifest" and data["version"] == MANIFEST_VERSION == 1
    assert data["coordinates"] == {"up": "z", "units": "m", "north": "+y", "east": "+x"}
    assert list(data["chunks"][0]["objects"]) == ["bam", "glb", "glb_meshopt"]


def test_parse_then_dump_gives_back_the_same_json():
    data = manifest()
    assert dump_manifest(parse_manifest(json.dumps(data).encode())) == data


def test_parse_manifest_rejects_newer_version_with_message():
    with pytest.raises(ManifestError) as error:
        parse_manifest(manifest(version=2))
    assert str(error.value) == (
        "manifest: version 2 is not supported by this client (it reads version 1); update the client"
    )


def test_parse_manifest_rejects_another_format_naming_both():
    with pytest.raises(ManifestError, match="format 'tunlan-hall-catalog' is not 'tunlan-hall-manifest'"):
        parse_manifest(manifest(format="tunlan-hall-catalog"))


def test_parse_manifest_rejects_text_that_is_not_json():
    with pytest.raises(ManifestError, match="manifest: not JSON"):
        parse_manifest(b"{nope")


def test_parse_manifest_names_the_hall_and_the_field_when_malformed():
    data = manifest()
    data["chunks"][0]["objects"]["bam"]["sha256"] = "XYZ"
    with pytest.raises(ManifestError) as error:
        parse_manifest(data)
    assert str(error.value).startswith("manifest of hall 'red': malformed (chunks[0].objects.bam.sha256: ")


def test_parse_manifest_rejects_a_non_finite_position():
    data = manifest()
    data["spawn"]["position"] = [float("nan"), 0.0, 0.0]
    with pytest.raises(ManifestError, match=r"spawn\.position\[0\]"):
        parse_manifest(data)


def test_public_checkpoint_drops_answer_keys_and_explanations():
    question = manifest()["checkpoints"][0]["questions"][0]
    assert question == {"id": "q1", "type": "true-false", "prompt": {"zh": "对吗", "en": None}, "options": []}


def test_answer_keys_in_a_manifest_are_dropped_when_read_and_dumped():
    data = manifest()
    data["checkpoints"][0]["questions"][0]["answer"] = True
    assert "answer" not in json.dumps(dump_manifest(parse_manifest(data)))


def test_dump_leaves_out_the_servers_additions_and_missing_meshopt_when_unset():
    data = manifest()
    data["chunks"][0]["objects"] = objects(("bam", "glb"))
    dumped = dump_manifest(parse_manifest(data))
    assert "variant" not in dumped and "thumbnail" not in dumped and "model" not in dumped["chunks"][0]
    assert list(dumped["chunks"][0]["objects"]) == ["bam", "glb"]


def test_a_served_variant_reads_with_its_chunk_models():
    data = manifest(variant="bam")
    data["chunks"][0]["model"] = data["chunks"][0]["objects"]["bam"] | {"kind": "bam", "url": "/objects/x"}
    chunk = parse_manifest(data).chunks[0]
    assert chunk.model is not None and chunk.model.kind == "bam" and chunk.model.url == "/objects/x"


def test_theme_defaults_fill_what_a_manifest_leaves_out_and_match_the_hall_schema():
    from scenes.model import Theme as HallTheme

    assert Theme().model_dump() == HallTheme().model_dump()
    assert {key: Theme().model_dump()[key] for key in DEFAULT_LIGHT} == DEFAULT_LIGHT


def test_text_of_picks_the_language_then_falls_back():
    assert text_of(Text(zh="中文", en="English"), "en") == "English"
    assert text_of(Text(zh="中文"), "en") == "中文"
    assert text_of({"zh": None, "en": "only"}) == "only"
    assert text_of(None) == ""


def test_hex_to_rgb_reads_colours_and_names_a_bad_one():
    assert hex_to_rgb("#9cc3e6") == (156, 195, 230)
    with pytest.raises(ValueError, match="not a '#rrggbb' colour: '#12345'"):
        hex_to_rgb("#12345")


def test_catalog_lists_halls_by_order_with_sizes_from_their_manifests():
    first, second = parse_manifest(manifest(id="b", order=1)), parse_manifest(manifest(id="a", order=2))
    catalog = dump_catalog(catalog_of([second, first], "build-1"))
    assert [hall["id"] for hall in catalog["halls"]] == ["b", "a"]
    assert catalog["halls"][0]["bytes"] == {"glb": 10, "glb_meshopt": 10, "bam": 10}
    assert catalog["halls"][0]["manifest"] == "halls/b/manifest.json" and catalog["halls"][0]["thumbnail"] is None
    assert dump_catalog(parse_catalog(json.dumps(catalog))) == catalog


def test_parse_catalog_rejects_an_unknown_version():
    with pytest.raises(CatalogError, match="catalog: version 9 is not supported"):
        parse_catalog({"format": "tunlan-hall-catalog", "version": 9, "build": None, "halls": []})


def test_server_refuses_to_load_a_build_whose_manifest_it_cannot_read(tmp_path):
    from server.web.catalog import load_build
    from tests.server.conftest import default_halls, publish

    build = tmp_path / "build"
    release = publish(build, default_halls(build), "b1")
    assert list(load_build(build).manifests) == ["alpha", "beta"]
    path = release / "halls" / "alpha" / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8")) | {"version": 7}), encoding="utf-8")
    with pytest.raises(ManifestError, match="version 7 is not supported"):
        load_build(build)
