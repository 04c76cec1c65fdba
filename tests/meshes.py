"""Test helper: hand-made IR meshes for the emitter and preview tests."""

from __future__ import annotations

import numpy as np

from scenes import ir


def box_mesh(sx: float, sy: float, sz: float, *, uvs: bool = True) -> ir.MeshData:
    """A box with its bottom on z=0, centred on the origin: 24 vertices, 12 outward triangles."""
    positions: list[np.ndarray] = []
    normals: list[np.ndarray] = []
    coords: list[tuple[float, float]] = []
    indices: list[tuple[int, int, int]] = []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            n = np.zeros(3)
            n[axis] = sign
            u = np.zeros(3)
            u[(axis + 1) % 3] = 1.0
            v = np.cross(n, u)
            first = len(positions)
            for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                positions.append((n + a * u + b * v) * 0.5 * np.array([sx, sy, sz]) + [0, 0, sz / 2])
                normals.append(n)
                coords.append(((a + 1) / 2, (1 - b) / 2))
            indices += [(first, first + 1, first + 2), (first, first + 2, first + 3)]
    return ir.MeshData(
        np.array(positions, np.float32),
        np.array(normals, np.float32),
        np.array(indices, np.uint32),
        np.array(coords, np.float32) if uvs else None,
    )
