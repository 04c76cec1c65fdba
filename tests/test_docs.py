"""Docs that cannot drift: schema fields, generators, CLI commands, config keys and error messages
are all documented, and the guide's worked example works as written."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re
import shutil
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from scenes.generators import CHOICES, COMMON_PARAMS, DEFAULTS
from scenes.model import Hall
from server.config import config_keys
from tools.cli import _parser, main
from tools.scaffold import add_new_arguments, exhibits_slot, insert_lines

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
GUIDE = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
DOCS = README + "\n" + GUIDE
EXAMPLES = ROOT / "docs" / "examples"


def mentioned(name: str, text: str = DOCS) -> bool:
    """`name` appears as code (`name`) or as a YAML key (name:)."""
    return f"`{name}`" in text or re.search(rf"(?<![\w-]){re.escape(name)}:", text) is not None


# --- schema -----------------------------------------------------------------------------


def schema_models(model: type[BaseModel] = Hall, seen: dict | None = None) -> dict[str, type[BaseModel]]:
    """Every model reachable from `Hall`, by name."""
    seen = {} if seen is None else seen
    if model.__name__ not in seen:
        seen[model.__name__] = model
        for field in model.model_fields.values():
            for inner in _inner_types(field.annotation):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    schema_models(inner, seen)
    return seen


def _inner_types(annotation) -> list:
    found = [annotation]
    for arg in typing.get_args(annotation):
        found += _inner_types(arg)
    return found


def literal_values() -> set[str]:
    """Every choice a schema field offers (exhibit kinds, walls, poses, terrain kinds ...)."""
    values = set()
    for model in schema_models().values():
        for field in model.model_fields.values():
            for inner in _inner_types(field.annotation):
                if typing.get_origin(inner) is typing.Literal:
                    values |= {v for v in typing.get_args(inner) if isinstance(v, str)}
    return values


FIELDS = sorted({(name, field) for name, model in schema_models().items() for field in model.model_fields})


@pytest.mark.parametrize(("model", "field"), FIELDS)
def test_every_schema_field_is_documented(model, field):
    assert mentioned(field, GUIDE), f"{model}.{field} is not in docs/authoring.md"


@pytest.mark.parametrize("value", sorted(literal_values()))
def test_every_schema_choice_is_documented(value):
    assert f"`{value}`" in GUIDE


# --- generators -------------------------------------------------------------------------


@pytest.mark.parametrize(("generator", "param"), [(g, p) for g, params in DEFAULTS.items() for p in [None, *params]])
def test_every_generator_and_param_is_in_the_generator_table(generator, param):
    table = GUIDE[GUIDE.index("### 生成器一览") : GUIDE.index("## 7.")]
    [row] = [line for line in table.splitlines() if line.startswith(f"| `{generator}` |")]
    if param is not None:
        assert f"`{param}`" in row


@pytest.mark.parametrize("param", sorted(COMMON_PARAMS))
def test_common_generator_params_are_documented(param):
    assert f"`{param}`" in GUIDE


@pytest.mark.parametrize(("param", "choice"), [(p, c) for p, choices in CHOICES.items() for c in choices])
def test_every_generator_choice_is_documented(param, choice):
    assert f"`{choice}`" in GUIDE


# --- command line -----------------------------------------------------------------------


def commands(parser: argparse.ArgumentParser, path: str = "halls") -> dict[str, list[str]]:
    """Command path ('halls new hall') -> its option strings, walking every subparser."""
    found = {path: [o for a in parser._actions for o in a.option_strings]}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= commands(sub, f"{path} {name}")
    return found


def cli_commands() -> dict[str, list[str]]:
    found = commands(_parser())
    if "halls new" not in found:  # until `new` is wired into tools/cli.py
        new = argparse.ArgumentParser(prog="halls new")
        add_new_arguments(new)
        found |= commands(new, "halls new")
    return found


@pytest.mark.parametrize(("command", "options"), sorted(cli_commands().items()))
def test_every_cli_command_and_option_is_documented(command, options):
    assert command in DOCS, f"'{command}' is not in README.md or docs/authoring.md"
    missing = [o for o in options if not re.search(rf"{re.escape(o)}(?![\w-])", DOCS)]
    assert missing == [], f"options of '{command}' not documented"


# --- server configuration -----------------------------------------------------------------


def test_every_server_config_key_is_in_the_readme():
    missing = [key for key in config_keys() if f"`{key}`" not in README]
    assert missing == [], "config keys missing from README.md"


# --- error messages -------------------------------------------------------------------


DIAGNOSTIC = re.compile(r"[\w./-]+\.ya?ml:\d+:\d+: (?:warning: )?(?:[\w\[\].]+: )?(.*)")


def messages_in_tests() -> set[str]:
    """The exact messages the load and validate tests expect (every error class has one)."""
    messages = set()
    for name in ("test_load.py", "test_validate.py"):
        tree = ast.parse((ROOT / "tests" / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = DIAGNOSTIC.fullmatch(node.value)
                if match and len(match.group(1).split()) >= 3:
                    messages.add(match.group(1))
    return messages


def documented_patterns() -> list[re.Pattern]:
    """The guide's error table: each first-column message as a pattern (`<...>` matches anything)."""
    table = GUIDE[GUIDE.index("## 17.") :]
    patterns = []
    for line in table.splitlines():
        match = re.match(r"\| `(.+?)` \|", line)
        if not match:
            continue
        text = match.group(1).replace("\\|", "|")
        parts = re.split(r"(<[^>]+>)", text)
        regex = "".join(".*?" if p.startswith("<") and p.endswith(">") else re.escape(p) for p in parts)
        regex = regex.replace(
            re.escape(" (did you mean '") + ".*?" + re.escape("'?)"), "(?: \\(did you mean '.*?'\\?\\))?"
        )
        patterns.append(re.compile(regex))
    return patterns


