"""The real halls in `halls/`: content rules, a clean build, the doorway graph, glTF validity, previews.

The halls are built once per session into a temporary copy of the project
(about half a minute to a minute and a half); every test reads that build.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import pytest

from scenes.build import Budget, BuildResult
from tests.conftest import BuiltHalls
from tests.gltf_check import validate_glb_files
from tools.preview import inspect_image
from tools.preview_hall import preview_hall

ROOT = Path(__file__).resolve().parent.parent
HALL_IDS = sorted(path.stem for path in (ROOT / "halls").glob("*.yaml"))
THEME_HALLS = ["red", "safety", "lean", "digital", "culture", "ecology", "law", "integrity", "youth", "livelihood"]
GALLERIES = ["party-history", "regulations", "clean-governance", "patriotism"]
PREVIEW_SIZE = (320, 200)


@pytest.fixture(scope="session")
def built(built_halls: BuiltHalls) -> BuiltHalls:
    """The session's one build of the real halls (shared with the browser tests)."""
    return built_halls


def hall_graph(built: BuiltHalls) -> dict[str, set[str]]:
    """Hall id -> the halls its doorways lead to, from the manifests."""
    result = built.result
    assert isinstance(result, BuildResult)  # conftest's BuiltHalls.result is typed `object`
    return {
        hall_id: {d["to_hall"] for d in built.manifest(hall_id)["doorways"] if d["to_hall"]} for hall_id in result.halls
    }


# --- the set of halls -------------------------------------------------------------------


def test_halls_folder_has_the_lobby_ten_theme_halls_and_four_galleries():
    assert set(HALL_IDS) >= {"lobby", *THEME_HALLS, *GALLERIES}


def test_every_hall_builds_with_no_warnings(built):
    assert built.result.halls == HALL_IDS
    assert built.warnings == []


# --- every hall's content --------------------------------------------------------------------


@pytest.mark.parametrize("hall_id", HALL_IDS)
def test_hall_has_two_rooms_eight_exhibits_and_a_checkpoint_of_three_questions(built, hall_id):
    manifest = built.manifest(hall_id)
    assert len(manifest["rooms"]) >= 2
    assert len(manifest["exhibits"]) >= 8  # not counting checkpoints
    assert max(len(c["questions"]) for c in manifest["checkpoints"]) >= 3
    assert manifest["spawn"]["room"] == manifest["rooms"][0]["id"]


@pytest.mark.parametrize("hall_id", HALL_IDS)
def test_hall_answer_keys_stay_on_the_server(built, hall_id):
    assert '"answer"' not in json.dumps(built.manifest(hall_id))
    for checkpoint in built.answers(hall_id)["checkpoints"]:
        assert all(question["answer"] not in (None, "", []) for question in checkpoint["questions"])


@pytest.mark.parametrize("hall_id", HALL_IDS)
def test_hall_rooms_stay_within_the_headset_budget(built, hall_id):
    budget = Budget()
    for chunk in built.manifest(hall_id)["chunks"]:
        assert chunk["draw_calls"] <= budget.draw_calls, chunk["id"]
        assert chunk["triangles"] <= budget.triangles, chunk["id"]


# --- walking between halls ----------------------------------------------------------------


def test_walking_doorways_from_the_lobby_reaches_every_hall(built):
    graph = hall_graph(built)
    seen, queue = {"lobby"}, deque(["lobby"])
    while queue:
        for nxt in sorted(graph[queue.popleft()] - seen):
            seen.add(nxt)
            queue.append(nxt)
    assert seen == set(HALL_IDS)
    assert graph["lobby"] >= {*THEME_HALLS, *GALLERIES}


def test_every_doorway_to_another_hall_has_one_leading_back(built):
    graph = hall_graph(built)
    one_way = sorted((a, b) for a, targets in graph.items() for b in targets if a not in graph.get(b, set()))
    assert one_way == []
    for hall_id in HALL_IDS:
        if hall_id != "lobby":
            assert "lobby" in graph[hall_id], hall_id


# --- output files -----------------------------------------------------------------------


def test_every_chunk_glb_passes_the_khronos_validator(built):
    objects = built.root / "build" / "objects"
    files = [
        objects / chunk["objects"]["glb"]["name"] for hall_id in HALL_IDS for chunk in built.manifest(hall_id)["chunks"]
    ]
    reports = validate_glb_files(files)
    assert len(reports) == len(files)
    assert [(r["file"], r["messages"]) for r in reports if r["errors"]] == []


def test_every_hall_preview_is_not_blank_and_shows_the_theme_colours(built, tmp_path):
    problems = []
    for hall_id in HALL_IDS:
        theme = built.manifest(hall_id)["theme"]
        expected = [theme["primary"], theme["wall"], theme["floor"]]
        image = preview_hall(built.root, hall_id, tmp_path / f"{hall_id}.png", size=PREVIEW_SIZE)
        report = inspect_image(image, expected)
        if report.blank or report.found() != expected:
            problems.append((hall_id, report.blank, report.colours))
    assert problems == []
