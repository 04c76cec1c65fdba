"""build: the compiler as a script of stages, and the only module that touches the disk.

    halls/*.yaml -> load -> validate -> layout -> geometry -> emit (glb, meshopt glb, bam) -> publish

Objects are named by the SHA-256 of their bytes.  A chunk whose inputs
(its IR, the assets it uses, the compiler's own code) are unchanged is not
rebuilt.  Nothing is published unless every hall compiles: new objects are
staged, then a new release folder is written and `build/current` is switched
to it in one atomic rename.  Manifests, answer keys and the catalog are
written through `halls_contract` (their models are the published format).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from halls_contract.catalog import catalog_of, dump_catalog
from halls_contract.manifest import (
    AnswerKeys,
    KeyedCheckpoint,
    Manifest,
    ObjectRef,
    dump_answer_keys,
    dump_manifest,
)
from scenes import ir
from scenes.diagnostics import AuthorErrors, Diagnostic
from scenes.layout import LayoutOptions, layout_hall
from scenes.load import Document, load_document
from scenes.model import Hall
from scenes.validate import ValidateOptions, validate_hall

log = logging.getLogger(__name__)

KEEP_RELEASES = 3
MEDIA_TYPES = {".png", ".jpg", ".jpeg", ".ogg", ".mp3", ".wav", ".mp4", ".webm"}


@dataclass(frozen=True)
class Budget:
    """Per-room limits for a standalone headset."""

    draw_calls: int = 100
    triangles: int = 750_000
    texture_bytes: int = 96 * 1024 * 1024


@dataclass(frozen=True)
class BuildOptions:
    """What to build and where."""

    root: Path = Path(".")
    """Project folder holding `halls/` and `assets/`."""
    out: Path | None = None
    """Output folder; default `<root>/build`."""
    jobs: int = 2
    """Worker processes for chunks (1 = in this process)."""
    meshopt: bool = True
    """Also write meshopt-compressed `.glb` variants for browsers (needs gltfpack)."""
    budget: Budget = Budget()
    progress: Callable[[int, int, str], None] | None = None
    """Called as chunks finish: (done, total, chunk name)."""
    thumbnails: Callable[[dict, Path, Path], Path] | None = None
    """Renders a hall's catalog picture: (manifest, objects folder, PNG path).  None keeps the last ones."""

    @property
    def out_dir(self) -> Path:
        return self.out or self.root / "build"


@dataclass
class CompiledHall:
    """A hall that passed validation and layout."""

    hall: Hall
    doc: Document
    scene: ir.SceneIR


@dataclass
class BuildResult:
    build_id: str
    release: Path
    halls: list[str]
    chunks_built: int
    chunks_cached: int
    seconds: float
    changed: bool
    warnings: list[Diagnostic] = field(default_factory=list)


def build(options: BuildOptions) -> BuildResult:
    """Compile every hall and publish atomically; raises AuthorErrors and publishes nothing on failure."""
    started = time.perf_counter()
    compiled = check(options)  # load, validate, layout (all errors at once)
    out = options.out_dir
    (out / "objects").mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        chunk_results, built = _compile_chunks(compiled, options, staging)  # geometry + emit, cached
        _check_budgets(compiled, chunk_results, options.budget)  # headset limits per room
        media = _stage_media(compiled, options.root, staging)  # images, audio, video
        manifests = {c.hall.id: _manifest(c, chunk_results, media) for c in compiled}
        keys = {c.hall.id: _answer_keys(c) for c in compiled}
        _publish_objects(staging, out / "objects")  # content-addressed, append-only
        _add_thumbnails(manifests, out, options.thumbnails)  # catalog pictures, cached per hall
        build_id, release, changed = _publish_release(out, manifests, keys)  # atomic switch of build/current
        _save_cache(out, chunk_results, compiler_version())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    total = sum(len(c.scene.chunks) for c in compiled)
    return BuildResult(
        build_id, release, [c.hall.id for c in compiled], built, total - built, time.perf_counter() - started, changed
    )


