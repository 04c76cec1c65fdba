"""Validate stage: a valid hall passes; every kind of author error gets its exact, plain message.

Most cases are rows of a table: a hall file (YAML text) and the exact diagnostics `check` must print for it,
each as `file:line:col: path: message`. The helpers below build the common halls and say on which line
their variable part starts, so a row's line numbers can be read off.
"""

from __future__ import annotations

import time
from pathlib import Path
from textwrap import dedent, indent

import pytest

from scenes.load import load_document
from scenes.model import Hall
from scenes.validate import ValidateOptions, check_file, list_assets, validate_hall

HALLS = Path(__file__).parent / "halls"


def check(tmp_path: Path, text: str, *, name: str = "demo", assets=(), known_halls=frozenset(), **limits) -> list[str]:
    """Rendered diagnostics for a hall file written from `text` (dedented) to halls/<name>.yaml.

    Also checks that a hall comes back exactly when no diagnostic is an error. `limits` are other
    ValidateOptions fields, like max_rooms.
    """
    path = tmp_path / "halls" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")
    options = ValidateOptions(
        root=tmp_path,
        assets_dir=tmp_path / "assets",
        known_halls=frozenset(known_halls),
        asset_files=frozenset(assets),
        **limits,
    )
    hall, diagnostics = check_file(path, options)
    assert (hall is None) == any(d.severity == "error" for d in diagnostics)
    return [str(d) for d in diagnostics]


def case(case_id: str, text: str, *expected: str, **options):
    """One table row: the hall text, the exact diagnostics expected (none: it passes), and `check` options."""
    return pytest.param(text, list(expected), options, id=case_id)


# --- halls to put a case in ----------------------------------------------------------------------


def one_exhibit(exhibit: str, size: str = "[10, 8, 4]") -> str:
    """A one-room hall ('hall', 10 x 8 unless `size` says otherwise); the exhibit's first line is line 8."""
    head = f"id: demo\ntitle: 演示\nrooms:\n  - id: hall\n    title: 大厅\n    size: {size}\n    exhibits:\n"
    return head + indent(dedent(exhibit), " " * 6)


def panel(*lines: str) -> str:
    """One exhibit: panel 'intro' (lines 8-11: kind, id, title, text) and then `lines`, from line 12."""
    head = "- kind: panel\n  id: intro\n  title: 前言\n  text: 正文\n"
    return one_exhibit(head + "".join(f"  {line}\n" for line in lines))


def model_with_asset(asset: str) -> str:
    """One exhibit: model 'lamp' whose asset is on line 11, column 16."""
    return one_exhibit(f"""\
          - kind: model
            id: lamp
            title: 矿灯
            asset: {asset}
            at: [0, 0]
    """)


def checkpoint(questions: str) -> str:
    """One exhibit: checkpoint 'quiz' whose questions start on line 13."""
    return one_exhibit("""\
          - kind: checkpoint
            id: quiz
            title: 小测验
            at: [0, 0]
            questions:
    """) + indent(dedent(questions), " " * 10)


def two_rooms(doorways: str, second: str = "", first: str = "") -> str:
    """Rooms 'hall' (10 x 8, at the origin) and 'annex' (6 x 8, east of it).

    `first` goes after hall's size (line 7), then hall's doorways from the next line (line 8 without
    `first`), then annex (line 9 + the doorway lines), then `second` after annex's size.
    """
    return (
        "id: demo\ntitle: 演示\nrooms:\n  - id: hall\n    title: 大厅\n    size: [10, 8, 4]\n"
        + first
        + "    doorways:\n"
        + doorways
        + "  - id: annex\n    title: 侧厅\n    size: [6, 8, 4]\n"
        + second
    )


# --- valid halls -----------------------------------------------------------------------------


def test_check_accepts_the_valid_fixture_hall_with_no_diagnostics():
    root = HALLS / "valid"
    options = ValidateOptions(root=root, assets_dir=root / "assets", known_halls=frozenset({"museum", "lobby"}))
    hall, diagnostics = check_file(root / "halls" / "museum.yaml", options)
    assert diagnostics == []
    assert isinstance(hall, Hall)
    assert [room.id for room in hall.rooms] == ["foyer", "gallery", "garden"]
    assert hall.rooms[0].exhibits[2].kind == "checkpoint"


def test_check_lists_assets_as_authors_write_them():
    root = HALLS / "valid"
    assert list_assets(root / "assets", root) == frozenset(
        {"assets/images/flag.png", "assets/models/lamp.glb", "assets/audio/march.wav"}
    )