@pytest.mark.parametrize("message", sorted(messages_in_tests()))
def test_every_error_message_is_in_the_guide_table(message):
    assert any(p.fullmatch(message) for p in documented_patterns()), message


# --- the worked example -----------------------------------------------------------------


def example_section() -> str:
    return GUIDE[GUIDE.index("## 16.") : GUIDE.index("## 17.")]


def code_blocks(text: str, language: str | None = None) -> list[str]:
    """Fenced blocks of `text` (of one language, if given), without their fences."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)
    return [body for lang, body in blocks if language is None or lang == language]


def add_snippet(hall: Path, room: str, snippet: Path) -> None:
    """Paste a step's text at the end of the room's exhibits, as the guide says."""
    text = hall.read_text(encoding="utf-8")
    slot = dataclasses.replace(exhibits_slot(text, room), indent=0)
    hall.write_text(insert_lines(text, slot, snippet.read_text(encoding="utf-8").splitlines()), encoding="utf-8")


def halls(*argv: str) -> int:
    return main(list(argv))


@pytest.fixture
def practice(tmp_path, monkeypatch) -> Path:
    """The guide's step 0: `cp -r docs/examples practice`, run from a scratch folder."""
    [step0] = [b for b in code_blocks(example_section(), "sh") if b.startswith("cp -r")]
    assert step0.splitlines() == ["cp -r docs/examples practice", ".venv/bin/halls check --root practice"]
    shutil.copytree(EXAMPLES, tmp_path / "practice")
    (tmp_path / "practice" / "node_modules").symlink_to(ROOT / "node_modules")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "practice"


def test_the_guide_shows_each_step_exactly_as_in_docs_examples():
    yaml_blocks = code_blocks(example_section(), "yaml")
    for step in ("1-panel.yaml", "2-checkpoint.yaml"):
        assert (EXAMPLES / "steps" / step).read_text(encoding="utf-8") in yaml_blocks


def test_the_worked_example_checks_after_every_step_and_ends_as_the_finished_file(practice, capsys):
    hall = practice / "halls" / "example.yaml"
    assert halls("check", "--root", "practice") == 0
    for step in ("1-panel.yaml", "2-checkpoint.yaml"):
        add_snippet(hall, "gallery", EXAMPLES / "steps" / step)
        assert halls("check", "--root", "practice") == 0
    assert capsys.readouterr().out.splitlines() == ["ok: 1 halls, no errors"] * 3
    assert hall.read_text(encoding="utf-8") == (EXAMPLES / "finished" / "example.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("wrong", "right"),
    [
        ("en: Safety first, every shift", 'en: "Safety first, every shift"'),
        ("answer: E", "answer: D"),
    ],
)
def test_the_worked_example_mistakes_give_the_messages_the_guide_shows(practice, capsys, wrong, right):
    hall = practice / "halls" / "example.yaml"
    finished = (EXAMPLES / "finished" / "example.yaml").read_text(encoding="utf-8")
    assert finished.count(right) == 1
    hall.write_text(finished.replace(right, wrong), encoding="utf-8")
    assert halls("check", "--root", "practice") == 1
    [message, summary] = capsys.readouterr().err.splitlines()
    assert summary == "1 error; nothing was published"
    assert message in [b.strip() for b in code_blocks(example_section())]


def test_the_worked_example_builds_and_previews_as_written(practice):
    shutil.copy(EXAMPLES / "finished" / "example.yaml", practice / "halls" / "example.yaml")
    [step3] = [b for b in code_blocks(example_section(), "sh") if "halls build" in b]
    lines = step3.splitlines()
    assert lines[-1] == ".venv/bin/halls serve --root practice --watch"
    for line in lines[:-1]:
        argv = line.split()
        assert argv[0] == ".venv/bin/halls"
        assert halls(*argv[1:]) == 0, line
    manifest = (practice / "build" / "current" / "halls" / "example" / "manifest.json").read_text(encoding="utf-8")
    assert '"safety-pledge"' in manifest and '"gallery-quiz"' in manifest
    assert (practice.parent / "gallery.png").stat().st_size > 0


# --- architecture ------------------------------------------------------------------------

ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _packages() -> list[str]:
    """First-party packages and subpackages, as `path/` (e.g. `server/hub/`)."""
    found = []
    for top in ("halls_contract", "scenes", "server", "tools"):
        for init in sorted((ROOT / top).rglob("__init__.py")):
            if "static" not in init.parts:
                found.append(init.parent.relative_to(ROOT).as_posix() + "/")
    return found


@pytest.mark.parametrize("package", _packages())
def test_architecture_page_names_every_package(package):
    short = package.split("/", 1)[1] if package.startswith("server/") and package != "server/" else package
    assert f"`{package}`" in ARCHITECTURE or f"`{short}`" in ARCHITECTURE, f"docs/architecture.md misses {package}"


@pytest.mark.parametrize(
    "module",
    sorted(p.stem for p in (ROOT / "server").rglob("*.py") if p.stem != "__init__" and "static" not in p.parts),
)
def test_architecture_page_names_every_server_module(module):
    assert f"`{module}`" in ARCHITECTURE, f"docs/architecture.md does not say what server module {module!r} is for"
