"""Both emitters consume the same IR: node names, triangle counts and bounds must agree.

The .glb is read back through panda3d-gltf (which converts Y-up to Z-up), the
.bam through Panda3D's own loader, so this also checks the axis conversion.
"""

from __future__ import annotations

import pytest
import yaml
from panda3d.core import Filename, GeomNode, Loader, LoaderOptions, NodePath

from scenes.emit_bam import emit_bam
from scenes.emit_gltf import emit_gltf
from scenes.geometry import GeometryOptions, build_chunk_meshes
from scenes.layout import layout_hall
from scenes.model import Hall
from tests.conftest import ALPHA


def _triangles(path: NodePath) -> int:
    total = 0
    geom_paths = list(path.findAllMatches("**/+GeomNode"))
    if isinstance(path.node(), GeomNode):
        geom_paths.append(path)
    for geom_path in geom_paths:
        node: GeomNode = geom_path.node()
        for i in range(node.getNumGeoms()):
            geom = node.getGeom(i)
            for p in range(geom.getNumPrimitives()):
                total += geom.getPrimitive(p).decompose().getNumPrimitives()
    return total


def _named(root: NodePath, name: str) -> NodePath:
    """The node called `name` ('/' in IR names is a path separator to NodePath.find)."""
    matches = [path for path in root.findAllMatches("**") if path.getName() == name]
    assert matches, f"no node named {name!r}"
    return matches[0]  # the topmost: panda3d-gltf names a mesh's GeomNode after its node too


def _load_glb(path) -> NodePath:
    import gltf

    return NodePath(gltf.load_model(str(path)))


def _load_bam(path) -> NodePath:
    options = LoaderOptions(LoaderOptions.LF_no_cache | LoaderOptions.LF_report_errors)
    node = Loader.getGlobalPtr().loadSync(Filename.fromOsSpecific(str(path)), options)
    assert node is not None, f"could not load {path}"
    return NodePath(node)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("emit")
    scene = layout_hall(Hall.model_validate(yaml.safe_load(ALPHA)))
    out = []
    for chunk in scene.chunks:
        meshes = build_chunk_meshes(chunk, GeometryOptions(read_asset=lambda p: b""))
        (tmp / f"{chunk.id}.glb").write_bytes(emit_gltf(meshes))
        (tmp / f"{chunk.id}.bam").write_bytes(emit_bam(meshes))
        out.append((meshes, _load_glb(tmp / f"{chunk.id}.glb"), _load_bam(tmp / f"{chunk.id}.bam")))
    return out


def test_emitters_agree_on_node_names_and_triangle_counts(loaded):
    for meshes, glb, bam in loaded:
        for node in meshes.nodes:
            from_glb, from_bam = _named(glb, node.name), _named(bam, node.name)
            expected = sum(part.mesh.triangle_count for part in node.parts)
            assert _triangles(from_glb) == _triangles(from_bam) == expected, node.name


def test_emitters_agree_on_bounds_in_hall_coordinates(loaded):
    for meshes, glb, bam in loaded:
        for node in meshes.nodes:
            if not node.parts:
                continue
            a = _named(glb, node.name).getTightBounds(glb)
            b = _named(bam, node.name).getTightBounds(bam)
            for corner_a, corner_b in zip(a, b):
                assert tuple(corner_a) == pytest.approx(tuple(corner_b), abs=1e-3), node.name