def test_validate_checks_its_arguments_early(tmp_path):
    options = ValidateOptions(root=tmp_path, assets_dir=tmp_path / "assets")
    with pytest.raises(TypeError, match="^validate: expected a scenes.load.Document, got dict"):
        validate_hall({"id": "x"}, options)


# --- schema errors -----------------------------------------------------------------------------

SCHEMA_ERRORS = [
    case(
        "load_error_as_a_diagnostic",
        "- a\n- b\n",
        "halls/demo.yaml:1:1: a hall file must be a mapping of keys like 'id:' and 'rooms:', found a list",
    ),
    case(
        "unknown_key_with_suggestion",
        one_exhibit("""\
            - kind: panel
              id: intro
              titel: 前言
              text: 正文
              at: [0, 0]
        """),
        "halls/demo.yaml:8:9: rooms[0].exhibits[0].title: missing required field 'title'",
        "halls/demo.yaml:10:9: rooms[0].exhibits[0].titel: unknown key 'titel' (did you mean 'title'?)",
    ),
    case(
        "unknown_top_level_key",
        "id: demo\ntitle: 演示\nroms: []\nrooms:\n  - {id: hall, title: 大厅}\n",
        "halls/demo.yaml:3:1: roms: unknown key 'roms' (did you mean 'rooms'?)",
    ),
    case(
        "missing_field",
        one_exhibit("""\
            - kind: checkpoint
              id: quiz
              title: 小测验
              at: [0, 0]
        """),
        "halls/demo.yaml:8:9: rooms[0].exhibits[0].questions: missing required field 'questions'",
    ),
    case(
        "wrong_type_for_a_number",
        "id: demo\ntitle: 演示\norder: abc\nrooms:\n  - {id: hall, title: 大厅}\n",
        "halls/demo.yaml:3:8: order: expected a whole number, got 'abc'",
    ),
    case(
        "wrong_type_inside_a_point",
        panel("at: [abc, 0]"),
        "halls/demo.yaml:12:14: rooms[0].exhibits[0].at[0]: expected a number, got 'abc'",
    ),
    case(
        "a_point_with_the_wrong_count",
        panel("at: [1, 2, 3]"),
        "halls/demo.yaml:12:13: rooms[0].exhibits[0].at: expected a list of 2 numbers, got 3",
    ),
    case(
        "bad_exhibit_kind_with_suggestion",
        one_exhibit("- kind: pannel\n  id: intro\n"),
        "halls/demo.yaml:8:15: rooms[0].exhibits[0].kind: unknown exhibit kind 'pannel' (did you mean 'panel'?); "
        "kinds: checkpoint, diorama, media, model, panel",
    ),
    case(
        "missing_exhibit_kind",
        one_exhibit("- id: intro\n  title: 前言\n"),
        "halls/demo.yaml:8:9: rooms[0].exhibits[0].kind: missing required field 'kind' "
        "(one of: checkpoint, diorama, media, model, panel)",
    ),
    case(
        "bad_slug_with_suggestion",
        "id: demo\ntitle: 演示\nrooms:\n  - id: Main Hall\n    title: 大厅\n",
        "halls/demo.yaml:4:9: rooms[0].id: 'Main Hall' is not a valid id: use lowercase letters a-z, digits and '-', "
        "like 'red-hall' (did you mean 'main-hall'?)",
    ),
    case(
        "a_number_where_text_is_expected",
        "id: 2021\ntitle: 演示\nrooms:\n  - {id: hall, title: 大厅}\n",
        "halls/demo.yaml:1:5: id: expected text, got 2021; put it in quotes: '2021'",
    ),
    case(
        "bad_colour",
        "id: demo\ntitle: 演示\ntheme:\n  primary: red\nrooms:\n  - {id: hall, title: 大厅}\n",
        "halls/demo.yaml:4:12: theme.primary: 'red' is not a colour: write '#rrggbb' in quotes, like '#b22222'",
    ),
    case(
        "unquoted_colour_read_as_a_comment",
        "id: demo\ntitle: 演示\ntheme:\n  primary: #b22222\nrooms:\n  - {id: hall, title: 大厅}\n",
        "halls/demo.yaml:4:11: theme.primary: the colour is empty: put it in quotes, like '#b22222' "
        "(an unquoted '#' starts a comment)",
    ),
    case(
        "out_of_range_with_both_bounds",
        "id: demo\ntitle: 演示\ntheme:\n  ambient: 3\nrooms:\n  - {id: hall, title: 大厅}\n",
        "halls/demo.yaml:4:12: theme.ambient: out of range: must be at least 0 and at most 1, got 3",
    ),
    case(
        "unknown_choice_with_suggestion",
        panel("wall: nort"),
        "halls/demo.yaml:12:15: rooms[0].exhibits[0].wall: unknown value 'nort' (did you mean 'north'?); "
        "choose one of: north, south, east, west",
    ),
    case(
        "empty_text",
        "id: demo\ntitle: ''\nrooms:\n  - {id: hall, title: 大厅}\n",
        "halls/demo.yaml:2:8: title: text must not be empty",
    ),
    case(
        "a_mapping_where_a_list_is_expected",
        "id: demo\ntitle: 演示\nrooms:\n  id: hall\n  title: 大厅\n",
        "halls/demo.yaml:4:3: rooms: expected a list (start each entry with '- '), got a mapping",
    ),
    case(
        "an_empty_room_list",
        "id: demo\ntitle: 演示\nrooms: []\n",
        "halls/demo.yaml:3:8: rooms: needs at least 1 entry",
    ),
    case(
        "a_wrong_answer_type_once",
        checkpoint("- {id: q1, type: single, prompt: 问, options: [甲, 乙], answer: 5}\n"),
        "halls/demo.yaml:13:72: rooms[0].exhibits[0].questions[0].answer: expected a letter like 'B', "
        "a list of letters like [A, C], or true/false, got 5",
    ),
    case(
        "a_model_rule_at_the_exhibit",
        panel("at: [0, 0]", "wall: north"),
        "halls/demo.yaml:8:9: rooms[0].exhibits[0]: give 'at' or 'wall', not both",
    ),
    case(
        "sizes_that_are_not_positive",
        one_exhibit("""\
            - {kind: panel, id: intro, title: 前言, text: 正文, size: [0, 1], at: [0, 0]}
            - {kind: model, id: rock, title: 石, generator: {name: rock}, footprint: [1, -1], at: [2, 2]}
        """),
        "halls/demo.yaml:8:61: rooms[0].exhibits[0].size: 'size' must be more than 0 in both directions",
        "halls/demo.yaml:9:79: rooms[0].exhibits[1].footprint: 'footprint' must be more than 0 in both directions",
    ),
]