def check(options: BuildOptions) -> list[CompiledHall]:
    """Load, validate and lay out every hall; raise AuthorErrors with every problem found."""
    root = options.root
    files = hall_files(root)
    known = frozenset(path.stem for path in files)
    validate_options = ValidateOptions(root=root, assets_dir=root / "assets", known_halls=known)
    diagnostics: list[Diagnostic] = []
    valid: list[tuple[Hall, Document]] = []
    for path in files:
        try:
            doc = load_document(path, root=root)
        except AuthorErrors as exc:
            diagnostics += exc.diagnostics
            continue
        hall, problems = validate_hall(doc, validate_options)
        diagnostics += problems
        if hall is not None:
            valid.append((hall, doc))
    errors = [d for d in diagnostics if d.severity == "error"]
    if not files:
        errors.append(Diagnostic(str(root / "halls"), 1, 1, "", "no hall files (*.yaml) found"))
    if errors:
        raise AuthorErrors(errors)
    for warning in diagnostics:
        log.warning("%s", warning)
    titles = {hall.id: {"zh": hall.title.zh, "en": hall.title.en} for hall, _ in valid}
    layout_options = LayoutOptions(hall_titles=titles)
    return [CompiledHall(hall, doc, layout_hall(hall, layout_options)) for hall, doc in valid]


def hall_files(root: Path) -> list[Path]:
    """The hall files: `halls/*.yaml` (snippets live in `halls/shared/`)."""
    return sorted((root / "halls").glob("*.yaml"))


