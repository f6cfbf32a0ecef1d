"""Typed words in every language, misspelt or not, are understood and offered, never followed."""

from __future__ import annotations

import sqlite3

import pytest
from telegram.ext import Application

from bot.config import Settings
from bot.engine import Engine
from bot.matching import KeywordIndex, normalise
from bot.telegram.offline import OfflineRequest
from tests.conftest import Updates


@pytest.mark.parametrize(
    ("typed", "pathway"),
    [
        # Danish
        ("fritidsjob", "fritidsjob"),
        ("Hvordan får jeg et FRITIDSJOB?", "fritidsjob"),
        ("arbejde", "mentor"),
        ("forening", "foreninger"),
        ("lektiehjælp", "foraeldre"),
        # misspelt
        ("fritidsjop", "fritidsjob"),
        ("foreningr", "foreninger"),
        ("beskæftigelsesmenter", "mentor"),
        # Arabic, with diacritics, tatweel and letter variants
        ("شغل", "fritidsjob"),
        ("شُغْل", "fritidsjob"),
        ("شـــغل", "fritidsjob"),
        ("جمعيه", "foreninger"),
        ("امان", "tryghed"),
        # Somali, Turkish (dotted and dotless i), Kurdish, Sorani, English
        ("shaqo", "fritidsjob"),
        ("iş", "fritidsjob"),
        ("İŞ", "fritidsjob"),
        ("DERNEK", "foreninger"),
        ("işsiz", "mentor"),
        ("kar", "fritidsjob"),
        ("Komele", "foreninger"),
        ("منداڵ", "foraeldre"),
        ("homework", "foraeldre"),
    ],
)
def test_typed_word_is_offered_as_its_pathway(engine: Engine, typed: str, pathway: str) -> None:
    """The matching pathway comes back as a "did you mean" button, not as a jump."""
    reply = engine.typed(typed, "da")
    assert reply.screen == "suggest"
    offered = [button.data for row in reply.buttons[:-1] for button in row]
    assert engine.data(pathway) in offered
    assert not reply.unmatched


@pytest.mark.parametrize(
    "typed", ["help", "Help me!", "hjælp", "HJÆLP", "نجدة", "gargaar", "imdat", "yardım", "112"]
)
def test_crisis_words_go_straight_to_emergency_numbers(engine: Engine, typed: str) -> None:
    """Danger and crisis words, in any language, show the emergency numbers at once."""
    assert engine.content.emergency is not None
    assert engine.typed(typed, "ar").screen == engine.content.emergency.screen


@pytest.mark.parametrize(
    "typed",
    [
        "hello",
        "pizza",
        "the weather is nice",
        "is it",
        "ok tak",
        "مرحبا",
        "merhaba",
        "salaan",
        "🙂🙂",
        "",
        "a" * 4000,
    ],
)
def test_unrelated_words_match_nothing(engine: Engine, typed: str) -> None:
    """Words that mean none of the pathways get the menu, and count as unmatched."""
    reply = engine.typed(typed, "da")
    assert reply.screen == "pointer"
    assert reply.unmatched


def test_everyday_words_near_a_crisis_word_do_not_jump_to_emergency(engine: Engine) -> None:
    """Danish "efter" (after) is one letter from Kurmanji "xeter" (danger): no jump for it."""
    reply = engine.typed("Jeg kommer efter skole", "da")
    assert engine.content.emergency is not None
    assert reply.screen != engine.content.emergency.screen


def test_normalise_folds_scripts_and_spellings() -> None:
    """Case, accents, Arabic letter variants and dotted/dotless i fold to one form."""
    assert normalise("İstanbul") == normalise("istanbul")
    assert normalise("Işık") == normalise("isik")
    assert normalise("أإآا") == "اااا"
    assert normalise("مدرسة") == normalise("مدرسه")
    assert normalise("مستشفى") == normalise("مستشفي")
    assert normalise("ك") == normalise("ک")


def test_phrases_and_multiple_matches_are_offered_together() -> None:
    """Several matching topics come back in order, at most three."""
    index = KeywordIndex({"a": ["leisure job"], "b": ["school"], "c": ["police"], "d": ["club"]})
    found = [m.target for m in index.match("a leisure job near the school, police or club")]
    assert found == ["a", "b", "c"]


async def test_unmatched_text_is_counted_but_never_stored(
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