def test_check_reports_every_schema_error_in_one_file():
    root = HALLS / "many-errors"
    options = ValidateOptions(root=root, assets_dir=root / "assets")
    hall, diagnostics = check_file(root / "halls" / "broken.yaml", options)
    assert hall is None
    assert [str(d) for d in diagnostics] == [
        "halls/broken.yaml:2:8: title: text must not be empty",
        "halls/broken.yaml:5:12: theme.primary: 'crimson' is not a colour: write '#rrggbb' in quotes, like '#b22222'",
        "halls/broken.yaml:6:12: theme.ambient: out of range: must be at least 0 and at most 1, got 2",
        "halls/broken.yaml:9:11: rooms[0].size: expected a list of 3 numbers, got 2",
        "halls/broken.yaml:13:9: rooms[0].exhibits[0].titel: unknown key 'titel' (did you mean 'title'?)",
        "halls/broken.yaml:18:15: rooms[0].exhibits[1].kind: unknown exhibit kind 'modle' (did you mean 'model'?); "
        "kinds: checkpoint, diorama, media, model, panel",
        "halls/broken.yaml:20:9: rooms[1].id: 'Second Room' is not a valid id: use lowercase letters a-z, "
        "digits and '-', like 'red-hall' (did you mean 'second-room'?)",
        "halls/broken.yaml:23:40: rooms[1].doorways[0].width: expected a number, got 'wide'",
    ]


# --- semantic checks: ids ------------------------------------------------------------------------

ID_ERRORS = [
    case(
        "hall_id_not_matching_file_name",
        "id: other\ntitle: 演示\nrooms:\n  - {id: hall, title: 大厅}\n",
        "halls/demo.yaml:1:5: id: hall id 'other' does not match the file name 'demo.yaml'; rename one of them",
    ),
    case(
        "duplicate_room_and_exhibit_ids",
        """\
        id: demo
        title: 演示
        rooms:
          - id: hall
            title: 大厅
            doorways: [{to: annex, wall: east}]
            exhibits:
              - {kind: panel, id: intro, title: 前言, text: 正文, at: [-2, 0]}
          - id: annex
            title: 侧厅
            exhibits:
              - {kind: panel, id: intro, title: 前言, text: 正文, at: [2, 0]}
          - id: hall
            title: 重复
            position: [0, 20]
        """,
        "halls/demo.yaml:12:27: rooms[1].exhibits[0].id: duplicate exhibit id 'intro' (first at line 8)",
        "halls/demo.yaml:13:9: rooms[2].id: duplicate room id 'hall' (first at line 4)",
    ),
    case(
        "duplicate_question_ids_within_a_checkpoint",
        checkpoint("""\
            - {id: q1, type: true-false, prompt: 对吗？, answer: true}
            - {id: q1, type: true-false, prompt: 错吗？, answer: false}
        """),
        "halls/demo.yaml:14:18: rooms[0].exhibits[0].questions[1].id: duplicate question id 'q1' (first at line 13)",
    ),
]


