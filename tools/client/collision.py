"""Collision solids made from a chunk's own triangles, grouped for fast traversal.

Colliding into visible geometry tests every triangle of every `Geom` whose
bounds are touched: ~50 ms per frame in the gorge of `party-history` (one
58k-triangle bridge).  `collision_mesh` (or `CollisionBuilder`, a slice per frame)
instead copies the triangles into `CollisionPolygon`s once, when a chunk
arrives, sorted into a grid of `CollisionNode`s so a traversal looks at a
few hundred at most:

    collision:<chunk>
      <scene node name>          (e.g. `foyer/exhibit/party-flag`, for picking)
        walls  (|normal.z| < 0.7)   into-mask WALL_MASK | PICK_MASK
        floors (normal.z >= 0.7)    into-mask FLOOR_MASK | PICK_MASK

Downward faces (ceilings, undersides) are left out.  Node names contain '/',
so look groups up by `getName()`, never with `NodePath.find`.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict

import numpy as np
from panda3d.core import (
    BitMask32,
    CollisionNode,
    CollisionPolygon,
    GeomTriangles,
    NodePath,
    Point3,
)

log = logging.getLogger(__name__)

WALL_MASK = BitMask32.bit(21)
FLOOR_MASK = BitMask32.bit(22)
PICK_MASK = BitMask32.bit(23)
CELL = 2.0
"""Grid cell edge, metres."""
WALL_NORMAL_Z = 0.7
MIN_AREA = 1e-6
"""Twice the triangle area (|cross product|) below which a triangle is dropped as degenerate."""


def collision_mesh(chunk: NodePath, cell: float = CELL) -> NodePath:
    """Collision solids for the chunk's triangles, in the chunk's coordinates (see the module doc)."""
    builder = CollisionBuilder(chunk, cell)
    while not builder.step(1.0):
        pass
    return builder.root


class CollisionBuilder:
    """`collision_mesh`, a slice at a time: `step(budget)` until it returns True, then use `root`.

    Panda3D objects are built on the main thread only (building them on a
    worker thread while frames render crashed the client now and then), and
    the time budget keeps a 58k-triangle chunk from stalling a frame.
    """

    def __init__(self, chunk: NodePath, cell: float = CELL) -> None:
        self.root = NodePath(f"collision:{chunk.getName()}")
        self.polygons = 0
        self.done = False
        self._steps = self._build(chunk, cell)

    def step(self, budget: float) -> bool:
        """Work for about `budget` seconds; whether the mesh is complete."""
        deadline = time.perf_counter() + budget
        while not self.done:
            try:
                next(self._steps)
            except StopIteration:
                self.done = True
                log.debug("collision: %s: %d polygons", self.root.getName(), self.polygons)
                break
            if time.perf_counter() >= deadline:
                break
        return self.done

    def _build(self, chunk: NodePath, cell: float):
        for group_name, triangles in _groups(chunk):
            group = self.root.attachNewNode(group_name)
            for node in _cells(triangles, cell):
                group.attachNewNode(node)
                self.polygons += node.getNumSolids()
                yield


def chunk_triangles(chunk: NodePath) -> np.ndarray:
    """All triangles under `chunk`, in its coordinates, shape (n, 3, 3)."""
    parts = [t for _, t in _groups(chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, 3, 3))


def _groups(chunk: NodePath):
    """(scene node name, triangles) for each direct child of the chunk root holding geometry."""
    groups: dict[str, list[np.ndarray]] = defaultdict(list)
    for geom_np in chunk.findAllMatches("**/+GeomNode"):
        owner = geom_np
        while owner.getParent() != chunk and not owner.getParent().isEmpty():
            owner = owner.getParent()
        name = owner.getName() if owner != chunk else chunk.getName()
        matrix = _matrix(geom_np.getMat(chunk))
        node = geom_np.node()
        for i in range(node.getNumGeoms()):
            triangles = _geom_triangles(node.getGeom(i))
            if len(triangles):
                groups[name].append(triangles @ matrix[:3, :3] + matrix[3, :3])
    return [(name, np.concatenate(parts)) for name, parts in groups.items()]


def _matrix(mat) -> np.ndarray:
    return np.array([[mat.getCell(r, c) for c in range(4)] for r in range(4)], dtype=np.float64)


def _geom_triangles(geom) -> np.ndarray:
    """A `Geom`'s triangles as (n, 3, 3) float64 vertex positions (row vectors)."""
    geom = geom.decompose()
    vdata = geom.getVertexData()
    fmt = vdata.getFormat()
    array_index = fmt.getArrayWith("vertex")
    column = fmt.getColumn("vertex")
    if array_index < 0 or column is None or column.getNumComponents() < 3:
        return np.zeros((0, 3, 3))
    stride = fmt.getArray(array_index).getStride()
    raw = np.frombuffer(memoryview(vdata.getArray(array_index)), dtype=np.uint8)
    if not len(raw):
        return np.zeros((0, 3, 3))
    rows = raw.reshape(-1, stride)
    start = column.getStart()
    if column.getComponentBytes() != 4:  # doubles or packed data: the slow, general reader
        return _triangles_by_reader(geom)
    positions = np.ascontiguousarray(rows[:, start : start + 12]).view("<f4").reshape(-1, 3).astype(np.float64)
    parts = []
    for p in range(geom.getNumPrimitives()):
        prim = geom.getPrimitive(p)
        if not isinstance(prim, GeomTriangles):
            continue
        if prim.isIndexed():
            dtype = {1: np.uint8, 2: np.uint16, 4: np.uint32}[prim.getIndexStride()]
            index = np.frombuffer(memoryview(prim.getVertices()), dtype=dtype)
        else:
            index = np.arange(prim.getFirstVertex(), prim.getFirstVertex() + prim.getNumVertices())
        parts.append(positions[index[: len(index) // 3 * 3].reshape(-1, 3)])
    return np.concatenate(parts) if parts else np.zeros((0, 3, 3))


def _triangles_by_reader(geom) -> np.ndarray:
    from panda3d.core import GeomVertexReader

    reader = GeomVertexReader(geom.getVertexData(), "vertex")
    points = []
    while not reader.isAtEnd():
        v = reader.getData3()
        points.append((v.x, v.y, v.z))
    positions = np.array(points, dtype=np.float64)
    parts = []
    for p in range(geom.getNumPrimitives()):
        prim = geom.getPrimitive(p)
        if isinstance(prim, GeomTriangles):
            index = [prim.getVertex(i) for i in range(prim.getNumVertices())]
            parts.append(positions[np.array(index, dtype=np.int64).reshape(-1, 3)])
    return np.concatenate(parts) if parts else np.zeros((0, 3, 3))


def _cells(triangles: np.ndarray, cell: float):
    """Wall and floor `CollisionNode`s of one group, one per kind per grid cell (a generator)."""
    cross = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    length = np.linalg.norm(cross, axis=1)
    keep = length > MIN_AREA
    normal_z = np.where(keep, cross[:, 2] / np.maximum(length, 1e-12), 0.0)
    kinds = (
        ("walls", keep & (np.abs(normal_z) < WALL_NORMAL_Z), WALL_MASK | PICK_MASK),
        ("floors", keep & (normal_z >= WALL_NORMAL_Z), FLOOR_MASK | PICK_MASK),
    )
    for name, mask, into in kinds:
        chosen = triangles[mask]
        if not len(chosen):
            continue
        centroid = chosen.mean(axis=1)
        keys = np.floor(centroid[:, :2] / cell).astype(np.int64)
        order = np.lexsort((keys[:, 1], keys[:, 0]))
        chosen, keys = chosen[order], keys[order]
        breaks = np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1
        for block in np.split(chosen, breaks):
            node = CollisionNode(name)
            node.setIntoCollideMask(into)
            node.setFromCollideMask(BitMask32.allOff())
            for a, b, c in block.tolist():
                node.addSolid(CollisionPolygon(Point3(*a), Point3(*b), Point3(*c)))
            yield node
