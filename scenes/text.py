"""Text panels and signs: Chinese (and English) text rendered into PNG textures.

A panel is laid out in metres, so the validator's fit check (`text_fits`) and
the texture (`render_panel_png`) agree line for line: line breaks are always
computed at `MEASURE_PPM`, then drawn at the texture's own density.  Textures
are deterministic (same input, same bytes) and power-of-two sized, at most
1024 px a side.
"""

from __future__ import annotations

import functools
import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from halls_contract.fonts import FONT_SUFFIXES, FontNotFound, find_cjk_font  # noqa: F401 (part of this module's API)

log = logging.getLogger(__name__)

MEASURE_PPM = 400
"""Pixels per metre at which line breaks are decided (for fit checks and rendering alike)."""
TEXTURE_PPM = 640
"""Preferred texture density, before rounding to powers of two."""
MAX_TEXTURE_PX = 1024
MIN_TEXTURE_PX = 64

GLYPH_RATIO = 0.92
"""Height of a CJK glyph as a fraction of the font size (WenQuanYi, Noto CJK)."""
TITLE_M = 0.08
"""Title character height, metres."""
SUBTITLE_M = 0.04
"""English title character height, metres (the line is always reserved)."""
BODY_MAX_M = 0.055
BODY_MIN_M = 0.035
"""Smallest readable body character height, metres."""
BODY_STEP_M = 0.0025
BORDER_M = 0.025
"""Frame border drawn around a panel's texture, metres."""
IMAGE_SHARE = 0.45
"""Fraction of a panel's height given to its picture."""
LINE_SPACING = 1.4
TITLE_SPACING = 1.2
WRAP_SLACK = 0.97
"""Fraction of the line width used when breaking lines (room for hinting differences)."""

# Characters that must not begin a line (they hang on the previous one) or end one.
NO_LINE_START = set("，。、；：！？）」』》〉】〕”’…—·,.;:!?)]}%")
NO_LINE_END = set("（「『《〈【〔“‘([{")

DARK_TEXT = (34, 30, 28)
LIGHT_TEXT = (250, 248, 242)


# --- fonts -----------------------------------------------------------------


@functools.cache
def _default_font_path() -> Path:
    return find_cjk_font()


@functools.lru_cache(maxsize=64)
def load_font(path: Path, size_px: int) -> ImageFont.FreeTypeFont:
    """The font at `path` and pixel size, cached (basic layout, for identical output everywhere)."""
    return ImageFont.truetype(str(path), max(1, size_px), layout_engine=ImageFont.Layout.BASIC)


def _font(font_path: Path | None, size_px: float) -> ImageFont.FreeTypeFont:
    return load_font(Path(font_path) if font_path else _default_font_path(), max(1, round(size_px)))


def _em_px(char_height_m: float, ppm: float) -> float:
    """Font size in pixels for a character height in metres."""
    return char_height_m / GLYPH_RATIO * ppm


# --- line breaking ---------------------------------------------------------


def _is_wide(ch: str) -> bool:
    """True for CJK ideographs, kana, hangul and full-width forms: break anywhere around them."""
    code = ord(ch)
    return (
        0x2E80 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFE30 <= code <= 0xFE4F
        or 0xFF00 <= code <= 0xFFEF
        or 0x20000 <= code <= 0x3FFFF
    )


def _tokens(paragraph: str) -> list[str]:
    """Unbreakable pieces: single wide characters, Latin words, and spaces."""
    tokens: list[str] = []
    word = ""
    for ch in paragraph:
        if _is_wide(ch) or ch.isspace():
            if word:
                tokens.append(word)
                word = ""
            tokens.append(" " if ch.isspace() else ch)
        else:
            word += ch
    if word:
        tokens.append(word)
    return tokens


def _glue(tokens: list[str]) -> list[str]:
    """Join tokens that must stay together (closing punctuation to the previous piece, opening to the next)."""
    glued: list[str] = []
    carry = ""
    for tok in tokens:
        if tok != " " and glued and glued[-1] != " " and tok[0] in NO_LINE_START and not carry:
            glued[-1] += tok
        elif tok != " " and tok[-1] in NO_LINE_END and len(tok) == 1:
            carry += tok
        else:
            glued.append(carry + tok)
            carry = ""
    if carry:
        glued.append(carry)
    return glued


