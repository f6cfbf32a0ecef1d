"""Understanding typed text: danger signals first, then the pathway a message is about.

Three readers, all built once from the content at start-up and never fed what residents type:

- `DangerSignals`: phrases per language and kind of danger (flows/crisis.yaml), matched on word
  beginnings so that verbs keep matching with their endings and attached pronouns.
- `TopicModel`: a multinomial naive Bayes classifier over character n-grams and word stems,
  trained on the example sentences and keywords of each pathway and the chit-chat of
  understanding.yaml (which teaches it when to show the menu instead).
- keywords, still honoured: a keyword of the resident's language outweighs one of another.

Nothing typed is cached: the only caches hold words from the content.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.content.models import UNCERTAIN, CrisisFile, UnderstandingFile

# Letters residents type in several forms, each folded to one: hamza-carrying alefs, taa marbuta,
# alef maqsura, Arabic and Persian/Kurdish kaf and yeh, and the Sorani letters an Arabic keyboard
# lacks (ە ێ ۆ ڵ ڕ are typed as ه ي و ل ر). Zero-width joiners and tatweel disappear.
_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ة": "ه",
        "ە": "ه",
        "ھ": "ه",
        "ى": "ي",
        "ی": "ي",
        "ێ": "ي",
        "ۆ": "و",
        "ڵ": "ل",
        "ڕ": "ر",
        "ك": "ک",
        "ـ": None,
        "\u200c": None,
        "\u200d": None,
        "ı": "i",  # Turkish and Kurdish dotless i; dotted İ loses its dot with the marks below
        # Danish letters as typed on a keyboard without them ("hjaelp", "doer"); å is "a" with
        # its ring dropped, and "aa" folds to "a" with the other doubled letters.
        "æ": "ae",
        "ø": "oe",
    }
)
_WORD = re.compile(r"\w+")
_REPEAT = re.compile(r"(.)\1+")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
# Arabic conjunctions written onto the next word: "وضربني" is "and he hit me".
_PROCLITICS = ("و", "ف")
_ARTICLE = "ال"
# The colloquial present ("بيضرب", "بتضرب") and the person of a present-tense verb ("يضرب",
# "تضرب", "نضرب", "اضرب"): without them the verb begins like its past tense ("ضربني").
_PROGRESSIVE = "ب"
_PERSONS = ("ي", "ت", "ن", "ا")
# Letters an ending may add to a word of a crisis phrase where understanding.yaml sets no limit.
_ANY_ENDING = 12
# Longer pastes are only read this far: enough for any question, bounded for a flood.
MAX_WORDS = 80
# Snowball stemmers (PyStemmer) for the languages that have one.
_SNOWBALL = {"da": "danish", "tr": "turkish", "ar": "arabic", "en": "english"}
# Ages that make "a job" a fritidsjob, and the pathways that an unclear "work" stands between.
_TEEN_AGE = re.compile(r"(?<!\d)1[3-7](?!\d)")
_ADULT_AGE = re.compile(r"(?<!\d)(?:1[89]|[2-6]\d)(?!\d)")


def _letters(text: str) -> str:
    """Casefold, drop accents and Arabic marks, and fold letter variants (doubled letters kept)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_FOLD)


def _repeats_once(text: str) -> str:
    return _REPEAT.sub(r"\1", text)


def fold(text: str) -> str:
    """Casefold, drop accents and Arabic marks, fold letter variants and repeated letters."""
    # "hjaaaelp" and "helppp" are "hjaelp" and "help"; Somali doubled vowels fold the same way
    # in the content, so nothing is lost by it.
    return _repeats_once(_letters(text))


def _unfolded_words(text: str) -> list[str]:
    """The words of a phrase folded like `words`, but with doubled letters kept."""
    return _WORD.findall(_letters(text))


def words(text: str) -> list[str]:
    """The folded words of a message, at most MAX_WORDS of them."""
    return _WORD.findall(fold(text[: MAX_WORDS * 20]))[:MAX_WORDS]


