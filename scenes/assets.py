"""Assets: the files halls refer to, checked as untrusted input before any stage reads them.

An asset path may try to leave the project, and an asset file may be broken,
mislabelled, huge or made to exhaust memory.  Each check gives one plain
message, or None when all is well; `scenes.validate` reports it at the YAML
field naming the asset:

- `path_problem`: the path as written (no disk): control characters, absolute
  paths, backslashes, web addresses, `..`.
- `read_asset_file`: where the path leads on disk: a regular, readable file
  inside `assets/` within its kind's size limit (`MAX_BYTES`); gives its bytes,
  only the head (`HEAD_BYTES`) of audio and video.  Problems raise `AssetProblem`.
- `content_problem`: whether the bytes are what the extension says: file
  signatures, image sizes from their headers before decoding, glTF structure
  and bounds, OBJ/STL/PLY structure.
- `references`: the other files a model uses (glTF buffers and images, OBJ
  material libraries and their textures), as project paths to check the same way.
"""

from __future__ import annotations

import base64
import binascii
import errno
import io
import json
import math
import os
import posixpath
import re
import stat
import struct
import urllib.parse
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

MB = 1 << 20
MAX_MODEL_BYTES = 64 * MB
"""Largest model file (.glb .gltf .obj .stl .ply), and largest file a model uses (buffers, textures)."""
MAX_IMAGE_BYTES = 32 * MB
"""Largest image file (.png .jpg .jpeg)."""
MAX_AUDIO_BYTES = 64 * MB
"""Largest audio file (.ogg .mp3 .wav)."""
MAX_VIDEO_BYTES = 512 * MB
"""Largest video file (.mp4 .webm)."""
MAX_IMAGE_PIXELS = 8192 * 8192
"""Most pixels in one image (width x height), read from its header before decoding: a few KB of PNG can
unpack to gigabytes."""
HEAD_BYTES = 4096
"""How much of an audio or video file is read: their content is checked by their header only."""

IMAGE_TYPES = (".png", ".jpg", ".jpeg")
MODEL_TYPES = (".glb", ".gltf", ".obj", ".stl", ".ply")
AUDIO_TYPES = (".ogg", ".mp3", ".wav")
VIDEO_TYPES = (".mp4", ".webm")
MAX_BYTES = {"model": MAX_MODEL_BYTES, "image": MAX_IMAGE_BYTES, "audio": MAX_AUDIO_BYTES, "video": MAX_VIDEO_BYTES}
"""Size limit of each kind of asset."""
_PLURAL = {"model": "models", "image": "images", "audio": "audio files", "video": "videos"}


class AssetProblem(Exception):
    """An asset that cannot be used; the message is for the author."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def asset_kind(path: str) -> str:
    """`model`, `image`, `audio` or `video`, by the file's extension; files a model uses count as `model`."""
    suffix = PurePosixPath(path).suffix.lower()
    for kind, types in (("image", IMAGE_TYPES), ("audio", AUDIO_TYPES), ("video", VIDEO_TYPES)):
        if suffix in types:
            return kind
    return "model"


# --- the path as written ----------------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def path_problem(value: str, prefix: str) -> str | None:
    """What is wrong with an asset path as written (`prefix` is the assets folder, `assets/`), without the disk."""
    control = _CONTROL.search(value)
    if control:
        return f"control character U+{ord(control.group()):04X} is not allowed in asset paths; delete it"
    if re.match(r"^[A-Za-z]:|^[\\/]", value):
        return f"asset path '{value}' must be relative to the project folder, like '{prefix}lamp.glb'"
    if "\\" in value:
        return f"use '/' in asset paths, not '\\': '{value}'"
    if _SCHEME.match(value):
        return (
            f"asset path '{_shown(value)}' is a web address; put the file in '{prefix}' and write its path, "
            f"like '{prefix}lamp.glb'"
        )
    if ".." in PurePosixPath(value).parts:
        return f"asset path '{value}' must not contain '..'"
    return None


