"""Hostile assets: each bad asset path or file is an author error at the YAML field naming it; nothing is published.

The corpus is generated here (no binary junk committed): paths that climb out of `assets/`, links leading
outside, folders, pipes, oversized (sparse) files, a PNG decompression bomb, broken glTF/GLB, OBJ, STL and
PLY files, images with bad headers, audio and video whose header does not match their extension.  Each
case goes through the real `halls check` and `halls build` (`tools.cli.main`; a few through a subprocess,
as an author runs them) into a copy of a project already built once: the exact message must be printed,
the exit status must be 1, and `build/` (its `current` release, releases and objects) must not change.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from scenes import assets
from scenes.assets import content_problem, path_problem, references
from tests.conftest import ROOT
from tests.test_docs import documented_patterns
from tools.cli import main

HALL = """\
id: demo
title: 演示
rooms:
  - id: hall
    title: 大厅
    size: [16, 12, 4]
    exhibits:
      - kind: model
        id: lamp
        title: 矿灯
        asset: {model}
        at: [-3, 0]
      - kind: panel
        id: intro
        title: 前言
        text: 正文
        image: {image}
        wall: north
      - kind: media
        id: song
        title: 歌
        asset: {media}
        wall: south
"""
GOOD = {"model": "assets/models/lamp.glb", "image": "assets/images/flag.png", "media": "assets/media/song.ogg"}
WHERE = {  # the field each placeholder fills: its diagnostic prefix
    "model": "halls/demo.yaml:11:16: rooms[0].exhibits[0].asset: ",
    "image": "halls/demo.yaml:17:16: rooms[0].exhibits[1].image: ",
    "media": "halls/demo.yaml:22:16: rooms[0].exhibits[2].asset: ",
}


# --- the corpus: small files made here ------------------------------------------------------------


def png(width: int = 8, height: int = 8) -> bytes:
    out = BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def jpeg(width: int = 8, height: int = 8) -> bytes:
    out = BytesIO()
    Image.new("RGB", (width, height), (30, 30, 200)).save(out, format="JPEG")
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A real PNG of `width` x `height` black 1-bit pixels: about 50 KB that decode to 400 megapixels."""
    packer = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims `width` x `height`."""
    data = bytearray(jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def triangle() -> tuple[dict, bytes]:
    """A one-triangle glTF document and its binary buffer (positions, then indices)."""
    binary = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], "<f4").tobytes() + np.array([0, 1, 2, 0], "<u2").tobytes()
    doc = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 36},
            {"buffer": 0, "byteOffset": 36, "byteLength": 6},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]},
            {"bufferView": 1, "componentType": 5123, "count": 3, "type": "SCALAR"},
        ],
    }
    return doc, binary


def glb(doc: dict | bytes, binary: bytes | None = None, version: int = 2) -> bytes:
    """A GLB file: header, JSON chunk (`doc`, or raw bytes), BIN chunk."""
    text = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text
    if binary is not None:
        binary += b"\0" * (-len(binary) % 4)
        body += struct.pack("<II", len(binary), 0x004E4942) + binary
    return b"glTF" + struct.pack("<II", version, 12 + len(body)) + body


def triangle_glb(change: Callable[[dict], object] | None = None) -> bytes:
    doc, binary = triangle()
    if change:
        change(doc)
    return glb(doc, binary)


def gltf_with_bin(uri: str = "lamp.bin") -> tuple[bytes, bytes]:
    doc, binary = triangle()
    doc["buffers"][0]["uri"] = uri
    return json.dumps(doc).encode(), binary


def with_image(doc: dict, binary: bytes, image: bytes) -> bytes:
    doc["bufferViews"].append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(image)})
    doc["images"] = [{"bufferView": 2, "mimeType": "image/png"}]
    doc["buffers"][0]["byteLength"] = len(binary) + len(image)
    return glb(doc, binary + image)


def stl(triangles: int = 12) -> bytes:
    data = trimesh.creation.box().export(file_type="stl")
    assert len(data) == 84 + 50 * triangles
    return data


OBJ = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
PLY = (
    b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
    b"property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n"
    + np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], "<f4").tobytes()
    + b"\x03"
    + np.array([0, 1, 2], "<i4").tobytes()
)
OGG = b"OggS\0\x02" + bytes(58)


# --- the project ------------------------------------------------------------------------------


def write_hall(root: Path, **paths: str) -> None:
    values = {key: json.dumps(paths.get(key, GOOD[key]), ensure_ascii=False) for key in GOOD}
    (root / "halls" / "demo.yaml").write_text(HALL.format(**values), encoding="utf-8")


def put(root: Path, path: str, data: bytes) -> Path:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


@pytest.fixture(scope="module")
def built_project(tmp_path_factory) -> Path:
    """A one-hall project with a good model, image and audio file, built once."""
    root = tmp_path_factory.mktemp("assets-project")
    (root / "halls").mkdir()
    write_hall(root)
    put(root, GOOD["model"], trimesh.creation.box().export(file_type="glb"))
    put(root, GOOD["image"], png())
    put(root, GOOD["media"], OGG)
    assert main(["build", "--root", str(root), "--jobs", "1", "--no-meshopt", "--no-thumbnails"]) == 0
    assert (root / "build" / "current").is_symlink()
    return root


@pytest.fixture
def project(built_project: Path, tmp_path: Path) -> Path:
    """A copy of the built project, to spoil."""
    return Path(shutil.copytree(built_project, tmp_path / "project", symlinks=True))


def published(root: Path) -> dict:
    """What `build/` publishes: the current release, every release's files and the objects."""
    build = root / "build"
    return {
        "current": os.readlink(build / "current"),
        "files": sorted(p.relative_to(build).as_posix() for p in (build / "releases").rglob("*")),
        "objects": sorted(p.name for p in (build / "objects").iterdir()),
    }


