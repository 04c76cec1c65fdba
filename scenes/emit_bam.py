"""Emit a chunk's meshes as a Panda3D `.bam` file (bytes).

The scene graph: a root `PandaNode` named after the chunk; one child per
`NodeMeshes`, named exactly `node.name` and placed at its position and
heading; under each, a `GeomNode` named `geometry` holding one `Geom` per part.

Colour space: by default the bam is display-referred, for a non-sRGB
framebuffer (fixed-function, p3tinydisplay, Panda's auto-shader): the
`Material` base colour is the IR's sRGB colour as it is, and textures use
plain `F_rgb`/`F_rgba`.  A bam cannot serve both pipelines at once: Panda
derives ambient and diffuse from the base colour and does not store explicit
ones beside it, and a flat `ColorAttrib` on a lit material is ignored by GL
and mis-blended by p3tinydisplay.  `BamOptions(linear_workflow=True)` writes
linear base colours and sRGB textures instead (as panda3d-gltf loads glTF),
for a PBR client rendering into an sRGB framebuffer.

Unlit parts carry a flat `ColorAttrib` and no lighting.  Textures are stored
raw inside the bam, so a chunk loads with no other files.

No window is opened: writing a bam needs none.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

import numpy as np
from panda3d.core import (
    BamFile,
    BamWriter,
    ColorAttrib,
    CullFaceAttrib,
    Geom,
    GeomEnums,
    GeomNode,
    GeomTriangles,
    GeomVertexData,
    GeomVertexFormat,
    LightAttrib,
    Material,
    MaterialAttrib,
    NodePath,
    PandaNode,
    RenderState,
    SamplerState,
    StringStream,
    Texture,
    TextureAttrib,
    TransparencyAttrib,
)
from PIL import Image

from scenes import ir

log = logging.getLogger(__name__)

GEOMETRY_NODE = "geometry"
"""Name of the `GeomNode` under each IR node."""

_MAX_UINT16_INDEX = 0xFFFF


@dataclass(frozen=True)
class BamOptions:
    """How to write the bam."""

    linear_workflow: bool = False
    """Write linear base colours and sRGB textures (`F_srgb_alpha`), for PBR
    shaders and an sRGB framebuffer.  Off by default: the fixed-function
    pipeline would show such colours too dark, and p3tinydisplay draws sRGB
    textures white."""
    mipmaps: bool = True
    """Sample textures with trilinear mipmapping (mipmaps are generated on load)."""


def emit_bam(chunk: ir.ChunkMeshes, options: BamOptions = BamOptions()) -> bytes:
    """The chunk as the bytes of a `.bam` file, the same bytes for the same input."""
    _check_chunk(chunk)
    root = _build_scene(chunk, options)
    data = _write_bam(root)
    log.debug(
        "emit_bam: chunk %s: %d nodes, %d triangles, %d bytes",
        chunk.chunk_id,
        len(chunk.nodes),
        chunk.triangle_count,
        len(data),
    )
    return data


# --- argument checks -------------------------------------------------------


def _check_chunk(chunk: ir.ChunkMeshes) -> None:
    """Raise `ValueError` naming the stage and the culprit for malformed input."""
    if not isinstance(chunk, ir.ChunkMeshes):
        raise TypeError(f"emit_bam: expected ChunkMeshes, got {type(chunk).__name__}")
    if not chunk.chunk_id:
        raise ValueError("emit_bam: chunk has an empty chunk_id")
    seen: set[str] = set()
    for node in chunk.nodes:
        where = f"emit_bam: chunk {chunk.chunk_id!r}: node {node.name!r}"
        if not node.name:
            raise ValueError(f"emit_bam: chunk {chunk.chunk_id!r}: a node has an empty name")
        if node.name in seen:
            raise ValueError(f"{where}: duplicate node name")
        seen.add(node.name)
        if not np.all(np.isfinite([*node.position, node.heading])):
            raise ValueError(f"{where}: position and heading must be finite")
        for i, part in enumerate(node.parts):
            _check_mesh(part.mesh, f"{where}: parts[{i}]")
            _check_material(part.material, f"{where}: parts[{i}]")


def _check_mesh(mesh: ir.MeshData, where: str) -> None:
    positions, normals, indices = (np.asarray(a) for a in (mesh.positions, mesh.normals, mesh.indices))
    n = len(positions)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"{where}: positions must have shape (n, 3), got {positions.shape}")
    if normals.shape != positions.shape:
        raise ValueError(f"{where}: normals must have shape {positions.shape}, got {normals.shape}")
    if indices.ndim != 2 or indices.shape[1] != 3:
        raise ValueError(f"{where}: indices must have shape (m, 3), got {indices.shape}")
    if indices.size and not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"{where}: indices must be integers, got {indices.dtype}")
    if mesh.uvs is not None and np.asarray(mesh.uvs).shape != (n, 2):
        raise ValueError(f"{where}: uvs must have shape ({n}, 2), got {np.asarray(mesh.uvs).shape}")
    if not (np.all(np.isfinite(positions)) and np.all(np.isfinite(normals))):
        raise ValueError(f"{where}: positions and normals must be finite")
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"{where}: indices must lie in 0..{n - 1}")


def _check_material(material: ir.Material, where: str) -> None:
    if len(material.colour) != 4 or not all(0.0 <= c <= 1.0 for c in material.colour):
        raise ValueError(f"{where}: material {material.name!r}: colour must be 4 values in 0..1")
    if not (0.0 <= material.roughness <= 1.0 and 0.0 <= material.metallic <= 1.0):
        raise ValueError(f"{where}: material {material.name!r}: roughness and metallic must be in 0..1")


# --- scene graph -----------------------------------------------------------


def _build_scene(chunk: ir.ChunkMeshes, options: BamOptions) -> NodePath:
    """The chunk's scene graph, rooted at a node named after the chunk."""
    root = NodePath(PandaNode(chunk.chunk_id))
    textures: dict[bytes, Texture] = {}
    for node in chunk.nodes:
        child = root.attachNewNode(PandaNode(node.name))
        child.setPos(*node.position)
        child.setH(node.heading)
        if node.parts:
            geom_node = GeomNode(GEOMETRY_NODE)
            for part in node.parts:
                geom_node.addGeom(_make_geom(part.mesh, node.name), _make_state(part.material, textures, options))
            child.attachNewNode(geom_node)
    return root