def _forms(word: str) -> tuple[str, ...]:
    """A word, and for Arabic script the forms it has without what is written in front of it:
    a conjunction, the article, the colloquial present and the person of a verb."""
    if not _ARABIC.match(word):
        return (word,)
    forms = [word]
    if len(word) > 3 and word[0] in _PROCLITICS:
        forms.append(word[1:])
    for form in list(forms):
        if len(form) > 4 and form.startswith(_ARTICLE):
            forms.append(form[2:])
        elif len(form) > 4 and form[0] == _PROGRESSIVE and form[1] in _PERSONS:
            forms += [form[1:], form[2:]]
        elif len(form) > 3 and form[0] in _PERSONS:
            forms.append(form[1:])
    return tuple(dict.fromkeys(forms))


def _stripped(word: str) -> str:
    """The shortest form of a phrase's word that keeps three letters: "يضربني" is "ضربني", so
    it also matches "تضربني" and "بيضربني"."""
    return min((f for f in _forms(word) if len(f) >= 3), key=len, default=word)


class Stemmers:
    """Word stems per language: Snowball where it exists, else suffix lists from the content."""

    def __init__(self, suffixes: Mapping[str, Iterable[str]]) -> None:
        import Stemmer  # PyStemmer: the Snowball project's stemmers, compiled

        self._snowball = {code: Stemmer.Stemmer(name) for code, name in _SNOWBALL.items()}
        for stemmer in self._snowball.values():
            # PyStemmer caches the words it stemmed: that would keep what residents typed.
            stemmer.maxCacheSize = 0
        self._suffixes = {
            code: sorted({fold(s) for s in items}, key=len, reverse=True)
            for code, items in suffixes.items()
        }

    def stem(self, word: str, language: str) -> str:
        """The word without its ending, in the given language's way."""
        snowball = self._snowball.get(language)
        if snowball is not None:
            return str(snowball.stemWord(word))
        for suffix in self._suffixes.get(language, ()):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)]
        return word


def _joined(tokens: list[str], joins: frozenset[str]) -> list[str]:
    """Sorani words an Arabic keyboard split in two ("منداله كه") joined again."""
    out: list[str] = []
    for token in tokens:
        if out and token in joins and out[-1].endswith("ه"):
            out[-1] += token
        else:
            out.append(token)
    return out


# -- danger ------------------------------------------------------------------------------------

# Arabic written in Latin letters uses digits for the letters Latin lacks (3 for ع, 7 for ح ...),
# and its vowels change from writer to writer ("sekkin", "sekeen"): its words are compared by
# their consonants.
_ARABIZI_DIGIT = re.compile(r"[a-z][2356789]|[2356789][a-z]")
_LATIN = re.compile(r"^[a-z0-9]+$")
_VOWELS = str.maketrans("", "", "aeiou")


def _skeleton(word: str) -> str:
    """A Latin word's consonants, doubled ones once: "sekkeen" and "sekin" are both "skn"."""
    return _repeats_once(word.translate(_VOWELS))


def looks_like_arabizi(tokens: Sequence[str], language: str) -> bool:
    """Latin letters mixed with digits in a word, or Latin text from a resident who chose Arabic."""
    if any(_ARABIZI_DIGIT.search(token) for token in tokens):
        return True
    return language == "ar" and all(_LATIN.match(token) for token in tokens)


@dataclass(frozen=True, slots=True)
class _Word:
    """A word of a danger phrase: the folded letters a message word must begin with, and the
    longest the word may be with its ending (len(letters): the whole word only)."""

    letters: str
    longest: int

    def matches(self, word: str) -> bool:
        return len(word) <= self.longest and word.startswith(self.letters)


@dataclass(frozen=True, slots=True)
class _Pattern:
    kind: str
    words: tuple[_Word, ...]


def _phrase_word(letters: str, written: str, growth: int) -> _Word:
    """How a phrase's word matches. Words written with one or two letters ("me", "li") match
    only themselves, or they would match half the dictionary. Stems of up to three letters, or
    four, grow by two or four at most: a short stem says little on its own (Somali "faas",
    axe, must not match "fasalka", the class). Doubled letters count for the first rule as
    written, so "aab" (father, folded "ab") still matches "aabe"."""
    if len(written or letters) < 3:
        return _Word(letters, len(letters))
    cap = 2 if len(letters) <= 3 else 4 if len(letters) == 4 else growth
    return _Word(letters, len(letters) + min(growth, cap))


