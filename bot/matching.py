"""Understanding typed words: normalise across scripts and spellings, then look up keywords."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache

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


@dataclass(frozen=True)
class Words:
    """A typed message read once: its words folded (loose) and folded keeping accents (strict)."""

    loose: tuple[str, ...]
    strict: tuple[str, ...]

    @cached_property
    def joined(self) -> str:
        """The loose words with a space on each side, for finding whole phrases."""
        return " " + " ".join(self.loose) + " "

    @cached_property
    def fuzzy(self) -> tuple[str, ...]:
        """The distinct loose words long enough to be misspelt keywords, found once for both
        the crisis and the topic index."""
        return tuple(w for w in dict.fromkeys(self.loose) if len(w) >= _FUZZY_MIN_LENGTH)


@lru_cache(maxsize=8192)
def _fold_token(token: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The loose and strict words of one whitespace-separated token, cached: residents repeat
    words far more than they invent them."""
    return tuple(_WORD.findall(normalise(token))), tuple(
        _WORD.findall(normalise_keeping_accents(token))
    )


def read_words(text: str) -> Words:
    """Split a typed message into folded words, reading at most _MAX_WORDS of them."""
    loose: list[str] = []
    strict: list[str] = []
    for token in text[: _MAX_WORDS * 20].split()[:_MAX_WORDS]:
        token_loose, token_strict = _fold_token(token)
        loose += token_loose
        strict += token_strict
    return Words(tuple(loose), tuple(strict))


class KeywordIndex:
    """Typed words -> targets (pathway entry screens), across all languages at once.

    `cutoff` is the least rapidfuzz ratio (0-100) a misspelt word needs to count as a keyword.
    """

    def __init__(self, keywords: Mapping[str, Iterable[str]], cutoff: float = 80.0) -> None:
        self._words: dict[str, str] = {}
        self._short: dict[str, str] = {}
        self._phrases: list[tuple[str, str]] = []
        for target, words in keywords.items():
            for word in words:
                key = " ".join(_WORD.findall(normalise(word)))
                if " " in key:
                    self._phrases.append((f" {key} ", target))
                elif len(key) < _SHORT:
                    self._short.setdefault(normalise_keeping_accents(word.strip()), target)
                elif key:
                    self._words.setdefault(key, target)
        # Keys by length: a word can only reach the cutoff against keys of similar length, so
        # each word is compared with a few dozen keys instead of all of them.
        self._by_length: dict[int, list[str]] = {}
        for key in self._words:
            self._by_length.setdefault(len(key), []).append(key)
        self._cutoff = cutoff
        self._near = lru_cache(maxsize=8192)(self._nearest)

    def match(self, text: str | Words, limit: int = 3) -> list[Match]:
        """The targets the text most likely means: exact words and phrases first, then near ones."""
        words = read_words(text) if isinstance(text, str) else text
        found: dict[str, Match] = {}
        if self._phrases:
            joined = words.joined
            for phrase, target in self._phrases:
                if phrase in joined and target not in found:
                    found[target] = Match(target, phrase.strip(), exact=True)
        # Most messages hold no keyword at all: a set test in C says so before any Python loop.
        if not self._words.keys().isdisjoint(words.loose):
            for word in words.loose:
                hit = self._words.get(word)
                if hit is not None and hit not in found:
                    found[hit] = Match(hit, word, exact=True)
        if not self._short.keys().isdisjoint(words.strict):
            for word in words.strict:
                hit = self._short.get(word)
                if hit is not None and hit not in found:
                    found[hit] = Match(hit, word, exact=True)
        if not found:
            for word in words.fuzzy:
                if (key := self._near(word)) is not None:
                    target = self._words[key]
                    found.setdefault(target, Match(target, key, exact=False))
        return list(found.values())[:limit]

    def _nearest(self, word: str) -> str | None:
        """The keyword closest to a misspelt word, if close enough."""
        # ratio = 2 * matches / (len(a) + len(b)) * 100, so lengths must be within this factor.
        spread = self._cutoff / (200 - self._cutoff)
        low, high = int(len(word) * spread), int(len(word) / spread) + 1
        keys = [k for n in range(low, high + 1) for k in self._by_length.get(n, ())]
        from rapidfuzz import fuzz, process  # on the first misspelling, not at start-up

        best = process.extractOne(word, keys, scorer=fuzz.ratio, score_cutoff=self._cutoff)
        return best[0] if best is not None else None