def run_cli(capsys, *argv: str) -> tuple[int, list[str]]:
    """Exit status and stderr lines of `halls <argv>` run in this process."""
    capsys.readouterr()
    status = main(list(argv))
    return status, capsys.readouterr().err.splitlines()


def assert_rejected(capsys, root: Path, expected: str) -> None:
    """`halls check` and `halls build` both print exactly `expected` (and the summary), exit 1, publish nothing."""
    before = published(root)
    for command in (["check"], ["build", "--jobs", "1", "--no-meshopt", "--no-thumbnails"]):
        status, lines = run_cli(capsys, command[0], "--root", str(root), *command[1:])
        assert (status, lines) == (1, [expected, "1 error; nothing was published"]), command[0]
    assert published(root) == before
    assert not [p for p in (root / "build").iterdir() if p.name.startswith((".staging-", ".release-"))]


# --- cases: (field, path written in the hall, files to make, the message) --------------------------


@dataclass
class Case:
    field: str
    value: str
    make: Callable[[Path], object]
    message: str

    @property
    def expected(self) -> str:
        return WHERE[self.field] + self.message


def files(**contents: bytes) -> Callable[[Path], None]:
    """Write each `name=bytes` (name with '__' for '/' and '_' before the extension as '.')."""

    def make(root: Path) -> None:
        for name, data in contents.items():
            put(root, name.replace("__", "/").replace("_dot_", "."), data)

    return make


def nothing(root: Path) -> None:
    return None


def symlink(path: str, target: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        link = root / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)

    return make


def sparse(path: str, size: int) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        with open(root / path, "wb") as stream:
            stream.truncate(size)

    return make


def link_to_halls(root: Path) -> None:
    put(root, "halls/shared/logo.png", png())
    (root / "assets" / "halls").symlink_to("../halls")


def folder(path: str) -> Callable[[Path], None]:
    return lambda root: (root / path).mkdir(parents=True)


MB = 1 << 20
M = "assets/models/"
I = "assets/images/"  # noqa: E741
A = "assets/media/"
OUTSIDE = "outside the assets folder; keep the files it uses next to it in the assets folder, or embed them"


def _spoil(key: str, value) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        target = doc
        *path, last = key.split(".")
        for part in path:
            target = target[int(part) if part.isdigit() else part]
        target[int(last) if last.isdigit() else last] = value

    return change


def _cycle(doc: dict) -> None:
    doc["nodes"] = [{"mesh": 0, "children": [1]}, {"children": [0]}]


def _bomb_inside(root: Path) -> None:
    doc, binary = triangle()
    put(root, M + "lamp.glb", with_image(doc, binary, png_bomb()))


def _gltf_missing_bin(root: Path) -> None:
    put(root, M + "lamp.gltf", gltf_with_bin()[0])


def _gltf_bin_folder(root: Path) -> None:
    put(root, M + "lamp.gltf", gltf_with_bin("parts")[0])
    (root / M / "parts").mkdir()


def _index_past_the_vertices(root: Path) -> None:
    doc, binary = triangle()
    put(root, M + "lamp.glb", glb(doc, binary[:36] + np.array([0, 1, 9, 0], "<u2").tobytes()))


TEXTURED_OBJ = b"mtllib lamp.mtl\nusemtl paint\n" + OBJ.replace(b"f 1 2 3", b"vt 0 0\nvt 1 0\nvt 0 1\nf 1/1 2/2 3/3")


def _obj_texture(texture: str, data: bytes | None = None) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        put(root, M + "lamp.obj", TEXTURED_OBJ)
        put(root, M + "lamp.mtl", f"newmtl paint\nmap_Kd -s 1 1 1 {texture}\n".encode())
        if data is not None:
            put(root, M + texture, data)

    return make