def compiler_version() -> str:
    """Hash of the compiler's own code: a change to it invalidates cached chunks."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# --- chunks ----------------------------------------------------------------


@dataclass(frozen=True)
class ChunkJob:
    """Everything a worker needs to compile one chunk."""

    key: str
    hall_id: str
    chunk: ir.ChunkIR
    root: str
    staging: str
    meshopt: bool
    texture_cache: str | None = None
    """Folder of rendered textures kept between builds (salted with the compiler version)."""


def _compile_chunks(compiled: list[CompiledHall], options: BuildOptions, staging: Path):
    """Geometry and emitters for every chunk whose inputs changed; the rest from the cache."""
    version = compiler_version()
    cache = _load_cache(options.out_dir)
    results: dict[str, dict] = {}
    keys: dict[tuple[str, str], str] = {}
    jobs: list[ChunkJob] = []
    for item in compiled:
        for chunk in item.scene.chunks:
            key = keys[(item.hall.id, chunk.id)] = _chunk_key(chunk, options.root, version)
            cached = cache.get(key)
            if cached and all((options.out_dir / "objects" / o["name"]).exists() for o in cached["objects"].values()):
                results[key] = cached
            else:
                textures = str(options.out_dir / ".cache" / "textures" / version)
                jobs.append(
                    ChunkJob(key, item.hall.id, chunk, str(options.root), str(staging), options.meshopt, textures)
                )
    total = len(jobs)
    for done, result in enumerate(_run_jobs(jobs, options.jobs), start=1):
        results[result["key"]] = result
        if options.progress:
            options.progress(done, total, result["name"])
    return {place: results[key] for place, key in keys.items()}, total


def _run_jobs(jobs: list[ChunkJob], workers: int):
    if workers <= 1 or len(jobs) <= 2:
        for job in jobs:
            yield compile_chunk(job)
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
        futures = [pool.submit(compile_chunk, job) for job in jobs]
        for future in concurrent.futures.as_completed(futures):
            yield future.result()


def compile_chunk(job: ChunkJob) -> dict:
    """Geometry and emitters for one chunk; objects go to the staging folder."""
    from scenes.emit_bam import emit_bam
    from scenes.emit_gltf import emit_gltf
    from scenes.geometry import GeometryOptions, build_chunk_meshes

    root, staging = Path(job.root), Path(job.staging)
    textures = TextureCache(Path(job.texture_cache)) if job.texture_cache else None
    geometry_options = GeometryOptions(read_asset=lambda path: read_asset(root, path), texture_cache=textures)
    meshes = build_chunk_meshes(job.chunk, geometry_options)
    glb = emit_gltf(meshes)
    # runs beside emit_bam; files named by hall and chunk: chunk ids repeat across halls, and jobs run in parallel
    meshopt = _start_meshopt(glb, root, staging, f"{job.hall_id}.{job.chunk.id}") if job.meshopt else None
    # Panda3D reads zlib-compressed `.bam.pz` files transparently; textures make raw bams ~10x larger.
    bam = zlib.compress(emit_bam(meshes), 3)  # level 3: within 15% of level 6 at a third of the time
    objects = {"glb": _stage(staging, glb, ".glb"), "bam": _stage(staging, bam, ".bam.pz")}
    if meshopt is not None:
        objects["glb_meshopt"] = _stage(staging, meshopt(), ".glb")
    return {
        "key": job.key,
        "name": f"{job.hall_id}/{job.chunk.id}",
        "objects": objects,
        "triangles": meshes.triangle_count,
        "draw_calls": meshes.draw_calls,
        "texture_bytes": meshes.texture_bytes,
        "nodes": [node.name for node in meshes.nodes],
    }


def meshopt_compress(glb: bytes, root: Path) -> bytes:
    """A meshopt-compressed copy of a .glb for browsers, made by gltfpack."""
    with tempfile.TemporaryDirectory() as tmp:
        return _start_meshopt(glb, root, Path(tmp), "chunk")()


def _start_meshopt(glb: bytes, root: Path, folder: Path, name: str) -> Callable[[], bytes]:
    """Start gltfpack on `glb`; the returned function waits for it and gives the compressed bytes."""
    source, target = folder / f".{name}.in.glb", folder / f".{name}.out.glb"
    source.write_bytes(glb)
    command = [str(gltfpack_path(root)), "-i", str(source), "-o", str(target), "-cc", "-kn", "-km"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def result() -> bytes:
        out, err = process.communicate()
        try:
            if process.returncode != 0:
                raise RuntimeError(f"gltfpack failed: {err.strip() or out.strip()}")
            return target.read_bytes()
        finally:
            source.unlink(missing_ok=True)
            target.unlink(missing_ok=True)

    return result


class TextureCache(MutableMapping[str, bytes]):
    """Rendered textures on disk, one PNG per key: the `MutableMapping` geometry's option asks for."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __getitem__(self, key: str) -> bytes:
        try:
            return (self.folder / f"{key}.png").read_bytes()
        except OSError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, png: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.folder / f"{key}.png", png)

    def __delitem__(self, key: str) -> None:
        try:
            (self.folder / f"{key}.png").unlink()
        except FileNotFoundError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(path.stem for path in self.folder.glob("*.png")))

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.png"))


def gltfpack_path(root: Path) -> Path:
    for candidate in (root / "node_modules/.bin/gltfpack", Path(__file__).parent.parent / "node_modules/.bin/gltfpack"):
        if candidate.exists():
            return candidate
    found = shutil.which("gltfpack")
    if not found:
        raise RuntimeError("gltfpack not found: run 'npm ci' in the project folder (or build with --no-meshopt)")
    return Path(found)


def read_asset(root: Path, path: str) -> bytes:
    """Read a file under `<root>/assets/`; anything that escapes it is refused."""
    assets = (root / "assets").resolve()
    target = (root / path).resolve()
    if assets not in target.parents:
        raise ValueError(f"asset path escapes assets/: {path!r}")
    return target.read_bytes()


def _stage(staging: Path, data: bytes, suffix: str) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    name = digest + suffix
    (staging / name).write_bytes(data)
    return {"name": name, "sha256": digest, "size": len(data)}