def _make_geom(mesh: ir.MeshData, name: str) -> Geom:
    """One `Geom`: interleaved float32 vertices and one `GeomTriangles`."""
    vdata = _make_vertex_data(mesh, name)
    geom = Geom(vdata)
    geom.addPrimitive(_make_triangles(mesh.indices, len(mesh.positions)))
    return geom


def _make_vertex_data(mesh: ir.MeshData, name: str) -> GeomVertexData:
    """Vertex, normal and (when present) texcoord columns, written in one copy."""
    has_uvs = mesh.uvs is not None
    fmt = GeomVertexFormat.getV3n3t2() if has_uvs else GeomVertexFormat.getV3n3()
    columns = [np.asarray(mesh.positions, np.float32), np.asarray(mesh.normals, np.float32)]
    if has_uvs:
        uvs = np.asarray(mesh.uvs, np.float32)
        # glTF's V runs down from the image's top; Panda3D's runs up from its bottom.
        columns.append(np.column_stack([uvs[:, 0], 1.0 - uvs[:, 1]]))
    interleaved = np.ascontiguousarray(np.hstack(columns), dtype="<f4")
    array_format = fmt.getArray(0)
    assert array_format.getStride() == interleaved.shape[1] * 4, "unexpected vertex layout"
    vdata = GeomVertexData(name, fmt, Geom.UHStatic)
    vdata.uncleanSetNumRows(len(interleaved))
    if len(interleaved):
        memoryview(vdata.modifyArray(0)).cast("B")[:] = interleaved.tobytes()
    return vdata


def _make_triangles(indices: np.ndarray, vertex_count: int) -> GeomTriangles:
    """Indexed triangles, 16-bit indices when they fit, else 32-bit."""
    prim = GeomTriangles(Geom.UHStatic)
    wide = vertex_count > _MAX_UINT16_INDEX
    prim.setIndexType(GeomEnums.NT_uint32 if wide else GeomEnums.NT_uint16)
    flat = np.ascontiguousarray(np.asarray(indices).reshape(-1), dtype="<u4" if wide else "<u2")
    handle = prim.modifyVertices()
    handle.uncleanSetNumRows(len(flat))
    if len(flat):
        memoryview(handle).cast("B")[:] = flat.tobytes()
    return prim