CASES = {
    # paths that climb out, absolute paths, backslashes, web addresses, control characters
    "climbing_dot_dot_to_etc_passwd": Case(
        "model", "../../etc/passwd", nothing, "asset path '../../etc/passwd' must not contain '..'"
    ),
    "dot_dot_inside_assets_path": Case(
        "model", "assets/../../x.glb", nothing, "asset path 'assets/../../x.glb' must not contain '..'"
    ),
    "absolute_path_to_etc_passwd": Case(
        "image",
        "/etc/passwd",
        nothing,
        "asset path '/etc/passwd' must be relative to the project folder, like 'assets/lamp.glb'",
    ),
    "windows_drive_path": Case(
        "image",
        "C:\\x.png",
        nothing,
        "asset path 'C:\\x.png' must be relative to the project folder, like 'assets/lamp.glb'",
    ),
    "backslashes": Case(
        "model", "assets\\models\\lamp.glb", nothing, "use '/' in asset paths, not '\\': 'assets\\models\\lamp.glb'"
    ),
    "http_url": Case(
        "model",
        "http://example.com/lamp.glb",
        nothing,
        "asset path 'http://example.com/lamp.glb' is a web address; put the file in 'assets/' and write its path, "
        "like 'assets/lamp.glb'",
    ),
    "file_url": Case(
        "image",
        "file:///etc/passwd",
        nothing,
        "asset path 'file:///etc/passwd' is a web address; put the file in 'assets/' and write its path, "
        "like 'assets/lamp.glb'",
    ),
    "data_url": Case(
        "image",
        "data:image/png;base64," + "A" * 200,
        nothing,
        "asset path 'data:image/png;base64,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...' is a web address; put the "
        "file in 'assets/' and write its path, like 'assets/lamp.glb'",
    ),
    "path_with_doubled_slashes": Case(
        "image",
        "assets//images/flag.png",
        nothing,
        "no such asset 'assets//images/flag.png' (did you mean 'assets/images/flag.png'?)",
    ),
    "nul_byte": Case(
        "model",
        "assets/models/lamp.glb\0.png",
        nothing,
        "control character U+0000 is not allowed in asset paths; delete it",
    ),
    "escape_character": Case(
        "image",
        "assets/images/\x1b[31mflag.png",
        nothing,
        "control character U+001B is not allowed in asset paths; delete it",
    ),
    # where the path leads on disk
    "symlink_to_etc_passwd": Case(
        "image",
        I + "passwd.png",
        symlink(I + "passwd.png", "/etc/passwd"),
        "asset path 'assets/images/passwd.png' leads outside the assets folder; put the file itself in 'assets/'",
    ),
    "symlink_to_the_halls_folder": Case(
        "image",
        "assets/halls/shared/logo.png",
        link_to_halls,
        "asset path 'assets/halls/shared/logo.png' leads outside the assets folder; put the file itself in 'assets/'",
    ),
    "broken_symlink": Case(
        "image",
        I + "gone.png",
        symlink(I + "gone.png", "missing.png"),
        "asset 'assets/images/gone.png' is a link to a file that does not exist",
    ),
    "symlink_loop": Case(
        "image",
        I + "loop.png",
        symlink(I + "loop.png", "loop.png"),
        "asset 'assets/images/loop.png' is a link that leads back to itself",
    ),
    "folder_given_as_a_file": Case(
        "model", M + "folder.glb", folder(M + "folder.glb"), "asset 'assets/models/folder.glb' is a folder, not a file"
    ),
    # size limits
    "oversized_model": Case(
        "model",
        M + "big.glb",
        sparse(M + "big.glb", 65 * MB),
        "asset 'assets/models/big.glb' is too large: 65.0 MB (the limit for models is 64 MB)",
    ),
    "oversized_image": Case(
        "image",
        I + "big.png",
        sparse(I + "big.png", 33 * MB),
        "asset 'assets/images/big.png' is too large: 33.0 MB (the limit for images is 32 MB)",
    ),
    "oversized_audio": Case(
        "media",
        A + "big.wav",
        sparse(A + "big.wav", 65 * MB),
        "asset 'assets/media/big.wav' is too large: 65.0 MB (the limit for audio files is 64 MB)",
    ),
    "oversized_video": Case(
        "media",
        A + "big.mp4",
        sparse(A + "big.mp4", 513 * MB),
        "asset 'assets/media/big.mp4' is too large: 513.0 MB (the limit for videos is 512 MB)",
    ),
    # images
    "png_decompression_bomb": Case(
        "image",
        I + "bomb.png",
        files(assets__images__bomb_dot_png=png_bomb()),
        "'assets/images/bomb.png' has too many pixels: 20000 x 20000 (the limit is 67,108,864, like 8192 x 8192); "
        "scale it down",
    ),
    "jpeg_claiming_a_huge_size": Case(
        "media",
        A + "huge.jpg",
        files(assets__media__huge_dot_jpg=jpeg_claiming(30000, 30000)),
        "'assets/media/huge.jpg' has too many pixels: 30000 x 30000 (the limit is 67,108,864, like 8192 x 8192); "
        "scale it down",
    ),
    "png_with_a_bad_header": Case(
        "image",
        I + "bad.png",
        files(assets__images__bad_dot_png=b"\x89PNG\r\n\x1a\n" + b"\0" * 40),
        "'assets/images/bad.png' is a damaged PNG image: its header is cut short or wrong",
    ),
    "png_cut_short": Case(
        "image",
        I + "cut.png",
        files(assets__images__cut_dot_png=png(64, 64)[:60]),
        "'assets/images/cut.png' is a damaged PNG image: its pixel data is cut short or corrupt",
    ),
    "jpeg_named_png": Case(
        "image",
        I + "photo.png",
        files(assets__images__photo_dot_png=jpeg()),
        "'assets/images/photo.png' is not a PNG image: it looks like a JPEG image",
    ),
    "jpeg_with_a_bad_header": Case(
        "image",
        I + "photo.jpg",
        files(assets__images__photo_dot_jpg=b"\xff\xd8\xff\xe0\x00"),
        "'assets/images/photo.jpg' is a damaged JPEG image: its header is cut short or wrong",
    ),
    "text_named_jpeg": Case(
        "image",
        I + "notes.jpeg",
        files(assets__images__notes_dot_jpeg="这不是图片".encode()),
        "'assets/images/notes.jpeg' is not a JPEG image: it does not start with the JPEG signature",
    ),
    "empty_image": Case(
        "image", I + "empty.png", files(assets__images__empty_dot_png=b""), "'assets/images/empty.png' is empty"
    ),
    # audio and video: the header must match the extension
    "mp3_named_ogg": Case(
        "media",
        A + "song2.ogg",
        files(assets__media__song2_dot_ogg=b"ID3\x04\0\0" + bytes(100)),
        "'assets/media/song2.ogg' is not an Ogg audio file: it looks like an MP3 audio file",
    ),
    "junk_wav": Case(
        "media",
        A + "march.wav",
        files(assets__media__march_dot_wav=b"RIFF\0\0\0\0AVI LIST" + bytes(50)),
        "'assets/media/march.wav' is not a WAV audio file: it does not start with 'RIFF....WAVE'",
    ),
    "junk_mp3": Case(
        "media",
        A + "song.mp3",
        files(assets__media__song_dot_mp3=b"not an mp3 at all"),
        "'assets/media/song.mp3' is not an MP3 audio file: it starts with neither an ID3 tag nor an MP3 frame",
    ),
    "webm_named_mp4": Case(
        "media",
        A + "clip.mp4",
        files(assets__media__clip_dot_mp4=b"\x1a\x45\xdf\xa3" + bytes(60)),
        "'assets/media/clip.mp4' is not an MP4 video: it looks like a WebM video",
    ),
    "web_page_named_webm": Case(
        "media",
        A + "clip.webm",
        files(assets__media__clip_dot_webm=b"<!DOCTYPE html><html></html>"),
        "'assets/media/clip.webm' is not a WebM video: it looks like a web page or other markup",
    ),
    # glTF and GLB
    "glb_with_a_bad_magic": Case(
        "model",
        M + "bad.glb",
        files(assets__models__bad_dot_glb=b"GLTF" + bytes(40)),
        "'assets/models/bad.glb' is not a GLB model: it does not start with 'glTF'",
    ),
    "glb_cut_short": Case(
        "model",
        M + "cut.glb",
        files(assets__models__cut_dot_glb=triangle_glb()[:-20]),
        f"'assets/models/cut.glb' is a damaged GLB model: it is cut short: its header says {len(triangle_glb())} "
        f"bytes, the file has {len(triangle_glb()) - 20}",
    ),
    "glb_with_a_chunk_past_its_end": Case(
        "model",
        M + "chunk.glb",
        files(assets__models__chunk_dot_glb=b"glTF" + struct.pack("<IIII", 2, 24, 999, 0x4E4F534A) + b"{}  "),
        "'assets/models/chunk.glb' is a damaged GLB model: it is cut short: chunk 0 runs past the end of the file",
    ),
    "glb_of_gltf_version_1": Case(
        "model",
        M + "old.glb",
        files(assets__models__old_dot_glb=glb({"asset": {"version": "1.0"}}, None, version=1)),
        "'assets/models/old.glb' is a damaged GLB model: it is glTF version 1; export it as glTF 2.0",
    ),
    "glb_whose_json_is_not_json": Case(
        "model",
        M + "json.glb",
        files(assets__models__json_dot_glb=glb(b'{"asset": ')),
        "'assets/models/json.glb' is a damaged GLB model: its JSON is not valid (line 1, column 13: Expecting value)",
    ),
    "glb_whose_json_is_not_gltf": Case(
        "model",
        M + "other.glb",
        files(assets__models__other_dot_glb=glb({"hello": "world"})),
        "'assets/models/other.glb' is a damaged GLB model: its JSON is not glTF: there is no 'asset' with a 'version'",
    ),
    "glb_buffer_longer_than_its_bin_chunk": Case(
        "model",
        M + "long.glb",
        files(assets__models__long_dot_glb=triangle_glb(_spoil("buffers.0.byteLength", 4096))),
        "'assets/models/long.glb' is a damaged GLB model: buffer 0 is 4,096 bytes but the file's BIN chunk holds 44",
    ),
    "glb_buffer_view_past_its_buffer": Case(
        "model",
        M + "view.glb",
        files(assets__models__view_dot_glb=triangle_glb(_spoil("bufferViews.1.byteLength", 600))),
        "'assets/models/view.glb' is a damaged GLB model: bufferView 1 runs past the end of buffer 0",
    ),
    "glb_accessor_past_its_buffer_view": Case(
        "model",
        M + "acc.glb",
        files(assets__models__acc_dot_glb=triangle_glb(_spoil("accessors.0.count", 1000000))),
        "'assets/models/acc.glb' is a damaged GLB model: accessor 0 runs past the end of bufferView 0",
    ),
    "glb_buffer_at_a_web_address": Case(
        "model",
        M + "web.glb",
        files(assets__models__web_dot_glb=triangle_glb(_spoil("buffers.0.uri", "http://evil.example/x.bin"))),
        f"'assets/models/web.glb' is a damaged GLB model: buffer 0 refers to 'http://evil.example/x.bin', {OUTSIDE}",
    ),
    "glb_buffer_climbing_to_etc_passwd": Case(
        "model",
        M + "up.glb",
        files(assets__models__up_dot_glb=triangle_glb(_spoil("buffers.0.uri", "../../../etc/passwd"))),
        f"'assets/models/up.glb' is a damaged GLB model: buffer 0 refers to '../../../etc/passwd', {OUTSIDE}",
    ),
    "glb_buffer_at_an_absolute_path": Case(
        "model",
        M + "abs.glb",
        files(assets__models__abs_dot_glb=triangle_glb(_spoil("buffers.0.uri", "/etc/passwd"))),
        f"'assets/models/abs.glb' is a damaged GLB model: buffer 0 refers to '/etc/passwd', {OUTSIDE}",
    ),
    "glb_node_cycle": Case(
        "model",
        M + "cycle.glb",
        files(assets__models__cycle_dot_glb=triangle_glb(_cycle)),
        "'assets/models/cycle.glb' is a damaged GLB model: node 0 is its own ancestor",
    ),
    "glb_mesh_with_a_missing_accessor": Case(
        "model",
        M + "ref.glb",
        files(assets__models__ref_dot_glb=triangle_glb(_spoil("meshes.0.primitives.0.indices", 7))),
        "'assets/models/ref.glb' is a damaged GLB model: mesh 0 primitive 0 refers to accessor 7, which does not exist",
    ),
    "glb_with_a_png_bomb_inside": Case(
        "model",
        M + "lamp.glb",
        _bomb_inside,
        "'assets/models/lamp.glb' is a damaged GLB model: image 0 has too many pixels: 20000 x 20000 (the limit "
        "is 67,108,864, like 8192 x 8192); scale it down",
    ),
    "gltf_that_is_a_list": Case(
        "model",
        M + "list.gltf",
        files(assets__models__list_dot_gltf=b"[1, 2, 3]"),
        "'assets/models/list.gltf' is a damaged glTF model: its JSON is not glTF: there is no 'asset' with a 'version'",
    ),
    "gltf_that_is_nested_too_deeply": Case(
        "model",
        M + "deep.gltf",
        files(assets__models__deep_dot_gltf=b"[" * 100000 + b"]" * 100000),
        "'assets/models/deep.gltf' is a damaged glTF model: its JSON is nested too deeply",
    ),
    "gltf_buffer_that_is_a_folder": Case(
        "model",
        M + "lamp.gltf",
        _gltf_bin_folder,
        "asset 'assets/models/parts' is a folder, not a file (used by 'assets/models/lamp.gltf')",
    ),
    "glb_index_past_its_vertices": Case(
        "model",
        M + "lamp.glb",
        _index_past_the_vertices,
        "'assets/models/lamp.glb' is a damaged GLB model: a face refers to a vertex that does not exist",
    ),
    "gltf_with_its_bin_missing": Case(
        "model",
        M + "lamp.gltf",
        _gltf_missing_bin,
        "no such asset 'assets/models/lamp.bin' (used by 'assets/models/lamp.gltf')",
    ),
    # OBJ, STL, PLY
    "obj_face_pointing_to_a_missing_vertex": Case(
        "model",
        M + "lamp.obj",
        files(assets__models__lamp_dot_obj=OBJ.replace(b"f 1 2 3", b"f 1 2 9")),
        "'assets/models/lamp.obj' is a damaged OBJ model: line 4: a face refers to vertex 9, but the file has only 3",
    ),
    "obj_face_with_vertex_zero": Case(
        "model",
        M + "zero.obj",
        files(assets__models__zero_dot_obj=OBJ.replace(b"f 1 2 3", b"f 0 1 2")),
        "'assets/models/zero.obj' is a damaged OBJ model: line 4: vertex numbers start at 1, not 0",
    ),
    "obj_with_no_faces": Case(
        "model",
        M + "dots.obj",
        files(assets__models__dots_dot_obj=b"v 0 0 0\n"),
        "'assets/models/dots.obj' is a damaged OBJ model: it has no faces",
    ),
    "obj_material_library_outside_assets": Case(
        "model",
        M + "mtl.obj",
        files(assets__models__mtl_dot_obj=b"mtllib ../../../etc/passwd\n" + OBJ),
        "'assets/models/mtl.obj' is a damaged OBJ model: line 1: the material library '../../../etc/passwd' is "
        "outside the assets folder; keep it next to the model",
    ),
    "obj_material_texture_outside_assets": Case(
        "model",
        M + "lamp.obj",
        _obj_texture("../../../etc/passwd"),
        "'assets/models/lamp.mtl' is a damaged MTL material library: line 2: the texture '../../../etc/passwd' is "
        "outside the assets folder; keep it next to the model (used by 'assets/models/lamp.obj')",
    ),
    "obj_material_texture_that_is_a_png_bomb": Case(
        "model",
        M + "lamp.obj",
        _obj_texture("bomb.png", png_bomb()),
        "'assets/models/bomb.png' has too many pixels: 20000 x 20000 (the limit is 67,108,864, like 8192 x 8192); "
        "scale it down (used by 'assets/models/lamp.mtl')",
    ),
    "obj_material_library_missing": Case(
        "model",
        M + "mtl.obj",
        files(assets__models__mtl_dot_obj=b"mtllib gone.mtl\n" + OBJ),
        "no such asset 'assets/models/gone.mtl' (used by 'assets/models/mtl.obj')",
    ),
    "stl_binary_cut_short": Case(
        "model",
        M + "box.stl",
        files(assets__models__box_dot_stl=stl()[:600]),
        "'assets/models/box.stl' is a damaged STL model: it is cut short: its header says 12 triangles (684 bytes), "
        "the file has 600 bytes",
    ),
    "stl_smaller_than_its_header": Case(
        "model",
        M + "tiny.stl",
        files(assets__models__tiny_dot_stl=b"\0" * 20),
        "'assets/models/tiny.stl' is a damaged STL model: it is cut short: a binary STL has an 84-byte header, "
        "the file has 20 bytes",
    ),
    "ply_with_a_wrong_header": Case(
        "model",
        M + "lamp.ply",
        files(assets__models__lamp_dot_ply=b"plx\nformat ascii 1.0\nend_header\n"),
        "'assets/models/lamp.ply' is not a PLY model: it does not start with 'ply'",
    ),
    "ply_with_an_unknown_format": Case(
        "model",
        M + "fmt.ply",
        files(assets__models__fmt_dot_ply=PLY.replace(b"binary_little_endian", b"zip")),
        "'assets/models/fmt.ply' is a damaged PLY model: the second line of its header must be 'format ascii 1.0' "
        "or 'format binary_little_endian 1.0'",
    ),
    "ply_with_data_cut_short": Case(
        "model",
        M + "cut.ply",
        files(assets__models__cut_dot_ply=PLY[:-6]),
        "'assets/models/cut.ply' is a damaged PLY model: its data is cut short in the 'face' element",
    ),
    "ply_claiming_a_billion_vertices": Case(
        "model",
        M + "many.ply",
        files(assets__models__many_dot_ply=PLY.replace(b"vertex 3", b"vertex 1000000000")),
        "'assets/models/many.ply' is a damaged PLY model: its data is cut short in the 'vertex' element",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_and_build_reject_hostile_asset_and_publish_nothing(project, capsys, name):
    case = CASES[name]
    case.make(project)
    write_hall(project, **{case.field: case.value})
    assert_rejected(capsys, project, case.expected)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_hostile_asset_message_is_in_the_guide_table(name):
    message = CASES[name].message
    assert any(pattern.fullmatch(message) for pattern in documented_patterns()), message


# --- the same through a real process, as an author runs it ----------------------------------------------


def _halls(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def _assert_rejected_by_a_real_process(root: Path, expected: str) -> None:
    before = published(root)
    for command in (["check"], ["build", "--jobs", "1", "--no-meshopt", "--no-thumbnails"]):
        run = _halls(command[0], "--root", str(root), *command[1:], cwd=root)
        assert "Traceback" not in run.stderr
        assert (run.returncode, run.stderr.splitlines()) == (1, [expected, "1 error; nothing was published"])
    assert published(root) == before


def test_build_rejects_symlink_leading_outside_assets_and_publishes_nothing(project):
    CASES["symlink_to_etc_passwd"].make(project)
    write_hall(project, image=I + "passwd.png")
    _assert_rejected_by_a_real_process(project, CASES["symlink_to_etc_passwd"].expected)


def test_build_rejects_png_decompression_bomb_and_publishes_nothing(project):
    bomb = put(project, I + "bomb.png", png_bomb())
    assert bomb.stat().st_size < 64 * 1024  # a few KB ...
    write_hall(project, image=I + "bomb.png")
    _assert_rejected_by_a_real_process(project, CASES["png_decompression_bomb"].expected)


def test_build_rejects_a_pipe_named_like_audio_without_hanging_and_publishes_nothing(project):
    os.mkfifo(project / A / "live.ogg")  # opened for reading, a pipe with no writer would block forever
    write_hall(project, media=A + "live.ogg")
    message = "asset 'assets/media/live.ogg' is not a regular file (is it a pipe or a device?)"
    _assert_rejected_by_a_real_process(project, WHERE["media"] + message)


def test_build_rejects_a_broken_model_that_used_to_crash_it_with_a_traceback(project):
    put(project, M + "lamp.glb", b"glTFjunk")
    _assert_rejected_by_a_real_process(
        project,
        WHERE["model"] + "'assets/models/lamp.glb' is a damaged GLB model: it is cut short: a GLB header is "
        "12 bytes, the file has 8",
    )


# --- files that cannot be read ---------------------------------------------------------------------


def test_check_and_build_reject_an_unreadable_asset_and_publish_nothing(project, capsys, monkeypatch):
    secret = put(project, I + "secret.png", png())
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):  # root reads any file: refuse like a chmod 000 would
        if Path(path) == secret.resolve():
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(assets.os, "open", refusing_open)
    write_hall(project, image=I + "secret.png")
    assert_rejected(capsys, project, WHERE["image"] + "cannot read asset 'assets/images/secret.png': Permission denied")


@pytest.mark.may_skip
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_check_rejects_an_asset_without_read_permission(project, capsys):
    secret = put(project, I + "secret.png", png())
    secret.chmod(0)
    write_hall(project, image=I + "secret.png")
    assert_rejected(capsys, project, WHERE["image"] + "cannot read asset 'assets/images/secret.png': Permission denied")


# --- what passes -----------------------------------------------------------------------------------


def test_check_accepts_the_good_assets_of_the_built_project(project, capsys):
    status, lines = run_cli(capsys, "check", "--root", str(project))
    assert (status, lines) == (0, [])


@pytest.mark.parametrize(
    "name",
    [
        "gltf_with_its_bin",
        "obj",
        "textured_obj",
        "ascii_stl",
        "binary_stl",
        "binary_ply",
        "ascii_ply",
        "jpeg",
        "mp3_frame",
        "wav",
        "mp4",
        "webm",
        "link_inside_assets",
    ],
)
def test_check_accepts_well_formed_assets_of_every_kind(project, capsys, name):
    field, path, data = {
        "gltf_with_its_bin": ("model", M + "lamp.gltf", gltf_with_bin()[0]),
        "obj": ("model", M + "lamp.obj", OBJ),
        "textured_obj": ("model", M + "lamp.obj", None),
        "ascii_stl": ("model", M + "box.stl", trimesh.creation.box().export(file_type="stl_ascii").encode()),
        "binary_stl": ("model", M + "box.stl", stl()),
        "binary_ply": ("model", M + "box.ply", PLY),
        "ascii_ply": ("model", M + "box.ply", trimesh.creation.box().export(file_type="ply", encoding="ascii")),
        "jpeg": ("image", I + "photo.jpg", jpeg(32, 16)),
        "mp3_frame": ("media", A + "song.mp3", b"\xff\xfb\x90\x00" + bytes(100)),
        "wav": ("media", A + "march.wav", b"RIFF\x24\0\0\0WAVEfmt " + bytes(40)),
        "mp4": ("media", A + "clip.mp4", b"\0\0\0\x18ftypmp42" + bytes(40)),
        "webm": ("media", A + "clip.webm", b"\x1a\x45\xdf\xa3" + bytes(40)),
        "link_inside_assets": ("image", I + "alias.png", None),
    }[name]
    if name == "gltf_with_its_bin":
        put(project, M + "lamp.bin", gltf_with_bin()[1])
    if name == "textured_obj":
        _obj_texture("paint.png", png(16, 16))(project)
    elif data is None:
        (project / path).symlink_to("flag.png")
    else:
        put(project, path, data)
    write_hall(project, **{field: path})
    status, lines = run_cli(capsys, "check", "--root", str(project))
    assert (status, lines) == (0, [])


# --- the checks one by one --------------------------------------------------------------------------


def test_path_problem_accepts_plain_paths_under_assets():
    assert path_problem("assets/models/lamp.glb", "assets/") is None
    assert path_problem("assets/红色/旗帜 1.png", "assets/") is None


def test_references_lists_the_files_a_gltf_or_obj_uses_as_project_paths():
    doc, _ = triangle()
    doc["buffers"][0]["uri"] = "../shared/lamp%20data.bin"
    doc["images"] = [{"uri": "data:image/png;base64,AAAA"}, {"uri": "tex/wood.png"}]
    assert references("assets/models/lamp.gltf", json.dumps(doc).encode()) == [
        "assets/shared/lamp data.bin",
        "assets/models/tex/wood.png",
    ]
    assert references("assets/models/lamp.obj", b"mtllib lamp.mtl\n" + OBJ) == ["assets/models/lamp.mtl"]


def test_content_problem_needs_only_the_head_of_audio_and_video():
    assert content_problem("assets/a.ogg", OGG[:8]) is None
    assert content_problem("assets/v.mp4", b"\0\0\0\x18ftypisom") is None


def test_size_limits_are_named_constants_in_the_guide():
    guide = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
    for limit in (assets.MAX_MODEL_BYTES, assets.MAX_IMAGE_BYTES, assets.MAX_AUDIO_BYTES, assets.MAX_VIDEO_BYTES):
        assert f"{limit // MB} MB" in guide
    assert "8192 × 8192" in guide


OBJ_SAMPLES = [
    OBJ,
    OBJ.replace(b"f 1 2 3", b"f 1 2 9"),
    OBJ.replace(b"f 1 2 3", b"f 0 1 2"),
    OBJ.replace(b"f 1 2 3", b"f 1 2"),
    OBJ.replace(b"f 1 2 3", b"f -1 -2 -3"),
    OBJ.replace(b"f 1 2 3", b"f -1 -2 -4"),
    OBJ.replace(b"v 1 0 0", b"v 1 0"),
    OBJ.replace(b"v 1 0 0", b"v 1 nan 0"),
    OBJ.replace(b"f 1 2 3", b"f\t1 2 9"),
    OBJ.replace(b"f 1 2 3", b" f 1 2 9"),
    OBJ.replace(b"\n", b"\r\n"),
    OBJ + b"f 1/1 2/1 3/1\n",
    OBJ + b"vt 0 0\nf 1/1 2/1 3/2\n",
    OBJ + b"vn 0 0 1\nf 1//1 2//1 3//1\n",
    OBJ + b"vn 0 0 1\nf 1//1 2//1 3//2\n",
    OBJ + b"f 1/1/7 2 3\n",
    OBJ + b"vt 0 0\nvn 0 0 1\nf 1/1/1 2/1/1 3/1/1 # a comment\n",
    OBJ + b"f 1 2 3 4\n",
    OBJ + b"f 1 2 3\\\n 4\n",
    trimesh.creation.box().export(file_type="obj").encode(),
]


def test_obj_quick_pass_accepts_only_what_the_careful_pass_accepts():
    accepted = [data for data in OBJ_SAMPLES if assets._obj_clearly_fine(data)]
    assert accepted, "the quick pass vouched for none of the samples: the comparison would prove nothing"
    for data in accepted:
        assert assets._obj_structure("assets/m.obj", data) is None  # raises when the careful pass finds a problem


def test_obj_quick_pass_takes_the_common_layouts_of_exporters():
    box = trimesh.creation.box().export(file_type="obj").encode()
    textured = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvn 0 0 1\nf 1/1/1 2/1/1 3/1/1\n"
    assert all(assets._obj_clearly_fine(data) for data in (OBJ, box, textured, OBJ.replace(b"\n", b"\r\n")))