def _chunk_key(chunk: ir.ChunkIR, root: Path, version: str) -> str:
    digest = hashlib.sha256(version.encode())
    digest.update(json.dumps(ir.to_jsonable(chunk), sort_keys=True, ensure_ascii=False).encode())
    for path in sorted(_chunk_assets(chunk)):
        digest.update(path.encode() + hashlib.sha256(read_asset(root, path)).digest())
    return digest.hexdigest()


def _chunk_assets(chunk: ir.ChunkIR) -> set[str]:
    paths = set()
    for node in chunk.nodes:
        for shape in node.shapes:
            for key in ("path", "image", "asset"):
                value = shape.params.get(key)
                if isinstance(value, str) and value:
                    paths.add(value)
    return paths


def _load_cache(out: Path) -> dict:
    path = out / ".cache" / "chunks.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _save_cache(out: Path, results: dict, version: str) -> None:
    for old in (out / ".cache" / "textures").glob("*"):
        if old.name != version:
            shutil.rmtree(old, ignore_errors=True)
    cache = {entry["key"]: entry for entry in results.values()}
    path = out / ".cache" / "chunks.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, json.dumps(cache, sort_keys=True).encode())


# --- checks after geometry -------------------------------------------------


def _check_budgets(compiled: list[CompiledHall], results: dict, budget: Budget) -> None:
    errors = []
    for item in compiled:
        for index, room in enumerate(item.hall.rooms):
            stats = results[(item.hall.id, room.id)]
            file, line, column = item.doc.marks.get(("rooms", index, "id"), item.doc.marks[()])
            for measure, limit in (
                ("draw_calls", budget.draw_calls),
                ("triangles", budget.triangles),
                ("texture_bytes", budget.texture_bytes),
            ):
                if stats[measure] > limit:
                    errors.append(
                        Diagnostic(
                            file,
                            line,
                            column,
                            f"rooms[{index}]",
                            f"room '{room.id}' is over the headset budget: "
                            f"{stats[measure]:,} {measure.replace('_', ' ')} (limit {limit:,}); "
                            "remove exhibits or split the room",
                        )
                    )
    if errors:
        raise AuthorErrors(errors)


# --- publishing ------------------------------------------------------------


def _stage_media(compiled: list[CompiledHall], root: Path, staging: Path) -> dict[str, dict]:
    media = {}
    for item in compiled:
        for exhibit in item.scene.exhibits:
            for path in exhibit.assets:
                if path not in media:
                    media[path] = _stage(staging, read_asset(root, path), Path(path).suffix.lower())
    return media


def _manifest(item: CompiledHall, results: dict, media: dict) -> Manifest:
    """The hall's manifest (`halls_contract.manifest`): what clients may know of it, answer keys left out."""
    scene = item.scene
    chunks = []
    for chunk in scene.chunks:
        stats = results[(scene.hall_id, chunk.id)]
        chunks.append(
            {
                "id": chunk.id,
                "room": chunk.room,
                "bounds": ir.to_jsonable(chunk.bounds),
                "triangles": stats["triangles"],
                "draw_calls": stats["draw_calls"],
                "nodes": stats["nodes"],
                "objects": stats["objects"],
            }
        )
    exhibits = []
    for exhibit in scene.exhibits:
        entry = ir.to_jsonable(exhibit)
        entry["assets"] = [{"path": path} | media[path] for path in exhibit.assets]
        exhibits.append(entry)
    return Manifest.model_validate(
        {
            "id": scene.hall_id,
            "title": scene.title,
            "intro": scene.intro,
            "order": scene.order,
            "theme": scene.theme,
            "spawn": ir.to_jsonable(scene.spawn),
            "rooms": ir.to_jsonable(scene.rooms),
            "doorways": ir.to_jsonable(scene.doorways),
            "chunks": chunks,
            "exhibits": exhibits,
            "checkpoints": [_keyed(c).public() for c in scene.checkpoints],
        }
    )


def _keyed(checkpoint: ir.CheckpointIR) -> KeyedCheckpoint:
    return KeyedCheckpoint.model_validate(ir.to_jsonable(checkpoint))


