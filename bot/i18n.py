"""Message catalogs from locales/, language names and negotiation, and right-to-left-safe text."""

from __future__ import annotations

import gettext
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel import Locale
from babel.support import Translations

DOMAIN = "messages"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"

# The shipped languages, in the order the picker lists them after the resident's own.
LANGUAGES: tuple[str, ...] = ("da", "ar", "tr", "so", "ku", "ckb", "en")
# The language of all services: a missing translation falls back to it, then to English. Which
# language residents are answered in before they choose is BOT_DEFAULT_LANGUAGE (bot/guide.py).
FALLBACK_LANGUAGE = "da"

# Unicode directional isolates: LRI ... PDI keeps a left-to-right fragment (a phone number, an
# address) intact inside Arabic-script text, where digits and punctuation would otherwise reorder.
LRI, PDI = "\u2066", "\u2069"
# A left-to-right fragment: Latin letters (Danish and Turkish ones included) and digits, with the
# punctuation of addresses, phone numbers, times, e-mail and web addresses inside it.
_LATIN = "A-Za-z0-9\u00c0-\u024f"
# Brackets stay outside, where the bidi algorithm mirrors them as the surrounding text needs;
# a leading slash stays inside, so /forget does not read "forget/".
_LTR_RUN = re.compile(rf"/?[{_LATIN}+](?:[{_LATIN}+.,:/@_\-–' &?=#%]*[{_LATIN}/])?")


def N_(message: str) -> str:
    """Mark a string for extraction without translating it (it is translated where it is shown)."""
    return message


@cache
def native_name(code: str) -> str:
    """The language's name in its own script ("العربية", "Türkçe"), from CLDR via Babel."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


@cache
def is_rtl(code: str) -> bool:
    """True for languages written right to left (ar, ckb)."""
    return Locale.parse(code).text_direction == "rtl"


@dataclass(frozen=True)
class Translator:
    """Everything needed to speak one language: gettext, plurals, its locale and direction."""

    language: str
    translations: gettext.NullTranslations

    # Both read CLDR data, tens of milliseconds for seven languages: at first use, not start-up.
    @property
    def rtl(self) -> bool:
        return is_rtl(self.language)

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def bidi(self, text: str) -> str:
        """In right-to-left languages, wrap every left-to-right fragment (addresses, phone
        numbers, e-mail and web addresses, times, Danish names) in LRI ... PDI."""
        if not self.rtl:
            return text
        return _LTR_RUN.sub(lambda match: f"{LRI}{match.group(0)}{PDI}", text)


def catalog_file(locales: Path, code: str, suffix: str = ".mo") -> Path:
    """Where a language's catalog lives: locales/<code>/LC_MESSAGES/messages.mo (or .po)."""
    return locales / code / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


class Catalogs:
    """The compiled catalogs of all shipped languages, each falling back to Danish, then English."""

    def __init__(self, locales_dir: Path = LOCALES_DIR) -> None:
        self.locales_dir = Path(locales_dir)
        danish = self._load(FALLBACK_LANGUAGE)
        self._translators: dict[str, Translator] = {}
        for code in LANGUAGES:
            translations = danish if code == FALLBACK_LANGUAGE else self._load(code)
            if code not in (FALLBACK_LANGUAGE, "en"):
                # Missing entries fall back to Danish, the language of all services, and only
                # then to the English msgid, so a resident never sees a raw message id.
                translations.add_fallback(danish)
            self._translators[code] = Translator(code, translations)

    def _load(self, code: str) -> gettext.NullTranslations:
        mo = catalog_file(self.locales_dir, code)
        if not mo.is_file():
            return gettext.NullTranslations()
        with mo.open("rb") as fileobj:
            return Translations(fileobj, domain=DOMAIN)

    def __getitem__(self, code: str) -> Translator:
        return self._translators.get(code) or self._translators[FALLBACK_LANGUAGE]

    def missing(self) -> list[str]:
        """Shipped languages whose compiled catalog is not there (set-up not run)."""
        return [code for code in LANGUAGES if not catalog_file(self.locales_dir, code).is_file()]


def best_language(hint: str | None) -> str | None:
    """Map Telegram's language_code hint ("ar", "pt-br", "ku") to a shipped language, if any."""
    if not hint:
        return None
    code = hint.lower().replace("_", "-")
    if code in LANGUAGES:
        return code
    base = code.split("-")[0]
    return base if base in LANGUAGES else None


def picker_order(hint: str | None) -> list[str]:
    """Shipped languages with the hinted one first; the hint only decides the order."""
    first = best_language(hint)
    return [first, *(c for c in LANGUAGES if c != first)] if first else list(LANGUAGES)
