"""build: publishing, manifests, the chunk cache and atomic failure."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from scenes import build as scenes_build
from scenes.build import Budget, BuildOptions, build
from scenes.diagnostics import AuthorErrors


def _options(project: Path, **kw) -> BuildOptions:
    return BuildOptions(root=project, jobs=1, **kw)


def _manifest(project: Path, hall: str) -> dict:
    return json.loads((project / "build/current/halls" / hall / "manifest.json").read_text(encoding="utf-8"))


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    state: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            state[key] = "-> " + os.readlink(path)
        elif path.is_file():
            state[key] = path.read_bytes()
    return state


def test_build_publishes_catalog_manifests_and_content_addressed_objects(project):
    result = build(_options(project))
    assert result.halls == ["alpha", "beta"] and result.changed
    catalog = json.loads((project / "build/current/catalog.json").read_text(encoding="utf-8"))
    assert [h["id"] for h in catalog["halls"]] == ["alpha", "beta"]
    assert catalog["halls"][0]["title"] == {"zh": "阿尔法馆", "en": "Alpha"}
    manifest = _manifest(project, "alpha")
    assert [c["id"] for c in manifest["chunks"]] == ["entrance", "gallery"]
    for chunk in manifest["chunks"]:
        for kind in ("glb", "glb_meshopt", "bam"):
            entry = chunk["objects"][kind]
            data = (project / "build/objects" / entry["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["size"]
    assert manifest["spawn"]["room"] == "entrance"


def test_manifest_carries_questions_without_answer_keys(project):
    build(_options(project))
    manifest = _manifest(project, "alpha")
    [checkpoint] = manifest["checkpoints"]
    assert [q["id"] for q in checkpoint["questions"]] == ["q1", "q2"]
    assert checkpoint["questions"][1]["options"][1] == {"id": "B", "text": {"zh": "廉洁屯兰", "en": None}}
    text = json.dumps(manifest)
    assert '"answer"' not in text and '"explanation"' not in text
    keys = json.loads((project / "build/current/private/answers/alpha.json").read_text(encoding="utf-8"))
    assert keys["checkpoints"][0]["questions"][1]["answer"] == "B"


def test_rebuild_without_changes_compiles_nothing_and_keeps_build(project):
    first = build(_options(project))
    before = _snapshot(project / "build")
    second = build(_options(project))
    assert (second.chunks_built, second.changed, second.build_id) == (0, False, first.build_id)
    assert _snapshot(project / "build") == before


def test_rebuild_after_text_edit_recompiles_only_that_room(project):
    build(_options(project))
    old = _manifest(project, "alpha")
    hall = project / "halls/alpha.yaml"
    hall.write_text(
        hall.read_text(encoding="utf-8").replace("这是一块测试展板。", "展板的文字改了。"), encoding="utf-8"
    )
    result = build(_options(project))
    new = _manifest(project, "alpha")
    assert result.chunks_built == 1 and result.changed
    assert new["chunks"][0]["objects"] != old["chunks"][0]["objects"]
    assert new["chunks"][1]["objects"] == old["chunks"][1]["objects"]


def test_failed_build_leaves_previous_build_exactly_as_it_was(project):
    build(_options(project))
    before = _snapshot(project / "build")
    (project / "halls/beta.yaml").write_text("id: beta\ntitle: [broken\n", encoding="utf-8")
    with pytest.raises(AuthorErrors):
        build(_options(project))
    assert _snapshot(project / "build") == before


def test_build_reports_room_over_headset_budget_at_the_room(project):
    with pytest.raises(AuthorErrors) as raised:
        build(_options(project, budget=Budget(draw_calls=3)))
    messages = [str(d) for d in raised.value.diagnostics]
    assert any(
        m.startswith("halls/alpha.yaml:6:9: rooms[0]: room 'entrance' is over the headset budget:") for m in messages
    ), messages
    assert not (project / "build/current").exists()


def test_parallel_build_gives_same_objects_as_serial(project, tmp_path):
    serial = build(_options(project))
    parallel = build(BuildOptions(root=project, out=tmp_path / "other", jobs=2))
    assert parallel.build_id == serial.build_id


def test_thumbnails_render_once_per_look_and_survive_builds_without_renderer(project):
    calls = []

    def render(manifest, objects, out):
        calls.append(manifest["id"])
        out.write_bytes(b"\x89PNG fake picture of " + manifest["id"].encode())
        return out

    build(_options(project, thumbnails=render))
    catalog = json.loads((project / "build/current/catalog.json").read_text(encoding="utf-8"))
    thumbnail = catalog["halls"][0]["thumbnail"]
    assert (project / "build/objects" / thumbnail["name"]).read_bytes() == b"\x89PNG fake picture of alpha"
    build(_options(project, thumbnails=render))
    assert sorted(calls) == ["alpha", "beta"]  # nothing changed: no new renders
    hall = project / "halls/alpha.yaml"
    hall.write_text(
        hall.read_text(encoding="utf-8").replace("这是一块测试展板。", "展板的文字改了。"), encoding="utf-8"
    )
    build(_options(project))  # no renderer (watch mode): alpha keeps its old picture
    assert _manifest(project, "alpha")["thumbnail"] == thumbnail
    build(_options(project, thumbnails=render))
    assert sorted(calls) == ["alpha", "alpha", "beta"]


def test_gltfpack_files_of_chunks_with_the_same_room_id_in_two_halls_do_not_collide(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # beta's room gets alpha's first room id: parallel jobs used to share gltfpack's temporary files
    beta = project / "halls" / "beta.yaml"
    beta.write_text(beta.read_text(encoding="utf-8").replace("  - id: only", "  - id: entrance"), encoding="utf-8")
    names: list[str] = []
    start = scenes_build._start_meshopt

    def recording(glb, root, folder, name):
        names.append(name)
        return start(glb, root, folder, name)

    monkeypatch.setattr(scenes_build, "_start_meshopt", recording)
    build(_options(project, meshopt=True))
    assert sorted(names) == ["alpha.entrance", "alpha.gallery", "beta.entrance"]
