"""Load stage: data and marks from YAML, and one clear diagnostic for each kind of bad file.

The bad files are rows of tables: the files written to halls/ (the first one is loaded) and the exact
diagnostics loading must raise, each as `file:line:col: path: message`.
"""

from __future__ import annotations

import codecs
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import pytest

from scenes.diagnostics import AuthorErrors, Diagnostic, did_you_mean
from scenes.load import Document, LoadOptions, load_document


def write(root: Path, name: str, content: str | bytes) -> Path:
    path = root / "halls" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


DEFAULTS = LoadOptions()


def errors_of(path: Path, root: Path, options: LoadOptions = DEFAULTS) -> list[str]:
    with pytest.raises(AuthorErrors) as caught:
        load_document(path, root=root, options=options)
    return [str(d) for d in caught.value.diagnostics]


@contextmanager
def quick_and_small(seconds: float = 20.0, megabytes: float = 32.0):
    """Fail when the block allocates more than `megabytes` at peak, or hangs (`seconds`: a guard, not a speed:
    timings belong in bench/, and a loaded 2-core CI machine runs this many times slower than a quiet one)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert peak < megabytes * 2**20, f"peak memory {peak / 2**20:.1f} MB"


def load_errors(root: Path, files: dict[str, str | bytes], options: LoadOptions = DEFAULTS) -> list[str]:
    """Write `files` into halls/, load the first one and return its diagnostics; loading must be quick and small."""
    first, *_ = [write(root, name, content) for name, content in files.items()]
    with quick_and_small():
        return errors_of(first, root, options)


def case(case_id: str, files: dict[str, str | bytes], *expected: str, options: LoadOptions = DEFAULTS):
    """One table row: the files (the first is loaded), the exact diagnostics expected, and the load options."""
    return pytest.param(files, list(expected), options, id=case_id)


# --- diagnostics --------------------------------------------------------------------


def test_diagnostic_renders_like_a_compiler_error():
    diagnostic = Diagnostic(
        "halls/red.yaml",
        12,
        7,
        "rooms[0].exhibits[2].asset",
        "no such asset 'assets/lamp.glb' (did you mean 'assets/lamp.gltf'?)",
    )
    assert str(diagnostic) == (
        "halls/red.yaml:12:7: rooms[0].exhibits[2].asset: no such asset 'assets/lamp.glb' "
        "(did you mean 'assets/lamp.gltf'?)"
    )
    assert diagnostic.to_json() == {
        "file": "halls/red.yaml",
        "line": 12,
        "column": 7,
        "path": "rooms[0].exhibits[2].asset",
        "message": "no such asset 'assets/lamp.glb' (did you mean 'assets/lamp.gltf'?)",
        "severity": "error",
    }


def test_diagnostic_without_path_omits_its_colon_and_warnings_say_so():
    assert str(Diagnostic("halls/red.yaml", 1, 1, "", "the file is empty")) == "halls/red.yaml:1:1: the file is empty"
    warning = Diagnostic("halls/red.yaml", 3, 5, "rooms[1].spawn", "unused", "warning")
    assert str(warning) == "halls/red.yaml:3:5: warning: rooms[1].spawn: unused"


def test_did_you_mean_suggests_only_close_words():
    assert did_you_mean("titel", ["title", "text", "id"]) == " (did you mean 'title'?)"
    assert did_you_mean("Title", ["title"]) == " (did you mean 'title'?)"
    assert did_you_mean("zzz", ["title", "text"]) == ""


def test_author_errors_are_sorted_by_position_and_listed_in_the_message():
    late = Diagnostic("halls/a.yaml", 9, 1, "", "late")
    early = Diagnostic("halls/a.yaml", 2, 3, "", "early")
    errors = AuthorErrors([late, early])
    assert errors.diagnostics == [early, late]
    assert str(errors) == "halls/a.yaml:2:3: early\nhalls/a.yaml:9:1: late"


# --- good files -----------------------------------------------------------------------


def test_load_builds_plain_data_with_marks_for_values_and_keys(tmp_path):
    text = (
        "id: red\ntitle: 红色屯兰\norder: 10\nrooms:\n  - id: foyer\n    size: [12, 10.5, 4]\n"
        "    open: yes\n    note: ~\n    when: 2021-07-01\n    quoted: '10'\n"
    )
    path = write(tmp_path, "red.yaml", text)
    doc = load_document(path, root=tmp_path)
    assert isinstance(doc, Document)
    assert doc.file == "halls/red.yaml"
    assert doc.data == {
        "id": "red",
        "title": "红色屯兰",
        "order": 10,
        "rooms": [
            {"id": "foyer", "size": [12, 10.5, 4], "open": True, "note": None, "when": "2021-07-01", "quoted": "10"}
        ],
    }
    assert doc.marks[()] == ("halls/red.yaml", 1, 1)
    assert doc.marks[("title",)] == ("halls/red.yaml", 2, 8)
    assert doc.marks[("rooms", 0, "id")] == ("halls/red.yaml", 5, 9)
    assert doc.marks[("rooms", 0, "size", 1)] == ("halls/red.yaml", 6, 16)
    assert doc.key_marks[("rooms", 0, "size")] == ("halls/red.yaml", 6, 5)
    assert doc.mark(("rooms", 0, "missing", 3)) == ("halls/red.yaml", 5, 5)
    assert doc.key_mark(("rooms", 0, "id")) == ("halls/red.yaml", 5, 5)


def test_load_accepts_a_utf8_byte_order_mark(tmp_path):
    path = write(tmp_path, "red.yaml", codecs.BOM_UTF8 + "id: red\ntitle: 红\n".encode())
    assert load_document(path, root=tmp_path).data == {"id": "red", "title": "红"}


def test_load_reads_a_large_valid_file_quickly(tmp_path):
    rooms = "".join(f"  - id: room-{i}\n    title: 展厅{i}\n    size: [12, 10, 4]\n" for i in range(12000))
    path = write(tmp_path, "big.yaml", "id: big\ntitle: 大\nrooms:\n" + rooms)
    assert path.stat().st_size < LoadOptions().max_bytes
    started = time.perf_counter()
    doc = load_document(path, root=tmp_path)
    assert time.perf_counter() - started < 30.0  # a guard against quadratic work, not a speed target
    assert len(doc.data["rooms"]) == 12000


# --- adversarial files: one clear diagnostic each, quickly ----------------------------------


def billion_laughs() -> str:
    """Nine levels of anchors, each a list of nine aliases of the one before: 9**9 strings if expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        previous, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    return "\n".join(lines) + "\n"


