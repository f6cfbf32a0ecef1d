"""Posters: A4 PDF and PNG per language, QR codes that carry the poster's source, right to left
laid out from the right, and plain sentences when a setting is missing."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import segno

from bot.i18n import LANGUAGES, Catalogs
from bot.poster import HEIGHT, WIDTH, Links, codes_in_order, links

WEB = "https://guide.example.dk"
BOT = "VollsmoseGuideBot"


def _poster(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "poster", "--out", str(tmp_path / "posters"), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ) | env,
        timeout=120,
        check=False,
    )


def test_links_carry_the_source() -> None:
    target = links(WEB, BOT, "library")
    assert target == Links(f"{WEB}/?src=library", f"https://t.me/{BOT}?start=library")
    # Both fit a QR code a phone reads from a metre away (version 4 or lower at level M).
    for url in (target.web, target.telegram):
        assert url is not None
        assert segno.make(url, error="m", micro=False).version <= 4


def test_right_to_left_posters_put_the_web_chat_at_the_right(catalogs: Catalogs) -> None:
    target = links(WEB, BOT, "library")
    for code in LANGUAGES:
        order = [url for url, _title, _note in codes_in_order(catalogs[code], target)]
        expected = [target.web, target.telegram]
        assert order == (expected[::-1] if code in ("ar", "ckb") else expected), code


def test_arabic_poster_is_an_a4_pdf_and_png(tmp_path: Path) -> None:
    result = _poster(
        tmp_path, "--source", "library", "--language", "ar",
        BOT_WEB_URL=WEB, BOT_TELEGRAM_USERNAME=BOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    pdf = tmp_path / "posters" / "poster-library-ar.pdf"
    png = tmp_path / "posters" / "poster-library-ar.png"
    assert sorted(p.name for p in (tmp_path / "posters").iterdir()) == [pdf.name, png.name]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", data)
    assert box is not None
    assert (round(float(box[1])), round(float(box[2]))) == (595, 842)  # A4 in points
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (WIDTH, HEIGHT)
    assert (WIDTH, HEIGHT) == (1654, 2339)  # A4 at 200 dots per inch
    assert f"wrote {pdf}" in result.stdout


def test_every_language_without_telegram_username(tmp_path: Path) -> None:
    result = _poster(tmp_path, "--source", "school", BOT_WEB_URL=WEB)
    assert result.returncode == 0, result.stderr
    assert "BOT_TELEGRAM_USERNAME is not set" in result.stderr
    assert len(list((tmp_path / "posters").glob("poster-school-*.pdf"))) == len(LANGUAGES)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--source", "library"], {}, "BOT_WEB_URL: not set"),
        (["--source", "lamppost"], {"BOT_WEB_URL": WEB}, "--source: 'lamppost' is not a known"),
    ],
)
def test_missing_settings_are_named(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = _poster(tmp_path, *args, **env)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "posters").exists()