def _shown(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


# --- where the path leads ---------------------------------------------------------------------


def read_asset_file(root: Path, assets_dir: Path, value: str, limit: int | None = None) -> bytes:
    """The bytes of asset `value` (a project path that passed `path_problem`), or AssetProblem.

    The file must lie inside `assets_dir` once links are followed, be a regular readable file and
    not exceed its kind's size limit (`limit` when given); it is opened without blocking (a pipe
    cannot hang the build).  Of audio and video only the first `HEAD_BYTES` are read.
    """
    kind = asset_kind(value)
    limit = MAX_BYTES[kind] if limit is None else limit
    prefix = assets_dir.name
    path = Path(root) / value
    try:
        target = path.resolve()
        inside = target.is_relative_to(Path(assets_dir).resolve())
    except (OSError, RuntimeError) as error:  # RuntimeError: a loop of links (Python 3.11)
        if isinstance(error, RuntimeError) or error.errno == errno.ELOOP:
            raise AssetProblem(f"asset '{value}' is a link that leads back to itself") from None
        raise AssetProblem(f"cannot read asset '{value}': {_reason(error)}") from None
    if not inside:
        raise AssetProblem(f"asset path '{value}' leads outside the assets folder; put the file itself in '{prefix}/'")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags)
    except FileNotFoundError:
        if os.path.lexists(path):
            raise AssetProblem(f"asset '{value}' is a link to a file that does not exist") from None
        raise AssetProblem(f"no such asset '{value}'") from None
    except OSError as error:
        raise AssetProblem(f"cannot read asset '{value}': {_reason(error)}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise AssetProblem(f"asset '{value}' is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise AssetProblem(f"asset '{value}' is not a regular file (is it a pipe or a device?)")
        raise AssetProblem(_too_large(value, _size(info.st_size), kind, limit))
    with os.fdopen(fd, "rb") as stream:
        try:
            data = stream.read(HEAD_BYTES if kind in ("audio", "video") else limit + 1)
        except OSError as error:
            raise AssetProblem(f"cannot read asset '{value}': {_reason(error)}") from None
    if len(data) > limit:  # it grew since fstat
        raise AssetProblem(_too_large(value, f"more than {_size(limit)}", kind, limit))
    return data


def _too_large(value: str, size: str, kind: str, limit: int) -> str:
    return f"asset '{value}' is too large: {size} (the limit for {_PLURAL[kind]} is {limit // MB} MB)"


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


# --- what the bytes are -----------------------------------------------------------------------


def content_problem(path: str, data: bytes) -> str | None:
    """What is wrong with the content of asset `path`, judged by its extension; None if nothing.

    Audio and video need only their first bytes; everything else needs the whole file.
    """
    if not data:
        return f"'{path}' is empty"
    check = _CHECKS.get(PurePosixPath(path).suffix.lower())
    return check(path, data) if check else None


def references(path: str, data: bytes) -> list[str]:
    """Project paths of the files a model file uses (glTF buffers and images, OBJ material libraries, their textures).

    Only meaningful once `content_problem` found nothing; web addresses and embedded data are left out.
    """
    suffix = PurePosixPath(path).suffix.lower()
    uris: list[str] = []
    if suffix in (".glb", ".gltf"):
        doc = _gltf_json(data, suffix == ".glb")
        if isinstance(doc, dict):
            for key in ("buffers", "images"):
                for item in doc.get(key) or []:
                    if isinstance(item, dict) and isinstance(item.get("uri"), str):
                        uris.append(item["uri"])
    elif suffix == ".obj":
        uris = [name for _, name in _obj_libraries(data)]
    elif suffix == ".mtl":
        uris = [name for _, name in _mtl_textures(data)]
    found = []
    for uri in uris:
        if not uri.startswith("data:"):
            target = _relative_target(path, uri)
            if target is not None and target not in found:
                found.append(target)
    return found


def _relative_target(path: str, uri: str) -> str | None:
    """The project path a relative reference in `path` leads to; None when it leads outside its folder tree."""
    if _SCHEME.match(uri) or "\\" in uri or uri.startswith("/") or _CONTROL.search(uri):
        return None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(path), urllib.parse.unquote(uri)))
    top = path.split("/", 1)[0]
    if target.startswith("../") or target == ".." or target.split("/", 1)[0] != top or target == top:
        return None
    return target


def _not(path: str, what: str, detail: str) -> str:
    return f"'{path}' is not {what}: {detail}"


def _damaged(path: str, what: str, detail: str) -> str:
    return f"'{path}' is a damaged {what}: {detail}"