def wrap_text(text: str, font: ImageFont.FreeTypeFont, width_px: float) -> list[str]:
    """Break text into lines no wider than width_px: per character for CJK, per word for Latin."""
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").split("\n"):
        lines.extend(_wrap_paragraph(paragraph.strip(), font, width_px))
    return lines


@functools.lru_cache(maxsize=65536)
def _width(font: ImageFont.FreeTypeFont, text: str) -> float:
    """Advance width of a piece of text, cached: wrapping measures the same characters again and again."""
    return font.getlength(text)


def _wrap_paragraph(paragraph: str, font: ImageFont.FreeTypeFont, width_px: float) -> list[str]:
    """Greedy wrap; a line's width is the sum of its pieces' widths (kerning across pieces is ignored)."""
    if not paragraph:
        return [""]
    lines: list[str] = []
    line, line_width = "", 0.0
    for piece in _glue(_tokens(paragraph)):
        if line_width + _width(font, piece.rstrip()) <= width_px or not line.strip():
            line, line_width = line + piece, line_width + _width(font, piece)
        else:
            lines.append(line.rstrip())
            line, line_width = ("", 0.0) if piece == " " else (piece, _width(font, piece))
        while line_width > width_px and len(line) > 1 and _width(font, line.rstrip()) > width_px:
            head = _longest_prefix(line, font, width_px)
            lines.append(head)
            line = line[len(head) :].lstrip()
            line_width = _width(font, line)
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _longest_prefix(text: str, font: ImageFont.FreeTypeFont, width_px: float) -> str:
    """The longest prefix of `text` (at least one character) that fits width_px."""
    end = 1
    while end < len(text) and font.getlength(text[: end + 1]) <= width_px:
        end += 1
    return text[:end]


def _ellipsize(text: str, font: ImageFont.FreeTypeFont, width_px: float) -> str:
    if font.getlength(text) <= width_px:
        return text
    while text and font.getlength(text + "…") > width_px:
        text = text[:-1]
    return text + "…"


# --- panel layout ----------------------------------------------------------


@dataclass(frozen=True)
class PanelLayout:
    """Where things go on a panel, in metres from its top-left corner."""

    width: float
    height: float
    margin: float
    image_box: tuple[float, float, float, float] | None
    """left, top, right, bottom of the picture area."""
    title_top: float
    title_lines: tuple[str, ...]
    subtitle_top: float
    rule_y: float
    body_top: float
    body_size: float
    """Body character height, metres."""
    body_lines: tuple[str, ...]


def _margin(width_m: float, height_m: float) -> float:
    return BORDER_M + min(0.05, 0.06 * min(width_m, height_m))


def layout_panel(
    title: str,
    body: str,
    width_m: float,
    height_m: float,
    *,
    has_image: bool = False,
    font_path: Path | None = None,
) -> PanelLayout | None:
    """The largest-body layout of a panel, or None when it does not fit at BODY_MIN_M."""
    margin = _margin(width_m, height_m)
    inner_w = width_m - 2 * margin
    if inner_w <= 0 or height_m <= 2 * margin:
        return None
    top = margin
    image_box = None
    if has_image:
        image_bottom = height_m * IMAGE_SHARE
        image_box = (margin, margin, width_m - margin, image_bottom)
        top = image_bottom + 0.02
    wrap_px = inner_w * MEASURE_PPM * WRAP_SLACK
    title_font = _font(font_path, _em_px(TITLE_M, MEASURE_PPM))
    title_lines = tuple(line for line in wrap_text(title.strip(), title_font, wrap_px) if line)
    title_h = max(1, len(title_lines)) * TITLE_M * TITLE_SPACING
    subtitle_top = top + title_h
    rule_y = subtitle_top + SUBTITLE_M * 1.35
    body_top = rule_y + 0.03
    available = height_m - margin - body_top
    size = BODY_MAX_M
    while size >= BODY_MIN_M - 1e-9:
        body_font = _font(font_path, _em_px(size, MEASURE_PPM))
        lines = wrap_text(body.strip(), body_font, wrap_px) if body.strip() else []
        if _lines_height(len(lines), size) <= available:
            return PanelLayout(
                width_m,
                height_m,
                margin,
                image_box,
                top,
                title_lines,
                subtitle_top,
                rule_y,
                body_top,
                size,
                tuple(lines),
            )
        size -= BODY_STEP_M
    return None


def _lines_height(count: int, size_m: float) -> float:
    """Height of `count` body lines (the last without its line gap)."""
    if count == 0:
        return 0.0
    return (count - 1) * size_m * LINE_SPACING + size_m * 1.15


