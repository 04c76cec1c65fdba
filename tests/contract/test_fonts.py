"""halls_contract.fonts: the CJK font finder the compiler and the Panda3D client share."""

from __future__ import annotations

import pytest

from halls_contract import fonts


def test_find_cjk_font_prefers_a_font_in_extra_dirs(tmp_path):
    font = tmp_path / "my-cjk.ttf"
    font.write_bytes(b"not really a font")
    assert fonts.find_cjk_font([tmp_path]) == font


def test_find_cjk_font_raises_font_not_found_telling_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(fonts, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(fonts, "KNOWN_FONT_PATHS", ())
    monkeypatch.setattr(fonts.shutil, "which", lambda name: None)
    with pytest.raises(fonts.FontNotFound) as error:
        fonts.find_cjk_font()
    assert "fonts-wqy-microhei" in str(error.value)


def test_find_cjk_font_finds_an_installed_system_font():
    assert fonts.find_cjk_font().suffix in fonts.FONT_SUFFIXES


def test_compiler_and_client_use_the_same_font_finder():
    from scenes import text

    assert text.find_cjk_font is fonts.find_cjk_font and text.FontNotFound is fonts.FontNotFound
