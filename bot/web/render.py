"""A Reply as parts of an HTML page: phone numbers to call, addresses on a map, links to open."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from bot.engine import Reply
from bot.i18n import LRI, PDI

_ISOLATES = str.maketrans("", "", "\u2066\u2067\u2068\u2069")
_URL = re.compile(r"https?://[^\s\u2066-\u2069,]+[^\s\u2066-\u2069,.)]")
# The card's lines that hold a way to reach the service, by their leading symbol.
PHONE, EMAIL, WEB, ADDRESS = "☎️ ", "✉️ ", "🔗 ", "📍 "


@dataclass(frozen=True, slots=True)
class Part:
    """A run of text, maybe a link; ltr marks a left-to-right value (number, address, URL)."""

    text: str
    href: str | None = None
    ltr: bool = False


Line = tuple[Part, ...]


@lru_cache(maxsize=4096)
def paragraphs(reply: Reply) -> tuple[tuple[Line, ...], ...]:
    """The reply's text as paragraphs of lines, with contact details turned into links."""
    # Cached: screens repeat, as on Telegram where keyboards are built once per screen.
    return tuple(
        tuple(_line(line, reply) for line in block.split("\n"))
        for block in reply.text.split("\n\n")
    )


def _line(line: str, reply: Reply) -> Line:
    for symbol, link in ((PHONE, _tel), (EMAIL, _mail), (WEB, _web), (ADDRESS, _map)):
        if line.startswith(symbol):
            value = line[len(symbol) :].translate(_ISOLATES).strip()
            return (Part(symbol), Part(value, link(value, reply), ltr=True))
    parts: list[Part] = []
    end = 0
    for match in _URL.finditer(line):
        parts += [Part(line[end : match.start()]), Part(match.group(0), match.group(0), True)]
        end = match.end()
    parts.append(Part(line[end:]))
    return tuple(part for part in parts if part.text)


def _tel(value: str, _reply: Reply) -> str:
    return "tel:" + re.sub(r"[^\d+]", "", value)


def _mail(value: str, _reply: Reply) -> str:
    return "mailto:" + value


def _web(value: str, _reply: Reply) -> str | None:
    return value if value.startswith(("https://", "http://")) else None


def _map(value: str, reply: Reply) -> str:
    """OpenStreetMap at the service's pin, or a search for its address when it has none."""
    if reply.venue is not None:
        return reply.venue.url
    return "https://www.openstreetmap.org/search?query=" + quote(value)


def plain(text: str) -> str:
    """Text without directional isolates (for a page title or a button's accessible name)."""
    return text.replace(LRI, "").replace(PDI, "").translate(_ISOLATES)
