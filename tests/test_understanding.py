"""Typed messages in every language: danger shows the numbers at once, topics are offered.

The labelled messages in tests/data/typed are never trained on (the model learns only from the
content's examples); the crisis class must be right for every one of them, in every language.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.__main__ import main
from bot.config import Settings
from bot.engine import Engine
from bot.evaluation import CRISIS, Labelled, load_labelled
from bot.i18n import LANGUAGES
from bot.telegram.offline import OfflineRequest
from bot.understanding import fold, words
from tests.conftest import Updates

LABELLED = Path(__file__).parent / "data" / "typed"
MESSAGES = load_labelled(LABELLED)
CRISIS_MESSAGES = [m for m in MESSAGES if m.expect == (CRISIS,)]
ORDINARY = [m for m in MESSAGES if m.expect != (CRISIS,)]


def _id(message: Labelled) -> str:
    return message.where


def _numbers_shown(engine: Engine, text: str, language: str) -> bool:
    reply = engine.typed(text, language)
    return bool(reply.danger) and "112" in reply.text


def test_the_labelled_set_covers_every_language_with_enough_crisis_messages() -> None:
    """At least 40 messages and 8 crisis messages per shipped language, each file named by it."""
    for language in LANGUAGES:
        mine = [m for m in MESSAGES if m.language == language]
        assert len(mine) >= 40, language
        assert sum(m.expect == (CRISIS,) for m in mine) >= 8, language


@pytest.mark.parametrize("message", CRISIS_MESSAGES, ids=_id)
def test_every_crisis_message_shows_the_emergency_numbers(
    engine: Engine, message: Labelled
) -> None:
    """In the resident's language, and with Danish chosen: 112 is in the answer's own text."""
    assert _numbers_shown(engine, message.text, message.language)
    assert _numbers_shown(engine, message.text, "da")


@pytest.mark.parametrize("message", ORDINARY, ids=_id)
def test_no_ordinary_message_gets_the_emergency_screen(engine: Engine, message: Labelled) -> None:
    """Questions about work, CVs or children, and chit-chat, are never taken for a crisis."""
    assert engine.typed(message.text, message.language).screen != engine.content.emergency.screen  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "language", "line"),
    [
        # Danger described with verbs, pronouns and suffixes rather than named.
        ("min mand slog mig igen i aftes", "da", "1888"),
        ("my dad is hitting my mum right now", "en", "1888"),
        ("زوجي يضربني كل يوم", "ar", "1888"),
        ("kocam beni dövüyor", "tr", "1888"),
        ("ninkaygu wuu i garaacay", "so", "1888"),
        ("mêrê min li min dixe", "ku", "1888"),
        ("I don't want to live any more", "en", "70 201 201"),
        ("jeg vil ikke leve mere", "da", "70 201 201"),
        ("الجار عم يضرب ابنه الصغير", "ar", "116 111"),
        ("someone has a knife outside the school", "en", "112"),
        ("the kitchen is on fire", "en", "112"),
        ("she is not breathing", "en", "112"),
        # Arabic written in Latin letters and digits (Arabizi).
        ("jozi bidrobni", "ar", "1888"),
    ],
)
def test_danger_is_understood_and_the_fitting_line_is_in_the_text(
    engine: Engine, text: str, language: str, line: str
) -> None:
    """The crisis answer leads with 112 and the line for that danger, in its text, at once."""
    reply = engine.typed(text, language)
    assert reply.danger, text
    assert "112" in reply.text
    assert line in reply.text
    assert reply.screen == engine.content.emergency.screen  # type: ignore[union-attr]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_crisis_answer_is_translated_and_keeps_its_numbers(
    engine: Engine, language: str
) -> None:
    """Every language's crisis answer has the numbers in the resident's words, never English."""
    reply = engine.typed("my husband hits me", language)
    assert "112" in reply.text
    assert "1888" in reply.text
    english = engine.typed("my husband hits me", "en").text
    assert (reply.text == english) == (language == "en")
    assert "buttons" not in reply.text


@pytest.mark.parametrize(
    ("text", "language", "first"),
    [
        # A word for "help" in an ordinary request is not a crisis.
        ("can you help me with my cv", "en", "mentor"),
        ("hjælp til lektier for min søn", "da", "foraeldre"),
        ("iş bulmak için yardım lazım, 2 yıldır işsizim", "tr", "mentor"),
        # Inflected forms: a Turkish word with a suffix, Danish without its special letters.
        ("işsizim", "tr", "mentor"),
        ("hvor kan jeg laere dansk", "da", "hverdag"),
        # Problems, not service names.
        ("someone broke into our flat last night", "en", "tryghed"),
        ("there is always noise on the stairs at night", "en", "tryghed"),
        ("where can my son play football", "en", "foreninger"),
        ("my teenage son does not listen to me", "en", "foraeldre"),
        # Needs that had no place before.
        ("I got a letter from the kommune and I don't understand it", "en", "hverdag"),
        ("jeg vil gerne lære dansk", "da", "hverdag"),
        ("the heating in my flat is broken", "en", "hverdag"),
        ("what can my daughter study after 9th grade", "en", "foraeldre"),
    ],
)
def test_a_typed_problem_is_offered_its_pathway_first(
    engine: Engine, text: str, language: str, first: str
) -> None:
    """The pathway that helps comes first among the "did you mean" buttons."""
    reply = engine.typed(text, language)
    assert not reply.danger or reply.danger == ("uncertain",)
    assert reply.screen == "suggest"
    assert reply.buttons[0][0].data == engine.data(first)


@pytest.mark.parametrize(
    ("text", "language", "first"),
    [
        ("I want a job", "en", None),
        ("jeg søger arbejde", "da", None),
        ("I am 15 and want a job", "en", "fritidsjob"),
        ("min datter er 14 og vil gerne have et job", "da", "fritidsjob"),
        ("I am 34 and looking for work", "en", "mentor"),
    ],
)
def test_work_offers_both_pathways_and_an_age_orders_them(
    engine: Engine, text: str, language: str, first: str | None
) -> None:
    """Plain work offers fritidsjob and the mentor; an age of 13-17, or older, says which first."""
    offered = [row[0].data for row in engine.typed(text, language).buttons[:-1]]
    assert engine.data("fritidsjob") in offered[:2]
    assert engine.data("mentor") in offered[:2]
    if first is not None:
        assert offered[0] == engine.data(first)


@pytest.mark.parametrize(
    ("text", "chosen"),
    [
        ("fritidsjob", "so"),
        ("fritidsjop", "ar"),  # misspelt
        ("شغل للمراهقين", "da"),
        ("dernek", "en"),
        ("ana 3ayez sho8l", "da"),  # Arabizi
    ],
)
def test_another_language_than_the_chosen_one_still_works(
    engine: Engine, text: str, chosen: str
) -> None:
    """A resident who chose one language and types in another still gets suggestions."""
    reply = engine.typed(text, chosen)
    assert reply.screen == "suggest"
    assert not reply.unmatched


def test_the_chosen_language_decides_a_short_word_two_languages_share(engine: Engine) -> None:
    """English "is" is not Turkish "iş" (work) for an English reader; for a Turkish one it is."""
    assert engine.typed("is", "en").screen == "pointer"
    assert engine.typed("is", "tr").screen == "suggest"


def test_sorani_typed_on_an_arabic_keyboard_is_read_as_sorani() -> None:
    """Arabic letters for Sorani ones, and endings split off by a space, read as one word."""
    assert words("منداڵەکەم") == words("منداله‌كه‌م")
    assert fold("یارمەتی") == fold("يارمهتي")


@pytest.mark.parametrize(
    "typed",
    ["hello", "thanks", "ok tak", "مرحبا", "merhaba", "🙂🙂", "", "a" * 4000, "qwrtz plonk"],
)
def test_chit_chat_gets_the_menu(engine: Engine, typed: str) -> None:
    """Greetings, thanks and nonsense get the menu and count as not understood."""
    reply = engine.typed(typed, "da")
    assert reply.screen == "pointer"
    assert reply.unmatched
    assert not reply.danger


def test_an_uncertain_worry_shows_the_numbers_beside_the_suggestions(engine: Engine) -> None:
    """A worry that may be danger costs nothing: the numbers line above the usual answer."""
    reply = engine.typed("I am afraid to go home", "en")
    assert reply.danger == ("uncertain",)
    assert "112" in reply.text
    assert any("🆘" in b.label for row in reply.buttons for b in row)


def test_normalising_folds_scripts_and_spellings() -> None:
    """Case, accents, Arabic letter variants, Danish letters and doubled letters fold to one."""
    assert fold("İstanbul") == fold("istanbul")
    assert fold("Işık") == fold("isik")
    assert fold("أإآا") == "ا"
    assert fold("مدرسة") == fold("مدرسه")
    assert fold("hjælp") == fold("hjaelp")
    assert fold("helppp") == "help"


def test_understand_eval_prints_each_language_and_the_crisis_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`vollsmose-bot understand --eval` prints one row per language with crisis recall."""
    assert main(["understand", "--eval", str(LABELLED)]) == 0
    out = capsys.readouterr().out
    for language in (*LANGUAGES, "all"):
        assert re.search(rf"^{language}\s+\d+/\d+", out, re.MULTILINE), language
    all_row = next(line for line in out.splitlines() if line.startswith("all"))
    crisis_shown = all_row.split()[3]
    assert crisis_shown == f"{len(CRISIS_MESSAGES)}/{len(CRISIS_MESSAGES)}"


