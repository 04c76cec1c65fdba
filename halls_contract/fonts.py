"""Finding a font with Chinese glyphs: the compiler's textures and the Panda3D client's panels use the same one."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout; a font in its `assets/fonts/` wins over system fonts."""
KNOWN_FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
FONT_SUFFIXES = (".ttc", ".ttf", ".otf")


class FontNotFound(RuntimeError):
    """No font with Chinese glyphs could be found."""


def find_cjk_font(extra_dirs: Sequence[Path | str] = ()) -> Path:
    """The path of a font with Chinese glyphs: extra_dirs, assets/fonts, known system paths, fontconfig."""
    for directory in (*map(Path, extra_dirs), PROJECT_ROOT / "assets" / "fonts"):
        if directory.is_dir():
            fonts = sorted(p for p in directory.iterdir() if p.suffix.lower() in FONT_SUFFIXES)
            if fonts:
                return fonts[0]
    for known in KNOWN_FONT_PATHS:
        if Path(known).is_file():
            return Path(known)
    found = _fontconfig_cjk_font()
    if found is not None:
        return found
    raise FontNotFound(
        "text: no Chinese (CJK) font found; install one with "
        "'apt-get install fonts-wqy-microhei' or put a .ttf/.ttc/.otf file in assets/fonts/"
    )


def _fontconfig_cjk_font() -> Path | None:
    """A CJK font reported by fontconfig, or None (fc-match falls back to non-CJK fonts, so check)."""
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}\n%{lang}", ":lang=zh"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, langs = out.partition("\n")
    if path and Path(path).is_file() and any(lang.startswith("zh") for lang in langs.split("|")):
        return Path(path)
    return None
