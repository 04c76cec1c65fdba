"""The `halls` command as an author uses it: exit codes, error text, JSON, schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def _halls(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_check_prints_compiler_style_errors_and_exits_1_without_traceback(project):
    hall = project / "halls" / "beta.yaml"
    hall.write_text(hall.read_text(encoding="utf-8").replace("title: 说明", "titel: 说明"), encoding="utf-8")
    run = _halls("check", "--root", str(project), cwd=project)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "halls/beta.yaml:12:9: rooms[0].exhibits[0].titel: unknown key 'titel' (did you mean 'title'?)" in run.stderr
    assert run.stderr.rstrip().endswith("nothing was published")


def test_check_json_lists_diagnostics_for_machines(project):
    (project / "halls" / "beta.yaml").write_text("id: beta\ntitle: 贝塔\nrooms: 3\n", encoding="utf-8")
    run = _halls("check", "--root", str(project), "--json", cwd=project)
    report = json.loads(run.stdout)
    assert run.returncode == 1 and report["ok"] is False
    [problem] = [d for d in report["diagnostics"] if d["file"] == "halls/beta.yaml"]
    assert (problem["line"], problem["path"]) == (3, "rooms")


def test_build_json_reports_halls_and_cache_use(project):
    first = json.loads(_halls("build", "--root", str(project), "--json", "--jobs", "1", cwd=project).stdout)
    second = json.loads(_halls("build", "--root", str(project), "--json", "--jobs", "1", cwd=project).stdout)
    assert first["halls"] == ["alpha", "beta"] and first["chunks_built"] == 3 and first["published"]
    assert second["chunks_built"] == 0 and second["chunks_cached"] == 3 and not second["published"]


def test_schema_describes_every_field_for_editors(tmp_path):
    out = tmp_path / "hall.schema.json"
    run = _halls("schema", "--out", str(out), cwd=tmp_path)
    assert run.returncode == 0
    schema = json.loads(out.read_text(encoding="utf-8"))
    assert schema["properties"]["rooms"]["description"] == "The rooms; members start in the first one."
    assert set(schema["$defs"]) >= {"Panel", "Model", "Diorama", "Media", "Checkpoint", "Room", "Doorway", "Question"}
    for name, definition in schema["$defs"].items():
        for field, spec in definition.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{field} has no description"