class DangerSignals:
    """Danger phrases of every language, each word matching the words it begins."""

    # Words of a phrase may have this many other words between them: "han slår altid mig".
    GAP = 3

    def __init__(self, crisis: CrisisFile, endings: Mapping[str, int]) -> None:
        self._by_start: dict[str, list[_Pattern]] = defaultdict(list)
        # Arabizi phrases again, by their consonants.
        self._arabizi: dict[str, list[_Pattern]] = defaultdict(list)
        self.kinds = tuple(crisis.kinds)
        for language, lists in crisis.signals.items():
            growth = endings.get(language, _ANY_ENDING)
            for kind, phrases in lists.items():
                for phrase in phrases:
                    written = _unfolded_words(phrase)
                    folded = words(phrase)
                    if language == "ar":
                        # Only Arabic verbs take these prefixes: stripped from a Sorani word,
                        # "ئاگر" (fire) would begin "ناگرێت" (does not listen).
                        folded = [_stripped(word) for word in folded]
                    if not folded or len(folded) != len(written):
                        continue
                    # A phrase of one short word ("seef", sword) is itself and nothing longer:
                    # with an ending it is too often another language's word ("sefe", boss).
                    alone = len(folded) == 1 and len(folded[0]) <= 3
                    pattern = tuple(
                        _phrase_word(f, w if f == _repeats_once(w) else "", 0 if alone else growth)
                        for f, w in zip(folded, written, strict=True)
                    )
                    self._by_start[folded[0][:3]].append(_Pattern(kind, pattern))
                    if language == "ar" and all(_LATIN.match(f) for f in folded):
                        bones = [_skeleton(f) for f in folded]
                        if all(bones):
                            self._arabizi[bones[0][:3]].append(
                                _Pattern(kind, tuple(_phrase_word(b, "", growth) for b in bones))
                            )

    def find(self, tokens: Sequence[str], arabizi: bool = False) -> set[str]:
        """The kinds of danger (and "uncertain") whose phrases occur in the folded words."""
        found: set[str] = set()
        self._search(self._by_start, [_forms(token) for token in tokens], found)
        if arabizi:
            self._search(self._arabizi, [(_skeleton(token),) for token in tokens], found)
        return found

    def _search(
        self, index: dict[str, list[_Pattern]], forms: list[tuple[str, ...]], found: set[str]
    ) -> None:
        for position, token_forms in enumerate(forms):
            for form in token_forms:
                # Every pattern under this form's first three letters; the other forms of the
                # token that a first word could match share them, so they are tried here too.
                for pattern in index.get(form[:3], ()):
                    if (
                        pattern.kind not in found
                        and pattern.words[0].matches(form)
                        and self._follows(pattern, forms, position)
                    ):
                        found.add(pattern.kind)

    def _follows(self, pattern: _Pattern, forms: list[tuple[str, ...]], position: int) -> bool:
        """Whether the pattern's other words follow the word at position, in order and within
        GAP other words of each other."""
        at = position
        for word in pattern.words[1:]:
            letters, longest = word.letters, word.longest
            # word.matches written out: this runs for every pattern whose first word a message
            # has, some sixty times for 300 characters, and the calls cost more than the test.
            found = False
            for later in range(at + 1, min(at + self.GAP + 2, len(forms))):
                for form in forms[later]:
                    if len(form) <= longest and form.startswith(letters):
                        found = True
                        break
                if found:
                    at = later
                    break
            if not found:
                return False
        return True


# -- topics ------------------------------------------------------------------------------------