# --- semantic checks: assets -----------------------------------------------------------------------

ASSET_ERRORS = [
    case(
        "missing_asset_with_suggestion",
        model_with_asset("assets/lamp.glb"),
        "halls/demo.yaml:11:16: rooms[0].exhibits[0].asset: no such asset 'assets/lamp.glb' (did you "
        "mean 'assets/lamp.gltf'?)",
        assets={"assets/lamp.gltf", "assets/flag.png"},
    ),
    case(
        "asks_for_the_assets_prefix",
        model_with_asset("lamp.glb"),
        "halls/demo.yaml:11:16: rooms[0].exhibits[0].asset: asset paths start with 'assets/': write 'assets/lamp.glb'",
        assets={"assets/lamp.glb"},
    ),
    case(
        "wrong_asset_file_type",
        model_with_asset("assets/lamp.fbx"),
        "halls/demo.yaml:11:16: rooms[0].exhibits[0].asset: 'assets/lamp.fbx' is not a model file; "
        "use .glb, .gltf, .obj, .stl or .ply",
        assets={"assets/lamp.fbx"},
    ),
    case(
        "wrong_image_type_on_a_panel",
        panel("image: assets/intro.mp4", "at: [0, 0]"),
        "halls/demo.yaml:12:16: rooms[0].exhibits[0].image: 'assets/intro.mp4' is not an image file; "
        "use .png, .jpg or .jpeg",
        assets={"assets/intro.mp4"},
    ),
    case(
        "asset_path_with_dot_dot",
        model_with_asset("assets/../halls/demo.glb"),
        "halls/demo.yaml:11:16: rooms[0].exhibits[0].asset: asset path 'assets/../halls/demo.glb' must not "
        "contain '..'",
        assets={"assets/lamp.glb"},
    ),
    case(
        "absolute_asset_path",
        model_with_asset("/etc/lamp.glb"),
        "halls/demo.yaml:11:16: rooms[0].exhibits[0].asset: asset path '/etc/lamp.glb' must be relative to the "
        "project folder, like 'assets/lamp.glb'",
        assets={"assets/lamp.glb"},
    ),
    case(
        "asset_path_with_a_drive_letter",
        model_with_asset("'C:/lamp.glb'"),
        "halls/demo.yaml:11:16: rooms[0].exhibits[0].asset: asset path 'C:/lamp.glb' must be relative to the "
        "project folder, like 'assets/lamp.glb'",
        assets={"assets/lamp.glb"},
    ),
    case(
        "asset_path_with_backslashes",
        model_with_asset("'assets\\lamp.glb'"),
        "halls/demo.yaml:11:16: rooms[0].exhibits[0].asset: use '/' in asset paths, not '\\': 'assets\\lamp.glb'",
        assets={"assets/lamp.glb"},
    ),
]


def test_check_finds_assets_on_disk_when_no_listing_is_given(tmp_path):
    (tmp_path / "assets" / "models").mkdir(parents=True)
    (tmp_path / "assets" / "models" / "lamp.glb").write_bytes((HALLS / "valid/assets/models/lamp.glb").read_bytes())
    path = tmp_path / "halls" / "demo.yaml"
    path.parent.mkdir()
    path.write_text(model_with_asset("assets/models/lamp.glb"), encoding="utf-8")
    options = ValidateOptions(root=tmp_path, assets_dir=tmp_path / "assets")
    hall, diagnostics = validate_hall(load_document(path, root=tmp_path), options)
    assert diagnostics == [] and hall is not None


# --- semantic checks: exhibits in rooms --------------------------------------------------------------

