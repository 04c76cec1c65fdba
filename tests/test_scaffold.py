"""`halls new`: scaffolds pass the checker, appending keeps the file's text, errors exit 1."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

import pytest
import yaml
from PIL import Image

from scenes.build import BuildOptions, check
from tools.scaffold import ScaffoldError, add_new_arguments, new_command, new_exhibit, new_hall, yaml_text

COMMENTED = """\
# 演示展馆：文件开头的注释
id: demo
title: 演示馆   # 行尾注释
rooms:
  # 第一个展厅
  - id: hall
    title: 大厅
    size: [12, 10, 4]
    doorways:
      - {to: annex, wall: east}
    exhibits:
      - kind: panel
        id: intro
        title: 前言
        text: >-
          这是一段折叠的
          长文本。

        # 展板的补充说明（缩进在展品里面）
        wall: north
      # 以下留给以后的展品

  # 第二个展厅：还没有展品
  - id: annex
    title: 侧厅
    size: [8, 10, 4]
  - id: store
    title: 库房
    size: [8, 10, 4]
    doorways: [{to: annex, wall: west}]
    exhibits: []   # 空的
"""


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="halls new")
    add_new_arguments(parser)
    return new_command(parser.parse_args(argv))


def passes_check(root: Path) -> bool:
    check(BuildOptions(root=root))  # raises AuthorErrors on any error
    return True


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    (tmp_path / "halls").mkdir()
    (tmp_path / "halls" / "demo.yaml").write_text(COMMENTED, encoding="utf-8")
    return tmp_path


def exhibit_ids(path: Path, room: str) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    [found] = [r for r in data["rooms"] if r["id"] == room]
    return [e["id"] for e in found.get("exhibits") or []]


# --- each scaffold passes the checker ----------------------------------------------------------


def test_new_hall_passes_check_and_has_a_checkpoint_with_three_questions(project):
    path = new_hall(project, "mine-safety", "矿山安全, 人人有责", "Mine Safety: Everyone's Job")
    assert passes_check(project)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["title"] == {"zh": "矿山安全, 人人有责", "en": "Mine Safety: Everyone's Job"}
    assert len(data["rooms"]) == 2
    [quiz] = [e for r in data["rooms"] for e in r.get("exhibits", []) if e["kind"] == "checkpoint"]
    assert len(quiz["questions"]) == 3


def test_new_hall_links_to_the_lobby_when_there_is_one(project):
    (project / "halls" / "lobby.yaml").write_text(
        "id: lobby\ntitle: 序厅\nrooms:\n  - id: atrium\n    title: 序厅\n", encoding="utf-8"
    )
    path = new_hall(project, "mine-safety", "矿山安全")
    assert 'to: "hall:lobby"' in path.read_text(encoding="utf-8")
    assert passes_check(project)


@pytest.mark.parametrize("kind", ["panel", "model", "media", "diorama", "checkpoint"])
def test_new_exhibit_of_each_kind_passes_check(project, kind):
    before = exhibit_ids(project / "halls" / "alpha.yaml", "gallery")
    path, spot = new_exhibit(project, "alpha", "gallery", f"new-{kind}", kind)
    assert exhibit_ids(path, "gallery") == before + [f"new-{kind}"]
    assert spot
    assert passes_check(project)


def test_new_exhibits_fill_a_room_one_after_another_and_still_pass_check(project):
    for i, kind in enumerate(["panel", "panel", "model", "checkpoint", "media", "panel", "model"]):
        new_exhibit(project, "alpha", "entrance", f"item-{i}", kind)
    assert passes_check(project)


def test_new_media_without_an_asset_writes_a_placeholder_picture(project):
    new_exhibit(project, "alpha", "gallery", "photo", "media")
    assert (project / "assets" / "alpha" / "photo.png").is_file()
    assert "asset: assets/alpha/photo.png" in (project / "halls" / "alpha.yaml").read_text(encoding="utf-8")


def test_new_media_uses_the_given_asset(project):
    Image.new("RGB", (8, 8), "red").save(project / "assets" / "flag.png")
    new_exhibit(project, "alpha", "gallery", "flag", "media", asset="assets/flag.png")
    assert not (project / "assets" / "alpha").exists()
    assert passes_check(project)


def test_new_checkpoint_command_adds_a_checkpoint(project):
    assert run(["checkpoint", "alpha", "--room", "gallery", "--id", "quiz-2", "--root", str(project)]) == 0
    data = yaml.safe_load((project / "halls" / "alpha.yaml").read_text(encoding="utf-8"))
    quiz = data["rooms"][1]["exhibits"][-1]
    assert (quiz["kind"], quiz["id"], len(quiz["questions"])) == ("checkpoint", "quiz-2", 3)
    assert passes_check(project)


def test_new_exhibit_command_takes_a_title_that_needs_quotes(project):
    argv = [
        "exhibit",
        "alpha",
        "--kind",
        "panel",
        "--room",
        "gallery",
        "--id",
        "note",
        "--title",
        "Safety: first, always",
        "--root",
        str(project),
    ]
    assert run(argv) == 0
    assert 'title: "Safety: first, always"' in (project / "halls" / "alpha.yaml").read_text(encoding="utf-8")
    assert passes_check(project)


def test_new_hall_command_writes_the_file(project):
    assert run(["hall", "youth-2", "--title", "青春屯兰", "--en", "Youth", "--root", str(project)]) == 0
    assert (project / "halls" / "youth-2.yaml").is_file()
    assert passes_check(project)


# --- appending keeps the file's text ------------------------------------------------------


def test_appending_keeps_every_line_and_comment_of_the_file(demo):
    path = demo / "halls" / "demo.yaml"
    new_exhibit(demo, "demo", "hall", "pledge", "panel")
    new_lines = path.read_text(encoding="utf-8").splitlines()
    changes = [
        op for op in difflib.SequenceMatcher(None, COMMENTED.splitlines(), new_lines).get_opcodes() if op[0] != "equal"
    ]
    [(what, _, _, start, end)] = changes  # one block of added lines, nothing else touched
    assert what == "insert"
    assert new_lines[start : start + 2] == ["      - kind: panel", "        id: pledge"]
    assert passes_check(demo)


def test_appending_goes_after_the_last_exhibit_and_its_own_comments(demo):
    path = demo / "halls" / "demo.yaml"
    new_exhibit(demo, "demo", "hall", "pledge", "panel")
    lines = path.read_text(encoding="utf-8").splitlines()
    inner = lines.index("        # 展板的补充说明（缩进在展品里面）")
    start = lines.index("      - kind: panel", inner)
    assert lines[inner + 1] == "        wall: north" and start == inner + 2
    assert lines.index("      # 以下留给以后的展品") > start
    assert exhibit_ids(path, "hall") == ["intro", "pledge"]


def test_appending_to_a_room_without_exhibits_adds_the_exhibits_key(demo):
    path = demo / "halls" / "demo.yaml"
    new_exhibit(demo, "demo", "annex", "notice", "panel")
    text = path.read_text(encoding="utf-8")
    assert "    size: [8, 10, 4]\n    exhibits:\n      - kind: panel\n        id: notice\n" in text
    assert exhibit_ids(path, "annex") == ["notice"]
    assert passes_check(demo)


def test_appending_to_an_empty_list_replaces_the_brackets_and_keeps_the_comment(demo):
    path = demo / "halls" / "demo.yaml"
    new_exhibit(demo, "demo", "store", "box", "model")
    text = path.read_text(encoding="utf-8")
    assert "    exhibits: # 空的\n      - kind: model\n" in text
    assert exhibit_ids(path, "store") == ["box"]
    assert passes_check(demo)


def test_new_exhibit_keeps_clear_of_doorways_and_the_spawn_point(demo):
    path = demo / "halls" / "demo.yaml"
    for i in range(4):
        new_exhibit(demo, "demo", "hall", f"m{i}", "model")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    spots = [e["at"] for e in data["rooms"][0]["exhibits"] if e["kind"] == "model"]
    assert len(spots) == 4
    for x, y in spots:  # a 1 x 1 m footprint around each spot
        assert abs(x) >= 1.5 or abs(y) >= 1.5  # 1 m around the spawn point (the centre) stays free
        assert x + 0.5 <= 4.5 or abs(y) - 0.5 >= 1.1  # 1.5 m in front of the east doorway stays free


def test_yaml_text_quotes_only_when_needed():
    assert yaml_text("红色屯兰") == "红色屯兰"
    assert yaml_text("党旗红、企业兴") == "党旗红、企业兴"
    assert yaml_text("a, b") == '"a, b"'
    assert yaml_text("Note: this") == '"Note: this"'
    assert yaml_text("true") == '"true"'
    assert yaml_text("#1 hall") == '"#1 hall"'
    assert yaml_text("2024") == '"2024"'


# --- errors --------------------------------------------------------------------------


def test_unknown_hall_is_an_error_with_a_suggestion(project, capsys):
    assert run(["exhibit", "alpa", "--kind", "panel", "--room", "gallery", "--id", "x", "--root", str(project)]) == 1
    assert capsys.readouterr().err == "halls new: unknown hall 'alpa' (did you mean 'alpha'?); halls: alpha, beta\n"


def test_unknown_room_is_an_error_with_a_suggestion(project, capsys):
    assert run(["checkpoint", "alpha", "--room", "galery", "--id", "x", "--root", str(project)]) == 1
    assert capsys.readouterr().err == (
        "halls new: hall 'alpha' has no room 'galery' (did you mean 'gallery'?); rooms: entrance, gallery\n"
    )


def test_taken_id_is_an_error_and_the_file_is_unchanged(project, capsys):
    before = (project / "halls" / "alpha.yaml").read_text(encoding="utf-8")
    argv = ["exhibit", "alpha", "--kind", "model", "--room", "gallery", "--id", "intro", "--root", str(project)]
    assert run(argv) == 1
    assert capsys.readouterr().err == (
        "halls new: id 'intro' is taken by the panel in room 'entrance'; choose another id\n"
    )
    assert (project / "halls" / "alpha.yaml").read_text(encoding="utf-8") == before


def test_existing_hall_file_is_not_overwritten(project, capsys):
    assert run(["hall", "beta", "--title", "贝塔", "--root", str(project)]) == 1
    assert capsys.readouterr().err == "halls new: halls/beta.yaml already exists; choose another id\n"


def test_invalid_ids_are_errors(project):
    with pytest.raises(ScaffoldError, match="'Red_Hall' is not a valid hall id"):
        new_hall(project, "Red_Hall", "红色")
    with pytest.raises(ScaffoldError, match="'新展板' is not a valid exhibit id"):
        new_exhibit(project, "alpha", "gallery", "新展板", "panel")


def test_a_hall_with_errors_must_be_fixed_first(project):
    path = project / "halls" / "beta.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("at: [0, 0]", "at: [0, 9]"), encoding="utf-8")
    with pytest.raises(ScaffoldError) as error:
        new_exhibit(project, "beta", "only", "more", "panel")
    assert str(error.value).startswith("halls/beta.yaml has errors; fix them first (halls check):\n  halls/beta.yaml:")


def test_a_full_room_is_an_error_and_leaves_no_placeholder(project, capsys):
    hall = (
        "id: tiny\ntitle: 小馆\nrooms:\n  - id: box\n    title: 小屋\n    size: [2, 2, 3]\n"
        "    exhibits:\n      - {kind: model, id: m, title: 模型, generator: {name: rock}, at: [0, 0], "
        "footprint: [1, 1]}\n"
    )
    (project / "halls" / "tiny.yaml").write_text(hall, encoding="utf-8")
    for kind in ("diorama", "media"):
        assert run(["exhibit", "tiny", "--kind", kind, "--room", "box", "--id", "x", "--root", str(project)]) == 1
        assert capsys.readouterr().err.startswith(f"halls new: no free spot for a {kind} in room 'box'")
    assert (project / "halls" / "tiny.yaml").read_text(encoding="utf-8") == hall
    assert not (project / "assets" / "tiny" / "x.png").exists()


def test_missing_media_asset_is_an_error(project, capsys):
    argv = ["exhibit", "alpha", "--kind", "media", "--room", "gallery", "--id", "x", "--asset", "assets/no.png"]
    assert run(argv + ["--root", str(project)]) == 1
    assert "no such asset 'assets/no.png'" in capsys.readouterr().err