MENU = "menu"
# How sharply the evidence of a message divides between targets (tuned by cross-validation).
_SCALE = 8.0
# The model's name for messages like the crisis examples.
DANGER = "crisis"


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled training text: a sentence or keyword, its language and its pathway."""

    text: str
    language: str
    target: str


class TopicModel:
    """Multinomial naive Bayes over character n-grams and word stems."""

    # Chosen by 5-fold cross-validation on the examples: 4-grams alone did best (77 %, against
    # 76 % for 3-5-grams; scikit-learn's LinearSVC over 2-5-grams scored the same 77 %, after
    # 1.4 s of importing). Dropping features seen once cost 2 points.
    NGRAMS = (4,)
    ALPHA = 0.3
    # A word of two or three letters alone ("is", "ok") says too little to guess from.
    FEATURES = 3

    def __init__(self, examples: Iterable[Example], stemmers: Stemmers) -> None:
        self._stemmers = stemmers
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for example in examples:
            counts[example.target].update(self.features(words(example.text), example.language))
        self.targets = tuple(sorted(counts))
        # All targets together: how common a feature is anywhere, to tell which targets a
        # message's features are typical of rather than merely present in.
        everywhere: Counter[str] = Counter()
        for target_counts in counts.values():
            everywhere.update(target_counts)
        size = len(everywhere)
        self._everywhere = everywhere
        self._background = math.log(sum(everywhere.values()) + self.ALPHA * size)
        self._per_target = [
            (counts[t], math.log(sum(counts[t].values()) + self.ALPHA * size)) for t in self.targets
        ]
        # Each feature's evidence, worked out the first time a message has it: only features of
        # the examples are ever kept here, never a word of what residents type.
        self._evidence: dict[str, tuple[float, ...]] = {}

    def _evidence_of(self, feature: str) -> tuple[float, ...]:
        """How much more likely each target makes a known feature than all targets together
        (smoothed log-probabilities): a message's evidence is the sum over its features."""
        evidence = self._evidence.get(feature)
        if evidence is None:
            alpha, background = self.ALPHA, self._background
            everywhere = math.log(self._everywhere[feature] + alpha) - background
            evidence = self._evidence[feature] = tuple(
                math.log(target_counts[feature] + alpha) - total - everywhere
                for target_counts, total in self._per_target
            )
        return evidence

    def features(self, tokens: Sequence[str], language: str) -> list[str]:
        """Character n-grams of each word (with its edges marked), and the word's stem."""
        out: list[str] = []
        for token in tokens:
            padded = f" {token} "
            for n in self.NGRAMS:
                out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
            out.append("=" + self._stemmers.stem(token, language))
        return out

    def scores(self, tokens: Sequence[str], language: str) -> Evidence:
        """Each target's share of the evidence (adding up to 1), and how much of the message the
        examples knew."""
        features = self.features([t for t in tokens if len(t) > 1], language)
        known = [self._evidence_of(f) for f in features if f in self._everywhere]
        if len(known) < self.FEATURES:
            return Evidence({}, 0.0)
        logs = [sum(column) for column in zip(*known, strict=True)]
        top = max(logs)
        # Scaled by the number of features, so a long message is not more certain than a short
        # one only for being long.
        scale = _SCALE / len(known)
        exp = [math.exp((v - top) * scale) for v in logs]
        total = sum(exp)
        shares = {t: v / total for t, v in zip(self.targets, exp, strict=True)}
        return Evidence(shares, len(known) / len(features))


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the model makes of a message: shares per target, and the share of its features
    that the examples used."""

    shares: dict[str, float]
    coverage: float


# -- keywords ----------------------------------------------------------------------------------


class Keywords:
    """Pathway keywords: whole words, word beginnings and phrases, the resident's language first."""

    SHORT = 4
    # Either weight alone reaches Understanding.THRESHOLD: a keyword is always offered.
    OWN = 1.0
    OTHER = 0.55
    SPECIFIC = 0.02

    def __init__(self, keywords: Mapping[str, Mapping[str, Iterable[str]]]) -> None:
        # folded keyword -> [(target, language)]
        self._words: dict[str, list[tuple[str, str]]] = defaultdict(list)
        # Short keywords as written, accents kept: "iş" must be typed as "iş" by a reader of
        # another language, where "is" is English.
        self._as_written: set[str] = set()
        # Phrases by the first three letters of their first word.
        self._phrases: dict[str, list[tuple[tuple[str, ...], str, str]]] = defaultdict(list)
        for target, by_language in keywords.items():
            for language, items in by_language.items():
                for item in items:
                    key = tuple(words(item))
                    if len(key) > 1:
                        self._phrases[key[0][:3]].append((key, target, language))
                    elif key:
                        self._words[key[0]].append((target, language))
                        self._as_written.update(_raw_words(item))
        # Keywords of four letters or more (as folded: "işsiz" is "isiz") by their first four,
        # longest first: a typed word that begins with one is that keyword with an ending
        # ("işsizim" is "işsiz").
        self._long: dict[str, list[str]] = defaultdict(list)
        for word in sorted((w for w in self._words if len(w) >= 4), key=len, reverse=True):
            self._long[word[:4]].append(word)

    def find(self, tokens: Sequence[str], raw: Sequence[str], language: str) -> dict[str, float]:
        """Weight per target of the keywords in the message, more in the resident's language.

        `raw` are the words with their accents kept: a short keyword of another language must
        match them exactly, so that English "is" is not Turkish "iş".
        """
        found: dict[str, float] = {}

        def add(target: str, keyword_language: str, length: int) -> None:
            weight = self.OWN if keyword_language == language else self.OTHER
            # A longer keyword is the more specific one: Turkish "işsiz" (unemployed) says
            # more than "iş" (work) in the same message.
            weight *= 1 + self.SPECIFIC * min(length, 10)
            found[target] = max(found.get(target, 0.0), weight)

        for index, token in enumerate(tokens):
            key = token if token in self._words else None
            if key is None and len(token) >= 5:
                key = self._beginning(token)
            if key is None:
                continue
            for target, keyword_language in self._words[key]:
                if (
                    len(token) < self.SHORT
                    and keyword_language != language
                    and (index >= len(raw) or raw[index] not in self._as_written)
                ):
                    continue
                add(target, keyword_language, len(key))
        for start, token in enumerate(tokens):
            # A phrase's first word may be shorter than three letters ("i caawi").
            for prefix in {token[:3], token[:2], token[:1]}:
                for phrase, target, keyword_language in self._phrases.get(prefix, ()):
                    if _begins_at(tokens, start, phrase):
                        add(target, keyword_language, sum(map(len, phrase)))
        return found

    def _beginning(self, token: str) -> str | None:
        """The longest keyword of four letters or more that the word begins with."""
        for key in self._long.get(token[:4], ()):
            if token.startswith(key):
                return key
        return None