def _answer_keys(item: CompiledHall) -> AnswerKeys:
    """Server-only: every checkpoint with its answer keys and grading policy."""
    return AnswerKeys(hall=item.hall.id, checkpoints=tuple(_keyed(c) for c in item.scene.checkpoints))


def _add_thumbnails(manifests: dict[str, Manifest], out: Path, render) -> None:
    """Give each manifest a `thumbnail` object, re-rendered only when the hall's chunks or look changed.

    Without a renderer (e.g. rebuilds in watch mode) a hall keeps its last thumbnail, if any.
    """
    cache_path = out / ".cache" / "thumbnails.json"
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    for hall_id, model in manifests.items():
        manifest = dump_manifest(model)
        look = {key: manifest[key] for key in ("spawn", "theme", "rooms")}
        look["chunks"] = [chunk["objects"]["bam"]["sha256"] for chunk in manifest["chunks"]]
        look["renderer"] = f"{render.__module__}.{render.__qualname__}" if render else None
        key = hashlib.sha256(json.dumps(look, sort_keys=True).encode()).hexdigest()
        entry = cache.get(hall_id)
        usable = entry is not None and (out / "objects" / entry["object"]["name"]).exists()
        if render is not None and not (usable and entry.get("key") == key):
            entry = {"key": key, "object": _render_thumbnail(render, manifest, out)}
            cache[hall_id] = entry
        elif not usable:
            continue
        manifests[hall_id] = model.model_copy(update={"thumbnail": ObjectRef.model_validate(entry["object"])})
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(cache_path, json.dumps(cache, sort_keys=True).encode())


def _render_thumbnail(render, manifest: dict, out: Path) -> dict:
    with tempfile.TemporaryDirectory(dir=out, prefix=".thumbnail-") as tmp:
        png = render(manifest, out / "objects", Path(tmp) / "thumbnail.png").read_bytes()
        entry = _stage(Path(tmp), png, ".png")
        target = out / "objects" / entry["name"]
        if not target.exists():
            os.replace(Path(tmp) / entry["name"], target)
    return entry


def _publish_objects(staging: Path, objects: Path) -> None:
    for path in sorted(staging.glob("[!.]*")):
        target = objects / path.name
        if not target.exists():
            os.replace(path, target)


def _publish_release(out: Path, manifests: dict[str, Manifest], keys: dict[str, AnswerKeys]) -> tuple[str, Path, bool]:
    """Write a release folder and point `build/current` at it with one atomic rename."""
    files = {f"halls/{hall_id}/manifest.json": _json_bytes(dump_manifest(m)) for hall_id, m in manifests.items()}
    files |= {f"private/answers/{hall_id}.json": _json_bytes(dump_answer_keys(k)) for hall_id, k in keys.items()}
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    build_id = digest.hexdigest()[:16]
    release = out / "releases" / build_id
    current = out / "current"
    if current.is_symlink() and os.readlink(current) == f"releases/{build_id}" and release.exists():
        return build_id, release, False
    files["catalog.json"] = _json_bytes(dump_catalog(catalog_of(manifests.values(), build_id)))
    temp = Path(tempfile.mkdtemp(prefix=".release-", dir=out))
    for name, data in files.items():
        (temp / name).parent.mkdir(parents=True, exist_ok=True)
        (temp / name).write_bytes(data)
    release.parent.mkdir(exist_ok=True)
    if release.exists():
        shutil.rmtree(temp)
    else:
        os.replace(temp, release)
    link = out / f".current-{os.getpid()}"
    os.symlink(f"releases/{build_id}", link)
    os.replace(link, current)
    _prune_releases(out / "releases", keep={build_id})
    return build_id, release, True


def _prune_releases(releases: Path, keep: set[str]) -> None:
    old = sorted(releases.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in old[KEEP_RELEASES:]:
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def _json_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8") + b"\n"


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)
