"""Offscreen previews of compiled chunks, and a check that an image shows something.

`render_preview` renders `.bam` chunks to a PNG with no display.  Each render
runs in a fresh Python process (`python -m tools.preview ...`): Panda3D's
display pipe and PRC settings are process-wide, so a subprocess is what makes
repeated renders in one process safe.  The child uses a bare `GraphicsEngine`
and an offscreen buffer (no ShowBase, no input devices, no audio).

Display module: `p3tinydisplay` (software, fixed-function) by default.  It
needs no EGL or Mesa, renders a small chunk in ~0.25 s per process (against
~0.55 s) and gives the same pixels on every run.  `p3headlessgl` (Mesa
llvmpipe through EGL) works too, also repeatably, and adds shaders and sRGB;
choose it with `display="p3headlessgl"`.  Both draw the bams of
`scenes.emit_bam` alike (its materials are fixed-function friendly).

`inspect_image` reports whether an image is blank and which expected colours
appear in it; tests use it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from halls_contract import themes
from halls_contract.themes import DEFAULT_LIGHT, SUN_HPR

log = logging.getLogger(__name__)

DEFAULT_DISPLAY = "p3tinydisplay"
DISPLAYS = ("p3tinydisplay", "p3headlessgl")
FIELD_OF_VIEW = 60.0
"""Horizontal field of view, degrees."""
FRAMES = 3

Vec3 = tuple[float, float, float]
Colour = str | tuple[int, int, int]


# --- the public call (parent process) --------------------------------------


def render_preview(
    bam_files: Sequence[bytes | Path],
    *,
    camera_pos: Vec3,
    look_at: Vec3,
    theme: dict,
    size: tuple[int, int] = (640, 400),
    out: Path,
    display: str = DEFAULT_DISPLAY,
    timeout: float = 120.0,
) -> Path:
    """Render chunks (bam bytes or `.bam` paths) to the PNG `out`, in a child process."""
    out = Path(out)
    light = _check_preview_args(bam_files, camera_pos, look_at, theme, size, display)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="preview-") as tmp:
        paths = _bam_paths(bam_files, Path(tmp))
        argv = _child_argv(paths, camera_pos, look_at, light, size, out, display)
        _run_child(argv, timeout)
    if not out.is_file():
        raise RuntimeError(f"preview: the renderer exited cleanly but wrote no {out}")
    log.info("preview: rendered %d chunk(s) to %s", len(paths), out)
    return out


def _check_preview_args(bam_files, camera_pos, look_at, theme, size, display) -> dict:
    """Raise `ValueError` for bad arguments; return the theme's light with defaults filled."""
    if not bam_files:
        raise ValueError("preview: no bam files to render")
    for i, item in enumerate(bam_files):
        if not isinstance(item, (bytes, bytearray, Path, str)):
            raise ValueError(f"preview: bam_files[{i}] must be bytes or a path, got {type(item).__name__}")
        if isinstance(item, (Path, str)) and not Path(item).is_file():
            raise ValueError(f"preview: bam_files[{i}]: no such file {item}")
    for label, vec in (("camera_pos", camera_pos), ("look_at", look_at)):
        if len(vec) != 3 or not np.all(np.isfinite(vec)):
            raise ValueError(f"preview: {label} must be three finite numbers, got {vec!r}")
    if np.allclose(camera_pos, look_at):
        raise ValueError("preview: camera_pos and look_at are the same point")
    if len(size) != 2 or min(size) < 1 or max(size) > 8192:
        raise ValueError(f"preview: size must be (width, height) in 1..8192, got {size!r}")
    if display not in DISPLAYS:
        raise ValueError(f"preview: display must be one of {', '.join(DISPLAYS)}, got {display!r}")
    return _theme_light(theme)


def _theme_light(theme: dict) -> dict:
    """`ambient`, `sun` and `sky` from a theme, checked, defaults filled in."""
    light = {**DEFAULT_LIGHT, **{k: theme[k] for k in DEFAULT_LIGHT if k in theme}}
    if not 0.0 <= float(light["ambient"]) <= 1.0:
        raise ValueError(f"preview: theme ambient must be in 0..1, got {light['ambient']!r}")
    if not 0.0 <= float(light["sun"]) <= 2.0:
        raise ValueError(f"preview: theme sun must be in 0..2, got {light['sun']!r}")
    hex_to_rgb(light["sky"])  # raises on a malformed colour
    return light


def _bam_paths(bam_files: Sequence[bytes | Path], tmp: Path) -> list[Path]:
    """Paths for the chunks, bytes written to numbered files under `tmp`."""
    paths = []
    for i, item in enumerate(bam_files):
        if isinstance(item, (bytes, bytearray)):
            path = tmp / f"chunk-{i}.bam"
            path.write_bytes(item)
            paths.append(path)
        else:
            paths.append(Path(item).resolve())
    return paths