# --- render state ----------------------------------------------------------


def _make_state(material: ir.Material, textures: dict[bytes, Texture], options: BamOptions) -> RenderState:
    """Material, texture, culling and transparency attributes for one part."""
    attribs = []
    if material.unlit:
        attribs += [LightAttrib.makeAllOff(), ColorAttrib.makeFlat(tuple(material.colour))]
    else:
        attribs.append(MaterialAttrib.make(_make_material(material, options)))
    texture = None
    if material.texture_png is not None:
        texture = textures.get(material.texture_png)
        if texture is None:
            texture = textures[material.texture_png] = _make_texture(material, material.texture_png, options)
        attribs.append(TextureAttrib.make(texture))
    if material.double_sided:
        attribs.append(CullFaceAttrib.make(CullFaceAttrib.M_cull_none))
    if material.colour[3] < 1.0 or _has_translucent_texture(texture):
        attribs.append(TransparencyAttrib.make(TransparencyAttrib.M_alpha))
    return RenderState.make(*attribs)


def _make_material(material: ir.Material, options: BamOptions) -> Material:
    """A PBR `Material`; Panda derives the fixed-function ambient and diffuse from it."""
    result = Material(material.name)
    r, g, b, a = material.colour
    if options.linear_workflow:
        r, g, b = (_srgb_to_linear(c) for c in (r, g, b))
    result.setBaseColor((r, g, b, a))
    result.setRoughness(material.roughness)
    result.setMetallic(material.metallic)
    if material.double_sided:
        result.setTwoside(True)
    return result


def _make_texture(material: ir.Material, png: bytes, options: BamOptions) -> Texture:
    """A texture decoded from `png` (the material's texture_png), its image kept in RAM so the bam stores it.

    Pillow decodes (several times faster than PNMImage); Panda3D wants rows
    bottom-up and channels in BGR(A) order.
    """
    try:
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            pixels = np.asarray(image.convert("RGBA" if alpha else "RGB"), dtype=np.uint8)
    except (OSError, ValueError) as error:
        raise ValueError(f"emit_bam: material {material.name!r}: texture_png is not a readable PNG") from error
    height, width, channels = pixels.shape
    bgr = pixels[::-1, :, [2, 1, 0, 3] if alpha else [2, 1, 0]]
    digest = hashlib.sha256(png).hexdigest()[:16]
    texture = Texture(f"{material.name}-{digest}")
    texture.setup2dTexture(width, height, Texture.T_unsigned_byte, Texture.F_rgba if alpha else Texture.F_rgb)
    texture.setRamImage(np.ascontiguousarray(bgr).tobytes())
    if options.linear_workflow:
        texture.setFormat(Texture.F_srgb_alpha if alpha else Texture.F_srgb)
    texture.setWrapU(SamplerState.WM_repeat)
    texture.setWrapV(SamplerState.WM_repeat)
    texture.setMagfilter(SamplerState.FT_linear)
    texture.setMinfilter(SamplerState.FT_linear_mipmap_linear if options.mipmaps else SamplerState.FT_linear)
    texture.setKeepRamImage(True)
    return texture


def _has_translucent_texture(texture: Texture | None) -> bool:
    """Whether the texture has an alpha channel with any pixel below opaque."""
    if texture is None or texture.getNumComponents() != 4:
        return False
    alpha = np.frombuffer(bytes(texture.getRamImageAs("A")), dtype=np.uint8)
    return bool(alpha.size and alpha.min() < 255)


def _srgb_to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


# --- writing ---------------------------------------------------------------


def _write_bam(root: NodePath) -> bytes:
    """The scene graph as `.bam` file bytes, textures stored inside."""
    stream = StringStream()
    bam = BamFile()
    if not bam.openWrite(stream):
        raise RuntimeError("emit_bam: could not open a bam stream for writing")
    bam.getWriter().setFileTextureMode(BamWriter.BTM_rawdata)
    if not bam.writeObject(root.node()):
        raise RuntimeError("emit_bam: writing the scene graph failed")
    bam.close()
    return bytes(stream.getData())
