"""Procedural shapes: terrain, mountains, chain bridges, figures, flags, grass, rocks, plinths.

`generate(kind, params)` returns `Piece`s: trimesh meshes in the shape's own
frame (metres, Z up, front +Y, standing on z=0) with the surface each is made
of (`snow`, `iron`, `cloth`, ...) and its colour.  Vertices shared between
faces are shaded smooth, split ones flat; `Piece.normals` overrides both.
The same params (seed included) give the same meshes.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import trimesh

HeightAt = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Ground height under local (x, y) points, for draping scattered shapes."""

SNOW = "#f3f6fa"
WATER = "#3d6e8c"
ROCK = "#7a726a"
IRON = "#3b3b3d"
STONE = "#8c877e"
SKIN = "#d9a77c"
BOOTS = "#2e2a26"
STAR = "#d0201c"
GOLD = "#d4a62a"
POLE = "#b9b6ae"

DEFAULTS: dict[str, dict[str, Any]] = {
    "terrain": {"landscape": "flat", "width": 8.0, "depth": 8.0, "relief": 1.0, "seed": 1, "colour": "#7a8a5a"},
    "mountain": {"radius": 3.0, "height": 4.0, "snow": True, "seed": 1, "colour": "#6f685e"},
    "chain-bridge": {"length": 8.0, "width": 2.0, "chains": 9, "planks": "all", "colour": "#8b6b45"},
    "figure": {"pose": "stand", "colour": "#5b6b4a", "height": 1.7},
    "flag": {"width": 1.5, "height": 1.0, "colour": "#c8102e", "pole": 3.0},
    "grass": {"radius": 1.0, "count": 40, "seed": 1, "colour": "#6b8e3a"},
    "rock": {"size": 0.8, "seed": 1, "colour": "#857d72"},
    "plinth": {"width": 0.8, "depth": 0.8, "height": 0.8, "colour": "#d8d2c4"},
}
"""Every generator's params with their defaults (the validator may use these)."""
COMMON_PARAMS: dict[str, Any] = {"scale": 1.0, "ground": False}
"""Params any generator accepts: a uniform scale, and `ground` (lift onto the node's terrain)."""
CHOICES: dict[str, tuple[str, ...]] = {
    "landscape": ("flat", "snow-mountain", "marsh", "cliff", "gorge", "hills"),
    "planks": ("all", "half", "none"),
    "pose": ("stand", "march", "salute", "point", "climb", "kneel", "fallen"),
}
LIMITS: dict[str, tuple[float, float]] = {
    "width": (0.05, 200.0),
    "depth": (0.05, 200.0),
    "relief": (0.0, 30.0),
    "radius": (0.05, 100.0),
    "height": (0.05, 100.0),
    "length": (0.5, 200.0),
    "chains": (1, 30),
    "count": (0, 5000),
    "pole": (0.2, 30.0),
    "size": (0.02, 20.0),
    "scale": (0.01, 100.0),
}
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass
class Piece:
    """A mesh made of one surface, in the shape's local frame."""

    mesh: trimesh.Trimesh
    surface: str
    """What it is made of: picks roughness, metalness and sidedness in `geometry`."""
    colour: str
    """'#rrggbb'."""
    normals: np.ndarray | None = None
    """Per-vertex normals, when the topology alone would shade it wrong."""


# --- params ----------------------------------------------------------------


def resolve_params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Params with defaults filled in; ValueError naming the param when one is unknown or wrong."""
    if kind not in DEFAULTS:
        raise ValueError(f"unknown generator {kind!r} (known: {', '.join(sorted(DEFAULTS))})")
    defaults = DEFAULTS[kind] | COMMON_PARAMS
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"{kind}: unknown param {unknown[0]!r} (known: {', '.join(sorted(defaults))})")
    resolved = dict(defaults)
    for key, value in params.items():
        resolved[key] = _checked(kind, key, value, defaults[key])
    return resolved


def _checked(kind: str, key: str, value: Any, default: Any) -> Any:
    where = f"{kind}: param {key!r}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{where} must be a number, got {value!r}")
        if isinstance(default, int) and value != int(value):
            raise ValueError(f"{where} must be a whole number, got {value!r}")
        low, high = LIMITS.get(key, (-math.inf, math.inf))
        if not low <= value <= high:
            raise ValueError(f"{where} must be between {low:g} and {high:g}, got {value!r}")
        return int(value) if isinstance(default, int) else float(value)
    if not isinstance(value, str):
        raise ValueError(f"{where} must be text, got {value!r}")
    if key == "colour" and not COLOUR_RE.match(value):
        raise ValueError(f"{where} must be a colour '#rrggbb', got {value!r}")
    if key in CHOICES and value not in CHOICES[key]:
        raise ValueError(f"{where} must be one of {', '.join(CHOICES[key])}, got {value!r}")
    return value


def generate(kind: str, params: Mapping[str, Any], height_at: HeightAt | None = None) -> list[Piece]:
    """Build a generator's pieces; `height_at` drapes scattered parts (grass) over the ground."""
    p = resolve_params(kind, params)
    scale = p["scale"]
    if kind == "grass" and height_at is not None and scale != 1.0:
        base = height_at
        height_at = lambda x, y: base(x * scale, y * scale) / scale  # noqa: E731
    pieces = _BUILDERS[kind](p, height_at) if kind == "grass" else _BUILDERS[kind](p)
    if scale != 1.0:
        for piece in pieces:
            piece.mesh.apply_scale(scale)
    return pieces