EXHIBIT_PLACEMENT_ERRORS = [
    case(
        "exhibit_outside_its_room",
        one_exhibit("""\
            - kind: model
              id: flag
              title: 旗
              generator: {name: flag}
              at: [4.2, 0]
        """),
        "halls/demo.yaml:12:13: rooms[0].exhibits[0].at: model 'flag' is too close to the east wall of room 'hall' "
        "(keep 0.3 m clear); keep its x between -4 and 4",
    ),
    case(
        "exhibit_too_big_for_its_room",
        one_exhibit("""\
            - kind: diorama
              id: battle
              title: 战斗
              narration: 战斗场面。
              area: [12, 4]
        """),
        "halls/demo.yaml:8:9: rooms[0].exhibits[0].at: diorama 'battle' is too big for room 'hall': it needs 12 x 4 m "
        "of floor, the room has 9 x 7 m clear of its walls",
    ),
    case(
        "mounted_exhibit_past_the_end_of_its_wall",
        panel("wall: north", "along: 4.5"),
        "halls/demo.yaml:13:16: rooms[0].exhibits[0].along: panel 'intro' runs past the end of the north wall; "
        "keep 'along' between -4 and 4",
    ),
    case(
        "mounted_exhibit_wider_than_its_wall",
        one_exhibit("""\
            - kind: media
              id: film
              title: 影片
              asset: assets/film.mp4
              size: [8, 3]
              wall: east
        """),
        "halls/demo.yaml:8:9: rooms[0].exhibits[0].along: media 'film' is 8 m wide but the east wall "
        "is only 7.6 m long inside",
        assets={"assets/film.mp4"},
    ),
    case(
        "overlapping_exhibits",
        one_exhibit("""\
            - {kind: model, id: a, title: 甲, generator: {name: rock}, at: [0, 0], footprint: [2, 2]}
            - {kind: model, id: b, title: 乙, generator: {name: rock}, at: [1.2, 0.5]}
            - {kind: checkpoint, id: c, title: 丙, at: [3, 3], radius: 1,
               questions: [{id: q, type: true-false, prompt: 对, answer: true}]}
        """),
        "halls/demo.yaml:9:9: rooms[0].exhibits[1]: model 'b' overlaps model 'a' (line 8); move them apart",
        "halls/demo.yaml:10:49: rooms[0].exhibits[2].at: checkpoint 'c' is too close to the north wall of room 'hall' "
        "(keep 0.3 m clear); keep its y between -2.5 and 2.5",
    ),
    case(
        "mounted_exhibit_covering_a_doorway",
        """\
        id: demo
        title: 演示
        rooms:
          - id: hall
            title: 大厅
            size: [10, 8, 4]
            doorways:
              - {to: annex, wall: east, along: 1}
            exhibits:
              - {kind: panel, id: intro, title: 前言, text: 正文, wall: east, along: 2}
          - id: annex
            title: 侧厅
            size: [6, 8, 4]
            exhibits:
              - {kind: panel, id: notice, title: 须知, text: 正文, wall: west, along: 1.5}
        """,
        "halls/demo.yaml:10:74: rooms[0].exhibits[0].along: panel 'intro' covers the doorway to "
        "'annex' in the east wall; move 'along'",
        "halls/demo.yaml:15:75: rooms[1].exhibits[0].along: panel 'notice' covers the doorway from "
        "'hall' in the west wall; move 'along'",
    ),
    case(
        "diorama_figure_outside_its_area",
        one_exhibit("""\
            - kind: diorama
              id: march
              title: 行军
              narration: 红军行军。
              area: [6, 4]
              figures:
                - {at: [4, 0]}
        """),
        "halls/demo.yaml:14:18: rooms[0].exhibits[0].figures[0].at: stands outside the diorama's 6 x 4 m area; "
        "keep x between -3 and 3, y between -2 and 2",
    ),
]


# --- semantic checks: rooms and doorways -------------------------------------------------------------------