def _child_argv(paths, camera_pos, look_at, light, size, out: Path, display: str) -> list[str]:
    vec = lambda v: ",".join(repr(float(x)) for x in v)  # noqa: E731
    return [
        sys.executable,
        "-m",
        "tools.preview",
        *map(str, paths),
        f"--camera={vec(camera_pos)}",
        f"--look-at={vec(look_at)}",  # '=' keeps '-8,..' from reading as a flag
        "--theme",
        json.dumps(light),
        "--size",
        f"{size[0]}x{size[1]}",
        "--display",
        display,
        "--out",
        str(out.resolve()),
    ]


def _run_child(argv: list[str], timeout: float) -> None:
    """Run the renderer; raise with the tail of its stderr when it fails."""
    repo = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=repo)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"preview: the renderer took longer than {timeout:.0f} s") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"preview: the renderer failed (exit {done.returncode}):\n{tail}")
    if done.stderr.strip():
        log.debug("preview: renderer stderr:\n%s", done.stderr.strip())


# --- the renderer (child process) ------------------------------------------


def _render(
    paths: list[Path], camera_pos: Vec3, look_at: Vec3, light: dict, size: tuple[int, int], out: Path, display: str
) -> None:
    """Load the chunks, light them, render a few frames and save a PNG (this process only)."""
    from panda3d.core import Filename, NodePath, PNMImage

    engine, buffer = _open_buffer(size, display)
    scene = NodePath("preview")
    for path in paths:
        _load_bam(path).reparentTo(scene)
    _add_lights(scene, light)
    _add_camera(buffer, scene, camera_pos, look_at, size)
    buffer.setClearColor((*(c / 255 for c in hex_to_rgb(light["sky"])), 1.0))
    for _ in range(FRAMES):
        engine.renderFrame()
    image = PNMImage()
    if not buffer.getScreenshot(image) or not image.write(Filename.fromOsSpecific(str(out))):
        raise RuntimeError(f"preview: could not save the screenshot to {out}")
    engine.removeAllWindows()


def _open_buffer(size: tuple[int, int], display: str):
    """A graphics engine and an offscreen buffer of `size` on `display`."""
    from panda3d.core import (
        FrameBufferProperties,
        GraphicsEngine,
        GraphicsPipe,
        GraphicsPipeSelection,
        WindowProperties,
        loadPrcFileData,
    )

    loadPrcFileData(
        "preview",
        "\n".join(
            [
                "window-type offscreen",
                f"load-display {display}",
                "aux-display",
                "audio-library-name null",
                "sync-video false",
                "model-cache-dir",
                "notify-level-display error",
            ]
        ),
    )
    selection = GraphicsPipeSelection.getGlobalPtr()
    selection.loadAuxModules()
    pipe = selection.makeModulePipe(display)
    if pipe is None:
        raise RuntimeError(f"preview: display module {display} is not available")
    engine = GraphicsEngine.getGlobalPtr()
    fbprops = FrameBufferProperties()
    fbprops.setRgbColor(True)
    fbprops.setColorBits(24)
    fbprops.setAlphaBits(8)
    fbprops.setDepthBits(24)
    buffer = engine.makeOutput(pipe, "preview", 0, fbprops, WindowProperties.size(*size), GraphicsPipe.BF_refuse_window)
    if buffer is None:
        raise RuntimeError(f"preview: {display} could not make a {size[0]}x{size[1]} offscreen buffer")
    return engine, buffer


def _load_bam(path: Path):
    """A chunk's scene graph, loaded from its `.bam` file without any cache."""
    from panda3d.core import Filename, Loader, LoaderOptions, NodePath

    options = LoaderOptions(LoaderOptions.LF_no_cache | LoaderOptions.LF_report_errors)
    node = Loader.getGlobalPtr().loadSync(Filename.fromOsSpecific(str(path)), options)
    if node is None:
        raise RuntimeError(f"preview: could not load {path}")
    return NodePath(node)


def _add_lights(scene, light: dict) -> None:
    """Ambient light and a sun, white, at the theme's strengths."""
    from panda3d.core import AmbientLight, DirectionalLight

    ambient = AmbientLight("ambient")
    ambient.setColor((*(float(light["ambient"]),) * 3, 1.0))
    scene.setLight(scene.attachNewNode(ambient))
    sun = DirectionalLight("sun")
    sun.setColor((*(float(light["sun"]),) * 3, 1.0))
    sun_np = scene.attachNewNode(sun)
    sun_np.setHpr(*SUN_HPR)
    scene.setLight(sun_np)