# --- mesh primitives -------------------------------------------------------


def mesh(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    """A trimesh that keeps vertices exactly as given (no merging, no reordering)."""
    return trimesh.Trimesh(vertices=np.asarray(vertices, float), faces=np.asarray(faces, np.int64), process=False)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals from the faces around each vertex (unit length; up if isolated)."""
    vertices = np.asarray(vertices, float)
    faces = np.asarray(faces, np.int64).reshape(-1, 3)
    normals = np.zeros_like(vertices)
    if len(faces):
        a, b, c = (vertices[faces[:, i]] for i in range(3))
        face_normals = np.cross(b - a, c - a)
        for i in range(3):
            np.add.at(normals, faces[:, i], face_normals)
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    up = np.broadcast_to(np.array([0.0, 0.0, 1.0]), normals.shape)
    return np.where(lengths > 1e-12, normals / np.maximum(lengths, 1e-12), up)


def split_faces(m: trimesh.Trimesh) -> trimesh.Trimesh:
    """The same triangles with no shared vertices (flat shading)."""
    faces = np.asarray(m.faces)
    return mesh(np.asarray(m.vertices)[faces.reshape(-1)], np.arange(faces.size).reshape(-1, 3))


def box(lo, hi) -> trimesh.Trimesh:
    """An axis-aligned box from corner `lo` to corner `hi`, 24 vertices (flat faces, outward)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    vertices: list[np.ndarray] = []
    faces: list[tuple[int, int, int]] = []
    for axis in range(3):
        b, c = (axis + 1) % 3, (axis + 2) % 3
        for sign in (1, -1):
            corners = [(0, 0), (1, 0), (1, 1), (0, 1)] if sign > 0 else [(0, 0), (0, 1), (1, 1), (1, 0)]
            start = len(vertices)
            for cb, cc in corners:
                point = np.empty(3)
                point[axis] = hi[axis] if sign > 0 else lo[axis]
                point[b] = hi[b] if cb else lo[b]
                point[c] = hi[c] if cc else lo[c]
                vertices.append(point)
            faces += [(start, start + 1, start + 2), (start, start + 2, start + 3)]
    return mesh(np.array(vertices), np.array(faces))


def segment_box(p0, p1, width: float, depth: float, side_hint=(1.0, 0.0, 0.0)) -> trimesh.Trimesh:
    """A box from p0 to p1 with a width x depth cross-section; its width lies along side_hint where possible."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    axis = p1 - p0
    length = float(np.linalg.norm(axis))
    axis = axis / length if length > 1e-9 else np.array([0.0, 0.0, 1.0])
    side = np.asarray(side_hint, float) - axis * float(np.dot(side_hint, axis))
    if np.linalg.norm(side) < 1e-6:
        side = np.array([0.0, 1.0, 0.0]) - axis * axis[1]
    side /= np.linalg.norm(side)
    third = np.cross(axis, side)
    m = box((-width / 2, -depth / 2, 0.0), (width / 2, depth / 2, max(length, 1e-6)))
    rotation = np.column_stack([side, third, axis])
    m.vertices = m.vertices @ rotation.T + p0
    return m


def _transform(m: trimesh.Trimesh, matrix: np.ndarray) -> trimesh.Trimesh:
    m.apply_transform(matrix)
    return m


def _rot_z(degrees: float) -> np.ndarray:
    return trimesh.transformations.rotation_matrix(math.radians(degrees), (0, 0, 1))


def _rot_x(degrees: float) -> np.ndarray:
    return trimesh.transformations.rotation_matrix(math.radians(degrees), (1, 0, 0))


def _translate(x: float, y: float, z: float) -> np.ndarray:
    return trimesh.transformations.translation_matrix((x, y, z))


def cylinder(radius: float, z0: float, z1: float, sections: int = 8) -> trimesh.Trimesh:
    """An upright cylinder: smooth sides, flat caps (caps have their own vertices)."""
    angles = np.linspace(0, 2 * np.pi, sections, endpoint=False)
    ring = np.column_stack([np.cos(angles) * radius, np.sin(angles) * radius])
    side_v = np.vstack([np.column_stack([ring, np.full(sections, z0)]), np.column_stack([ring, np.full(sections, z1)])])
    i = np.arange(sections)
    j = (i + 1) % sections
    side_f = np.vstack([np.column_stack([i, j, j + sections]), np.column_stack([i, j + sections, i + sections])])
    top_v = np.vstack([[0, 0, z1], np.column_stack([ring, np.full(sections, z1)])])
    top_f = np.column_stack([np.zeros(sections, int), i + 1, j + 1])
    bottom_v = np.vstack([[0, 0, z0], np.column_stack([ring, np.full(sections, z0)])])
    bottom_f = np.column_stack([np.zeros(sections, int), j + 1, i + 1])
    vertices = np.vstack([side_v, top_v, bottom_v])
    faces = np.vstack([side_f, top_f + len(side_v), bottom_f + len(side_v) + len(top_v)])
    return mesh(vertices, faces)


def sphere(radius: float, subdivisions: int = 1) -> trimesh.Trimesh:
    """A smooth icosphere centred on the origin."""
    ico = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return mesh(ico.vertices, ico.faces)


def _concat(meshes: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    vertices, faces, offset = [], [], 0
    for m in meshes:
        vertices.append(np.asarray(m.vertices))
        faces.append(np.asarray(m.faces) + offset)
        offset += len(m.vertices)
    if not vertices:
        return mesh(np.zeros((0, 3)), np.zeros((0, 3), int))
    return mesh(np.vstack(vertices), np.vstack(faces))


def _submesh(vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray, mask: np.ndarray):
    """The faces under mask with only the vertices they use (and those vertices' normals)."""
    chosen = faces[mask]
    used, inverse = np.unique(chosen.reshape(-1), return_inverse=True)
    return mesh(vertices[used], inverse.reshape(-1, 3)), normals[used]


# --- terrain ---------------------------------------------------------------

OCTAVES = (3, 6, 12, 24)
EDGE_BAND = 0.1
"""Fraction of the width and depth over which the terrain comes down to z=0 at its edges."""
GROUND_CLEARANCE = 0.02
"""Lowest height inside a terrain, so it never lies flush with the floor under it (z-fighting)."""


@functools.lru_cache(maxsize=64)
def _lattices(seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.random((n + 1, n + 1)) for n in OCTAVES)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _value_noise(lattice: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    n = lattice.shape[0] - 1
    fu, fv = np.clip(u, 0, 1) * n, np.clip(v, 0, 1) * n
    iu, iv = np.minimum(fu.astype(int), n - 1), np.minimum(fv.astype(int), n - 1)
    tu, tv = _smoothstep(0, 1, fu - iu), _smoothstep(0, 1, fv - iv)
    a, b = lattice[iu, iv], lattice[iu + 1, iv]
    c, d = lattice[iu, iv + 1], lattice[iu + 1, iv + 1]
    return (a * (1 - tu) + b * tu) * (1 - tv) + (c * (1 - tu) + d * tu) * tv


def noise(seed: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Fractal value noise over the unit square, roughly 0..1."""
    total = np.zeros(np.broadcast(u, v).shape)
    for octave, lattice in enumerate(_lattices(seed)):
        total += 0.5**octave * _value_noise(lattice, u, v)
    raw = total / sum(0.5**i for i in range(len(OCTAVES)))
    return np.clip((raw - 0.5) * 2.2 + 0.5, 0.0, 1.0)


def snow_line(params: Mapping[str, Any]) -> float:
    """Height above which a snow-mountain terrain is snow."""
    p = resolve_params("terrain", params)
    return 0.6 * p["relief"] * p["scale"]


def water_level(params: Mapping[str, Any]) -> float | None:
    """Height of the water surface of a marsh or gorge terrain (None for other landscapes)."""
    p = resolve_params("terrain", params)
    r = p["relief"]
    level = {"marsh": 0.05 + 0.35 * r * 0.4, "gorge": 0.05 * r + 0.06 * r * 0.6 + 0.02}.get(p["landscape"])
    return None if level is None else level * p["scale"]


def _landscape_height(landscape: str, u: np.ndarray, v: np.ndarray, r: float, n: np.ndarray) -> np.ndarray:
    if landscape == "flat":
        return GROUND_CLEARANCE + 0.1 * r * n
    if landscape == "hills":
        return GROUND_CLEARANCE + r * n
    if landscape == "snow-mountain":
        d = np.hypot(u - 0.5, v - 0.5) * 2
        base = np.clip(1 - d, 0, 1) ** 1.3
        return r * (0.1 + 0.9 * base) * (0.7 + 0.6 * n)
    if landscape == "marsh":
        return 0.05 + 0.35 * r * n
    if landscape == "cliff":
        s = _smoothstep(0.46, 0.54, v + 0.08 * (n - 0.5))
        return r * (0.06 + 0.94 * s) + 0.08 * r * n
    if landscape == "gorge":
        t = np.abs(v - 0.5 + 0.1 * (n - 0.5))
        return r * (0.05 + 0.95 * _smoothstep(0.06, 0.22, t)) + 0.06 * r * n
    raise ValueError(f"terrain: unknown landscape {landscape!r}")


def _edge_window(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    edge_u = _smoothstep(0.0, EDGE_BAND, np.minimum(u, 1 - u))
    edge_v = _smoothstep(0.0, EDGE_BAND, np.minimum(v, 1 - v))
    return edge_u * edge_v


def terrain_height(params: Mapping[str, Any], x, y) -> np.ndarray:
    """Ground height of a terrain shape at local (x, y) (arrays or numbers); 0 outside it."""
    p = resolve_params("terrain", params)
    scale = p["scale"]
    x, y = np.asarray(x, float) / scale, np.asarray(y, float) / scale
    u, v = x / p["width"] + 0.5, y / p["depth"] + 0.5
    n = noise(p["seed"], u, v)
    h = _landscape_height(p["landscape"], u, v, p["relief"], n) * _edge_window(u, v)
    inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    return np.where(inside, h, 0.0) * scale


def _grid_cells(length: float) -> int:
    return int(np.clip(round(length / 0.2), 16, 64))


def _terrain(p: dict) -> list[Piece]:
    width, depth = p["width"], p["depth"]
    nx, ny = _grid_cells(width), _grid_cells(depth)
    xs, ys = np.linspace(-width / 2, width / 2, nx + 1), np.linspace(-depth / 2, depth / 2, ny + 1)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    unscaled = p | {"scale": 1.0}
    gz = terrain_height(unscaled, gx, gy)
    vertices = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])
    index = np.arange((nx + 1) * (ny + 1)).reshape(nx + 1, ny + 1)
    v00, v10, v01, v11 = index[:-1, :-1].ravel(), index[1:, :-1].ravel(), index[:-1, 1:].ravel(), index[1:, 1:].ravel()
    faces = np.vstack([np.column_stack([v00, v10, v11]), np.column_stack([v00, v11, v01])])
    normals = vertex_normals(vertices, faces)
    surfaces = _terrain_surfaces(p, vertices, faces)
    pieces = []
    for surface, colour in (("ground", p["colour"]), ("rock", ROCK), ("snow", SNOW)):
        mask = surfaces == surface
        if mask.any():
            m, n = _submesh(vertices, faces, normals, mask)
            pieces.append(Piece(m, surface, colour, n))
    level = water_level(unscaled)
    if level is not None:
        water = _water(gx, gy, gz, level)
        if water is not None:
            pieces.append(Piece(water, "water", WATER))
    return pieces


def _terrain_surfaces(p: dict, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Surface name per face: snow above the snow line, rock on steep faces, else ground."""
    tri = vertices[faces]
    centre_z = tri[:, :, 2].mean(axis=1)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    slope_z = normal[:, 2] / np.maximum(np.linalg.norm(normal, axis=1), 1e-12)
    surfaces = np.full(len(faces), "ground", dtype=object)
    if p["landscape"] in ("cliff", "gorge", "snow-mountain"):
        surfaces[slope_z < 0.6] = "rock"
    if p["landscape"] == "snow-mountain":
        surfaces[centre_z > snow_line(p | {"scale": 1.0})] = "snow"
    return surfaces


def _water(gx: np.ndarray, gy: np.ndarray, gz: np.ndarray, level: float) -> trimesh.Trimesh | None:
    """Flat quads at `level` over inner cells where the ground dips below it."""
    nx, ny = gx.shape[0] - 1, gx.shape[1] - 1
    low = np.minimum.reduce([gz[:-1, :-1], gz[1:, :-1], gz[:-1, 1:], gz[1:, 1:]]) < level
    margin_x, margin_y = max(1, math.ceil(nx * EDGE_BAND)), max(1, math.ceil(ny * EDGE_BAND))
    inner = np.zeros_like(low)
    inner[margin_x : nx - margin_x, margin_y : ny - margin_y] = True
    cells = np.argwhere(low & inner)
    if not len(cells):
        return None
    i, j = cells[:, 0], cells[:, 1]
    corners = [
        (gx[i, j], gy[i, j]),
        (gx[i + 1, j], gy[i + 1, j]),
        (gx[i + 1, j + 1], gy[i + 1, j + 1]),
        (gx[i, j + 1], gy[i, j + 1]),
    ]
    columns = [np.column_stack([cx, cy, np.full(len(cells), level)]) for cx, cy in corners]
    vertices = np.stack(columns, axis=1).reshape(-1, 3)
    base = np.arange(len(cells)) * 4
    faces = np.vstack([np.column_stack([base, base + 1, base + 2]), np.column_stack([base, base + 2, base + 3])])
    return mesh(vertices, faces)


# --- mountain and rock -----------------------------------------------------


def _mountain(p: dict) -> list[Piece]:
    rng = np.random.default_rng(p["seed"])
    radius, height = p["radius"], p["height"]
    rings, sections = 7, 20
    angles = np.linspace(0, 2 * np.pi, sections, endpoint=False) + rng.uniform(0, 0.2, sections)
    rows = []
    for k in range(rings):
        t = k / rings
        r = radius * (1 - t) ** 0.85 * (1 + rng.uniform(-0.18, 0.18, sections))
        z = np.zeros(sections) if k == 0 else height * t * (1 + rng.uniform(-0.12, 0.12, sections))
        rows.append(np.column_stack([np.cos(angles) * r, np.sin(angles) * r, z]))
    apex = np.array([[rng.uniform(-0.05, 0.05) * radius, rng.uniform(-0.05, 0.05) * radius, height]])
    vertices = np.vstack(rows + [apex])
    faces = []
    for k in range(rings - 1):
        for s in range(sections):
            a, b = k * sections + s, k * sections + (s + 1) % sections
            faces += [(a, b, b + sections), (a, b + sections, a + sections)]
    top = (rings - 1) * sections
    apex_index = rings * sections
    faces += [(top + s, top + (s + 1) % sections, apex_index) for s in range(sections)]
    faceted = split_faces(mesh(vertices, np.array(faces)))
    centre_z = faceted.vertices[faceted.faces].mean(axis=1)[:, 2]
    snowy = centre_z > 0.68 * height if p["snow"] else np.zeros(len(faceted.faces), bool)
    pieces = [Piece(_faces_subset(faceted, ~snowy), "rock", p["colour"])]
    if snowy.any():
        pieces.append(Piece(_faces_subset(faceted, snowy), "snow", SNOW))
    return pieces


def _faces_subset(m: trimesh.Trimesh, mask: np.ndarray) -> trimesh.Trimesh:
    sub, _ = _submesh(np.asarray(m.vertices), np.asarray(m.faces), np.zeros_like(m.vertices), mask)
    return sub


def _rock(p: dict) -> list[Piece]:
    rng = np.random.default_rng(p["seed"])
    size = p["size"]
    ico = trimesh.creation.icosphere(subdivisions=1)
    vertices = np.asarray(ico.vertices) * rng.uniform(0.78, 1.15, (len(ico.vertices), 1))
    vertices *= np.array([1.0, rng.uniform(0.75, 1.0), rng.uniform(0.55, 0.75)]) * size / 2
    vertices[:, 2] = np.maximum(vertices[:, 2], vertices[:, 2].min() * 0.6)
    vertices[:, 2] -= vertices[:, 2].min() + 0.06 * size
    return [Piece(split_faces(mesh(vertices, ico.faces)), "rock", p["colour"])]


def _plinth(p: dict) -> list[Piece]:
    w, d = p["width"], p["depth"]
    return [Piece(box((-w / 2, -d / 2, 0), (w / 2, d / 2, p["height"])), "plinth", p["colour"])]


# --- chain bridge ----------------------------------------------------------

LINK_SECTIONS = 6


@functools.lru_cache(maxsize=8)
def _link_template(pitch: float) -> tuple[np.ndarray, np.ndarray]:
    """One chain link (an oval ring of square section) along +X, lying in the XY plane."""
    a, b, t = 0.62 * pitch, 0.32 * pitch, 0.07 * pitch
    theta = np.linspace(0, 2 * np.pi, LINK_SECTIONS, endpoint=False)
    path = np.column_stack([a * np.cos(theta), b * np.sin(theta), np.zeros_like(theta)])
    outward = np.column_stack([np.cos(theta) / a, np.sin(theta) / b, np.zeros_like(theta)])
    outward /= np.linalg.norm(outward, axis=1, keepdims=True)
    up = np.array([0.0, 0.0, 1.0])
    corners = [(1, 1), (-1, 1), (-1, -1), (1, -1)]
    vertices = np.array([p + t * (cu * o + cz * up) for p, o in zip(path, outward) for cu, cz in corners])
    triangles: list[tuple[int, int, int]] = []
    for j in range(LINK_SECTIONS):
        nj = (j + 1) % LINK_SECTIONS
        for k in range(4):
            nk = (k + 1) % 4
            q = (j * 4 + k, nj * 4 + k, nj * 4 + nk, j * 4 + nk)
            triangles += [(q[0], q[1], q[2]), (q[0], q[2], q[3])]
    faces = np.array(triangles)
    if mesh(vertices, faces).volume < 0:
        faces = faces[:, ::-1]
    return vertices, faces


def _chain(points: np.ndarray, pitch: float) -> trimesh.Trimesh:
    """Links along a polyline of link centres (in the YZ plane), alternately flat and upright."""
    template_v, template_f = _link_template(pitch)
    tangents = np.gradient(points, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    across = np.broadcast_to(np.array([1.0, 0.0, 0.0]), tangents.shape)
    upright = np.cross(tangents, across)
    vertices, faces = [], []
    for k, (centre, tangent) in enumerate(zip(points, tangents)):
        side, normal = (across[k], upright[k]) if k % 2 == 0 else (upright[k], -across[k])
        rotation = np.column_stack([tangent, side, normal])
        vertices.append(template_v @ rotation.T + centre)
        faces.append(template_f + k * len(template_v))
    return mesh(np.vstack(vertices), np.vstack(faces))


@dataclass(frozen=True)
class _BridgeSize:
    """Derived measures of a chain bridge (unscaled)."""

    sag: float
    deck_z: float
    """Height of the chain ends, on the abutments."""
    pitch: float
    """Link length."""
    abutment: float
    span: float
    """Half the length of the chains."""

    def chain_z(self, y):
        return self.deck_z - self.sag * (1 - (np.asarray(y, float) / self.span) ** 2)


def _bridge_size(p: dict) -> _BridgeSize:
    length = p["length"]
    abutment = min(0.5, length * 0.1)
    sag = 0.035 * length
    return _BridgeSize(sag, sag + 0.15, max(0.16, length / 100), abutment, length / 2 - abutment * 0.5)


def _plank_rows(p: dict, size: _BridgeSize) -> np.ndarray:
    if p["planks"] == "none":
        return np.zeros(0)
    return np.arange(-size.span + 0.15, (0.0 if p["planks"] == "half" else size.span - 0.1), 0.3)


def bridge_deck_height(params: Mapping[str, Any], x, y) -> np.ndarray:
    """Top of a chain bridge's deck (planks, or bare chains) at local (x, y); NaN off the bridge."""
    p = resolve_params("chain-bridge", params)
    scale = p["scale"]
    x, y = np.asarray(x, float) / scale, np.asarray(y, float) / scale
    size = _bridge_size(p)
    rows = _plank_rows(p, size)
    planked = np.zeros(np.shape(y), bool)
    if len(rows):
        planked = (y >= rows[0] - 0.1) & (y <= rows[-1] + 0.1)
    chains_top = size.chain_z(np.clip(y, -size.span, size.span)) + 0.32 * size.pitch
    top = np.where(planked, chains_top + 0.08 * size.pitch + 0.04, chains_top)
    on = (np.abs(x) <= p["width"] / 2) & (np.abs(y) <= p["length"] / 2)
    return np.where(on, top, np.nan) * scale


def _chain_bridge(p: dict) -> list[Piece]:
    length, width = p["length"], p["width"]
    size = _bridge_size(p)
    count = max(2, int(2 * size.span / size.pitch))
    ys = np.linspace(-size.span, size.span, count)
    floor_xs = np.linspace(-width / 2 * 0.85, width / 2 * 0.85, p["chains"]) if p["chains"] > 1 else np.zeros(1)
    chains = [_chain(np.column_stack([np.full(count, x), ys, size.chain_z(ys)]), size.pitch) for x in floor_xs]
    post_x = width / 2 + 0.1
    hand_z = size.chain_z(ys) + 1.0
    chains += [_chain(np.column_stack([np.full(count, s * post_x), ys, hand_z]), size.pitch) for s in (-1, 1)]
    pieces = [Piece(_concat(chains), "iron", IRON)]
    planks = _planks(_plank_rows(p, size), width, size.chain_z, 0.4 * size.pitch)
    if planks is not None:
        pieces.append(Piece(planks, "wood", p["colour"]))
    stone = []
    for s in (-1, 1):
        y0, y1 = sorted((s * length / 2, s * (length / 2 - size.abutment)))
        stone.append(box((-width / 2 - 0.25, y0, 0), (width / 2 + 0.25, y1, size.deck_z)))
        for sx in (-1, 1):
            post_lo = (sx * post_x - 0.1, s * size.span - 0.1, size.deck_z)
            stone.append(box(post_lo, (sx * post_x + 0.1, s * size.span + 0.1, size.deck_z + 1.15)))
    pieces.append(Piece(_concat(stone), "stone", STONE))
    return pieces


def _planks(rows: np.ndarray, width: float, chain_z, lift: float) -> trimesh.Trimesh | None:
    """Planks across the floor chains at the given rows, tilted with the chains."""
    boards = []
    for y in rows:
        slope = (chain_z(y + 0.01) - chain_z(y - 0.01)) / 0.02
        board = box((-width / 2, -0.1, 0.0), (width / 2, 0.1, 0.04))
        board.apply_transform(_translate(0, y, float(chain_z(y)) + lift) @ _rot_x(math.degrees(math.atan(slope))))
        boards.append(board)
    return _concat(boards) if boards else None


# --- figure ----------------------------------------------------------------


@dataclass(frozen=True)
class Pose:
    """Limb directions (unit-free vectors) in the body frame, right side at +x, front +y."""

    lean: float
    """Forward lean of the upper body, degrees."""
    right_arm: tuple[tuple[float, float, float], tuple[float, float, float]]
    left_arm: tuple[tuple[float, float, float], tuple[float, float, float]]
    right_leg: tuple[tuple[float, float, float], tuple[float, float, float]]
    left_leg: tuple[tuple[float, float, float], tuple[float, float, float]]
    lying: bool = False


POSES: dict[str, Pose] = {
    "stand": Pose(
        0,
        ((0.08, 0, -1), (0.04, 0.05, -1)),
        ((-0.08, 0, -1), (-0.04, 0.05, -1)),
        ((0.02, 0, -1), (0, 0, -1)),
        ((-0.02, 0, -1), (0, 0, -1)),
    ),
    "march": Pose(
        6,
        ((0.06, -0.5, -1), (0.03, -0.2, -1)),
        ((-0.06, 0.55, -1), (-0.03, 1.0, -0.7)),
        ((0.02, 0.5, -1), (0, 0.05, -1)),
        ((-0.02, -0.35, -1), (0, -0.7, -1)),
    ),
    "salute": Pose(
        0,
        ((0.85, 0.5, -0.05), (-0.85, 0.05, 0.52)),
        ((-0.06, 0, -1), (-0.03, 0.02, -1)),
        ((0.03, 0, -1), (0, 0, -1)),
        ((-0.03, 0, -1), (0, 0, -1)),
    ),
    "point": Pose(
        4,
        ((0.2, 1, 0.35), (0.12, 1, 0.42)),
        ((-0.1, 0.05, -1), (-0.05, 0.1, -1)),
        ((0.03, 0.22, -1), (0, 0.05, -1)),
        ((-0.03, -0.1, -1), (0, -0.05, -1)),
    ),
    "climb": Pose(
        32,
        ((0.15, 0.8, 0.6), (0.05, 0.9, 0.5)),
        ((-0.15, 0.5, -0.6), (-0.05, 0.8, -0.3)),
        ((0.03, 0.95, -0.45), (0, -0.05, -1)),
        ((-0.03, -0.3, -1), (0, -0.4, -1)),
    ),
    "kneel": Pose(
        5,
        ((0.12, 0.35, -1), (0.05, 0.9, -0.35)),
        ((-0.12, 0.25, -1), (-0.05, 0.6, -0.6)),
        ((0.05, -0.1, -1), (0, -1, -0.03)),
        ((-0.05, 1, -0.1), (0, 0.03, -1)),
    ),
    "fallen": Pose(
        0,
        ((0.7, 0.2, -0.7), (0.3, 0.6, -0.3)),
        ((-0.4, -0.1, -1), (-0.2, 0.3, -1)),
        ((0.12, 0.1, -1), (0, -0.6, -1)),
        ((-0.08, 0, -1), (0, 0, -1)),
        lying=True,
    ),
}


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _figure(p: dict) -> list[Piece]:
    h = p["height"]
    pose = POSES[p["pose"]]
    cloth: list[trimesh.Trimesh] = []
    skin: list[trimesh.Trimesh] = []
    boots: list[trimesh.Trimesh] = []
    star: list[trimesh.Trimesh] = []
    hip = np.array([0.0, 0.0, 0.53 * h])
    upper = _rot_x(-pose.lean)[:3, :3]

    def up_body(point):
        return hip + upper @ (np.asarray(point, float) - hip)

    # legs (cloth trousers, boots at the feet)
    for side, (thigh_dir, shin_dir) in ((1, pose.right_leg), (-1, pose.left_leg)):
        joint = hip + np.array([side * 0.06 * h, 0, 0])
        knee = joint + _unit(thigh_dir) * 0.25 * h
        ankle = knee + _unit(shin_dir) * 0.24 * h
        cloth += [segment_box(joint, knee, 0.085 * h, 0.09 * h), segment_box(knee, ankle, 0.07 * h, 0.075 * h)]
        forward = _unit(np.cross([1.0, 0.0, 0.0], _unit(shin_dir)))
        boots.append(segment_box(ankle - forward * 0.03 * h, ankle + forward * 0.12 * h, 0.065 * h, 0.05 * h))
    # body
    cloth.append(segment_box(hip + [0, 0, -0.04 * h], hip + [0, 0, 0.05 * h], 0.2 * h, 0.11 * h))
    neck = up_body(hip + [0, 0, 0.29 * h])
    cloth.append(segment_box(up_body(hip + [0, 0, 0.04 * h]), neck, 0.23 * h, 0.12 * h))
    # arms
    for side, (upper_dir, fore_dir) in ((1, pose.right_arm), (-1, pose.left_arm)):
        shoulder = up_body(hip + [side * 0.135 * h, 0, 0.27 * h])
        elbow = shoulder + upper @ _unit(upper_dir) * 0.17 * h
        wrist = elbow + upper @ _unit(fore_dir) * 0.15 * h
        hand = wrist + upper @ _unit(fore_dir) * 0.06 * h
        cloth += [segment_box(shoulder, elbow, 0.065 * h, 0.07 * h), segment_box(elbow, wrist, 0.055 * h, 0.06 * h)]
        skin.append(segment_box(wrist, hand, 0.045 * h, 0.03 * h))
    # head with a cap (brim and star at the front)
    head_centre = up_body(hip + [0, 0, 0.395 * h])
    skin.append(segment_box(neck, up_body(hip + [0, 0, 0.345 * h]), 0.05 * h, 0.05 * h))
    head = sphere(0.065 * h)
    head.apply_translation(head_centre)
    skin.append(head)
    cap = cylinder(0.068 * h, 0.02 * h, 0.07 * h, sections=8)
    brim = box((-0.05 * h, 0.03 * h, 0.015 * h), (0.05 * h, 0.1 * h, 0.025 * h))
    badge = box((-0.012 * h, 0.066 * h, 0.035 * h), (0.012 * h, 0.072 * h, 0.06 * h))
    for part, bucket in ((cap, cloth), (brim, cloth), (badge, star)):
        part.apply_transform(_translate(*head_centre) @ _rot_x(-pose.lean))
        bucket.append(part)
    groups = [("cloth", p["colour"], cloth), ("skin", SKIN, skin), ("boots", BOOTS, boots), ("star", STAR, star)]
    pieces = [Piece(_concat(meshes), surface, colour) for surface, colour, meshes in groups]
    _settle(pieces, lying=pose.lying)
    return pieces


def _settle(pieces: list[Piece], lying: bool) -> None:
    """Lay the figure down on its back (head to -Y) if lying, then put its lowest point on z=0."""
    if lying:
        for piece in pieces:
            piece.mesh.apply_transform(_rot_x(90))
    lowest = min(float(piece.mesh.vertices[:, 2].min()) for piece in pieces)
    for piece in pieces:
        piece.mesh.apply_translation((0, 0, -lowest))


# --- flag and grass --------------------------------------------------------


def _flag(p: dict) -> list[Piece]:
    width, height = p["width"], p["height"]
    pole = max(p["pole"], height + 0.2)
    radius = max(0.02, 0.012 * pole)
    top = pole - 0.06
    cols, rows = 12, 5
    u = np.linspace(0, 1, cols + 1)
    w = np.linspace(0, 1, rows + 1)
    gu, gw = np.meshgrid(u, w, indexing="ij")
    x = radius + gu * width
    y = 0.06 * width * np.sin(gu * 2.4 * np.pi) * gu
    z = top - height + gw * height - 0.04 * width * gu
    vertices = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
    index = np.arange((cols + 1) * (rows + 1)).reshape(cols + 1, rows + 1)
    a, b, c, d = index[:-1, :-1].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel(), index[:-1, 1:].ravel()
    faces = np.vstack([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    # the cloth faces -Y with these faces; turn it to face the front (+Y) as seen from the front
    faces = faces[:, ::-1]
    finial = sphere(radius * 2.2)
    finial.apply_translation((0, 0, pole + radius * 1.5))
    return [
        Piece(mesh(vertices, faces), "flag", p["colour"]),
        Piece(cylinder(radius, 0.0, pole, sections=8), "pole", POLE),
        Piece(finial, "gold", GOLD),
    ]


def _grass(p: dict, height_at: HeightAt | None = None) -> list[Piece]:
    count = p["count"]
    if count == 0:
        return []
    rng = np.random.default_rng(p["seed"])
    radius = p["radius"]
    r = radius * np.sqrt(rng.random(count))
    angle = rng.uniform(0, 2 * np.pi, count)
    cx, cy = r * np.cos(angle), r * np.sin(angle)
    cz = height_at(cx, cy) if height_at is not None else np.zeros(count)
    blades = 3
    turn = rng.uniform(0, np.pi, (count, 1)) + np.arange(blades) * np.pi / blades
    tall = rng.uniform(0.15, 0.35, (count, blades))
    lean = rng.uniform(-0.08, 0.08, (count, blades, 2))
    half = 0.018
    dx, dy = np.cos(turn) * half, np.sin(turn) * half
    base_l = np.stack([cx[:, None] - dx, cy[:, None] - dy, np.broadcast_to(cz[:, None], dx.shape)], axis=-1)
    base_r = np.stack([cx[:, None] + dx, cy[:, None] + dy, np.broadcast_to(cz[:, None], dx.shape)], axis=-1)
    tip = np.stack([cx[:, None] + lean[..., 0], cy[:, None] + lean[..., 1], cz[:, None] + tall], axis=-1)
    vertices = np.stack([base_l, base_r, tip], axis=2).reshape(-1, 3)
    faces = np.arange(len(vertices)).reshape(-1, 3)
    # blades are lit as if they faced the sky, so both sides shade alike
    face_n = vertex_normals(vertices, faces)
    normals = face_n * 0.35 + np.array([0.0, 0.0, 1.0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return [Piece(mesh(vertices, faces), "grass", p["colour"], normals)]


_BUILDERS: dict[str, Callable[..., list[Piece]]] = {
    "terrain": _terrain,
    "mountain": _mountain,
    "chain-bridge": _chain_bridge,
    "figure": _figure,
    "flag": _flag,
    "grass": _grass,
    "rock": _rock,
    "plinth": _plinth,
}