_SIGNATURES: tuple[tuple[Callable[[bytes], bool], str], ...] = (
    (lambda d: d.startswith(b"\x89PNG\r\n\x1a\n"), "a PNG image"),
    (lambda d: d.startswith(b"\xff\xd8\xff"), "a JPEG image"),
    (lambda d: d.startswith((b"GIF87a", b"GIF89a")), "a GIF image"),
    (lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP", "a WebP image"),
    (lambda d: d[:4] == b"RIFF" and d[8:12] == b"WAVE", "a WAV audio file"),
    (lambda d: d.startswith(b"OggS"), "an Ogg audio file"),
    (lambda d: d.startswith(b"ID3") or (len(d) > 1 and d[0] == 0xFF and d[1] & 0xE0 == 0xE0), "an MP3 audio file"),
    (lambda d: d[4:8] == b"ftyp", "an MP4 video"),
    (lambda d: d.startswith(b"\x1a\x45\xdf\xa3"), "a WebM video"),
    (lambda d: d.startswith(b"glTF"), "a GLB model"),
    (lambda d: d.startswith((b"ply\n", b"ply\r\n")), "a PLY model"),
    (lambda d: d.startswith(b"PK\x03\x04"), "a ZIP archive"),
    (lambda d: d.startswith(b"%PDF"), "a PDF document"),
    (lambda d: d.startswith(b"\x7fELF") or d.startswith(b"MZ"), "a program"),
    (lambda d: d.lstrip()[:1] == b"<", "a web page or other markup"),
    (lambda d: d.lstrip()[:1] in (b"{", b"["), "JSON text"),
)


def _looks_like(data: bytes, otherwise: str) -> str:
    """`it looks like <what the signature says>`, or `otherwise`."""
    for matches, what in _SIGNATURES:
        if matches(data[:64]):
            return f"it looks like {what}"
    return otherwise


# images


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the JPEG's frame header (SOFn), walking its markers."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker in (0xD9, 0xDA):
            return None  # image end or scan data before any frame header
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _JPEG_FRAMES:
            if length < 7 or i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if length < 2:
            return None
        i += 2 + length
    return None


_IMAGE_FORMATS = {
    "PNG": (b"\x89PNG\r\n\x1a\n", _png_size, "a PNG image"),
    "JPEG": (b"\xff\xd8\xff", _jpeg_size, "a JPEG image"),
}


def _image_detail(data: bytes, fmt: str) -> str | None:
    """What is wrong with an image that should be `fmt` (PNG or JPEG), as a predicate: `is not ...`, `has ...`."""
    signature, read_size, what = _IMAGE_FORMATS[fmt]
    if not data.startswith(signature):
        return f"is not {what}: {_looks_like(data, f'it does not start with the {fmt} signature')}"
    size = read_size(data)
    if size is None or 0 in size:
        return f"is a damaged {fmt} image: its header is cut short or wrong"
    width, height = size
    if width * height > MAX_IMAGE_PIXELS:
        side = math.isqrt(MAX_IMAGE_PIXELS)
        return (
            f"has too many pixels: {width} x {height} (the limit is {MAX_IMAGE_PIXELS:,}, like {side} x {side}); "
            "scale it down"
        )
    from PIL import Image  # imported late: only halls with images pay for Pillow

    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            if image.size != size:
                return f"is a damaged {fmt} image: its header is cut short or wrong"
            image.load()
    except Image.DecompressionBombError:
        return f"has too many pixels: {width} x {height}; scale it down"
    except Exception:  # Pillow raises many kinds of error for damaged files
        return f"is a damaged {fmt} image: its pixel data is cut short or corrupt"
    return None


def _image_check(fmt: str) -> Callable[[str, bytes], str | None]:
    def check(path: str, data: bytes) -> str | None:
        detail = _image_detail(data, fmt)
        return f"'{path}' {detail}" if detail else None

    return check


# audio and video: a light check of the header


def _header_check(test: Callable[[bytes], bool], what: str, expected: str) -> Callable[[str, bytes], str | None]:
    def check(path: str, data: bytes) -> str | None:
        return None if test(data) else _not(path, what, _looks_like(data, expected))

    return check


# glTF


_GLB_JSON, _GLB_BIN = 0x4E4F534A, 0x004E4942
_COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
_TYPE_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
SUPPORTED_GLTF_EXTENSIONS = frozenset({"KHR_materials_unlit", "KHR_texture_transform"})
"""glTF extensions a model may require (`extensionsRequired`); others are refused."""


class _Bad(Exception):
    """A problem found deep in a file's structure; the message is the detail."""


def _glb_chunks(data: bytes) -> tuple[bytes, bytes | None]:
    """The JSON and BIN chunks of a GLB file, or _Bad."""
    if not data.startswith(b"glTF"):
        raise _Bad(_looks_like(data, "it does not start with 'glTF'"))
    if len(data) < 12:
        raise _Bad(f"it is cut short: a GLB header is 12 bytes, the file has {len(data)}")
    version, length = struct.unpack("<II", data[4:12])
    if version != 2:
        raise _Bad(f"it is glTF version {version}; export it as glTF 2.0")
    if length > len(data):
        raise _Bad(f"it is cut short: its header says {length:,} bytes, the file has {len(data):,}")
    if length < len(data):
        raise _Bad(f"its header says {length:,} bytes but the file has {len(data):,}")
    chunks: list[tuple[int, bytes]] = []
    offset = 12
    while offset < length:
        if offset + 8 > length:
            raise _Bad(f"it is cut short: chunk {len(chunks)} has no complete header")
        size, kind = struct.unpack("<II", data[offset : offset + 8])
        if offset + 8 + size > length:
            raise _Bad(f"it is cut short: chunk {len(chunks)} runs past the end of the file")
        chunks.append((kind, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size
    if not chunks or chunks[0][0] != _GLB_JSON:
        raise _Bad("its first chunk is not the JSON chunk")
    binary = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == _GLB_BIN else None
    return chunks[0][1], binary


def _parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _Bad("its JSON is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise _Bad(f"its JSON is not valid (line {error.lineno}, column {error.colno}: {error.msg})") from None
    except RecursionError:
        raise _Bad("its JSON is nested too deeply") from None


def _gltf_json(data: bytes, glb: bool) -> Any:
    try:
        return _parse_json(_glb_chunks(data)[0] if glb else data)
    except _Bad:
        return None


def _gltf_check(glb: bool) -> Callable[[str, bytes], str | None]:
    name = "GLB model" if glb else "glTF model"
    what = f"a {name}"

    def check(path: str, data: bytes) -> str | None:
        if not glb and data.startswith(b"glTF"):
            return _not(path, what, "it looks like a GLB model (binary glTF); rename it to .glb")
        try:
            raw, binary = _glb_chunks(data) if glb else (data, None)
        except _Bad as bad:
            return _damaged(path, name, str(bad)) if data.startswith(b"glTF") else _not(path, what, str(bad))
        try:
            doc = _parse_json(raw)
        except _Bad as bad:
            if not glb and data.lstrip()[:1] not in (b"{", b"["):
                return _not(path, what, _looks_like(data, "it is not JSON text"))
            return _damaged(path, name, str(bad))
        try:
            _GltfStructure(path, doc, binary, glb).check()
        except _Bad as bad:
            return _damaged(path, name, str(bad))
        return None

    return check


class _GltfStructure:
    """Checks that a glTF document is one, and that every index and byte range it holds stays in bounds."""

    def __init__(self, path: str, doc: Any, binary: bytes | None, glb: bool):
        self.path, self.doc, self.binary, self.glb = path, doc, binary, glb
        self.buffer_bytes: list[bytes | None] = []

    def check(self) -> None:
        doc = self.doc
        asset = doc.get("asset") if isinstance(doc, dict) else None
        version = asset.get("version") if isinstance(asset, dict) else None
        if not isinstance(version, str):
            raise _Bad("its JSON is not glTF: there is no 'asset' with a 'version'")
        if not version.startswith("2."):
            raise _Bad(f"it is glTF version {version}; export it as glTF 2.0")
        for name in doc.get("extensionsRequired") or []:
            if name not in SUPPORTED_GLTF_EXTENSIONS:
                raise _Bad(f"it needs the glTF extension '{name}', which is not supported; export it without")
        for key in (
            "buffers",
            "bufferViews",
            "accessors",
            "images",
            "textures",
            "materials",
            "meshes",
            "nodes",
            "scenes",
            "samplers",
        ):
            items = doc.get(key, [])
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise _Bad(f"its '{key}' is not a list of objects")
        self._buffers()
        self._buffer_views()
        self._accessors()
        self._meshes()
        self._nodes()
        self._images()

    def _list(self, key: str) -> list[dict]:
        return self.doc.get(key, [])

    def _count(self, item: dict, key: str, what: str, required: bool = True, low: int = 0) -> int:
        value = item.get(key)
        if value is None and not required:
            return low
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _Bad(f"{what} has no valid '{key}'")
        return value

    def _index(self, value: Any, key: str, what: str) -> int:
        """`value` as an index into the document's `key` list, or _Bad naming `what` refers to it."""
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(self._list(key)):
            singular = {"bufferViews": "bufferView", "accessors": "accessor", "meshes": "mesh"}.get(key, key[:-1])
            raise _Bad(f"{what} refers to {singular} {value!r}, which does not exist")
        return value

    def _uri(self, uri: Any, what: str) -> bytes | None:
        """The bytes of embedded (data:) URIs; None for a file next to the model; _Bad for anything else."""
        if not isinstance(uri, str):
            raise _Bad(f"{what} has a 'uri' that is not text")
        if uri.startswith("data:"):
            head, _, payload = uri.partition(",")
            if not head.endswith(";base64"):
                raise _Bad(f"{what} has embedded data that is not base64")
            try:
                return base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise _Bad(f"{what} has embedded data that is not valid base64") from None
        if _relative_target(self.path, uri) is None:
            raise _Bad(
                f"{what} refers to '{_shown(uri)}', outside the assets folder; keep the files it uses "
                "next to it in the assets folder, or embed them"
            )
        return None

    def _buffers(self) -> None:
        for i, buffer in enumerate(self._list("buffers")):
            length = self._count(buffer, "byteLength", f"buffer {i}")
            if "uri" in buffer:
                data = self._uri(buffer["uri"], f"buffer {i}")
                if data is not None and len(data) < length:
                    raise _Bad(f"buffer {i} is {length:,} bytes but its embedded data holds {len(data):,}")
            elif self.glb and i == 0:
                data = self.binary
                if data is None:
                    raise _Bad("buffer 0 has no 'uri' and the file has no BIN chunk")
                if len(data) < length:
                    raise _Bad(f"buffer 0 is {length:,} bytes but the file's BIN chunk holds {len(data):,}")
            else:
                raise _Bad(f"buffer {i} has no 'uri'")
            self.buffer_bytes.append(data)

    def _buffer_views(self) -> None:
        buffers = self._list("buffers")
        for i, view in enumerate(self._list("bufferViews")):
            what = f"bufferView {i}"
            b = self._index(view.get("buffer"), "buffers", what)
            offset = self._count(view, "byteOffset", what, required=False)
            length = self._count(view, "byteLength", what, low=1)
            if "byteStride" in view:
                self._count(view, "byteStride", what, low=4)
            if offset + length > buffers[b]["byteLength"]:
                raise _Bad(f"{what} runs past the end of buffer {b}")

    def _accessors(self) -> None:
        views = self._list("bufferViews")
        for i, accessor in enumerate(self._list("accessors")):
            what = f"accessor {i}"
            component = accessor.get("componentType")
            components = _TYPE_COMPONENTS.get(str(accessor.get("type")))
            if component not in _COMPONENT_BYTES or components is None:
                raise _Bad(f"{what} has an unknown 'componentType' or 'type'")
            count = self._count(accessor, "count", what, low=1)
            if "sparse" in accessor:
                raise _Bad(f"{what} is sparse, which is not supported; export it without sparse accessors")
            if "bufferView" not in accessor:
                continue
            v = self._index(accessor["bufferView"], "bufferViews", what)
            offset = self._count(accessor, "byteOffset", what, required=False)
            element = _COMPONENT_BYTES[component] * components
            stride = views[v].get("byteStride") or element
            if offset + stride * (count - 1) + element > views[v]["byteLength"]:
                raise _Bad(f"{what} runs past the end of bufferView {v}")

    def _meshes(self) -> None:
        for m, mesh in enumerate(self._list("meshes")):
            primitives = mesh.get("primitives")
            if not isinstance(primitives, list) or not all(isinstance(p, dict) for p in primitives):
                raise _Bad(f"mesh {m} has no valid 'primitives'")
            for p, primitive in enumerate(primitives):
                what = f"mesh {m} primitive {p}"
                attributes = primitive.get("attributes")
                if not isinstance(attributes, dict):
                    raise _Bad(f"{what} has no valid 'attributes'")
                for value in attributes.values():
                    self._index(value, "accessors", what)
                if "indices" in primitive:
                    self._index(primitive["indices"], "accessors", what)
                if "material" in primitive:
                    self._index(primitive["material"], "materials", what)

    def _nodes(self) -> None:
        nodes = self._list("nodes")
        parent: dict[int, int] = {}
        for n, node in enumerate(nodes):
            if "mesh" in node:
                self._index(node["mesh"], "meshes", f"node {n}")
            children = node.get("children", [])
            if not isinstance(children, list):
                raise _Bad(f"node {n} has no valid 'children'")
            for child in children:
                c = self._index(child, "nodes", f"node {n}")
                if c in parent or c == n:
                    raise _Bad(f"node {c} has more than one parent, or is its own ancestor")
                parent[c] = n
        for n in range(len(nodes)):  # a node tree: following parents must end
            seen, here = {n}, n
            while here in parent:
                here = parent[here]
                if here in seen:
                    raise _Bad(f"node {n} is its own ancestor")
                seen.add(here)
        for s, scene in enumerate(self._list("scenes")):
            for node in scene.get("nodes", []):
                self._index(node, "nodes", f"scene {s}")

    def _images(self) -> None:
        views = self._list("bufferViews")
        for i, image in enumerate(self._list("images")):
            what = f"image {i}"
            if "uri" in image:
                data = self._uri(image["uri"], what)
            elif "bufferView" in image:
                view = views[self._index(image["bufferView"], "bufferViews", what)]
                buffer = self.buffer_bytes[view["buffer"]]
                start = view.get("byteOffset", 0)
                data = None if buffer is None else buffer[start : start + view["byteLength"]]
            else:
                raise _Bad(f"{what} has neither a 'uri' nor a 'bufferView'")
            if data is None:
                continue  # a file next to the model: checked as one of its references
            fmt = "PNG" if data.startswith(b"\x89PNG") else "JPEG" if data.startswith(b"\xff\xd8") else None
            if fmt is None:
                raise _Bad(f"{what} is neither a PNG nor a JPEG image")
            detail = _image_detail(data, fmt)
            if detail:
                raise _Bad(f"{what} {detail}")
        for t, texture in enumerate(self._list("textures")):
            if "source" in texture:
                self._index(texture["source"], "images", f"texture {t}")


# OBJ, STL, PLY


def _obj_libraries(data: bytes) -> list[tuple[int, str]]:
    """(line, file name) of each material library an OBJ file names."""
    found: list[tuple[int, str]] = []
    if b"mtllib" not in data:
        return found
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.startswith(b"mtllib"):
            for name in line.decode("utf-8", "replace").split()[1:]:
                found.append((number, name))
    return found


_MTL_TEXTURES = re.compile(rb"^\s*(map_\w+|bump|disp|decal|refl|norm)\s+(.+?)\s*$", re.M)


def _mtl_textures(data: bytes) -> list[tuple[int, str]]:
    """(line, file name) of each texture an OBJ material library names (the last word of its statement)."""
    found = []
    for match in _MTL_TEXTURES.finditer(data):
        words = match.group(2).decode("utf-8", "replace").split()
        if words:
            found.append((data.count(b"\n", 0, match.start()) + 1, words[-1]))
    return found


def _mtl_check(path: str, data: bytes) -> str | None:
    for line, name in _mtl_textures(data):
        if _relative_target(path, name) is None:
            return _damaged(
                path,
                "MTL material library",
                f"line {line}: the texture '{_shown(name)}' is outside the assets folder; keep it next to the model",
            )
    return None


def _number(token: bytes, line: int) -> float:
    try:
        value = float(token)
    except ValueError:
        raise _Bad(f"line {line}: '{_shown(token.decode('utf-8', 'replace'), 20)}' is not a number") from None
    if not math.isfinite(value):
        raise _Bad(f"line {line}: '{token.decode()}' is not a finite number")
    return value


def _obj_structure(path: str, data: bytes) -> None:
    counts = {b"v": 0, b"vt": 0, b"vn": 0}
    names = {b"v": "vertex", b"vt": "texture coordinate", b"vn": "normal"}
    highest = {b"v": (0, 0), b"vt": (0, 0), b"vn": (0, 0)}  # (index, line) of the highest positive reference
    faces = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        parts = raw.split(b"#", 1)[0].split()
        if not parts:
            continue
        key = parts[0]
        if key in counts:
            if key == b"v":
                if len(parts) < 4:
                    raise _Bad(f"line {number}: a vertex needs x, y and z")
                for token in parts[1:4]:
                    _number(token, number)
            counts[key] += 1
        elif key == b"f":
            if len(parts) < 4:
                raise _Bad(f"line {number}: a face needs at least 3 vertices")
            faces += 1
            for token in parts[1:]:
                for kind, text in zip((b"v", b"vt", b"vn"), token.split(b"/")):
                    if not text and kind != b"v":
                        continue
                    try:
                        index = int(text)
                    except ValueError:
                        raise _Bad(
                            f"line {number}: '{_shown(token.decode('utf-8', 'replace'), 20)}' is not a vertex number"
                        ) from None
                    if index == 0:
                        raise _Bad(f"line {number}: {names[kind]} numbers start at 1, not 0")
                    if index < 0 and -index > counts[kind]:
                        raise _Bad(
                            f"line {number}: a face refers to {names[kind]} {index}, but only "
                            f"{counts[kind]} come before it"
                        )
                    if index > highest[kind][0]:
                        highest[kind] = (index, number)
        elif key == b"mtllib":
            for name in parts[1:]:
                uri = name.decode("utf-8", "replace")
                if _relative_target(path, uri) is None:
                    raise _Bad(
                        f"line {number}: the material library '{_shown(uri)}' is outside the assets "
                        "folder; keep it next to the model"
                    )
    for kind, (index, line) in highest.items():
        if index > counts[kind]:
            raise _Bad(f"line {line}: a face refers to {names[kind]} {index}, but the file has only {counts[kind]}")
    if faces == 0:
        raise _Bad("it has no faces")


_OBJ_CORNERS = {(0, False): rb"\d+", (1, False): rb"\d+/\d+", (2, False): rb"\d+/\d+/\d+", (2, True): rb"\d+//\d+"}
"""A face corner of each layout (slashes, empty texture coordinate): v, v/vt, v/vt/vn, v//vn."""
_OBJ_FACES = {
    layout: re.compile(rb"(?:[ \t]*" + c + rb"(?:[ \t]+" + c + rb"){2,}[ \t]*\r?(?:\n|$))+")
    for layout, c in _OBJ_CORNERS.items()
}


def _obj_clearly_fine(data: bytes) -> bool:
    """A quick pass: True when the line-by-line check would find nothing (False: it may, so run it)."""
    import numpy as np

    unusual = (b"\n ", b"\n\t", b"\nv\t", b"\nf\t", b"\\\n")
    if data.startswith((b" ", b"\t", b"v\t", b"f\t")) or any(text in data for text in unusual):
        return False  # indented lines, tabs after the keyword, continued lines: left to the careful pass
    lines = data.split(b"\n")
    vertices = [line[2:].split(b"#", 1)[0] for line in lines if line[:2] == b"v "]
    faces = b"\n".join([line[2:] for line in lines if line[:2] == b"f "])
    first = faces.split(None, 1)[:1]
    layout = (first[0].count(b"/"), b"//" in first[0]) if first else None
    if layout not in _OBJ_FACES or not _OBJ_FACES[layout].fullmatch(faces):
        return False  # no faces, faces of fewer than 3 corners, mixed layouts, comments, negative indices
    uvs, normals = (data.count(b"\n" + key) + data.startswith(key) for key in (b"vt ", b"vn "))
    limits = [len(vertices), normals] if layout[1] else [len(vertices), uvs, normals][: layout[0] + 1]
    try:
        coordinates = np.array([c for v in vertices for c in v.split()[:3]], np.bytes_).astype(np.float64)
        indices = np.array(faces.replace(b"/", b" ").split(), np.bytes_).astype(np.int64).reshape(-1, len(limits))
    except ValueError:
        return False
    return bool(
        len(coordinates) == 3 * len(vertices)
        and np.isfinite(coordinates).all()
        and indices.min() >= 1
        and (indices.max(axis=0) <= limits).all()
    )


def _obj_check(path: str, data: bytes) -> str | None:
    if b"\0" in data[:4096]:
        return _not(path, "an OBJ model", _looks_like(data, "it is not text"))
    try:
        for line, name in _obj_libraries(data):
            if _relative_target(path, name) is None:
                raise _Bad(
                    f"line {line}: the material library '{_shown(name)}' is outside the assets folder; "
                    "keep it next to the model"
                )
        if not _obj_clearly_fine(data):
            _obj_structure(path, data)
    except _Bad as bad:
        return _damaged(path, "OBJ model", str(bad))
    return None


def _stl_check(path: str, data: bytes) -> str | None:
    count = struct.unpack("<I", data[80:84])[0] if len(data) >= 84 else None
    binary_size = None if count is None else 84 + 50 * count
    if data.lstrip()[:5].lower() == b"solid" and binary_size != len(data):
        try:
            _ascii_stl(data)
        except _Bad as bad:
            return _damaged(path, "STL model", str(bad))
        return None
    if count is None or binary_size is None:
        return _damaged(
            path, "STL model", f"it is cut short: a binary STL has an 84-byte header, the file has {len(data)} bytes"
        )
    if len(data) < binary_size:
        return _damaged(
            path,
            "STL model",
            f"it is cut short: its header says {count:,} triangles "
            f"({binary_size:,} bytes), the file has {len(data):,} bytes",
        )
    if len(data) > binary_size:
        return _damaged(
            path,
            "STL model",
            f"its header says {count:,} triangles ({binary_size:,} bytes) but the file has {len(data):,} bytes",
        )
    if count == 0:
        return _damaged(path, "STL model", "it has no triangles")
    import numpy as np

    triangles = np.frombuffer(data, np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]), count, 84)
    if not np.isfinite(triangles["v"]).all():
        return _damaged(path, "STL model", "some of its vertices are not finite numbers")
    return None


def _ascii_stl(data: bytes) -> None:
    facets = vertices = 0
    ended = False
    for number, raw in enumerate(data.split(b"\n"), start=1):
        parts = raw.split()
        if not parts:
            continue
        word = parts[0].lower()
        if word == b"facet":
            if vertices != 3 * facets:
                raise _Bad(f"line {number}: the facet before this one does not have 3 vertices")
            facets += 1
        elif word == b"vertex":
            if len(parts) != 4:
                raise _Bad(f"line {number}: a vertex needs x, y and z")
            for token in parts[1:]:
                _number(token, number)
            vertices += 1
        elif word == b"endsolid":
            ended = True
    if vertices != 3 * facets:
        raise _Bad("its last facet does not have 3 vertices")
    if facets == 0:
        raise _Bad("it has no triangles")
    if not ended:
        raise _Bad("it is cut short: there is no 'endsolid' line")


_PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}


def _ply_check(path: str, data: bytes) -> str | None:
    if not data.startswith((b"ply\n", b"ply\r\n")):
        return _not(path, "a PLY model", _looks_like(data, "it does not start with 'ply'"))
    try:
        _ply_structure(data)
    except _Bad as bad:
        return _damaged(path, "PLY model", str(bad))
    return None


def _ply_structure(data: bytes) -> None:
    end = re.search(rb"\nend_header\r?\n", data[: 1 << 20])
    if end is None:
        raise _Bad("its header has no 'end_header' line")
    try:
        lines = data[: end.start()].decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise _Bad("its header is not plain text") from None
    fmt = lines[1].split() if len(lines) > 1 else []
    if fmt[:1] != ["format"] or len(fmt) != 3 or fmt[1] not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise _Bad("the second line of its header must be 'format ascii 1.0' or 'format binary_little_endian 1.0'")
    elements: list[tuple[str, int, list[tuple[str, ...]]]] = []
    for number, line in enumerate(lines[2:], start=3):
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements and len(words) == 3 and words[1] in _PLY_TYPES:
            elements[-1][2].append((words[2], _PLY_TYPES[words[1]]))
        elif (
            words[0] == "property"
            and elements
            and len(words) == 5
            and words[1] == "list"
            and words[2] in _PLY_TYPES
            and words[3] in _PLY_TYPES
        ):
            elements[-1][2].append((words[4], _PLY_TYPES[words[2]], _PLY_TYPES[words[3]]))
        else:
            raise _Bad(f"line {number} of its header is not understood: '{_shown(line, 40)}'")
    vertex = next((e for e in elements if e[0] == "vertex"), None)
    if vertex is None or not {"x", "y", "z"} <= {p[0] for p in vertex[2]}:
        raise _Bad("it has no 'vertex' element with x, y and z properties")
    body = data[end.end() :]
    if fmt[1] == "ascii":
        if sum(1 for line in body.splitlines() if line.strip()) < sum(count for _, count, _ in elements):
            raise _Bad("its data is cut short: it has fewer lines than its header says")
        return
    order = "<" if fmt[1] == "binary_little_endian" else ">"
    offset = 0
    for name, count, properties in elements:
        offset = _ply_element_end(body, offset, count, properties, order)
        if offset > len(body):
            raise _Bad(f"its data is cut short in the '{name}' element")


def _ply_element_end(body: bytes, offset: int, count: int, properties: list[tuple[str, ...]], order: str) -> int:
    """Where `count` rows of a binary element starting at `offset` end (past len(body) when cut short)."""
    import numpy as np

    sizes = [np.dtype(p[1]).itemsize for p in properties]
    if all(len(p) == 2 for p in properties):
        return offset + count * sum(sizes)
    if len(properties) == 1 and count:  # the usual faces: one list; try "every row as long as the first"
        count_type, item = np.dtype(order + properties[0][1]), np.dtype(properties[0][2]).itemsize
        if offset + count_type.itemsize > len(body):
            return len(body) + 1
        first = int(np.frombuffer(body, count_type, 1, offset)[0])
        row = count_type.itemsize + first * item
        if offset + row * count > len(body):
            return len(body) + 1
        rows = (
            np.frombuffer(body, np.dtype([("n", count_type), ("rest", "V", row - count_type.itemsize)]), count, offset)
            if row > count_type.itemsize
            else None
        )
        if rows is None or (rows["n"] == first).all():
            return offset + row * count
    for _ in range(count):  # rows of different lengths: walk them
        for prop, size in zip(properties, sizes):
            if len(prop) == 2:
                offset += size
                continue
            count_type = np.dtype(order + prop[1])
            if offset + count_type.itemsize > len(body):
                return len(body) + 1
            items = int(np.frombuffer(body, count_type, 1, offset)[0])
            offset += count_type.itemsize + items * np.dtype(prop[2]).itemsize
        if offset > len(body):
            return offset
    return offset


_CHECKS: dict[str, Callable[[str, bytes], str | None]] = {
    ".png": _image_check("PNG"),
    ".jpg": _image_check("JPEG"),
    ".jpeg": _image_check("JPEG"),
    ".ogg": _header_check(lambda d: d.startswith(b"OggS"), "an Ogg audio file", "it does not start with 'OggS'"),
    ".wav": _header_check(
        lambda d: d[:4] == b"RIFF" and d[8:12] == b"WAVE", "a WAV audio file", "it does not start with 'RIFF....WAVE'"
    ),
    ".mp3": _header_check(
        lambda d: d.startswith(b"ID3") or (len(d) > 1 and d[0] == 0xFF and d[1] & 0xE0 == 0xE0),
        "an MP3 audio file",
        "it starts with neither an ID3 tag nor an MP3 frame",
    ),
    ".mp4": _header_check(lambda d: d[4:8] == b"ftyp", "an MP4 video", "it has no 'ftyp' box at its start"),
    ".webm": _header_check(
        lambda d: d.startswith(b"\x1a\x45\xdf\xa3"),
        "a WebM video",
        "it does not start with the WebM signature 1A 45 DF A3",
    ),
    ".glb": _gltf_check(glb=True),
    ".gltf": _gltf_check(glb=False),
    ".obj": _obj_check,
    ".stl": _stl_check,
    ".ply": _ply_check,
    ".mtl": _mtl_check,
}