def test_understand_reads_one_message(capsys: pytest.CaptureFixture[str]) -> None:
    """`vollsmose-bot understand TEXT` says what a resident would be shown."""
    assert main(["understand", "--language", "en", "my", "husband", "hits", "me"]) == 0
    assert "crisis" in capsys.readouterr().out


async def test_typed_text_is_counted_when_not_understood_but_never_stored(
    app: Application, updates: Updates, offline: OfflineRequest, settings: Settings, engine: Engine
) -> None:
    """Two unmatched messages count 2 for the day; the words themselves are nowhere on disk."""
    for text in ("zebra crossing banana", "quantum marmalade"):
        await app.process_update(updates.message(text))
    await app.process_update(updates.message("fritidsjop"))
    db = sqlite3.connect(settings.bot_database)
    assert db.execute("SELECT key, n FROM usage WHERE dimension = 'unmatched'").fetchall() == [
        ("text", 2)
    ]
    db.close()
    suggestion = offline.calls_to("sendMessage")[-1].params["text"]
    assert suggestion == engine.typed("fritidsjop", "da").text
    written = b"".join(p.read_bytes() for p in settings.bot_database.parent.iterdir())
    assert b"marmalade" not in written
    assert b"zebra" not in written


async def test_a_crisis_typed_on_telegram_is_answered_with_the_numbers(
    app: Application, updates: Updates, offline: OfflineRequest
) -> None:
    """Through the real Application: one message, with 112 and 1888 in its text."""
    await app.process_update(updates.message("my boyfriend beat me up"))
    sent = offline.calls_to("sendMessage")
    assert len(sent) == 1
    assert "112" in sent[0].params["text"]
    assert "1888" in sent[0].params["text"]


