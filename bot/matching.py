"""Understanding typed words: normalise across scripts and spellings, then look up keywords."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

# Arabic-script letters residents type in several forms: hamza-carrying alefs, taa marbuta,
# alef maqsura, and the Arabic and Persian/Kurdish forms of kaf and yeh, each folded to one.
_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ة": "ه",
        "ى": "ي",
        "ی": "ي",
        "ك": "ک",
        "ـ": None,  # tatweel, the stretching stroke
        "ı": "i",  # Turkish and Kurdish dotless i; dotted İ loses its dot with the marks below
    }
)
_WORD = re.compile(r"\w+")
# Words shorter than this keep their Latin accents when matched: stripped, Turkish "iş" (work)
# would be English "is". Fuzzy matching starts at the same length, for the same reason.
_SHORT = 4
_FUZZY_MIN_LENGTH = 5
_FUZZY_CUTOFF = 80.0
# Longer pastes are only read this far: enough for any question, bounded for a flood.
_MAX_WORDS = 80


def normalise(text: str) -> str:
    """Casefold, drop accents and Arabic diacritics, and fold letter variants to one form."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.translate(_FOLD)


def normalise_keeping_accents(text: str) -> str:
    """Like normalise, but Latin accents and dotless i stay: for short, ambiguous words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Arabic-script marks (harakat, shadda, superscript alef) are dropped, and so is the dot
    # that casefolding leaves on Turkish İ; other Latin marks are kept.
    kept = "".join(
        c for c in decomposed if not (unicodedata.combining(c) and (c >= "\u0600" or c == "\u0307"))
    )
    folded = unicodedata.normalize("NFC", kept).translate(_FOLD | {ord("ı"): "ı"})
    return folded


@dataclass(frozen=True)
class Match:
    target: str
    keyword: str
    exact: bool


class KeywordIndex:
    """Typed words -> targets (pathway entry screens), across all languages at once."""

    def __init__(self, keywords: Mapping[str, Iterable[str]]) -> None:
        self._words: dict[str, str] = {}
        self._short: dict[str, str] = {}
        self._phrases: list[tuple[str, str]] = []
        for target, words in keywords.items():
            for word in words:
                key = " ".join(_WORD.findall(normalise(word)))
                if " " in key:
                    self._phrases.append((key, target))
                elif len(key) < _SHORT:
                    self._short.setdefault(normalise_keeping_accents(word.strip()), target)
                elif key:
                    self._words.setdefault(key, target)
        self._fuzzy_keys = [key for key in self._words if len(key) >= _FUZZY_MIN_LENGTH - 1]

    def match(self, text: str, limit: int = 3) -> list[Match]:
        """The targets the text most likely means: exact words and phrases first, then near ones."""
        text = text[: _MAX_WORDS * 20]
        words = _WORD.findall(normalise(text))[:_MAX_WORDS]
        found: dict[str, Match] = {}
        joined = " " + " ".join(words) + " "
        for phrase, target in self._phrases:
            if f" {phrase} " in joined and target not in found:
                found[target] = Match(target, phrase, exact=True)
        for word in words:
            target = self._words.get(word)
            if target is not None and target not in found:
                found[target] = Match(target, word, exact=True)
        if self._short:
            for word in _WORD.findall(normalise_keeping_accents(text))[:_MAX_WORDS]:
                target = self._short.get(word)
                if target is not None and target not in found:
                    found[target] = Match(target, word, exact=True)
        if not found:
            for word in words:
                if len(word) < _FUZZY_MIN_LENGTH:
                    continue
                best = process.extractOne(
                    word, self._fuzzy_keys, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF
                )
                if best is not None:
                    target = self._words[best[0]]
                    found.setdefault(target, Match(target, best[0], exact=False))
        return list(found.values())[:limit]
