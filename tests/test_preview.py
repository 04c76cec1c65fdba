"""Tests for tools.preview: offscreen renders of tiny chunks, and the image check."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from scenes import ir
from scenes.emit_bam import emit_bam
from tests.meshes import box_mesh
from tools.preview import DISPLAYS, inspect_image, render_preview

THEME = {"ambient": 0.45, "sun": 0.8, "sky": "#9cc3e6", "primary": "#b22222"}
RED = "#e61a1a"
YELLOW = "#f0c800"
BLUE = "#003cdc"
SKY = "#9cc3e6"


# --- fixtures --------------------------------------------------------------


def poster_mesh(width: float, height: float) -> ir.MeshData:
    """An upright quad facing south (-Y), bottom on z=0, glTF UVs (v=0 at the top)."""
    w = width / 2
    positions = np.array([(-w, 0, 0), (w, 0, 0), (w, 0, height), (-w, 0, height)], np.float32)
    normals = np.tile(np.array([0, -1, 0], np.float32), (4, 1))
    uvs = np.array([(0, 1), (1, 1), (1, 0), (0, 0)], np.float32)
    return ir.MeshData(positions, normals, np.array([(0, 1, 2), (0, 2, 3)], np.uint32), uvs)


def yellow_over_blue_png() -> bytes:
    image = Image.new("RGB", (32, 32), BLUE)
    image.paste(Image.new("RGB", (32, 16), YELLOW), (0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def red_box_chunk() -> ir.ChunkMeshes:
    grey = ir.Material("floor", (0.5, 0.5, 0.5, 1.0))
    red = ir.Material("red", (0.9, 0.1, 0.1, 1.0))
    return ir.ChunkMeshes(
        "boxes",
        [
            ir.NodeMeshes("floor", (0, 0, -0.1), 0, [ir.Part(box_mesh(10, 10, 0.1, uvs=False), grey)]),
            ir.NodeMeshes("red-box", (0, 0, 0), 30, [ir.Part(box_mesh(1, 1, 1, uvs=False), red)]),
        ],
    )


def poster_chunk() -> ir.ChunkMeshes:
    poster = ir.Material("poster", (1, 1, 1, 1), texture_png=yellow_over_blue_png(), unlit=True)
    return ir.ChunkMeshes("posters", [ir.NodeMeshes("poster", (0, 0, 0), 0, [ir.Part(poster_mesh(2, 2), poster)])])


# --- renders ---------------------------------------------------------------


@pytest.mark.parametrize("display", DISPLAYS)
def test_preview_of_red_box_under_light_is_not_blank_and_shows_red(tmp_path, display):
    out = render_preview(
        [emit_bam(red_box_chunk())],
        camera_pos=(0, -5, 2.5),
        look_at=(0, 0, 0.5),
        theme=THEME,
        size=(160, 100),
        out=tmp_path / "red.png",
        display=display,
    )
    report = inspect_image(out, [RED, SKY, "#00ff00"])
    assert report.size == (160, 100)
    assert not report.blank
    assert report.colours[RED] > 0.02
    assert report.found() == [RED, SKY]  # no green anywhere


def test_preview_of_textured_quad_shows_texture_colours_right_way_up(tmp_path):
    out = render_preview(
        [emit_bam(poster_chunk())],
        camera_pos=(0, -3, 1),
        look_at=(0, 0, 1),
        theme=THEME,
        size=(120, 120),
        out=tmp_path / "poster.png",
    )
    with Image.open(out) as image:
        upper = image.crop((40, 35, 80, 55))
        lower = image.crop((40, 65, 80, 85))
        whole = inspect_image(image, [YELLOW, BLUE], tolerance=30)
        assert whole.found(0.05) == [YELLOW, BLUE]
        assert inspect_image(upper, [YELLOW], tolerance=30).colours[YELLOW] > 0.95
        assert inspect_image(lower, [BLUE], tolerance=30).colours[BLUE] > 0.95


def test_render_preview_twice_in_one_process_accepts_paths_and_bytes(tmp_path):
    bam_path = tmp_path / "boxes.bam"
    bam_path.write_bytes(emit_bam(red_box_chunk()))
    first = render_preview(
        [bam_path],
        camera_pos=(0, -5, 2.5),
        look_at=(0, 0, 0.5),
        theme=THEME,
        size=(64, 40),
        out=tmp_path / "a" / "first.png",
    )
    second = render_preview(
        [bam_path, emit_bam(poster_chunk())],
        camera_pos=(0, -5, 2.5),
        look_at=(0, 0, 0.5),
        theme={"sky": "#202020"},
        size=(64, 40),
        out=tmp_path / "second.png",
    )
    assert first.is_file() and second.is_file()
    assert inspect_image(second, ["#202020"]).colours["#202020"] > 0.1


def test_render_preview_rejects_ambient_out_of_range(tmp_path):
    with pytest.raises(ValueError) as info:
        render_preview([b"bam"], camera_pos=(0, -5, 2), look_at=(0, 0, 0), theme={"ambient": 3}, out=tmp_path / "x.png")
    assert str(info.value) == "preview: theme ambient must be in 0..1, got 3"


def test_render_preview_rejects_missing_bam_file(tmp_path):
    with pytest.raises(ValueError) as info:
        render_preview(
            [tmp_path / "gone.bam"], camera_pos=(0, -5, 2), look_at=(0, 0, 0), theme={}, out=tmp_path / "x.png"
        )
    assert str(info.value) == f"preview: bam_files[0]: no such file {tmp_path / 'gone.bam'}"


def test_render_preview_reports_renderer_failure_for_corrupt_bam(tmp_path):
    with pytest.raises(RuntimeError, match="^preview: the renderer failed"):
        render_preview(
            [b"not a bam"], camera_pos=(0, -5, 2), look_at=(0, 0, 0), theme={}, size=(32, 32), out=tmp_path / "x.png"
        )


# --- the image check -------------------------------------------------------


def test_inspect_image_reports_flat_image_as_blank():
    report = inspect_image(Image.new("RGB", (50, 40), SKY), [SKY, RED])
    assert report.blank
    assert report.distinct_colours == 1
    assert report.colours == {SKY: 1.0, RED: 0.0}


def test_inspect_image_finds_shaded_colours_and_not_others():
    image = Image.new("RGB", (100, 10), (0, 0, 0))
    image.paste(Image.new("RGB", (25, 10), (115, 13, 13)), (0, 0))  # red at half brightness
    image.paste(Image.new("RGB", (25, 10), (230, 26, 26)), (25, 0))  # red, lit
    report = inspect_image(image, [RED, (0, 200, 0)])
    assert not report.blank
    assert report.colours[RED] == pytest.approx(0.5)
    assert report.found() == [RED]


def test_inspect_image_rejects_malformed_colour():
    with pytest.raises(ValueError) as info:
        inspect_image(Image.new("RGB", (2, 2)), ["#12345"])
    assert str(info.value) == "preview: not a '#rrggbb' colour: '#12345'"


def test_render_preview_accepts_negative_camera_coordinates(tmp_path):
    from panda3d.core import NodePath

    box = NodePath("empty")
    path = tmp_path / "empty.bam"
    box.writeBamFile(str(path))
    out = render_preview(
        [path],
        camera_pos=(-8.0, -3.5, 1.6),
        look_at=(-1.0, 2.0, 1.0),
        theme={},
        size=(64, 40),
        out=tmp_path / "neg.png",
    )
    assert out.is_file()
