"""Shared fixtures: a tiny project (two halls) written to a temporary folder; markers by folder; CI skips fail.

Markers (see `pyproject.toml`) are added from where a test lives, so a
developer can run the fast part alone (`pytest -m "not slow"`).  With `CI`
set, a test skipped because something is not installed fails instead:
`.ci/run` installs every tool, so a skip there is a missing set-up step.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SYSTEM_TOOL_TESTS = {
    # test file: the system tools it drives (installed by tools/setup-system.sh and npm ci)
    "tests/server/test_nginx.py": "nginx",
    "tests/server/test_hub_redis.py": "redis-server",
    "tests/server/test_cli.py": "openssl",
    "tests/server/test_quiz_web_retry.py": "node",
    "tests/server/test_outbox_ralph.py": "ralph (a real LRS)",
    "tests/client/test_window.py": "xvfb",
}
SLOW_FOLDERS = ("tests/e2e/", "tests/client/")
"""Folders whose tests start servers, browsers or Panda3D windows: together most of the suite's time."""
SLOW_TESTS = (
    "tests/server/test_real_build.py",
    "tests/test_halls.py",
    "tests/server/test_nginx.py",
    "tests/server/test_outbox_ralph.py",
    "tests/server/test_watch.py",
    "tests/server/test_openapi_fuzz.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath)).relative_to(ROOT).as_posix()
        if path.startswith("tests/e2e/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.needs_browser)
        if path.startswith("tests/client/"):
            item.add_marker(pytest.mark.client)
        if path in SYSTEM_TOOL_TESTS:
            item.add_marker(pytest.mark.needs_system(SYSTEM_TOOL_TESTS[path]))
        if path.startswith(SLOW_FOLDERS) or path in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (`CI` set), a skipped test fails: set-up installs everything, so a skip means it did not."""
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and os.environ.get("CI")
        and not item.get_closest_marker("may_skip")
        and not hasattr(report, "wasxfail")
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI ({reason}): .ci/run must install what this test needs"


ALPHA = """\
id: alpha
title: {zh: 阿尔法馆, en: Alpha}
intro: 测试用展馆
theme: {primary: "#b22222", wall: "#f4efe6"}
rooms:
  - id: entrance
    title: 序厅
    size: [10, 8, 4]
    doorways:
      - {to: gallery, wall: east}
      - {to: "hall:beta", wall: west}
    exhibits:
      - kind: panel
        id: intro
        title: 前言
        text: 这是一块测试展板。
        wall: north
      - kind: checkpoint
        id: quiz
        title: 小测验
        at: [0, -2]
        radius: 1
        questions:
          - {id: q1, type: true-false, prompt: 屯兰有十个主题展厅。, answer: true}
          - id: q2
            type: single
            prompt: 哪个是廉洁主题展厅？
            options: [红色屯兰, 廉洁屯兰]
            answer: B
  - id: gallery
    title: 展厅
    size: [8, 8, 4]
    exhibits:
      - kind: model
        id: miner
        title: 矿工
        generator: {name: figure, params: {pose: salute}}
        at: [0, 0]
"""

BETA = """\
id: beta
title: 贝塔馆
rooms:
  - id: only
    title: 唯一的展厅
    size: [8, 6, 4]
    doorways:
      - {to: "hall:alpha", wall: south}
    exhibits:
      - kind: panel
        id: note
        title: 说明
        text: 第二个展馆。
        at: [0, 0]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with halls alpha (2 rooms) and beta (1 room), node tools linked in."""
    (tmp_path / "halls").mkdir()
    (tmp_path / "assets").mkdir()
    (tmp_path / "halls" / "alpha.yaml").write_text(ALPHA, encoding="utf-8")
    (tmp_path / "halls" / "beta.yaml").write_text(BETA, encoding="utf-8")
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    return tmp_path


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


@dataclass
class BuiltHalls:
    """The session's build of the real halls: project folder, build result, and the compiler's warnings."""

    root: Path
    result: object
    warnings: list[str]

    def manifest(self, hall_id: str) -> dict:
        path = self.root / "build" / "current" / "halls" / hall_id / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8"))

    def answers(self, hall_id: str) -> dict:
        path = self.root / "build" / "current" / "private" / "answers" / f"{hall_id}.json"
        return json.loads(path.read_text(encoding="utf-8"))


class _Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture(scope="session")
def built_halls(tmp_path_factory) -> BuiltHalls:
    """The real halls/ and assets/ built once per test session into a temporary project folder.

    Share this fixture (the hall tests and the browser tests do) rather than building again: a clean
    build of every hall takes half a minute or more.  Only the compiler's (`scenes.*`) warnings are kept,
    not those of servers other tests left running.
    """
    from scenes.build import BuildOptions, build

    project = tmp_path_factory.mktemp("real-halls")
    shutil.copytree(ROOT / "halls", project / "halls")
    shutil.copytree(ROOT / "assets", project / "assets")
    (project / "node_modules").symlink_to(ROOT / "node_modules")
    handler = _Warnings()
    compiler_log = logging.getLogger("scenes")
    compiler_log.addHandler(handler)
    try:
        result = build(BuildOptions(root=project, jobs=2))
    finally:
        compiler_log.removeHandler(handler)
    return BuiltHalls(project, result, handler.messages)