def _add_camera(buffer, scene, camera_pos: Vec3, look_at: Vec3, size: tuple[int, int]) -> None:
    """A perspective camera at `camera_pos` looking at `look_at`, Z up."""
    from panda3d.core import Camera, PerspectiveLens

    lens = PerspectiveLens()
    lens.setFov(FIELD_OF_VIEW)
    lens.setAspectRatio(size[0] / size[1])
    lens.setNearFar(0.05, 2000.0)
    camera = scene.attachNewNode(Camera("camera", lens))
    camera.setPos(*camera_pos)
    camera.lookAt(*look_at)
    region = buffer.makeDisplayRegion()
    region.setCamera(camera)


# --- image checks ----------------------------------------------------------


@dataclass(frozen=True)
class ImageReport:
    """What an image shows, roughly."""

    size: tuple[int, int]
    distinct_colours: int
    distinct_fraction: float
    """Distinct colours per pixel, 0..1."""
    std_dev: float
    """Standard deviation of all channel values, 0..255."""
    colours: dict[str, float]
    """Each expected colour (as given, hex) and the fraction of pixels showing it."""

    @property
    def blank(self) -> bool:
        """A single flat colour, or nearly so."""
        return self.distinct_colours <= 2 or self.std_dev < 2.0

    def found(self, min_fraction: float = 0.001) -> list[str]:
        """The expected colours covering at least `min_fraction` of the image."""
        return [c for c, f in self.colours.items() if f >= min_fraction]


def inspect_image(image, expected: Sequence[Colour] = (), tolerance: float = 40.0) -> ImageReport:
    """Blankness and expected-colour coverage of an image (a path or a PIL image).

    A pixel shows a colour when it lies within `tolerance` (RGB distance, 0..441)
    of that colour at some shading between a quarter and 1.25 times its
    brightness, so a lit or shadowed face still counts.
    """
    rgb = _as_rgb_array(image)
    height, width = rgb.shape[:2]
    pixels = rgb.reshape(-1, 3)
    packed = (pixels[:, 0].astype(np.int64) << 16) | (pixels[:, 1].astype(np.int64) << 8) | pixels[:, 2]
    distinct = int(len(np.unique(packed)))
    values = pixels.astype(np.float32)
    colours = {_hex(c): float(np.mean(_shaded_distance(values, hex_to_rgb(c)) <= tolerance)) for c in expected}
    return ImageReport(
        size=(width, height),
        distinct_colours=distinct,
        distinct_fraction=distinct / max(len(pixels), 1),
        std_dev=float(values.std()),
        colours=colours,
    )


def _as_rgb_array(image) -> np.ndarray:
    """An image (a path or a PIL image) as a (height, width, 3) uint8 array."""
    from PIL import Image

    if isinstance(image, (str, Path)):
        with Image.open(image) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _shaded_distance(pixels: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Distance of each pixel from the nearest shade of `colour` (0.25x..1.25x)."""
    c = np.asarray(colour, dtype=np.float32)
    norm = float(c @ c)
    scale = np.clip(pixels @ c / norm, 0.25, 1.25) if norm else np.ones(len(pixels), np.float32)
    return np.linalg.norm(pixels - scale[:, None] * c, axis=1)


def hex_to_rgb(colour: Colour) -> tuple[int, int, int]:
    """`themes.hex_to_rgb`, its errors saying they come from the preview."""
    try:
        return themes.hex_to_rgb(colour)
    except ValueError as exc:
        raise ValueError(f"preview: {exc}") from None


def _hex(colour: Colour) -> str:
    return colour if isinstance(colour, str) else "#{:02x}{:02x}{:02x}".format(*hex_to_rgb(colour))


# --- command line (the child process's entry point) ------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    vec = lambda text: tuple(float(x) for x in text.split(","))  # noqa: E731
    parser = argparse.ArgumentParser(
        prog="python -m tools.preview", description="Render .bam chunks offscreen to a PNG."
    )
    parser.add_argument("bams", nargs="+", type=Path, help="chunk .bam files")
    parser.add_argument("--camera", type=vec, required=True, help="camera position x,y,z")
    parser.add_argument("--look-at", type=vec, required=True, help="point looked at x,y,z")
    parser.add_argument("--theme", type=json.loads, default={}, help="JSON: ambient, sun, sky")
    parser.add_argument("--size", default="640x400", help="WIDTHxHEIGHT")
    parser.add_argument("--display", default=DEFAULT_DISPLAY, choices=DISPLAYS)
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Render in this process; exit status 0 on success, 1 on a reported error."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parse_args(argv)
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        light = _check_preview_args(args.bams, args.camera, args.look_at, args.theme, size, args.display)
        width, height = size  # two of them: _check_preview_args said so
        args.out.parent.mkdir(parents=True, exist_ok=True)
        _render(args.bams, args.camera, args.look_at, light, (width, height), args.out, args.display)
    except (ValueError, RuntimeError) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
