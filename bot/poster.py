"""Printable A4 posters: the guide's name, what it helps with, and QR codes for the web chat and
the Telegram bot, both carrying the poster's source so the weekly report shows which posters work.

Drawn with Pillow, whose text layout (libraqm: HarfBuzz and FriBiDi, in its wheels) shapes Arabic
script and orders right-to-left lines correctly; the font is matplotlib's DejaVu Sans, which covers
Arabic and Sorani. The PDF holds the same page as the PNG, at print resolution.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import segno

from bot.i18n import LANGUAGES, Catalogs, Translator, native_name

A4_MM = (210, 297)
DPI = 200
WIDTH, HEIGHT = (round(mm / 25.4 * DPI) for mm in A4_MM)
MARGIN = round(WIDTH * 0.07)
INK, ACCENT, PAPER = (26, 26, 26), (11, 79, 108), (255, 255, 255)


class PosterError(Exception):
    """A poster cannot be made; the message names the setting or argument to fix."""


@dataclass(frozen=True)
class Links:
    """Where the poster's QR codes lead, each with the poster's source."""

    web: str
    telegram: str | None


def links(web_url: str | None, username: str | None, source: str) -> Links:
    """The web chat's and the Telegram deep link's addresses for one source."""
    if not web_url:
        raise PosterError(
            "BOT_WEB_URL: not set; the poster's QR code needs the web chat's public address, "
            "e.g. BOT_WEB_URL=https://guide.example.dk"
        )
    telegram = f"https://t.me/{username}?start={quote(source)}" if username else None
    return Links(f"{web_url}/?src={quote(source)}", telegram)


def codes_in_order(tr: Translator, target: Links) -> list[tuple[str, str, str]]:
    """(address, title, note) of each QR code from left to right: the web chat's first in
    reading order, so at the right on a right-to-left poster."""
    _ = tr.gettext
    codes = [
        # Translators: on the poster, above the QR code that opens the web chat.
        (target.web, _("Chat in your browser"), _("No app, no account, no phone number.")),
    ]
    if target.telegram:
        # Translators: on the poster, above the QR code that opens the bot in Telegram.
        codes.append((target.telegram, _("Open in Telegram"), ""))
    return codes[::-1] if tr.rtl else codes


class _Page:
    """A poster page and a pen that writes wrapped lines in the language's direction."""

    def __init__(self, tr: Translator) -> None:
        from matplotlib import font_manager
        from PIL import Image, ImageDraw, features

        if tr.rtl and not features.check("raqm"):
            raise PosterError(
                "Pillow was built without libraqm, so it cannot lay out right-to-left text; "
                "install Pillow from its wheels (pip install --force-reinstall Pillow)"
            )
        self.tr = tr
        self.image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
        self.draw = ImageDraw.Draw(self.image)
        self._fonts = {
            weight: font_manager.findfont(font_manager.FontProperties("DejaVu Sans", weight=weight))
            for weight in ("normal", "bold")
        }
        self.direction = "rtl" if tr.rtl else "ltr"

    def font(self, points: float, bold: bool = False) -> Any:
        from PIL import ImageFont

        size = round(points / 72 * DPI)
        return ImageFont.truetype(self._fonts["bold" if bold else "normal"], size)

    def width(self, text: str, font: Any) -> float:
        return float(
            self.draw.textlength(
                text, font=font, direction=self.direction, language=self.tr.language
            )
        )

    def lines(self, text: str, font: Any, room: float) -> list[str]:
        """Words filled into lines no wider than room (in reading order)."""
        lines: list[str] = []
        for word in text.split():
            if lines and self.width(f"{lines[-1]} {word}", font) <= room:
                lines[-1] += " " + word
            else:
                lines.append(word)
        return lines

    def write(
        self, y: float, text: str, points: float, *, bold: bool = False, colour: tuple = INK,
        centre: float | None = None, room: float | None = None,
    ) -> float:  # fmt: skip
        """Wrapped text from y down, at the reading side's margin or centred; returns the next y."""
        font = self.font(points, bold)
        room = room or WIDTH - 2 * MARGIN
        step = points / 72 * DPI * 1.4
        for line in self.lines(text, font, room):
            width = self.width(line, font)
            if centre is not None:
                x = centre - width / 2
            else:
                x = WIDTH - MARGIN - width if self.tr.rtl else MARGIN
            self.draw.text(
                (x, y), line, font=font, fill=colour, direction=self.direction,
                language=self.tr.language,
            )  # fmt: skip
            y += step
        return y + step * 0.3

    def qr(self, url: str, left: float, top: float, size: float) -> None:
        """A QR code (error correction M, quiet zone included) size pixels wide."""
        rows = [list(row) for row in segno.make(url, error="m", micro=False).matrix_iter(border=4)]
        cell = size / len(rows)
        for r, row in enumerate(rows):
            for c, dark in enumerate(row):
                if dark:
                    x, y = left + c * cell, top + r * cell
                    self.draw.rectangle((x, y, x + cell, y + cell), fill=(0, 0, 0))


def draw(tr: Translator, target: Links) -> dict[str, bytes]:
    """The poster in one language, as PDF and PNG bytes."""
    _ = tr.gettext
    page = _Page(tr)
    y = HEIGHT * 0.05
    # Translators: the web chat's page title and heading: the bot's name.
    y = page.write(y, _("Vollsmose Guide"), 40, bold=True, colour=ACCENT)
    # Translators: the poster's headline.
    y = page.write(y, _("Local help in Vollsmose, in your own language"), 24)
    text = _(
        # Translators: on the poster, under the headline.
        "Parent counselling, mentoring, leisure jobs for young people, local associations "
        "and safety: find the right place, its opening hours and how to reach it."
    )
    y = page.write(y, text, 15)
    codes = codes_in_order(tr, target)
    size = WIDTH * 0.38
    slots = [WIDTH / 2] if len(codes) == 1 else [WIDTH * 0.27, WIDTH * 0.73]
    top = y + HEIGHT * 0.02
    code_top = top + HEIGHT * 0.07
    for (_url, title, note), centre in zip(codes, slots, strict=True):
        below = page.write(top, title, 17, bold=True, colour=ACCENT, centre=centre, room=size)
        below = page.write(below, note, 11, centre=centre, room=size * 1.2) if note else below
        code_top = max(code_top, below)
    for (url, _title, _note), centre in zip(codes, slots, strict=True):
        page.qr(url, centre - size / 2, code_top, size)
        link = page.font(8)
        page.draw.text((centre, code_top + size + 10), url, font=link, fill=INK, anchor="ma")
    names = " · ".join(native_name(code) for code in LANGUAGES)
    page.write(HEIGHT * 0.87, names, 12, centre=WIDTH / 2)
    # Translators: the poster's last line.
    page.write(HEIGHT * 0.92, _("Anonymous: the guide counts visits, never who you are."), 11,
               centre=WIDTH / 2)  # fmt: skip
    out = {}
    for fmt in ("pdf", "png"):
        buffer = io.BytesIO()
        page.image.save(buffer, format=fmt.upper(), resolution=DPI)
        out[fmt] = buffer.getvalue()
    return out


def write_posters(
    catalogs: Catalogs,
    target: Links,
    source: str,
    languages: tuple[str, ...],
    folder: Path,
) -> list[Path]:
    """poster-<source>-<language>.pdf and .png for each language; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for code in languages:
        for fmt, data in draw(catalogs[code], target).items():
            path = folder / f"poster-{source}-{code}.{fmt}"
            path.write_bytes(data)
            written.append(path)
    return written
