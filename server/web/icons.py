"""The web app's icons, drawn from shapes: a gold star over a gold hall front on the catalog's red.

    python -m server.web.icons      writes static/icons/icon.svg, icon-192.png and icon-512.png

The same shapes make the SVG and the PNGs (a test redraws them and compares).  The PNGs are full-bleed
squares with everything inside the middle 80%, so they also serve as maskable icons.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).parent / "static" / "icons"
RED = "#b22222"
GOLD = "#f2c14e"
SIZES = (192, 512)


def shapes() -> list[list[tuple[float, float]]]:
    """Polygons on a 0..100 square: a five-pointed star, a roof, four columns and a step."""
    Shape = list[tuple[float, float]]
    star: Shape = []
    for i in range(10):
        radius = 15 if i % 2 == 0 else 6
        angle = -math.pi / 2 + i * math.pi / 5
        star.append((50 + radius * math.cos(angle), 33 + radius * math.sin(angle)))
    roof: Shape = [(22, 58), (50, 46), (78, 58)]
    columns: list[Shape] = [[(x, 61), (x + 6, 61), (x + 6, 76), (x, 76)] for x in (27, 39, 55, 67)]
    step: Shape = [(22, 78), (78, 78), (78, 83), (22, 83)]
    return [star, roof, *columns, step]


def svg() -> str:
    polygons = "".join(f'<polygon points="{" ".join(f"{x:.2f},{y:.2f}" for x, y in shape)}"/>' for shape in shapes())
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
        f'<rect width="100" height="100" rx="18" fill="{RED}"/><g fill="{GOLD}">{polygons}</g></svg>\n'
    )


def png(size: int) -> bytes:
    scale = size / 100
    image = Image.new("RGB", (size, size), RED)
    draw = ImageDraw.Draw(image)
    for shape in shapes():
        draw.polygon([(x * scale, y * scale) for x, y in shape], fill=GOLD)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def write(folder: Path = ICONS) -> list[Path]:
    """Write the three icon files into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "icon.svg"]
    written[0].write_text(svg(), encoding="utf-8")
    for size in SIZES:
        path = folder / f"icon-{size}.png"
        path.write_bytes(png(size))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(path)