def text_fits(title: str, body: str, width_m: float, height_m: float, has_image: bool = False) -> bool:
    """True when the title and the wrapped body fit a panel of this size at the minimum readable size."""
    return layout_panel(title, body, width_m, height_m, has_image=has_image) is not None


# --- colours and canvases --------------------------------------------------

Colour = str | tuple[float, float, float] | tuple[int, int, int]


def parse_colour(colour: Colour) -> tuple[int, int, int]:
    """'#rrggbb', 0..1 floats or 0..255 ints as an 8-bit RGB triple."""
    if isinstance(colour, str):
        text = colour.lstrip("#")
        if len(text) != 6:
            raise ValueError(f"text: colour must be '#rrggbb', got {colour!r}")
        r, g, b = (int(text[i : i + 2], 16) for i in (0, 2, 4))
        return r, g, b
    values = tuple(colour)[:3]
    if all(isinstance(v, float) for v in values) and all(0.0 <= v <= 1.0 for v in values):
        r, g, b = (round(v * 255) for v in values)
    else:
        r, g, b = (int(v) for v in values)
    return r, g, b


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour_on(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Dark or light text, whichever reads better on the background."""
    return DARK_TEXT if _contrast(DARK_TEXT, background) >= _contrast(LIGHT_TEXT, background) else LIGHT_TEXT


def _accent_text_colour(accent: tuple[int, int, int], background: tuple[int, int, int]) -> tuple[int, int, int]:
    """The accent colour for titles when it contrasts enough with the background, else plain text colour."""
    return accent if _contrast(accent, background) >= 4.5 else text_colour_on(background)


def texture_size(width_m: float, height_m: float, ppm: float = TEXTURE_PPM) -> tuple[int, int]:
    """Power-of-two pixel size for a face of this size (nearest in log scale, 64..1024 a side)."""
    scale = min(ppm, MAX_TEXTURE_PX / max(width_m, height_m))

    def pow2(length_px: float) -> int:
        exponent = round(math.log2(max(length_px, 1.0)))
        return int(min(MAX_TEXTURE_PX, max(MIN_TEXTURE_PX, 2**exponent)))

    return pow2(width_m * scale), pow2(height_m * scale)


def _canvas_ppm(width_m: float, height_m: float) -> float:
    return min(TEXTURE_PPM, MAX_TEXTURE_PX / max(width_m, height_m))


TEXT_PALETTE_COLOURS = 64
"""Text cards are a few inks on one background: a 64-colour palette looks the same and is ~3x smaller."""


def _to_png(image: Image.Image, width_m: float, height_m: float, *, palette: bool = False) -> bytes:
    """Resize a canvas to its power-of-two texture size and encode it deterministically.

    `palette` (for text-only cards) stores it as an indexed PNG; photos keep full colour.
    """
    size = texture_size(width_m, height_m)
    if image.size != size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    if palette:
        image = image.convert("RGB").quantize(
            TEXT_PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


def _new_canvas(width_m: float, height_m: float, colour: tuple[int, int, int]) -> tuple[Image.Image, float]:
    ppm = _canvas_ppm(width_m, height_m)
    size = (max(1, round(width_m * ppm)), max(1, round(height_m * ppm)))
    return Image.new("RGB", size, colour), ppm


def _paste_picture(canvas: Image.Image, image_bytes: bytes, box_px: tuple[int, int, int, int]) -> None:
    """Fit a picture inside box_px, keeping its aspect, centred."""
    left, top, right, bottom = box_px
    with Image.open(io.BytesIO(image_bytes)) as source:
        picture = source.convert("RGB")
    scale = min((right - left) / picture.width, (bottom - top) / picture.height)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    picture = picture.resize(size, Image.Resampling.LANCZOS)
    canvas.paste(picture, (left + (right - left - size[0]) // 2, top + (bottom - top - size[1]) // 2))


def _draw_lines(
    draw: ImageDraw.ImageDraw,
    lines: Sequence[str],
    left_px: float,
    top_px: float,
    char_m: float,
    spacing: float,
    ppm: float,
    fill: tuple[int, int, int],
    font_path: Path | None,
) -> None:
    font = _font(font_path, _em_px(char_m, ppm))
    ascent, _ = font.getmetrics()
    for i, line in enumerate(lines):
        baseline = top_px + (i * char_m * spacing + char_m) * ppm
        draw.text((left_px, baseline - ascent * GLYPH_RATIO), line, font=font, fill=fill)


# --- panels and signs ------------------------------------------------------


def render_panel_png(
    title: str,
    title_en: str | None,
    text: str,
    text_en: str | None,
    width_m: float,
    height_m: float,
    *,
    background: Colour,
    accent: Colour,
    image_bytes: bytes | None = None,
    font_path: Path | None = None,
) -> bytes:
    """A panel's face as PNG bytes: picture, title, English title, rule, body (English body if room).

    The layout is the one `text_fits` judged; when the body does not fit even at
    the minimum size it is cut with an ellipsis (and a warning logged).
    """
    bg, acc = parse_colour(background), parse_colour(accent)
    has_image = image_bytes is not None
    layout = _fitting_layout(title, text, text_en, width_m, height_m, has_image, font_path)
    canvas, ppm = _new_canvas(width_m, height_m, bg)
    draw = ImageDraw.Draw(canvas)
    border = max(2, round(BORDER_M * ppm))
    draw.rectangle((0, 0, canvas.width - 1, canvas.height - 1), outline=acc, width=border)
    if layout.image_box is not None and image_bytes is not None:
        x0, y0, x1, y1 = layout.image_box
        _paste_picture(canvas, image_bytes, (round(x0 * ppm), round(y0 * ppm), round(x1 * ppm), round(y1 * ppm)))
    left = layout.margin * ppm
    inner_px = (width_m - 2 * layout.margin) * ppm
    ink = text_colour_on(bg)
    _draw_lines(
        draw,
        layout.title_lines,
        left,
        layout.title_top * ppm,
        TITLE_M,
        TITLE_SPACING,
        ppm,
        _accent_text_colour(acc, bg),
        font_path,
    )
    if title_en:
        subtitle_font = _font(font_path, _em_px(SUBTITLE_M, ppm))
        _draw_lines(
            draw,
            [_ellipsize(title_en.strip(), subtitle_font, inner_px)],
            left,
            layout.subtitle_top * ppm,
            SUBTITLE_M,
            1.0,
            ppm,
            ink,
            font_path,
        )
    rule_h = max(2, round(0.006 * ppm))
    rule_y = round(layout.rule_y * ppm)
    draw.rectangle((round(left), rule_y, round(left + inner_px * 0.35), rule_y + rule_h), fill=acc)
    _draw_lines(
        draw, layout.body_lines, left, layout.body_top * ppm, layout.body_size, LINE_SPACING, ppm, ink, font_path
    )
    return _to_png(canvas, width_m, height_m, palette=image_bytes is None)


def _fitting_layout(
    title: str,
    text: str,
    text_en: str | None,
    width_m: float,
    height_m: float,
    has_image: bool,
    font_path: Path | None,
) -> PanelLayout:
    """The layout with the English body appended when it still fits, else the Chinese alone, else cut."""
    if text_en and text_en.strip():
        both = layout_panel(title, f"{text}\n\n{text_en}", width_m, height_m, has_image=has_image, font_path=font_path)
        if both is not None:
            return both
    layout = layout_panel(title, text, width_m, height_m, has_image=has_image, font_path=font_path)
    if layout is not None:
        return layout
    log.warning("text: body of panel %r does not fit %.2f x %.2f m; cut short", title, width_m, height_m)
    return _cut_layout(title, text, width_m, height_m, has_image, font_path)


def _cut_layout(
    title: str, text: str, width_m: float, height_m: float, has_image: bool, font_path: Path | None
) -> PanelLayout:
    """The minimum-size layout with as many body lines as fit, the last ending in an ellipsis."""
    empty = layout_panel(title, "", width_m, height_m, has_image=has_image, font_path=font_path)
    if empty is None:
        margin = _margin(width_m, height_m)
        empty = PanelLayout(width_m, height_m, margin, None, margin, (title,), margin, margin, margin, BODY_MIN_M, ())
    available = height_m - empty.margin - empty.body_top
    inner_px = (width_m - 2 * empty.margin) * MEASURE_PPM * WRAP_SLACK
    font = _font(font_path, _em_px(BODY_MIN_M, MEASURE_PPM))
    lines = wrap_text(text.strip(), font, inner_px)
    keep = 0
    while keep < len(lines) and _lines_height(keep + 1, BODY_MIN_M) <= available:
        keep += 1
    kept = lines[:keep]
    if kept:
        kept[-1] = _ellipsize(kept[-1] + "…", font, inner_px)
    return PanelLayout(
        width_m,
        height_m,
        empty.margin,
        empty.image_box,
        empty.title_top,
        empty.title_lines,
        empty.subtitle_top,
        empty.rule_y,
        empty.body_top,
        BODY_MIN_M,
        tuple(kept),
    )


def render_sign_png(
    title: str,
    title_en: str | None,
    width_m: float,
    height_m: float,
    *,
    background: Colour,
    play_symbol: bool = False,
    font_path: Path | None = None,
) -> bytes:
    """A sign's face as PNG bytes: the title as large as fits, the English title under it.

    `play_symbol` draws a play triangle above the title (posters for video and audio).
    """
    bg = parse_colour(background)
    ink = text_colour_on(bg)
    canvas, ppm = _new_canvas(width_m, height_m, bg)
    draw = ImageDraw.Draw(canvas)
    width_px, height_px = canvas.size
    pad = min(width_px, height_px) * 0.1
    top, bottom = pad, height_px - pad
    if play_symbol:
        _draw_play_symbol(draw, width_px / 2, top + (bottom - top) * 0.3, (bottom - top) * 0.22, ink)
        top += (bottom - top) * 0.6
    sub_share = 0.3 if title_en else 0.0
    title_h = (bottom - top) * (1 - sub_share)
    _draw_centred(draw, title, width_px / 2, top + title_h / 2, width_px - 2 * pad, title_h, ink, font_path)
    if title_en:
        sub_h = (bottom - top) * sub_share
        _draw_centred(draw, title_en, width_px / 2, bottom - sub_h / 2, width_px - 2 * pad, sub_h, ink, font_path)
    return _to_png(canvas, width_m, height_m, palette=True)


def _draw_centred(
    draw: ImageDraw.ImageDraw,
    text: str,
    cx: float,
    cy: float,
    max_w: float,
    max_h: float,
    fill: tuple[int, int, int],
    font_path: Path | None,
) -> None:
    """Text centred on (cx, cy), as large as fits max_w x max_h: one line, or two when that reads larger."""
    text = " ".join(text.split())
    one_size = _one_line_size(text, max_w, max_h, font_path)
    two_size = math.floor(max_h / 2 / 1.2)
    lines = [text]
    if one_size < 0.6 * max_h / 1.15 and two_size > one_size:
        wrapped = _balanced_two_lines(text, _font(font_path, two_size), max_w)
        if len(wrapped) == 2:
            lines, one_size = wrapped, two_size
    size = max(12, one_size)
    font = _font(font_path, size)
    step = size * 1.2
    for i, line in enumerate(lines):
        y = cy + (i - (len(lines) - 1) / 2) * step
        draw.text((cx, y), _ellipsize(line, font, max_w), font=font, fill=fill, anchor="mm")


def _balanced_two_lines(text: str, font: ImageFont.FreeTypeFont, max_w: float) -> list[str]:
    """Text broken into two lines of similar length if it fits two lines of max_w, else as wrapped."""
    wrapped = wrap_text(text, font, max_w)
    if len(wrapped) != 2:
        return wrapped
    low, high = max_w / 2, max_w
    while high - low > 2:
        mid = (low + high) / 2
        if len(wrap_text(text, font, mid)) == 2:
            high = mid
        else:
            low = mid
    return wrap_text(text, font, high)


def _one_line_size(text: str, max_w: float, max_h: float, font_path: Path | None) -> int:
    """The largest whole pixel size at which text fits max_w x max_h on one line."""
    size = math.floor(max_h / 1.15)
    length = _font(font_path, size).getlength(text)
    while size > 12 and length > max_w:
        size = min(size - 1, math.floor(size * max_w / length))
        length = _font(font_path, size).getlength(text)
    return max(1, size)


def _draw_play_symbol(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, fill) -> None:
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=max(2, round(r * 0.1)))
    t = r * 0.5
    draw.polygon([(cx - t * 0.6, cy - t), (cx - t * 0.6, cy + t), (cx + t, cy)], fill=fill)


def render_picture_png(image_bytes: bytes, width_m: float, height_m: float, *, background: Colour) -> bytes:
    """A picture fitted (letterboxed) into a face of this size, as a power-of-two PNG."""
    canvas, _ = _new_canvas(width_m, height_m, parse_colour(background))
    _paste_picture(canvas, image_bytes, (0, 0, canvas.width, canvas.height))
    return _to_png(canvas, width_m, height_m)
