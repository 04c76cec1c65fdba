"""Tests for scenes.text: fit checks, line breaking and panel textures."""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np
import pytest
from PIL import Image

from scenes import text

SHORT = "屯兰矿坚持安全第一、预防为主、综合治理的方针。"
ESSAY = SHORT * 40


def decode(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def red_png(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (255, 0, 0)).save(out, format="PNG")
    return out.getvalue()


# --- fitting and line breaking ---------------------------------------------


def test_text_fits_accepts_a_paragraph_on_a_standard_panel():
    assert text.text_fits("本安屯兰", SHORT * 4, 1.6, 1.1)


def test_text_fits_rejects_essay_on_small_panel():
    assert not text.text_fits("本安屯兰", ESSAY, 1.0, 0.8)


def test_text_fits_gives_less_room_when_the_panel_has_an_image():
    body = SHORT * 15
    assert text.text_fits("标题", body, 1.6, 1.1)
    assert not text.text_fits("标题", body, 1.6, 1.1, has_image=True)


def test_text_fits_rejects_a_panel_too_small_for_its_margins():
    assert not text.text_fits("标题", "", 0.1, 0.1)


def test_layout_keeps_body_at_or_above_the_minimum_readable_size():
    layout = text.layout_panel("标题", SHORT * 6, 1.6, 1.1)
    assert layout is not None and text.BODY_MIN_M <= layout.body_size <= text.BODY_MAX_M
    roomy = text.layout_panel("标题", SHORT, 1.6, 1.1)
    assert roomy.body_size == text.BODY_MAX_M  # short text is printed large


def test_wrap_text_breaks_cjk_per_character_and_latin_per_word():
    font = text.load_font(text.find_cjk_font(), 40)
    lines = text.wrap_text("安全生产责任重于泰山 Safety is the first responsibility of every miner", font, 400)
    assert all(font.getlength(line) <= 400 for line in lines)
    words = " ".join(lines).split()
    assert {"Safety", "responsibility", "miner"} <= set(words)  # no Latin word split
    assert lines[0].startswith("安全生产") and len(lines[0]) >= 8


def test_wrap_text_never_starts_a_line_with_closing_punctuation():
    font = text.load_font(text.find_cjk_font(), 40)
    for width in range(120, 600, 40):
        for line in text.wrap_text("我们要坚持安全第一，预防为主。综合治理、全员参与！", font, width):
            assert line[0] not in text.NO_LINE_START


def test_wrap_text_keeps_paragraphs():
    font = text.load_font(text.find_cjk_font(), 40)
    assert text.wrap_text("第一段\n第二段", font, 1000) == ["第一段", "第二段"]


# --- panels and signs ------------------------------------------------------


def render_panel(**changes: Any) -> bytes:
    args: dict[str, Any] = dict(
        title="本安屯兰",
        title_en="Intrinsic Safety",
        text=SHORT * 3,
        text_en="Safety first.",
        width_m=1.6,
        height_m=1.1,
        background="#f7f3ea",
        accent="#b22222",
    )
    args.update(changes)
    return text.render_panel_png(
        args.pop("title"),
        args.pop("title_en"),
        args.pop("text"),
        args.pop("text_en"),
        args.pop("width_m"),
        args.pop("height_m"),
        **args,
    )


def test_render_panel_png_is_deterministic():
    assert render_panel() == render_panel()
    text.load_font.cache_clear()
    assert render_panel(image_bytes=red_png()) == render_panel(image_bytes=red_png())


@pytest.mark.parametrize("size", [(1.6, 1.1), (5.0, 0.5), (0.4, 3.0), (0.3, 0.3)])
def test_render_panel_png_has_power_of_two_sides_at_most_1024(size):
    height, width, _ = decode(render_panel(width_m=size[0], height_m=size[1], text="短")).shape
    for side in (width, height):
        assert side <= 1024 and side & (side - 1) == 0


def test_render_panel_png_prints_dark_text_on_a_light_card():
    pixels = decode(render_panel())
    body = pixels[pixels.shape[0] // 3 :, 40:-40]
    dark = (body.sum(axis=2) < 200).mean()
    assert 0.01 < dark < 0.5
    assert np.median(body.reshape(-1, 3), axis=0).min() > 200  # the card stays light


def test_render_panel_png_puts_the_image_in_the_top_part():
    pixels = decode(render_panel(image_bytes=red_png()))
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)
    rows = np.nonzero(red.any(axis=1))[0]
    assert len(rows) and rows.max() < pixels.shape[0] * text.IMAGE_SHARE


def test_render_panel_png_cuts_overlong_text_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="scenes.text"):
        png = render_panel(text=ESSAY, width_m=1.0, height_m=0.8)
    assert png.startswith(b"\x89PNG") and "does not fit" in caplog.text


def test_render_sign_png_prints_light_text_on_a_dark_colour():
    pixels = decode(text.render_sign_png("前往 红色屯兰", "To Red Tunlan", 2.0, 0.5, background="#7a1010"))
    light = (pixels.min(axis=2) > 200).mean()
    assert 0.02 < light < 0.5


def test_render_sign_png_with_play_symbol_differs_from_plain_sign():
    args = ("矿工的一天", None, 1.5, 0.8)
    assert text.render_sign_png(*args, background="#222222", play_symbol=True) != text.render_sign_png(
        *args, background="#222222"
    )


def test_render_picture_png_letterboxes_the_picture():
    pixels = decode(text.render_picture_png(red_png((100, 100)), 2.0, 1.0, background="#000000"))
    red_columns = np.nonzero((pixels[..., 0] > 200).any(axis=0))[0]
    width = pixels.shape[1]
    assert 0.2 * width < red_columns.min() and red_columns.max() < 0.8 * width


def test_parse_colour_reads_hex_floats_and_ints():
    assert text.parse_colour("#ff8000") == (255, 128, 0)
    assert text.parse_colour((1.0, 0.5, 0.0)) == (255, 128, 0)
    assert text.parse_colour((255, 128, 0)) == (255, 128, 0)
    with pytest.raises(ValueError, match="text: colour must be '#rrggbb'"):
        text.parse_colour("red")