def test_no_example_of_a_pathway_or_chit_chat_gets_the_crisis_screen(engine: Engine) -> None:
    """The content agrees with itself: a danger phrase that fires on an ordinary example ("may
    my daughter use knives in a kitchen job?") is too broad, and staff would see it here."""
    content = engine.content
    ordinary = [
        (pathway_id, language, text)
        for pathway_id, pathway in content.pathways.items()
        for language, texts in pathway.examples.items()
        for text in texts
    ] + [
        ("menu", language, text)
        for language, texts in content.understanding.chitchat.items()
        for text in texts
    ]
    assert len(ordinary) > 1000
    emergency = content.emergency.screen  # type: ignore[union-attr]
    crisis = [(p, lang, t) for p, lang, t in ordinary if engine.typed(t, lang).screen == emergency]
    assert crisis == []


def test_danger_phrases_of_one_short_word_match_only_that_word(engine: Engine) -> None:
    """Somali "seef" (sword) is a danger; Kurmanji "sefe" (the boss) is not."""
    assert engine.typed("seef", "so").danger == ("attack",)
    assert "attack" not in engine.typed("ez cawa bi sefe re biaxivim", "ku").danger


def test_check_warns_of_an_example_that_would_get_the_crisis_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Staff who add "my husband hits me" as a mentor example learn where it is and why."""
    flows = tmp_path / "flows"
    shutil.copytree(Path(__file__).parent.parent / "flows", flows)
    mentor = flows / "mentor.yaml"
    text = mentor.read_text(encoding="utf-8")
    marker = "examples:\n  da:\n"
    assert marker in text
    mentor.write_text(text.replace(marker, marker + '    - "min mand slår mig"\n'), "utf-8")
    line = 1 + mentor.read_text(encoding="utf-8").splitlines().index('    - "min mand slår mig"')
    monkeypatch.setenv("BOT_CONTENT_DIR", str(flows))
    assert main(["check"]) == 0
    err = capsys.readouterr().err
    assert (
        f"warning: flows/mentor.yaml:{line}: examples.da[0]: 'min mand slår mig' would get the "
        "crisis screen" in err
    )


def test_reading_a_message_keeps_none_of_its_words(engine: Engine) -> None:
    """After a message is read, no cache of the understanding holds a word of it: the model's
    memo holds only features of the content's own examples."""
    understanding = engine.understanding
    before = set(understanding.model._evidence)
    engine.typed("quokkamarmelade zyxwvut fritidsjob", "da")
    added = set(understanding.model._evidence) - before
    assert all(f in understanding.model._everywhere for f in added)
    assert not any("quok" in f or "zyxw" in f for f in understanding.model._evidence)


@pytest.mark.parametrize(
    ("text", "card"),
    [
        ("my husband hits me", "@levudenvold"),
        ("I want to kill myself", "@livslinien"),
        ("the neighbour beats his son every day", "@boernetelefonen"),
        ("the kitchen is on fire", "@alarm-112"),
    ],
)
def test_the_crisis_answer_offers_the_fitting_line_first_and_no_button_twice(
    engine: Engine, text: str, card: str
) -> None:
    """The card of the line that fits is the first button; the rest of the numbers follow."""
    reply = engine.typed(text, "en")
    targets = [engine.parse(b.data)[0] for row in reply.buttons for b in row]
    assert targets[0] == card
    assert len(targets) == len(set(targets))
    assert engine.press(reply.buttons[0][0].data, "en").referral is not None


@pytest.mark.parametrize("language", LANGUAGES)
def test_privacy_says_that_typed_messages_are_counted_when_not_understood(
    engine: Engine, language: str
) -> None:
    """/privacy names every count the bot keeps, deep-link sources and messages not understood
    among them, in every language (a translated paragraph, not the English one)."""
    english = engine.privacy("en").text
    assert "poster or link" in english
    assert "did not understand" in english
    text = engine.privacy(language).text
    assert text.count("\n\n") == english.count("\n\n")
    assert ("poster or link" in text) == (language == "en")
