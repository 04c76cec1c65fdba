"""Compiler benchmark: clean build, one-line edit rebuild, sizes, per-room budgets.

    .venv/bin/python -m bench.compile [--root .]

Copies the project's halls and assets to a temporary folder, so the real
build/ is untouched.  Prints a Markdown report for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

from halls_contract.catalog import parse_catalog
from halls_contract.manifest import parse_manifest
from scenes.build import Budget, BuildOptions, build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp:
        work = Path(tmp)
        for name in ("halls", "assets"):
            shutil.copytree(args.root / name, work / name)
        (work / "node_modules").symlink_to((args.root / "node_modules").resolve())
        print(report(work, args.jobs))


def report(work: Path, jobs: int) -> str:
    clean = _timed(lambda: build(BuildOptions(root=work, jobs=jobs)))
    noop = _timed(lambda: build(BuildOptions(root=work, jobs=jobs)))
    hall_file = _edit_one_line(work)
    edit = _timed(lambda: build(BuildOptions(root=work, jobs=jobs)))
    lines = [
        f"Clean build of {len(clean[1].halls)} halls ({clean[1].chunks_built} chunks), {jobs} workers: "
        f"**{clean[0]:.2f} s**",
        f"Rebuild with nothing changed: **{noop[0]:.2f} s** ({noop[1].chunks_built} chunks compiled)",
        f"Rebuild after a one-line text edit in `{hall_file}`: **{edit[0]:.2f} s** "
        f"({edit[1].chunks_built} chunk compiled; target < 1 s)",
        "",
        "| hall | rooms | plain glb | meshopt glb | ratio | bam |",
        "|---|---|---|---|---|---|",
    ]
    budget = Budget()
    rooms = []
    catalog = parse_catalog((work / "build/current/catalog.json").read_bytes())
    for hall in catalog.halls:
        sizes = hall.bytes
        ratio = sizes.glb_meshopt / sizes.glb if sizes.glb else 0
        lines.append(
            f"| {hall.id} | {hall.rooms} | {_kb(sizes.glb)} | {_kb(sizes.glb_meshopt)} "
            f"| {ratio:.2f} | {_kb(sizes.bam)} |"
        )
        manifest = parse_manifest((work / "build/current" / hall.manifest).read_bytes())
        rooms += [(hall.id, c.id, c.triangles, c.draw_calls) for c in manifest.chunks]
    lines += [
        "",
        f"Per room against the headset budget (< {budget.draw_calls} draw calls, < {budget.triangles:,} triangles):",
        "",
        "| hall | room | triangles | draw calls |",
        "|---|---|---|---|",
    ]
    lines += [f"| {h} | {r} | {t:,} | {d} |" for h, r, t, d in rooms]
    worst_t = max(rooms, key=lambda r: r[2])
    worst_d = max(rooms, key=lambda r: r[3])
    lines += [
        "",
        f"Largest room: {worst_t[0]}/{worst_t[1]} with {worst_t[2]:,} triangles; "
        f"most draw calls: {worst_d[0]}/{worst_d[1]} with {worst_d[3]}.",
    ]
    return "\n".join(lines)


def _timed(action):
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _edit_one_line(work: Path) -> str:
    """Change one character of the first panel's text: '。' becomes '！' (same length, still fits)."""
    for path in sorted((work / "halls").glob("*.yaml")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kind = None
        for number, line in enumerate(lines):
            found = re.match(r"\s*- kind: (\w+)", line)
            kind = found.group(1) if found else kind
            if kind == "panel" and "。" in line:
                lines[number] = line.replace("。", "！", 1)
                path.write_text("".join(lines), encoding="utf-8")
                return f"halls/{path.name}:{number + 1}"
    raise SystemExit("bench: no panel text found to edit")


def _kb(size: int) -> str:
    return f"{size / 1024:,.0f} KB"


if __name__ == "__main__":
    main()