def _begins_at(tokens: Sequence[str], start: int, phrase: tuple[str, ...]) -> bool:
    """Whether the words from `start` on begin with the phrase's words, one each."""
    if start + len(phrase) > len(tokens):
        return False
    return all(tokens[start + i].startswith(word) for i, word in enumerate(phrase))


def _raw_words(text: str) -> list[str]:
    """Words folded for case and Arabic marks only, keeping Latin accents and Turkish ı."""
    decomposed = unicodedata.normalize("NFKD", text[: MAX_WORDS * 20].casefold())
    kept = "".join(
        c for c in decomposed if not (unicodedata.combining(c) and (c >= "\u0600" or c == "\u0307"))
    )
    return _WORD.findall(unicodedata.normalize("NFC", kept))[:MAX_WORDS]


# -- the whole reading -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """What a typed message seems to be about."""

    # Kinds of danger found, in the order of crisis.yaml; empty if none.
    danger: tuple[str, ...] = ()
    # A worry that may or may not be danger: show the numbers beside the suggestions.
    uncertain: bool = False
    # Pathways to offer, most likely first (at most three).
    topics: tuple[str, ...] = ()


@dataclass
class Understanding:
    """Reads typed messages in every language; built once from the content."""

    signals: DangerSignals | None
    model: TopicModel
    keywords: Keywords
    joins: frozenset[str] = field(default_factory=frozenset)
    # Pathways that a plain word for "work" stands between, teenager's first.
    work: tuple[str, str] | None = None
    # A topic is offered when its share of the evidence is at least this.
    THRESHOLD = 0.5
    # A message this much like the crisis examples shows the numbers beside the suggestions,
    # when at least DANGER_COVERAGE of its features are known; topics need COVERAGE ("pizza"
    # shares one feature with a crisis example, and is no crisis). Chosen by cross-validation
    # on the examples.
    DANGER_SHARE = 0.3
    DANGER_COVERAGE = 0.4
    COVERAGE = 0.5
    # A danger phrase is answered beside the suggestions instead of with the crisis screen
    # only when the model gives a topic this share and the crisis examples at most that.
    DEMOTE_TOPIC = 0.9
    DEMOTE_DANGER = 0.02

    @classmethod
    def build(
        cls,
        pathways: Mapping[str, tuple[Mapping[str, list[str]], Mapping[str, list[str]]]],
        crisis: CrisisFile | None,
        understanding: UnderstandingFile,
        work: tuple[str, str] | None = None,
    ) -> Understanding:
        """Train on pathways {id: (keywords, examples)} and the chit-chat of understanding.yaml."""
        stemmers = Stemmers(understanding.suffixes)
        examples = [
            Example(text, language, target)
            for target, (keywords, sentences) in pathways.items()
            for source in (keywords, sentences)
            for language, texts in source.items()
            for text in texts
        ]
        examples += [
            Example(text, language, MENU)
            for language, texts in understanding.chitchat.items()
            for text in texts
        ]
        if crisis is not None:
            examples += [
                Example(text, language, DANGER)
                for language, texts in crisis.examples.items()
                for text in texts
            ]
        joins = frozenset(fold(j) for items in understanding.joins.values() for j in items)
        return cls(
            DangerSignals(crisis, understanding.endings) if crisis is not None else None,
            TopicModel(examples, stemmers),
            Keywords({target: keywords for target, (keywords, _) in pathways.items()}),
            joins,
            work,
        )

    def read(self, text: str, language: str) -> Reading:
        """Danger first, then up to three pathways; nothing about the text is kept."""
        tokens = _joined(words(text), self.joins)
        if not tokens:
            return Reading()
        danger: set[str] = set()
        if self.signals is not None:
            danger = self.signals.find(tokens, looks_like_arabizi(tokens, language))
        kinds = tuple(k for k in self.signals.kinds if k in danger) if self.signals else ()
        uncertain = UNCERTAIN in danger
        evidence = self.model.scores(tokens, language)
        if kinds and not self._ordinary(evidence):
            return Reading(danger=kinds)
        # A danger phrase in what the model knows well as an ordinary question ("may my
        # daughter use knives in a kitchen job?") still shows the numbers, beside the answer.
        uncertain = uncertain or bool(kinds)
        if evidence.coverage >= self.DANGER_COVERAGE:
            uncertain = uncertain or evidence.shares.get(DANGER, 0.0) >= self.DANGER_SHARE
        shares = evidence.shares if evidence.coverage >= self.COVERAGE else {}
        return Reading(uncertain=uncertain, topics=self._topics(text, tokens, language, shares))

    def _ordinary(self, evidence: Evidence) -> bool:
        """Whether the model is sure a message is an ordinary question and no crisis."""
        shares = evidence.shares
        if evidence.coverage < self.COVERAGE or shares.get(DANGER, 1.0) > self.DEMOTE_DANGER:
            return False
        return max((s for t, s in shares.items() if t not in (DANGER, MENU)), default=0) >= (
            self.DEMOTE_TOPIC
        )

    def _topics(
        self, text: str, tokens: list[str], language: str, shares: dict[str, float]
    ) -> tuple[str, ...]:
        hits = self.keywords.find(tokens, _raw_words(text), language)
        scores = {t: s for t, s in shares.items() if t not in (MENU, DANGER)}
        for target, weight in hits.items():
            # A keyword is offered whatever the model says; the model orders what it finds.
            scores[target] = scores.get(target, 0.0) + weight
        ranked = sorted(
            (t for t, s in scores.items() if s >= self.THRESHOLD), key=lambda t: -scores[t]
        )
        if self.work is not None and ranked and ranked[0] in self.work:
            ranked = _work(ranked, self.work, tokens)
        return tuple(ranked[:3])


def _work(ranked: list[str], work: tuple[str, str], tokens: list[str]) -> list[str]:
    """Both work pathways on offer; an age (13-17, or adult) decides which comes first."""
    teen, adult = work
    joined = " ".join(tokens)
    if _TEEN_AGE.search(joined):
        first = teen
    elif _ADULT_AGE.search(joined):
        first = adult
    else:
        first = ranked[0]
    second = adult if first == teen else teen
    return [first, second, *(t for t in ranked if t not in (first, second))]
