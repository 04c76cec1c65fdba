"""A hall's look when its theme leaves things out, and the light's direction: shared by compiler and clients."""

from __future__ import annotations

DEFAULT_COLOURS: dict[str, str] = {
    "primary": "#b22222",
    "secondary": "#f2c14e",
    "wall": "#f4efe6",
    "floor": "#8a6d4b",
    "ceiling": "#fbfaf7",
    "sky": "#9cc3e6",
}
"""Each theme colour's default (the hall schema's)."""
DEFAULT_AMBIENT = 0.45
"""Ambient light strength when a theme leaves it out."""
DEFAULT_SUN = 0.8
"""Sun strength when a theme leaves it out."""
DEFAULT_LIGHT: dict[str, float | str] = {"ambient": DEFAULT_AMBIENT, "sun": DEFAULT_SUN, "sky": DEFAULT_COLOURS["sky"]}
"""Light and sky when a theme leaves them out."""
SUN_HPR = (-35.0, -55.0, 0.0)
"""Sun direction (heading, pitch): shining from the south-west, high, toward the north-east."""


def hex_to_rgb(colour: str | tuple[int, int, int]) -> tuple[int, int, int]:
    """`"#rrggbb"` (or an RGB tuple) as three 0..255 integers; `ValueError` when malformed."""
    if isinstance(colour, str):
        text = colour.removeprefix("#")
        if len(text) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in text):
            raise ValueError(f"not a '#rrggbb' colour: {colour!r}")
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    if len(colour) != 3 or not all(0 <= int(v) <= 255 for v in colour):
        raise ValueError(f"not an RGB colour: {colour!r}")
    r, g, b = (int(v) for v in colour)
    return r, g, b