ROOM_AND_DOORWAY_ERRORS = [
    case(
        "doorway_to_unknown_room_with_suggestion",
        two_rooms("      - {to: anex, wall: east}\n      - {to: annex, wall: east, along: 2}\n"),
        "halls/demo.yaml:8:14: rooms[0].doorways[0].to: doorway to unknown room 'anex' (did you mean 'annex'?)",
    ),
    case(
        "doorway_to_unknown_hall_with_suggestion",
        two_rooms("      - {to: 'hall:sfety', wall: west}\n      - {to: annex, wall: east}\n"),
        "halls/demo.yaml:8:14: rooms[0].doorways[0].to: doorway to unknown hall 'sfety' (did you mean 'safety'?)",
        known_halls={"demo", "safety", "lobby"},
    ),
    case(
        "hall_prefix_hint_for_a_hall_id_used_as_a_room",
        two_rooms("      - {to: lobby, wall: west}\n      - {to: annex, wall: east}\n"),
        "halls/demo.yaml:8:14: rooms[0].doorways[0].to: doorway to unknown room 'lobby'; "
        "to lead to the hall 'lobby', write 'hall:lobby'",
        known_halls={"demo", "lobby"},
    ),
    case(
        "rooms_not_sharing_the_doorway_wall",
        two_rooms("      - {to: annex, wall: north}\n"),
        "halls/demo.yaml:8:27: rooms[0].doorways[0].wall: rooms 'hall' and 'annex' do not share the north wall "
        "of 'hall'; check 'wall' or the rooms' 'position'",
    ),
    case(
        "doorway_past_the_shared_part_of_the_wall",
        two_rooms("      - {to: annex, wall: east}\n", second="    position: [8, 5]\n"),
        "halls/demo.yaml:8:9: rooms[0].doorways[0].along: doorway runs past the wall shared with room 'annex'; "
        "keep 'along' between 2 and 3",
    ),
    case(
        "doorway_wider_than_its_wall",
        two_rooms("      - {to: annex, wall: east, width: 8}\n"),
        "halls/demo.yaml:8:40: rooms[0].doorways[0].width: doorway is 8 m wide but the east wall is "
        "only 7.6 m long inside",
    ),
    case(
        "doorway_past_the_end_of_its_wall",
        two_rooms("      - {to: 'hall:lobby', wall: north, along: 4.5}\n      - {to: annex, wall: east}\n"),
        "halls/demo.yaml:8:48: rooms[0].doorways[0].along: doorway runs past the end of the north wall; "
        "keep 'along' between -4 and 4",
    ),
    case(
        "overlapping_doorways_on_one_wall",
        two_rooms("      - {to: annex, wall: east}\n      - {to: 'hall:lobby', wall: east, along: 1}\n"),
        "halls/demo.yaml:9:9: rooms[0].doorways[1]: doorway overlaps the doorway to 'annex' in the "
        "east wall of room 'hall'",
    ),
    case(
        "a_shared_opening_declared_twice",
        two_rooms("      - {to: annex, wall: east}\n", second="    doorways:\n      - {to: hall, wall: west}\n"),
        "halls/demo.yaml:13:9: rooms[1].doorways[0]: this opening is also declared in room 'hall' (line 8); "
        "declare each shared opening once",
    ),
    case(
        "room_unreachable_from_the_first",
        two_rooms("      - {to: 'hall:lobby', wall: west}\n"),
        "halls/demo.yaml:9:5: rooms[1]: room 'annex' cannot be reached from the first room 'hall'; add a doorway",
    ),
    case(
        "overlapping_rooms",
        two_rooms("      - {to: annex, wall: east}\n", second="    position: [4, 0]\n"),
        "halls/demo.yaml:8:27: rooms[0].doorways[0].wall: rooms 'hall' and 'annex' do not share the east wall of "
        "'hall'; check 'wall' or the rooms' 'position'",
        "halls/demo.yaml:9:5: rooms[1]: room 'annex' overlaps room 'hall' (line 4); change 'position' or 'size'",
    ),
    case(
        "spawn_outside_the_first_room_and_spawn_elsewhere",
        two_rooms("      - {to: annex, wall: east}\n", second="    spawn: [0, 0]\n", first="    spawn: [6, 0]\n"),
        "halls/demo.yaml:7:12: rooms[0].spawn: spawn point is outside room 'hall'; keep x between -4.5 and 4.5, "
        "y between -3.5 and 3.5",
        "halls/demo.yaml:13:12: warning: rooms[1].spawn: 'spawn' is only used in the first room; members start there",
    ),
    # Only a warning: `check` also asserts that the hall passes.
    case(
        "passes_with_only_a_warning",
        two_rooms("      - {to: annex, wall: east}\n", second="    spawn: [0, 0]\n"),
        "halls/demo.yaml:12:12: warning: rooms[1].spawn: 'spawn' is only used in the first room; members start there",
    ),
    case(
        "too_many_doorways",
        two_rooms("      - {to: annex, wall: east}\n      - {to: 'hall:lobby', wall: west}\n"),
        "halls/demo.yaml:9:9: rooms[0].doorways[1]: too many doorways: 2 in this hall (the limit is 1)",
        max_doorways=1,
    ),
]


# --- semantic checks: quizzes --------------------------------------------------------------------