EMPTY = "the file is empty; a hall file starts with keys like 'id:' and 'title:'"
NOT_A_MAPPING = "a hall file must be a mapping of keys like 'id:' and 'rooms:', found"

ADVERSARIAL_FILES = [
    case(
        "billion_laughs_at_the_first_anchor",
        {"laughs.yaml": billion_laughs()},
        "halls/laughs.yaml:1:4: a: anchors and aliases (&name, *name) are not allowed; use include",
    ),
    case(
        "an_alias",
        {"alias.yaml": "id: red\ntitle: x\nintro: *x\n"},
        "halls/alias.yaml:3:8: intro: anchors and aliases (&name, *name) are not allowed; use include",
    ),
    case(
        "10k_deep_nesting_without_recursion",
        {"deep.yaml": "a: " + "[" * 10000 + "]" * 10000 + "\n"},
        "halls/deep.yaml:1:1003: a[0]: nesting is too deep: more than 40 levels of lists and mappings",
    ),
    case(
        "nesting_just_over_the_limit_at_its_place",
        {"deep.yaml": "a: " + "[" * 41 + "]" * 41 + "\n"},
        "halls/deep.yaml:1:43: a" + "[0]" * 39 + ": nesting is too deep: more than 40 levels of lists and mappings",
    ),
    case(
        "deep_block_nesting",
        {"deep.yaml": "".join(" " * i + f"k{i}:\n" for i in range(60))},
        "halls/deep.yaml:6:6: k0.k1.k2.k3.k4: nesting is too deep: more than 5 levels of lists and mappings",
        options=LoadOptions(max_depth=5),
    ),
    case(
        "a_binary_file",
        {"picture.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 100},
        "halls/picture.yaml:1:1: this is a binary file, not YAML text",
    ),
    case(
        "names_the_first_byte_that_is_not_utf8",
        {"gbk.yaml": "id: red\ntitle: 红色屯兰\n".encode("gbk")},
        "halls/gbk.yaml:2:8: the file is not UTF-8 text (byte 0xba here); save it as UTF-8",
    ),
    case(
        "counts_columns_in_characters_before_a_bad_byte",
        {"mixed.yaml": "title: 红色".encode() + b"\xff\n"},
        "halls/mixed.yaml:1:10: the file is not UTF-8 text (byte 0xff here); save it as UTF-8",
    ),
    case(
        "asks_for_utf8_instead_of_utf16",
        {"notepad.yaml": "id: red\n".encode("utf-16")},
        "halls/notepad.yaml:1:1: the file is saved as UTF-16; save it as UTF-8",
    ),
    case(
        "control_characters",
        {"ctrl.yaml": "id: red\ntitle: a\x07b\n"},
        "halls/ctrl.yaml:2:9: control character U+0007 is not allowed in YAML text; delete it",
    ),
    case(
        "use_spaces_not_tabs_at_the_tab",
        {"tabs.yaml": "id: red\nrooms:\n  - id: a\n  \ttitle: x\n"},
        "halls/tabs.yaml:4:3: use spaces, not tabs, to indent",
    ),
    case(
        "use_spaces_not_tabs_for_a_tab_indented_line",
        {"tabs.yaml": "id: red\nrooms:\n\t- id: a\n"},
        "halls/tabs.yaml:3:1: use spaces, not tabs, to indent",
    ),
    case(
        "a_top_level_list",
        {"list.yaml": "- id: red\n- id: blue\n"},
        f"halls/list.yaml:1:1: {NOT_A_MAPPING} a list",
    ),
    case(
        "top_level_text",
        {"text.yaml": "红色屯兰\n"},
        f"halls/text.yaml:1:1: {NOT_A_MAPPING} text '红色屯兰'",
    ),
    case("an_empty_file", {"empty.yaml": ""}, f"halls/empty.yaml:1:1: {EMPTY}"),
    case("only_blank_lines", {"empty.yaml": "\n\n"}, f"halls/empty.yaml:1:1: {EMPTY}"),
    case("only_a_comment", {"empty.yaml": "# only a comment\n"}, f"halls/empty.yaml:1:1: {EMPTY}"),
    case("only_a_document_start", {"empty.yaml": "---\n"}, f"halls/empty.yaml:1:1: {EMPTY}"),
    case("only_a_null", {"empty.yaml": "~\n"}, f"halls/empty.yaml:1:1: {EMPTY}"),
]


@pytest.mark.parametrize("files, expected, options", ADVERSARIAL_FILES)
def test_load_rejects_an_adversarial_file_quickly_with_one_clear_diagnostic(tmp_path, files, expected, options):
    assert load_errors(tmp_path, files, options) == expected


def test_load_refuses_a_50_mb_file_before_reading_it(tmp_path):
    path = write(tmp_path, "huge.yaml", b"")
    with path.open("r+b") as stream:
        stream.truncate(50 * 2**20)
    with quick_and_small():
        errors = errors_of(path, tmp_path)
    assert errors == [
        "halls/huge.yaml:1:1: file is too large: 50.0 MB (the limit is 1.0 MB); split it into files joined with include"
    ]


def test_load_reports_a_missing_file(tmp_path):
    assert errors_of(tmp_path / "halls" / "nope.yaml", tmp_path) == ["halls/nope.yaml:1:1: no such file"]


# --- YAML syntax --------------------------------------------------------------------------

YAML_SYNTAX_ERRORS = [
    case(
        "duplicate_key_with_first_line",
        {"dup.yaml": "id: red\n# comment\ntitle: 红\nrooms: []\ntitle: 蓝\n"},
        "halls/dup.yaml:5:1: title: duplicate key 'title' (first at line 3)",
    ),
    case(
        "every_duplicate_key",
        {"dup.yaml": "id: red\nid: blue\nrooms:\n  - id: a\n    id: b\n"},
        "halls/dup.yaml:2:1: id: duplicate key 'id' (first at line 1)",
        "halls/dup.yaml:5:5: rooms[0].id: duplicate key 'id' (first at line 4)",
    ),
    case(
        "an_unclosed_quote_at_its_start",
        {"quote.yaml": 'id: red\ntitle: "红色屯兰\nrooms: []\n'},
        "halls/quote.yaml:2:8: this quoted text is never closed; add the closing quote",
    ),
    case(
        "an_unexpected_colon",
        {"colon.yaml": "id: red\ntitle: 注意: 安全\n"},
        "halls/colon.yaml:2:10: unexpected ':' here; check this line's indentation, or put text "
        "containing ': ' in quotes",
    ),
    case(
        "a_misaligned_line",
        {"indent.yaml": "rooms:\n  - id: a\n    title: b\n   size: [1, 2, 3]\n"},
        "halls/indent.yaml:4:4: this line does not line up with the lines above it; check its indentation",
    ),
    case(
        "an_unclosed_list_at_its_bracket",
        {"flow.yaml": "id: red\nsize: [1, 2\ntitle: x\n"},
        "halls/flow.yaml:2:7: this '[' list is not closed; add ']' or separate the items with ','",
    ),
    case(
        "a_value_starting_with_a_reserved_character",
        {"at.yaml": "id: red\ntitle: @屯兰\n"},
        "halls/at.yaml:2:8: a value cannot start with '@'; put the value in quotes",
    ),
    case(
        "tags",
        {"tag.yaml": "id: red\ntitle: !!python/object:os.system x\n"},
        "halls/tag.yaml:2:8: title: tags like 'tag:yaml.org,2002:python/object:os.system' are not "
        "allowed; write plain values",
    ),
    case(
        "a_second_document",
        {"two.yaml": "id: red\n---\nid: blue\n"},
        "halls/two.yaml:2:1: a hall file holds one YAML document; remove the second '---'",
    ),
    case(
        "non_finite_numbers",
        {"inf.yaml": "id: red\nscale: .inf\n"},
        "halls/inf.yaml:2:8: scale: '.inf' is not a number you can use",
    ),
    case(
        "a_list_as_a_key",
        {"key.yaml": "id: red\n? [a, b]\n: 1\n"},
        "halls/key.yaml:2:3: a key must be a word or text, not a list or mapping",
    ),
]


@pytest.mark.parametrize("files, expected, options", YAML_SYNTAX_ERRORS)
def test_load_explains_yaml_syntax_errors(tmp_path, files, expected, options):
    assert load_errors(tmp_path, files, options) == expected


# --- includes ------------------------------------------------------------------------------


HALL_WITH_INCLUDE = """\
id: red
title: 红色屯兰
rooms:
  - id: foyer
    title: 序厅
    exhibits:
      - include: shared/quiz.yaml
"""

QUIZ = """\
kind: checkpoint
id: quiz
questions:
  - id: q1
    answer: B
"""


def test_load_replaces_an_include_with_the_file_and_marks_point_into_it(tmp_path):
    path = write(tmp_path, "red.yaml", HALL_WITH_INCLUDE)
    write(tmp_path, "shared/quiz.yaml", QUIZ)
    doc = load_document(path, root=tmp_path)
    assert doc.data["rooms"][0]["exhibits"] == [
        {"kind": "checkpoint", "id": "quiz", "questions": [{"id": "q1", "answer": "B"}]}
    ]
    exhibit = ("rooms", 0, "exhibits", 0)
    assert doc.marks[exhibit] == ("halls/shared/quiz.yaml", 1, 1)
    assert doc.marks[exhibit + ("questions", 0, "answer")] == ("halls/shared/quiz.yaml", 5, 13)
    assert doc.key_marks[exhibit + ("id",)] == ("halls/shared/quiz.yaml", 2, 1)
    assert exhibit + ("include",) not in doc.marks


def test_load_includes_a_list_and_nested_includes(tmp_path):
    path = write(tmp_path, "red.yaml", "id: red\nrooms:\n  include: shared/rooms.yaml\n")
    write(tmp_path, "shared/rooms.yaml", "- id: a\n- include: shared/room-b.yaml\n")
    write(tmp_path, "shared/room-b.yaml", "id: b\n")
    doc = load_document(path, root=tmp_path)
    assert doc.data == {"id": "red", "rooms": [{"id": "a"}, {"id": "b"}]}
    assert doc.marks[("rooms", 1, "id")] == ("halls/shared/room-b.yaml", 1, 5)


def red_including(target: str, more: str = "") -> str:
    """halls/red.yaml whose 'intro' includes `target`, written on line 3 from column 12; `more` follows."""
    return f"id: red\nintro:\n  include: {target}\n{more}"


INCLUDE_ERRORS = [
    case(
        "errors_inside_an_included_file_at_their_own_place",
        {"red.yaml": HALL_WITH_INCLUDE, "shared/quiz.yaml": QUIZ + "id: again\n"},
        "halls/shared/quiz.yaml:6:1: id: duplicate key 'id' (first at line 2)",
    ),
    case(
        "suggests_the_file_for_a_missing_include",
        {"red.yaml": HALL_WITH_INCLUDE.replace("quiz", "qiuz"), "shared/quiz.yaml": QUIZ},
        "halls/red.yaml:7:18: rooms[0].exhibits[0].include: no such file to include: 'shared/qiuz.yaml' "
        "(did you mean 'shared/quiz.yaml'?)",
    ),
    case(
        "path_leaving_the_halls_folder",
        {"red.yaml": red_including("'../secret.yaml'")},
        "halls/red.yaml:3:12: intro.include: include path '../secret.yaml' must stay inside the halls folder; "
        "remove '..'",
    ),
    case(
        "absolute_path",
        {"red.yaml": red_including("'/etc/passwd.yaml'")},
        "halls/red.yaml:3:12: intro.include: include path '/etc/passwd.yaml' must be relative to the halls folder, "
        "like 'shared/quiz.yaml'",
    ),
    case(
        "path_with_backslashes",
        {"red.yaml": red_including("'shared\\quiz.yaml'")},
        "halls/red.yaml:3:12: intro.include: use '/' in include paths, not '\\': 'shared\\quiz.yaml'",
    ),
    case(
        "not_a_yaml_file",
        {"red.yaml": red_including("'shared/quiz.txt'")},
        "halls/red.yaml:3:12: intro.include: can only include .yaml files, not 'shared/quiz.txt'",
    ),
    case(
        "an_include_cycle",
        {
            "red.yaml": red_including("shared/a.yaml"),
            "shared/a.yaml": "x:\n  include: shared/b.yaml\n",
            "shared/b.yaml": "y:\n  include: shared/a.yaml\n",
        },
        "halls/shared/b.yaml:2:12: y.include: include cycle: shared/a.yaml -> shared/b.yaml -> shared/a.yaml",
    ),
    case(
        "includes_nested_too_deep",
        {
            "red.yaml": red_including("shared/s1.yaml"),
            **{f"shared/s{i}.yaml": f"x:\n  include: shared/s{i + 1}.yaml\n" for i in range(1, 7)},
            "shared/s7.yaml": "end: 1\n",
        },
        "halls/shared/s4.yaml:2:12: x.include: includes are nested more than 4 deep",
    ),
    case(
        "include_not_standing_alone",
        {"red.yaml": red_including("shared/a.yaml", "  zh: 你好\n"), "shared/a.yaml": "zh: x\n"},
        "halls/red.yaml:3:3: intro.include: 'include' must be the only key in its mapping; "
        "move the other keys into the included file",
    ),
]


@pytest.mark.parametrize("files, expected, options", INCLUDE_ERRORS)
def test_load_reports_include_errors(tmp_path, files, expected, options):
    assert load_errors(tmp_path, files, options) == expected


def test_load_rejects_an_include_through_a_symlink_out_of_the_halls_folder(tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("secret: 1\n")
    path = write(tmp_path, "red.yaml", red_including("shared/link.yaml"))
    (tmp_path / "halls" / "shared").mkdir()
    (tmp_path / "halls" / "shared" / "link.yaml").symlink_to(outside)
    assert errors_of(path, tmp_path) == [
        "halls/red.yaml:3:12: intro.include: include path 'shared/link.yaml' leads outside the halls folder"
    ]


def test_load_checks_its_options_early():
    with pytest.raises(ValueError, match="^load: limits must be positive"):
        load_document(Path("x.yaml"), root=Path("."), options=LoadOptions(max_bytes=0))
