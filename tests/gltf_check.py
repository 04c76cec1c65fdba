"""Test helpers: run the Khronos glTF validator (npm gltf-validator) on files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def validate_glb_files(paths: list[Path]) -> list[dict]:
    """One report per file: {'file', 'errors', 'warnings', 'messages'}."""
    run = subprocess.run(
        ["node", str(ROOT / "tools" / "validate_gltf.mjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    if not run.stdout.strip():
        raise RuntimeError(f"glTF validator did not run: {run.stderr.strip()}")
    return json.loads(run.stdout)