QUIZ_ERRORS = [
    case(
        "checkpoint_without_questions",
        one_exhibit("""\
            - kind: checkpoint
              id: quiz
              title: 小测验
              at: [0, 0]
              questions: []
        """),
        "halls/demo.yaml:12:20: rooms[0].exhibits[0].questions: a checkpoint needs at least one question",
    ),
    case(
        "single_choice_answer_not_among_the_options",
        checkpoint("""\
            - {id: q1, type: single, prompt: 问, options: [甲, 乙, 丙], answer: D}
            - {id: q2, type: single, prompt: 问, options: [甲, 乙], answer: b}
            - {id: q3, type: single, prompt: 问, options: [甲, 乙], answer: [A]}
        """),
        "halls/demo.yaml:13:75: rooms[0].exhibits[0].questions[0].answer: answer 'D' is not one of the options A to C",
        "halls/demo.yaml:14:72: rooms[0].exhibits[0].questions[1].answer: answer 'b' is not one of the options A to B "
        "(did you mean 'B'?)",
        "halls/demo.yaml:15:72: rooms[0].exhibits[0].questions[2].answer: the answer of a single-choice question is "
        "one letter, like 'B', got a list",
    ),
    case(
        "multiple_choice_answer_problems",
        checkpoint("""\
            - {id: q1, type: multiple, prompt: 问, options: [甲, 乙, 丙], answer: [A, A]}
            - {id: q2, type: multiple, prompt: 问, options: [甲, 乙, 丙], answer: [A, E]}
            - {id: q3, type: multiple, prompt: 问, options: [甲, 乙, 丙], answer: []}
            - {id: q4, type: multiple, prompt: 问, options: [甲, 乙, 丙], answer: A}
        """),
        "halls/demo.yaml:13:81: rooms[0].exhibits[0].questions[0].answer[1]: answer lists 'A' twice",
        "halls/demo.yaml:14:81: rooms[0].exhibits[0].questions[1].answer[1]: answer 'E' is not one "
        "of the options A to C",
        "halls/demo.yaml:15:77: rooms[0].exhibits[0].questions[2].answer: the answer of a multiple-choice question is "
        "a list of letters, like [A, C], got a list",
        "halls/demo.yaml:16:77: rooms[0].exhibits[0].questions[3].answer: the answer of a multiple-choice question is "
        "a list of letters, like [A, C], got 'A'",
    ),
    case(
        "true_false_problems",
        checkpoint("""\
            - {id: q1, type: true-false, prompt: 对吗, options: [对, 错], answer: true}
            - {id: q2, type: true-false, prompt: 对吗, answer: 'true'}
        """),
        "halls/demo.yaml:13:61: rooms[0].exhibits[0].questions[0].options: a true-false question has no options; "
        "remove 'options'",
        "halls/demo.yaml:14:60: rooms[0].exhibits[0].questions[1].answer: the answer of a true-false question is "
        "true or false, got 'true'",
    ),
    case(
        "choice_question_with_fewer_than_two_options",
        checkpoint("- {id: q1, type: single, prompt: 问, options: [甲], answer: A}\n"),
        "halls/demo.yaml:13:56: rooms[0].exhibits[0].questions[0].options: a single-choice question "
        "needs at least 2 options",
    ),
]


# --- semantic checks: panel text ------------------------------------------------------------------------

PARTY_LINE = "坚持党的领导、加强党的建设，是国有企业的光荣传统。"

PANEL_TEXT_CASES = [
    case(
        "text_too_long_for_its_panel",
        one_exhibit(f"""\
            - kind: panel
              id: intro
              title: 前言
              text: {PARTY_LINE * 40}
              at: [0, 0]
        """),
        "halls/demo.yaml:11:15: rooms[0].exhibits[0].text: text does not fit on a 1.6 x 1.1 m panel; "
        "shorten it or enlarge 'size'",
    ),
    case(
        "long_text_on_a_large_enough_panel_passes",
        one_exhibit(f"""\
            - kind: panel
              id: intro
              title: 前言
              text: {PARTY_LINE * 8}
              size: [2.4, 1.6]
              at: [0, 0]
        """),
    ),
    case(
        "panel_text_over_the_character_limit",
        one_exhibit(
            f"""\
            - kind: panel
              id: intro
              title: 前言
              text: {"长" * 1501}
              size: [20, 3]
              wall: north
        """,
            size="[24, 8, 4]",
        ),
        "halls/demo.yaml:11:15: rooms[0].exhibits[0].text: text is too long for one panel: 1501 characters "
        "(the limit is 1500); split it over several panels",
    ),
]


# --- every row of the tables above: its hall prints exactly its diagnostics ------------------------


@pytest.mark.parametrize(
    "text, expected, options",
    [
        *SCHEMA_ERRORS,
        *ID_ERRORS,
        *ASSET_ERRORS,
        *EXHIBIT_PLACEMENT_ERRORS,
        *ROOM_AND_DOORWAY_ERRORS,
        *QUIZ_ERRORS,
        *PANEL_TEXT_CASES,
    ],
)
def test_check_reports_exactly_these_diagnostics(tmp_path, text, expected, options):
    assert check(tmp_path, text, **options) == expected


# --- semantic checks: budgets ---------------------------------------------------------------------------


