"""Geometry: a chunk's shapes become meshes with materials (`ir.ChunkMeshes`).

Every shape kind of `docs/shapes.md` is built here, in its node's frame
(metres, Z up, front +Y), placed by the shape's `offset` and `heading`, and
lifted onto the node's terrain when its params say `ground: true`.  Meshes
that share a material within a node are merged, so a node costs one draw
call per distinct material.  Pure apart from two inputs: assets come through
`GeometryOptions.read_asset`, and text is rendered with the CJK font.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import posixpath
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import trimesh
from PIL import Image

from scenes import generators, ir, text

log = logging.getLogger(__name__)

WALL_THICKNESS = 0.2
"""Walls lie inside the room rectangle, this thick."""
SLAB = 0.1
"""Thickness of floors and ceilings."""
JAMB = 0.06
"""Width of the trim around doorways."""
PROUD = 0.02
"""How far trim stands out of a wall face."""
SKIRTING = 0.12
RAIL_HEIGHT = 0.9
RAIL_INSET = 0.1
BOARD_DEPTH = 0.05
MOUNTED_CENTRE = 1.55
STANDING_BOTTOM = 0.7
FACE_LIFT = 0.002
"""Gap between a board and its printed face, against z-fighting."""
MEDIA_BORDER = 0.05
PAPER = "#f7f3ea"
SCREEN = "#23211f"
MARKER_POST = "#55575a"
ASSET_SUFFIXES = (".glb", ".gltf", ".obj", ".stl", ".ply")
Y_UP_SUFFIXES = (".glb", ".gltf")

REQUIRED = object()
"""Marks a param a shape cannot do without."""


class GeometryError(ValueError):
    """A shape the geometry stage cannot build; the message names the node."""


def _no_asset_reader(path: str) -> bytes:
    raise GeometryError(f"geometry: no read_asset given, cannot read {path!r}")


@dataclass(frozen=True)
class GeometryOptions:
    """Geometry settings."""

    read_asset: Callable[[str], bytes] = _no_asset_reader
    """Returns the bytes of an asset path such as 'assets/lamp.glb' (the build passes it in)."""
    font_path: Path | None = None
    """CJK font for panels and signs; found with `text.find_cjk_font` when None."""
    texture_cache: MutableMapping[str, bytes] | None = None
    """Rendered panel and sign textures by a hash of their inputs (the build keeps one on disk), so
    editing one panel does not re-render the others of its room."""


def _rendered(options: GeometryOptions, render: Callable[..., bytes], *args, **kwargs) -> bytes:
    """`render(*args, **kwargs)`, looked up in and stored into the texture cache."""
    if options.texture_cache is None:
        return render(*args, **kwargs)
    digest = hashlib.sha256(render.__name__.encode())
    for value in (*args, *sorted(kwargs.items())):
        digest.update(b"\0" + (value if isinstance(value, bytes) else repr(value).encode()))
    key = digest.hexdigest()
    png = options.texture_cache.get(key)
    if png is None:
        png = options.texture_cache[key] = render(*args, **kwargs)
    return png


@dataclass(frozen=True)
class Surface:
    """How a kind of surface reflects light."""

    roughness: float
    metallic: float = 0.0
    double_sided: bool = False
    unlit: bool = False


SURFACES: dict[str, Surface] = {
    "floor": Surface(0.8),
    "wall": Surface(0.9),
    "ceiling": Surface(0.95),
    "trim": Surface(0.6),
    "rail": Surface(0.5, 0.3),
    "frame": Surface(0.55),
    "face": Surface(0.9, unlit=True),
    "marker": Surface(0.8, unlit=True),
    "post": Surface(0.4, 0.6),
    "asset": Surface(0.7),
    "plinth": Surface(0.7),
    "ground": Surface(0.95),
    "snow": Surface(0.7),
    "rock": Surface(0.9),
    "water": Surface(0.15),
    "iron": Surface(0.45, 0.9),
    "wood": Surface(0.8),
    "stone": Surface(0.9),
    "cloth": Surface(0.9),
    "skin": Surface(0.7),
    "boots": Surface(0.6),
    "star": Surface(0.5),
    "flag": Surface(0.85, double_sided=True),
    "pole": Surface(0.4, 0.6),
    "gold": Surface(0.3, 1.0),
    "grass": Surface(0.9, double_sided=True),
}
"""Surface kinds; material names are `<surface>-<rrggbb>` (or `-<texture hash>` when textured)."""


# --- meshes ----------------------------------------------------------------


@dataclass
class _Mesh:
    """Triangles in float64 while being built."""

    positions: np.ndarray
    normals: np.ndarray
    indices: np.ndarray
    uvs: np.ndarray | None = None

    def transformed(self, heading: float, offset: tuple[float, float, float]) -> _Mesh:
        rotation = _rotation_z(heading)
        return _Mesh(
            self.positions @ rotation.T + np.asarray(offset, float), self.normals @ rotation.T, self.indices, self.uvs
        )

    def to_ir(self) -> ir.MeshData:
        lengths = np.linalg.norm(self.normals, axis=1, keepdims=True)
        normals = np.where(lengths > 1e-12, self.normals / np.maximum(lengths, 1e-12), [0.0, 0.0, 1.0])
        return ir.MeshData(
            positions=np.ascontiguousarray(self.positions, np.float32),
            normals=np.ascontiguousarray(normals, np.float32),
            indices=np.ascontiguousarray(self.indices, np.uint32).reshape(-1, 3),
            uvs=None if self.uvs is None else np.ascontiguousarray(self.uvs, np.float32),
        )


def _rotation_z(degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _from_trimesh(m: trimesh.Trimesh, normals: np.ndarray | None = None) -> _Mesh:
    vertices = np.asarray(m.vertices, float)
    faces = np.asarray(m.faces, np.int64).reshape(-1, 3)
    if normals is None:
        normals = generators.vertex_normals(vertices, faces)
    return _Mesh(vertices, np.asarray(normals, float), faces)


def _merge(meshes: list[_Mesh]) -> _Mesh:
    """One mesh from several (texture coordinates kept when all have them)."""
    offsets = np.cumsum([0] + [len(m.positions) for m in meshes[:-1]])
    with_uvs = all(m.uvs is not None for m in meshes)
    return _Mesh(
        np.vstack([m.positions for m in meshes]),
        np.vstack([m.normals for m in meshes]),
        np.vstack([m.indices + off for m, off in zip(meshes, offsets)]),
        np.vstack([m.uvs for m in meshes if m.uvs is not None]) if with_uvs else None,
    )


def _box(lo, hi) -> _Mesh:
    return _from_trimesh(generators.box(lo, hi))


def _quad(centre, right, up, width: float, height: float) -> _Mesh:
    """A textured rectangle facing right x up; UV (0, 0) at its top-left as seen from the front."""
    c, r, u = (np.asarray(v, float) for v in (centre, right, up))
    r_half, u_half = r * width / 2, u * height / 2
    positions = np.array([c - r_half + u_half, c + r_half + u_half, c + r_half - u_half, c - r_half - u_half])
    normal = np.cross(r, u)
    return _Mesh(
        positions,
        np.tile(normal, (4, 1)),
        np.array([[0, 3, 2], [0, 2, 1]]),
        np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]),
    )


def _front_quad(x: float, y: float, z: float, width: float, height: float) -> _Mesh:
    """A face looking along +Y (the viewer's right is -X), centred on (x, y, z)."""
    return _quad((x, y, z), (-1, 0, 0), (0, 0, 1), width, height)


def _back_quad(x: float, y: float, z: float, width: float, height: float) -> _Mesh:
    """A face looking along -Y."""
    return _quad((x, y, z), (1, 0, 0), (0, 0, 1), width, height)


def _annulus(inner: float, outer: float, z: float, segments: int = 64) -> _Mesh:
    angles = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.column_stack([np.cos(angles), np.sin(angles), np.zeros(segments)])
    positions = np.vstack([ring * inner, ring * outer]) + [0, 0, z]
    i = np.arange(segments)
    j = (i + 1) % segments
    faces = np.vstack([np.column_stack([i, i + segments, j + segments]), np.column_stack([i, j + segments, j])])
    return _Mesh(positions, np.tile([0.0, 0.0, 1.0], (2 * segments, 1)), faces)


# --- materials -------------------------------------------------------------


def _rgba(colour: str) -> tuple[float, float, float, float]:
    r, g, b = text.parse_colour(colour)
    return (r / 255, g / 255, b / 255, 1.0)


def _material(surface: str, colour: str = "#ffffff", texture_png: bytes | None = None) -> ir.Material:
    look = SURFACES[surface]
    suffix = hashlib.sha256(texture_png).hexdigest()[:12] if texture_png else colour.lstrip("#").lower()
    return ir.Material(
        name=f"{surface}-{suffix}",
        colour=_rgba(colour),
        roughness=look.roughness,
        metallic=look.metallic,
        texture_png=texture_png,
        double_sided=look.double_sided,
        unlit=look.unlit,
    )


def _face_material(png: bytes) -> ir.Material:
    return _material("face", "#ffffff", png)


# --- params ----------------------------------------------------------------


class _Params:
    """A shape's params, checked against its spec; errors name the stage, shape and node."""

    def __init__(self, kind: str, node: str, params: Mapping[str, Any], spec: Mapping[str, Any]):
        self.kind, self.node, self.values = kind, node, dict(params)
        unknown = sorted(set(params) - set(spec) - {"ground"})
        if unknown:
            self.fail(f"unknown param {unknown[0]!r} (known: {', '.join(sorted(spec))})")
        missing = [key for key, default in spec.items() if default is REQUIRED and key not in params]
        if missing:
            self.fail(f"missing param {missing[0]!r}")
        for key, default in spec.items():
            self.values.setdefault(key, default)

    def fail(self, problem: str) -> NoReturn:
        raise GeometryError(f"geometry: {self.kind}: {problem} in node '{self.node}'")

    def number(self, key: str, low: float = 0.0, high: float = 1000.0) -> float:
        value = self.values[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(f"param {key!r} must be a number, got {value!r}")
        if not low <= value <= high:
            self.fail(f"param {key!r} must be between {low:g} and {high:g}, got {value!r}")
        return float(value)

    def text(self, key: str) -> str:
        value = self.values[key]
        if not isinstance(value, str):
            self.fail(f"param {key!r} must be text, got {value!r}")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.values[key] is None else self.text(key)

    def colour(self, key: str) -> str:
        value = self.values[key]
        if not isinstance(value, str) or not generators.COLOUR_RE.match(value):
            self.fail(f"param {key!r} must be a colour '#rrggbb', got {value!r}")
        return value

    def flag(self, key: str) -> bool:
        value = self.values[key]
        if not isinstance(value, bool):
            self.fail(f"param {key!r} must be true or false, got {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.values[key]
        if value not in choices:
            self.fail(f"param {key!r} must be one of {', '.join(choices)}, got {value!r}")
        return value


BOARD_SPEC = {
    "width": REQUIRED,
    "height": REQUIRED,
    "title": REQUIRED,
    "title_en": None,
    "text": "",
    "text_en": None,
    "frame": "#b22222",
    "accent": "#f2c14e",
    "mounted": False,
}
SHAPE_SPECS: dict[str, dict[str, Any]] = {
    "room-shell": {
        "width": REQUIRED,
        "depth": REQUIRED,
        "height": REQUIRED,
        "open": False,
        "doorways": (),
        "wall": "#f4efe6",
        "floor": "#8a6d4b",
        "ceiling": "#fbfaf7",
        "trim": "#b22222",
        "sky": "#9cc3e6",
    },
    "panel": BOARD_SPEC | {"image": None},
    "media": BOARD_SPEC | {"media": REQUIRED, "asset": REQUIRED},
    "asset": {"path": REQUIRED, "scale": 1.0, "colour": None, "base": 0.0},
    "checkpoint-marker": {"radius": REQUIRED, "title": REQUIRED, "title_en": None, "colour": "#f2c14e"},
    "portal-sign": {
        "width": REQUIRED,
        "door_height": REQUIRED,
        "title": REQUIRED,
        "title_en": None,
        "colour": "#b22222",
    },
}
"""Params of the built-in shape kinds (generator kinds take `generators.DEFAULTS`)."""

Built = list[tuple[_Mesh, ir.Material]]


# --- the stage -------------------------------------------------------------


def build_chunk_meshes(chunk: ir.ChunkIR, options: GeometryOptions = GeometryOptions()) -> ir.ChunkMeshes:
    """Build every node of a chunk: one part per distinct material per node."""
    if not isinstance(chunk, ir.ChunkIR):
        raise TypeError(f"geometry: expected a ChunkIR, got {type(chunk).__name__}")
    seen: set[str] = set()
    for node in chunk.nodes:
        if node.name in seen:
            raise GeometryError(f"geometry: duplicate node name '{node.name}' in chunk '{chunk.id}'")
        seen.add(node.name)
    return ir.ChunkMeshes(chunk_id=chunk.id, nodes=[build_node_meshes(node, options) for node in chunk.nodes])


def build_node_meshes(node: ir.Node, options: GeometryOptions = GeometryOptions()) -> ir.NodeMeshes:
    """A node's shapes, placed in its frame and merged per material."""
    groups: dict[ir.Material, list[_Mesh]] = {}
    ground = _Ground(node)
    for shape in node.shapes:
        for built, material in _build_placed_shape(shape, node.name, options, ground):
            groups.setdefault(material, []).append(built)
    parts = [ir.Part(_merge(meshes).to_ir(), material) for material, meshes in groups.items()]
    return ir.NodeMeshes(name=node.name, position=node.position, heading=node.heading, parts=parts)


def _build_placed_shape(shape: ir.Shape, node: str, options: GeometryOptions, ground: _Ground) -> Built:
    """A shape's meshes in its node's frame: built, lifted onto the ground if asked, turned and moved."""
    if not isinstance(shape.params, Mapping):
        raise GeometryError(f"geometry: params of shape '{shape.kind}' must be a mapping in node '{node}'")
    lift, height_at = 0.0, None
    if shape.params.get("ground") is True and shape.kind != "terrain":
        lift = ground.lift(shape)
        height_at = ground.local_height_at(shape, lift)
    built = _build_shape(shape, node, options, height_at)
    ox, oy, oz = shape.offset
    return [(m.transformed(shape.heading, (ox, oy, oz + lift)), material) for m, material in built]


def _build_shape(shape: ir.Shape, node: str, options: GeometryOptions, height_at) -> Built:
    if shape.kind in SHAPE_SPECS:
        params = _Params(shape.kind, node, shape.params, SHAPE_SPECS[shape.kind])
        return _BUILDERS[shape.kind](params, options)
    if shape.kind in generators.DEFAULTS:
        try:
            pieces = generators.generate(shape.kind, shape.params, height_at)
        except ValueError as error:
            raise GeometryError(f"geometry: {error} in node '{node}'") from None
        return [(_from_trimesh(p.mesh, p.normals), _material(p.surface, p.colour)) for p in pieces]
    raise GeometryError(f"geometry: unknown shape kind '{shape.kind}' in node '{node}'")


# --- ground ----------------------------------------------------------------


class _Ground:
    """The surface `ground: true` shapes stand on: the node's terrain, and the decks of its chain bridges."""

    def __init__(self, node: ir.Node):
        self.node = node.name
        self.terrain = next((shape for shape in node.shapes if shape.kind == "terrain"), None)
        if self.terrain is not None:
            self._check("terrain", self.terrain.params)
        self.bridges: list[tuple[ir.Shape, float]] = []
        for shape in node.shapes:
            if shape.kind == "chain-bridge":
                self._check("chain-bridge", shape.params)
                lift = self._bridge_lift(shape) if shape.params.get("ground") is True else 0.0
                self.bridges.append((shape, lift))

    def _check(self, kind: str, params: Mapping[str, Any]) -> None:
        try:
            generators.resolve_params(kind, params)
        except ValueError as error:
            raise GeometryError(f"geometry: {error} in node '{self.node}'") from None

    def terrain_height(self, x, y) -> np.ndarray:
        """Terrain height at node-frame points (0 without a terrain)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        if self.terrain is None:
            return np.zeros(np.broadcast(x, y).shape)
        local = _to_local(self.terrain, x, y)
        return generators.terrain_height(self.terrain.params, local[..., 0], local[..., 1]) + self.terrain.offset[2]

    def height(self, x, y) -> np.ndarray:
        """Walkable height at node-frame points: terrain, or a bridge deck above it."""
        heights = self.terrain_height(x, y)
        for bridge, lift in self.bridges:
            local = _to_local(bridge, x, y)
            deck = generators.bridge_deck_height(bridge.params, local[..., 0], local[..., 1]) + bridge.offset[2] + lift
            heights = np.where(np.isnan(deck), heights, np.fmax(heights, deck))
        return heights

    def _bridge_lift(self, bridge: ir.Shape) -> float:
        """A bridge rests its ends on the higher of the two banks."""
        half = generators.resolve_params("chain-bridge", bridge.params)
        half = half["length"] * half["scale"] / 2
        ends = np.array([[0.0, -half], [0.0, half]]) @ _rotation_z(bridge.heading)[:2, :2].T + bridge.offset[:2]
        return float(np.max(self.terrain_height(ends[:, 0], ends[:, 1]))) - bridge.offset[2]

    def lift(self, shape: ir.Shape) -> float:
        """How far to raise a `ground: true` shape so its origin stands on the ground."""
        if shape.kind == "chain-bridge":
            return next(lift for bridge, lift in self.bridges if bridge is shape)
        x, y, z = shape.offset
        return float(self.height(x, y)) - z

    def local_height_at(self, shape: ir.Shape, lift: float) -> generators.HeightAt:
        """Ground height under shape-local points, relative to the lifted shape origin (for draping)."""
        rotation = _rotation_z(shape.heading)[:2, :2]
        ox, oy, oz = shape.offset

        def height_at(x, y):
            points = np.stack([np.asarray(x, float), np.asarray(y, float)], axis=-1) @ rotation.T
            return self.height(points[..., 0] + ox, points[..., 1] + oy) - oz - lift

        return height_at


def _to_local(shape: ir.Shape, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Node-frame (x, y) points in a shape's own frame, as (..., 2)."""
    inverse = _rotation_z(-shape.heading)[:2, :2]
    xs, ys = np.asarray(x, float) - shape.offset[0], np.asarray(y, float) - shape.offset[1]
    points = np.stack(np.broadcast_arrays(xs, ys), axis=-1)
    return points @ inverse.T


# --- room shell ------------------------------------------------------------


@dataclass(frozen=True)
class _Opening:
    wall: str
    lo: float
    hi: float
    height: float


def _wall_box(wall: str, width: float, depth: float, a0, a1, t0, t1, z0, z1) -> _Mesh:
    """A box given along a wall (a, east/north positive), into the room from its edge (t), and up (z)."""
    if wall == "north":
        lo, hi = (a0, depth / 2 - t1, z0), (a1, depth / 2 - t0, z1)
    elif wall == "south":
        lo, hi = (a0, -depth / 2 + t0, z0), (a1, -depth / 2 + t1, z1)
    elif wall == "east":
        lo, hi = (width / 2 - t1, a0, z0), (width / 2 - t0, a1, z1)
    else:
        lo, hi = (-width / 2 + t0, a0, z0), (-width / 2 + t1, a1, z1)
    return _box(lo, hi)


def _openings(p: _Params, width: float, depth: float, height: float) -> list[_Opening]:
    doorways = p.values["doorways"]
    if not isinstance(doorways, (list, tuple)):
        p.fail(f"param 'doorways' must be a list, got {doorways!r}")
    openings = []
    for i, door in enumerate(doorways):
        if not isinstance(door, Mapping) or door.get("wall") not in ("north", "south", "east", "west"):
            p.fail(f"doorways[{i}] needs a wall north/south/east/west, got {door!r}")
        wall = door["wall"]
        length = width if wall in ("north", "south") else depth
        given = [door.get(key) for key in ("along", "width", "height")]
        numbers = [float(v) for v in given if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) != len(given):
            p.fail(f"doorways[{i}] needs numbers along, width and height, got {door!r}")
        along, door_width, door_height = numbers
        if door_width <= 0 or door_height <= 0:
            p.fail(f"doorways[{i}] must have a positive width and height, got {door!r}")
        lo, hi = along - door_width / 2, along + door_width / 2
        if lo < -length / 2 - 1e-6 or hi > length / 2 + 1e-6:
            p.fail(f"doorways[{i}] ({lo:.2f}..{hi:.2f} m along the {wall} wall) does not fit the {length:g} m wall")
        openings.append(_Opening(wall, lo, hi, min(door_height, height)))
    return openings


def _solid_spans(start: float, end: float, gaps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Parts of start..end not covered by gaps (pieces shorter than 1 mm dropped)."""
    spans, cursor = [], start
    for lo, hi in sorted(gaps):
        if lo > cursor + 1e-3:
            spans.append((cursor, min(lo, end)))
        cursor = max(cursor, hi)
    if end > cursor + 1e-3:
        spans.append((cursor, end))
    return [(a, b) for a, b in spans if b - a > 1e-3]


def _wall_span(wall: str, width: float, depth: float, inset: float) -> tuple[float, float]:
    """The stretch of a wall's line that is its own (north/south walls own the corners)."""
    if wall in ("north", "south"):
        return -width / 2, width / 2
    return -depth / 2 + inset, depth / 2 - inset


def _room_shell(p: _Params, options: GeometryOptions) -> Built:
    width, depth, height = p.number("width", 0.5, 500), p.number("depth", 0.5, 500), p.number("height", 0.5, 100)
    openings = _openings(p, width, depth, height)
    floor = _material("floor", p.colour("floor"))
    p.colour("sky")
    built: Built = [(_box((-width / 2, -depth / 2, -SLAB), (width / 2, depth / 2, 0.0)), floor)]
    if p.flag("open"):
        return built + [(m, _material("rail", p.colour("trim"))) for m in _rail(width, depth, openings)]
    wall, trim = _material("wall", p.colour("wall")), _material("trim", p.colour("trim"))
    built += [(m, wall) for m in _walls(width, depth, height, openings)]
    built += [(m, trim) for m in _wall_trim(width, depth, height, openings)]
    ceiling = _box((-width / 2, -depth / 2, height), (width / 2, depth / 2, height + SLAB))
    built.append((ceiling, _material("ceiling", p.colour("ceiling"))))
    return built


def _walls(width: float, depth: float, height: float, openings: list[_Opening]) -> list[_Mesh]:
    """Four walls with gaps for the doorways and lintels above them; wall ends hide inside the door trim."""
    meshes = []
    for wall in ("north", "south", "east", "west"):
        start, end = _wall_span(wall, width, depth, WALL_THICKNESS)
        mine = [o for o in openings if o.wall == wall]
        for a0, a1 in _solid_spans(start, end, [(o.lo - 0.01, o.hi + 0.01) for o in mine]):
            meshes.append(_wall_box(wall, width, depth, a0, a1, 0.0, WALL_THICKNESS, 0.0, height))
        for o in mine:
            if o.height < height - 0.02:
                a0, a1 = max(start, o.lo - 0.01), min(end, o.hi + 0.01)
                meshes.append(_wall_box(wall, width, depth, a0, a1, 0.0, WALL_THICKNESS, o.height + 0.01, height))
    return meshes


def _wall_trim(width: float, depth: float, height: float, openings: list[_Opening]) -> list[_Mesh]:
    """Skirting along the inner faces, and jambs and a head around each doorway."""
    meshes = []
    for wall in ("north", "south", "east", "west"):
        start, end = _wall_span(wall, width, depth, WALL_THICKNESS)
        if wall in ("north", "south"):
            start, end = start + WALL_THICKNESS, end - WALL_THICKNESS
        mine = [o for o in openings if o.wall == wall]
        for a0, a1 in _solid_spans(start, end, [(o.lo - JAMB, o.hi + JAMB) for o in mine]):
            meshes.append(_wall_box(wall, width, depth, a0, a1, WALL_THICKNESS, WALL_THICKNESS + PROUD, 0.0, SKIRTING))
        for o in mine:
            top = min(height, o.height + JAMB)
            for a0, a1 in ((o.lo - JAMB, o.lo), (o.hi, o.hi + JAMB)):
                meshes.append(_wall_box(wall, width, depth, a0, a1, -PROUD, WALL_THICKNESS + PROUD, 0.0, top))
            if o.height < height:
                meshes.append(_wall_box(wall, width, depth, o.lo, o.hi, -PROUD, WALL_THICKNESS + PROUD, o.height, top))
    return meshes


def _rail(width: float, depth: float, openings: list[_Opening]) -> list[_Mesh]:
    """A waist-high rail just inside the edge of an open room, with gaps at the doorways."""
    meshes = []
    for wall in ("north", "south", "east", "west"):
        length = width if wall in ("north", "south") else depth
        start, end = -length / 2 + RAIL_INSET, length / 2 - RAIL_INSET
        t0, t1 = RAIL_INSET - 0.03, RAIL_INSET + 0.03
        for a0, a1 in _solid_spans(start, end, [(o.lo, o.hi) for o in openings if o.wall == wall]):
            meshes.append(
                _wall_box(wall, width, depth, a0, a1, t0 + 0.005, t1 - 0.005, RAIL_HEIGHT - 0.05, RAIL_HEIGHT)
            )
            posts = max(2, math.ceil((a1 - a0) / 2.0) + 1)
            for a in np.linspace(a0 + 0.03, a1 - 0.03, posts):
                meshes.append(_wall_box(wall, width, depth, a - 0.03, a + 0.03, t0, t1, 0.0, RAIL_HEIGHT - 0.05))
    return meshes


# --- boards: panels, media, signs -----------------------------------------


def _board(
    width: float, height: float, mounted: bool, frame: ir.Material, face: ir.Material, inset: float = 0.0
) -> Built:
    """A board with a printed face: hung (back at y=0, centre 1.55 m up) or on two legs (bottom 0.7 m up)."""
    if mounted:
        centre = max(MOUNTED_CENTRE, height / 2 + 0.05)
        back, front = 0.0, BOARD_DEPTH
        built: Built = []
    else:
        centre = STANDING_BOTTOM + height / 2
        back, front = -BOARD_DEPTH / 2, BOARD_DEPTH / 2
        built = [(m, frame) for m in _legs(width, centre + height / 2 - 0.05, back)]
    bottom, top = centre - height / 2, centre + height / 2
    built.append((_box((-width / 2, back, bottom), (width / 2, front, top)), frame))
    built.append((_front_quad(0.0, front + FACE_LIFT, centre, width - 2 * inset, height - 2 * inset), face))
    return built


def _legs(width: float, top: float, back: float) -> list[_Mesh]:
    """Two posts behind a free-standing board, with feet."""
    meshes = []
    for x in (-width / 2 + 0.12, width / 2 - 0.12):
        meshes.append(_box((x - 0.025, back - 0.05, 0.0), (x + 0.025, back, top)))
        meshes.append(_box((x - 0.03, back - 0.25, 0.0), (x + 0.03, back + 0.2, 0.04)))
    return meshes


def _panel(p: _Params, options: GeometryOptions) -> Built:
    width, height = p.number("width", 0.1, 20), p.number("height", 0.1, 20)
    image = p.optional_text("image")
    image_bytes = _read_asset(image, p, options) if image else None
    frame = p.colour("frame")
    p.colour("accent")
    png = _rendered(
        options,
        text.render_panel_png,
        p.text("title"),
        p.optional_text("title_en"),
        p.text("text") or "",
        p.optional_text("text_en"),
        width,
        height,
        background=PAPER,
        accent=frame,
        image_bytes=image_bytes,
        font_path=options.font_path,
    )
    return _board(width, height, p.flag("mounted"), _material("frame", frame), _face_material(png))


def _media(p: _Params, options: GeometryOptions) -> Built:
    width, height = p.number("width", 0.1, 20), p.number("height", 0.1, 20)
    kind = p.choice("media", ("image", "video", "audio"))
    asset = p.text("asset")
    inner_w, inner_h = max(0.05, width - 2 * MEDIA_BORDER), max(0.05, height - 2 * MEDIA_BORDER)
    if kind == "image":
        png = _rendered(
            options, text.render_picture_png, _read_asset(asset, p, options), inner_w, inner_h, background=SCREEN
        )
    else:
        png = _rendered(
            options,
            text.render_sign_png,
            p.text("title"),
            p.optional_text("title_en"),
            inner_w,
            inner_h,
            background=SCREEN,
            play_symbol=True,
            font_path=options.font_path,
        )
    p.colour("accent")
    mounted = p.flag("mounted")  # checked before the frame colour, as ever: the first bad param is the one reported
    frame = _material("frame", p.colour("frame"))
    return _board(width, height, mounted, frame, _face_material(png), MEDIA_BORDER)


def _checkpoint_marker(p: _Params, options: GeometryOptions) -> Built:
    radius = p.number("radius", 0.1, 50)
    colour = p.colour("colour")
    sign_w, sign_h, sign_z = 0.56, 0.3, 1.3
    png = _rendered(
        options,
        text.render_sign_png,
        p.text("title"),
        p.optional_text("title_en"),
        sign_w,
        sign_h,
        background=colour,
        font_path=options.font_path,
    )
    face = _face_material(png)
    post = _material("post", MARKER_POST)
    return [
        (_annulus(max(0.0, radius - 0.04), radius + 0.04, 0.008), _material("marker", colour)),
        (_from_trimesh(generators.cylinder(0.03, 0.0, sign_z - sign_h / 2, sections=10)), post),
        (
            _box(
                (-sign_w / 2 - 0.02, -0.02, sign_z - sign_h / 2 - 0.02),
                (sign_w / 2 + 0.02, 0.02, sign_z + sign_h / 2 + 0.02),
            ),
            post,
        ),
        (_front_quad(0.0, 0.02 + FACE_LIFT, sign_z, sign_w, sign_h), face),
        (_back_quad(0.0, -0.02 - FACE_LIFT, sign_z, sign_w, sign_h), face),
    ]


def _portal_sign(p: _Params, options: GeometryOptions) -> Built:
    """A sign just in front of the wall's inner face (the node sits on the room's edge), above the doorway."""
    width = p.number("width", 0.1, 50) + 2 * JAMB + 0.2
    door_height = p.number("door_height", 0.5, 100)
    height = 0.42
    title, title_en = p.text("title"), p.optional_text("title_en")
    colour = p.colour("colour")
    png = _rendered(
        options,
        text.render_sign_png,
        f"前往 {title}",
        f"To {title_en}" if title_en else None,
        width,
        height,
        background=colour,
        font_path=options.font_path,
    )
    back = WALL_THICKNESS + PROUD + 0.005
    bottom = door_height + JAMB + 0.04
    return [
        (_box((-width / 2, back, bottom), (width / 2, back + 0.04, bottom + height)), _material("frame", colour)),
        (_front_quad(0.0, back + 0.04 + FACE_LIFT, bottom + height / 2, width, height), _face_material(png)),
    ]


def _read_asset(path: str, p: _Params, options: GeometryOptions) -> bytes:
    try:
        return options.read_asset(path)
    except GeometryError:
        raise
    except (OSError, KeyError, ValueError) as error:
        p.fail(f"cannot read asset {path!r} ({error})")


# --- assets ----------------------------------------------------------------


class _AssetResolver(trimesh.resolvers.Resolver):
    """Lets glTF/OBJ files find their buffers, materials and textures through read_asset."""

    def __init__(self, base: str, read: Callable[[str], bytes]):
        self.base, self.read = base, read

    def get(self, name: str) -> bytes:
        return self.read(posixpath.normpath(posixpath.join(self.base, name)))

    def write(self, name, data):
        raise GeometryError("geometry: assets are read-only")

    def namespaced(self, namespace: str) -> _AssetResolver:
        return _AssetResolver(posixpath.join(self.base, namespace), self.read)

    def keys(self):
        return []


def _asset(p: _Params, options: GeometryOptions) -> Built:
    """A mesh file: Z-up, scaled, centred on x/y, bottom at `base`."""
    path = p.text("path")
    suffix = posixpath.splitext(path)[1].lower()
    if suffix not in ASSET_SUFFIXES:
        p.fail(f"asset {path!r} is not a mesh ({', '.join(ASSET_SUFFIXES)})")
    scale, base = p.number("scale", 1e-4, 1e4), p.number("base", -100, 100)
    colour = None if p.values["colour"] is None else p.colour("colour")
    data = _read_asset(path, p, options)
    try:
        pieces = load_model(path, data, options.read_asset)
    except GeometryError as problem:
        p.fail(f"asset {path!r}: {problem}")
    positions = np.vstack([m.positions for m, _, _ in pieces]) * scale
    lo, hi = positions.min(axis=0), positions.max(axis=0)
    shift = np.array([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, base - lo[2]])
    built: Built = []
    for m, texture, own_colour in pieces:
        m.positions = m.positions * scale + shift
        if texture is not None:
            built.append((m, _material("asset", own_colour or "#ffffff", texture)))
        else:
            built.append((m, _material("asset", colour or own_colour or "#ffffff")))
    return built


def load_model(path: str, data: bytes, read: Callable[[str], bytes]) -> list[tuple[_Mesh, bytes | None, str | None]]:
    """The meshes of model file `path` (its bytes `data`) in Z-up world space: mesh, texture PNG, own colour.

    Files it uses (glTF buffers, textures, OBJ materials) come through `read`, relative to its folder.
    Raises GeometryError with a plain reason; `scenes.validate` tries this on every model a hall uses.
    """
    suffix = posixpath.splitext(path)[1].lower()
    resolver = _AssetResolver(posixpath.dirname(path), read)
    try:
        scene = trimesh.load_scene(io.BytesIO(data), file_type=suffix[1:], resolver=resolver, process=False)
        pieces = _scene_pieces(scene, suffix in Y_UP_SUFFIXES)
    except GeometryError:
        raise
    except Exception as error:  # trimesh and Pillow raise many kinds for broken files
        raise GeometryError(f"it cannot be loaded ({type(error).__name__}: {error})") from None
    if not pieces:
        raise GeometryError("it has no triangles")
    return pieces


def _scene_pieces(scene: trimesh.Scene, y_up: bool) -> list[tuple[_Mesh, bytes | None, str | None]]:
    """Each mesh instance of a loaded scene in world space: mesh, texture PNG, own colour."""
    convert = np.array([[-1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]]) if y_up else np.eye(3)
    pieces = []
    for node in scene.graph.nodes_geometry:
        transform, geometry_name = scene.graph[node]
        geometry = scene.geometry[geometry_name]
        if not isinstance(geometry, trimesh.Trimesh) or not len(geometry.faces):
            continue
        linear = convert @ np.asarray(transform)[:3, :3]
        vertices = np.asarray(geometry.vertices) @ linear.T + convert @ np.asarray(transform)[:3, 3]
        faces = np.asarray(geometry.faces, np.int64)
        if faces.min() < 0 or faces.max() >= len(vertices):
            raise GeometryError("a face refers to a vertex that does not exist")
        if not np.isfinite(vertices).all():
            raise GeometryError("some of its vertices are not finite numbers")
        if np.linalg.det(linear) < 0:
            faces = faces[:, ::-1]
        m = _Mesh(vertices, generators.vertex_normals(vertices, faces), faces)
        texture, own_colour = _visual(geometry, m)
        pieces.append((m, texture, own_colour))
    return pieces


def _visual(geometry: trimesh.Trimesh, m: _Mesh) -> tuple[bytes | None, str | None]:
    """The texture (setting the mesh's UVs, V from the top) and base colour of a loaded mesh."""
    visual = geometry.visual
    material = getattr(visual, "material", None)
    if material is None:
        return None, None
    image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
    colour = getattr(material, "main_color", None)
    own = "#{:02x}{:02x}{:02x}".format(*[int(c) for c in colour[:3]]) if colour is not None else None
    uv = getattr(visual, "uv", None)
    if image is None or uv is None or len(uv) != len(m.positions):
        return None, own
    m.uvs = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]])
    return _texture_png(image), own


def _texture_png(image: Image.Image) -> bytes:
    """An asset texture as PNG, resized to powers of two (at most 1024 a side)."""
    image = image.convert("RGBA" if "A" in image.getbands() else "RGB")

    def pow2(n: int) -> int:
        return int(min(text.MAX_TEXTURE_PX, max(1, 2 ** round(math.log2(max(n, 1))))))

    size = (pow2(image.width), pow2(image.height))
    if image.size != size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


_BUILDERS: dict[str, Callable[[_Params, GeometryOptions], Built]] = {
    "room-shell": _room_shell,
    "panel": _panel,
    "media": _media,
    "asset": _asset,
    "checkpoint-marker": _checkpoint_marker,
    "portal-sign": _portal_sign,
}