def test_check_reports_budget_overruns(tmp_path):
    rooms = "".join(f"  - id: r{i}\n    title: 展厅\n    position: [{i * 20}, 0]\n" for i in range(3))
    diagnostics = check(tmp_path, "id: demo\ntitle: 演示\nrooms:\n" + rooms, max_rooms=2)
    assert "halls/demo.yaml:10:5: rooms[2]: too many rooms: 3 (the limit is 2 per hall); split the hall" in diagnostics


def test_check_reports_too_much_panel_text_in_a_hall(tmp_path):
    panels = "".join(f"  - {{kind: panel, id: p{i}, title: 题, text: {'字' * 1000}, wall: north}}\n" for i in range(31))
    text = "id: demo\ntitle: 演示\nrooms:\n" + "".join(
        f"  - id: r{i}\n    title: 厅\n    position: [{i * 20}, 0]\n    exhibits:\n  {panels.splitlines()[i]}\n"
        for i in range(31)
    )
    diagnostics = check(tmp_path, text)
    expected = "halls/demo.yaml:4:3: rooms: too much panel text: 31031 characters in this hall (the limit is 30000)"
    assert expected in diagnostics
    assert not any("does not fit" in d for d in diagnostics)


def test_check_stops_early_and_quickly_on_a_hall_far_over_budget(tmp_path):
    room = "  - id: room-{i}\n    title: 展厅\n    doorways: [{{to: room-{j}, wall: east}}]\n"
    rooms = "".join(room.format(i=i, j=i + 1) for i in range(8000))
    started = time.perf_counter()
    diagnostics = check(tmp_path, "id: demo\ntitle: 演示\nrooms:\n" + rooms)
    # only a guard against checking all 8000 rooms (minutes); the speed itself is a benchmark's business
    assert time.perf_counter() - started < 60.0
    assert diagnostics == [
        "halls/demo.yaml:124:5: rooms[40]: too many rooms: 8000 (the limit is 40 per hall); split the hall",
        "halls/demo.yaml:606:16: rooms[200].doorways[0]: too many doorways: 8000 in this hall (the limit is 200)",
    ]


# --- several errors at once --------------------------------------------------------------------


def test_check_reports_every_semantic_error_in_one_file():
    root = HALLS / "semantic-errors"
    options = ValidateOptions(root=root, assets_dir=root / "assets", known_halls=frozenset({"gallery", "lobby"}))
    hall, diagnostics = check_file(root / "halls" / "gallery.yaml", options)
    assert hall is None
    assert [str(d) for d in diagnostics] == [
        "halls/gallery.yaml:9:14: rooms[0].doorways[0].to: doorway to unknown hall 'loby' (did you mean 'lobby'?)",
        "halls/gallery.yaml:14:16: rooms[0].exhibits[0].image: no such asset 'assets/images/flag.jpg' "
        "(did you mean 'assets/images/flag.png'?)",
        "halls/gallery.yaml:21:13: rooms[0].exhibits[1].at: model 'lamp' is too close to the south wall of room "
        "'foyer' (keep 0.3 m clear); keep its y between -3 and 3",
        "halls/gallery.yaml:23:13: rooms[0].exhibits[2].id: duplicate exhibit id 'intro' (first at line 12)",
        "halls/gallery.yaml:28:5: rooms[1]: room 'store' cannot be reached from the first room 'foyer'; add a doorway",
        "halls/shared/quiz.yaml:8:14: rooms[0].exhibits[3].questions[0].answer: answer 'C' is not one of the "
        "options A to B",
    ]


def test_check_reports_unknown_generator_param_with_known_list(tmp_path):
    (tmp_path / "halls").mkdir()
    (tmp_path / "assets").mkdir()
    path = tmp_path / "halls" / "gen.yaml"
    path.write_text(
        "id: gen\n"
        "title: 生成\n"
        "rooms:\n"
        "  - id: main\n"
        "    title: 主厅\n"
        "    exhibits:\n"
        "      - kind: model\n"
        "        id: flag\n"
        "        title: 旗帜\n"
        "        at: [0, 0]\n"
        "        generator: {name: flag, params: {wdth: 2}}\n",
        encoding="utf-8",
    )
    hall, diagnostics = validate_hall(
        load_document(path, root=tmp_path), ValidateOptions(root=tmp_path, assets_dir=tmp_path / "assets")
    )
    assert hall is None
    assert [str(d) for d in diagnostics] == [
        "halls/gen.yaml:11:41: rooms[0].exhibits[0].generator.params: flag: unknown param 'wdth' "
        "(known: colour, ground, height, pole, scale, width)"
    ]
