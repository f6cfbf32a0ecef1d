"""Seven languages as residents see them: plural forms, right-to-left isolates, the language
picker, the fallback chain, locale formatting, and every screen rendering in every language."""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from bot.content import Content
from bot.engine import Engine, Reply
from bot.i18n import (
    FALLBACK_LANGUAGE,
    LANGUAGES,
    LRI,
    PDI,
    Catalogs,
    best_language,
    is_rtl,
    native_name,
    picker_order,
)

FLOWS = Path(__file__).resolve().parent.parent / "flows"
RTL = ("ar", "ckb")
LTR = tuple(code for code in LANGUAGES if code not in RTL)
ISOLATES = re.compile(f"[{LRI}{PDI}\u2067\u2068]")
# A fixed moment: Monday 30 November 2026, 10:00 in Odense, before the card's 14:00 opening.
MONDAY_MORNING = dt.datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
CARD = "fritidsjob-hjaelp"
SINGULAR, PLURAL = "%(count)d association", "%(count)d associations"


@pytest.fixture(scope="module")
def monday_engine(content: Content, catalogs: Catalogs) -> Engine:
    """The shipped content and catalogs with the clock stopped on a Monday morning."""
    return Engine(content, catalogs, clock=lambda: MONDAY_MORNING)


@pytest.fixture(scope="module")
def card_service() -> dict:
    """The raw services.yaml entry of the card under test, so expectations follow the data."""
    services = yaml.safe_load((FLOWS / "services.yaml").read_text(encoding="utf-8"))["services"]
    return services[CARD]


def _isolated(fragment: str) -> str:
    return f"{LRI}{fragment}{PDI}"


def _assert_balanced_and_flat(text: str) -> None:
    """Every LRI is closed by a PDI, no isolate opens inside another, no PDI stands alone."""
    depth = 0
    for position, char in enumerate(text):
        if char == LRI:
            assert depth == 0, f"nested isolate at {position}: {text!r}"
            depth += 1
        elif char == PDI:
            assert depth == 1, f"PDI without LRI at {position}: {text!r}"
            depth -= 1
    assert depth == 0, f"LRI without PDI: {text!r}"


def _outside_isolates(text: str) -> str:
    return re.sub(f"{LRI}[^{PDI}]*{PDI}", "", text)


def _buttons(reply: Reply) -> list[str]:
    return [button.data for row in reply.buttons for button in row]


def _reachable(engine: Engine) -> list[str]:
    """The callback data of every button reachable from the main menu (cards and directory too),
    without the picker's choices, which switch to another language."""
    seen: list[str] = []
    queue = deque(_buttons(engine.menu(FALLBACK_LANGUAGE)))
    while queue:
        data = queue.popleft()
        if data in seen or (data.split(":")[1] == "lang" and data.count(":") == 2):
            continue
        seen.append(data)
        queue.extend(_buttons(engine.press(data, FALLBACK_LANGUAGE)))
    return seen


# -- plural forms ---------------------------------------------------------------------------------


def test_arabic_plural_index_gives_six_forms_for_0_1_2_3_11_100(catalogs: Catalogs) -> None:
    """The compiled Arabic catalog carries CLDR's six-form rule, one form for each test number."""
    plural = catalogs["ar"].translations.plural  # type: ignore[attr-defined]
    assert [plural(n) for n in (0, 1, 2, 3, 11, 100)] == [0, 1, 2, 3, 4, 5]


def test_arabic_association_count_uses_six_distinct_translated_forms(catalogs: Catalogs) -> None:
    """0, 1, 2, 3, 11 and 100 associations each use their own Arabic plural form, none English.

    The forms for 11-99 and 100+ are spelt alike without vowel marks (جمعية), so only the forms
    for 0, 1, 2 and 3-10 must read differently."""
    ar = catalogs["ar"]
    plural = ar.translations.plural  # type: ignore[attr-defined]
    assert [plural(n) for n in (0, 1, 2, 3, 11, 100)] == [0, 1, 2, 3, 4, 5]
    shown = {n: ar.ngettext(SINGULAR, PLURAL, n) for n in (0, 1, 2, 3, 11, 100)}
    assert not {SINGULAR, PLURAL} & set(shown.values()), f"untranslated: {shown}"
    assert len({shown[n] for n in (0, 1, 2, 3)}) == 4, shown
    assert "%(count)d" in shown[11]
    assert "%(count)d" in shown[100]
    for n, text in shown.items():
        assert re.search("[\u0600-\u06ff]", text), f"{n}: {text!r} is not Arabic"
        # Each form formats with the count without a KeyError.
        text % {"count": n}


@pytest.mark.parametrize(("language", "forms"), [("da", 2), ("en", 2), ("ckb", 2)])
def test_two_plural_forms(catalogs: Catalogs, language: str, forms: int) -> None:
    """Danish, English and Sorani: one for exactly 1, the other for 0, 2, 11, 100."""
    plural = catalogs[language].translations.plural  # type: ignore[attr-defined]
    assert {plural(n) for n in (0, 1, 2, 3, 11, 100)} == set(range(forms))
    assert plural(1) == 0
    assert [plural(n) for n in (0, 2, 11, 100)] == [1, 1, 1, 1]
    tr = catalogs[language]
    one, many = tr.ngettext(SINGULAR, PLURAL, 1), tr.ngettext(SINGULAR, PLURAL, 2)
    # Sorani keeps the noun singular after a number, so its two forms may read the same.
    assert one != many or language == "ckb"
    assert "%(count)d" in many
    if language != "en":
        assert {one, many}.isdisjoint({SINGULAR, PLURAL}), f"{language}: untranslated"


# -- right to left -------------------------------------------------------------------------------


def test_bidi_isolates_each_left_to_right_fragment_exactly(catalogs: Catalogs) -> None:
    """An address, phone, e-mail, URL, time span, date and Danish name each sit in one isolate;
    the Arabic around them is untouched and brackets stay outside."""
    address = "Vollsmose Allé 16, 5240 Odense NØ"
    phone = "+45 65 00 00 01"
    email = "fritidsjob@vollsmose.example"
    url = "https://www.odense.dk/borger/familie?lang=da#kontakt"
    span = "14:00–17:00"
    date = "30.11.2026"
    name = "Mette Sørensen"
    template = (
        "العنوان: {address}. اتصل على {phone}، أو اكتب إلى {email}. "
        "الموقع ({url}). نفتح من {span} يوم {date}. اسأل عن {name} في البيت."
    )
    fragments = {
        "address": address,
        "phone": phone,
        "email": email,
        "url": url,
        "span": span,
        "date": date,
        "name": name,
    }
    text = template.format(**fragments)
    expected = template.format(**{key: _isolated(value) for key, value in fragments.items()})
    for language in RTL:
        assert catalogs[language].rtl
        result = catalogs[language].bidi(text)
        assert result == expected
        assert ISOLATES.sub("", result) == text
        assert "(" + _isolated(url) + ")" in result
        _assert_balanced_and_flat(result)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("اذهب إلى Bydelshuset اليوم", f"اذهب إلى {LRI}Bydelshuset{PDI} اليوم"),
        ("(Vollsmose Allé 16)", f"({LRI}Vollsmose Allé 16{PDI})"),
        ("من 9:30 حتى 11:00.", f"من {LRI}9:30{PDI} حتى {LRI}11:00{PDI}."),
        ("في Vollsmose.", f"في {LRI}Vollsmose{PDI}."),
        ("نص عربي فقط", "نص عربي فقط"),
    ],
)
def test_bidi_leaves_punctuation_and_arabic_outside(
    catalogs: Catalogs, text: str, expected: str
) -> None:
    for language in RTL:
        assert catalogs[language].bidi(text) == expected


def test_bidi_keeps_a_slash_command_in_one_isolate(catalogs: Catalogs) -> None:
    """ "/forget" inside Arabic must read "/forget", not "forget/": the slash belongs in the run."""
    assert catalogs["ar"].bidi("أرسل /forget الآن") == f"أرسل {LRI}/forget{PDI} الآن"


@pytest.mark.parametrize("language", LTR)
def test_bidi_is_the_identity_in_left_to_right_languages(catalogs: Catalogs, language: str) -> None:
    text = "Ring +45 65 00 00 01 (14:00–17:00), العربية, Vollsmose Allé 16, 5240 Odense NØ"
    assert not catalogs[language].rtl
    assert catalogs[language].bidi(text) == text


def test_rtl_is_exactly_arabic_and_sorani() -> None:
    assert [code for code in LANGUAGES if is_rtl(code)] == list(RTL)


@pytest.mark.parametrize("language", RTL)
def test_rtl_contact_card_isolates_phone_and_address(
    monday_engine: Engine, card_service: dict, language: str
) -> None:
    """A resident who picked العربية or Sorani sees the card's phone, address and e-mail intact."""
    reply = monday_engine.card(CARD, language)
    text = reply.text
    assert "☎️ " + _isolated(card_service["phone"]) in text.splitlines()
    assert "📍 " + _isolated(card_service["address"]) in text.splitlines()
    assert "✉️ " + _isolated(card_service["email"]) in text.splitlines()
    _assert_balanced_and_flat(text)
    for row in reply.buttons:
        for button in row:
            _assert_balanced_and_flat(button.label)
    # No Latin letter or digit is left to the mercy of the bidi algorithm.
    assert not re.search("[A-Za-z0-9]", _outside_isolates(text)), text


@pytest.mark.parametrize("language", LTR)
def test_ltr_contact_card_has_no_isolates(
    monday_engine: Engine, card_service: dict, language: str
) -> None:
    reply = monday_engine.card(CARD, language)
    assert not ISOLATES.search(reply.text)
    assert "☎️ " + card_service["phone"] in reply.text.splitlines()
    assert "📍 " + card_service["address"] in reply.text.splitlines()
    assert not any(ISOLATES.search(b.label) for row in reply.buttons for b in row)


@pytest.mark.parametrize("language", RTL)
def test_rtl_every_screen_and_command_answer_isolates_latin_text(
    engine: Engine, language: str
) -> None:
    """On every screen, card, help and privacy text in ar/ckb, Latin runs sit in flat isolates."""
    replies = {data: engine.press(data, language) for data in _reachable(engine)}
    replies |= {
        "help": engine.help(language),
        "privacy": engine.privacy(language),
        "forget": engine.forgotten(language),
        "picker": engine.picker(language),
        "updated": engine.updated(language),
        "pointer": engine.pointer(language),
        "slow down": engine.slow_down(language),
    }
    unprotected = {}
    for where, reply in replies.items():
        _assert_balanced_and_flat(reply.text)
        left = re.findall("[A-Za-z0-9]+", _outside_isolates(reply.text))
        # A command split from its slash ("/" LRI "forget" PDI) shows as "forget/".
        left += re.findall(f"/{LRI}[^{PDI}]*", reply.text)
        if left:
            unprotected[where] = left
    assert not unprotected


@pytest.mark.parametrize("language", LTR)
def test_ltr_screens_have_no_isolate_characters(engine: Engine, language: str) -> None:
    for data in _reachable(engine):
        reply = engine.press(data, language)
        assert not ISOLATES.search(reply.text), data
        assert not any(ISOLATES.search(b.label) for row in reply.buttons for b in row), data


# -- the language picker ----------------------------------------------------------------------


def test_native_names_in_their_own_script() -> None:
    assert native_name("da") == "Dansk"
    assert native_name("ar") == "العربية"
    assert native_name("tr") == "Türkçe"
    assert native_name("so") == "Soomaali"
    assert native_name("en") == "English"
    for code in ("ku", "ckb"):
        babel_name = Locale.parse(code).get_display_name(code)
        assert babel_name
        assert native_name(code) == babel_name[:1].upper() + babel_name[1:]
    # Kurmanji is written in Latin script, Sorani in Arabic script, and they are told apart.
    assert re.match("[A-Za-zÎîÊêÛûŞşÇç]", native_name("ku"))
    assert re.match("[\u0600-\u06ff]", native_name("ckb"))
    assert native_name("ku") != native_name("ckb")


@pytest.mark.parametrize("hint", ["ar", "ar-SA", "tr", "so", "ku", "ckb", "en-GB", "da-DK"])
def test_picker_shows_every_language_by_native_name_hint_first(engine: Engine, hint: str) -> None:
    reply = engine.picker(None, hint)
    labels = [button.label for row in reply.buttons for button in row]
    expected_first = best_language(hint)
    assert labels[0] == native_name(expected_first or FALLBACK_LANGUAGE)
    assert sorted(labels) == sorted(native_name(code) for code in LANGUAGES)
    assert len(labels) == len(set(labels)) == 7


def test_unknown_hint_keeps_the_default_order(engine: Engine) -> None:
    assert picker_order("pt-BR") == list(LANGUAGES)
    reply = engine.picker(None, "pt-BR")
    labels = [button.label for row in reply.buttons for button in row]
    assert labels == [native_name(code) for code in LANGUAGES]


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("pt-BR", None),
        ("ar-SA", "ar"),
        ("ckb", "ckb"),
        ("ckb-IQ", "ckb"),
        ("AR", "ar"),
        ("tr_TR", "tr"),
        ("", None),
        (None, None),
        ("xx", None),
    ],
)
def test_best_language(hint: str | None, expected: str | None) -> None:
    assert best_language(hint) == expected


# -- fallback: the language, then Danish, then the English msgid ---------------------------------


def _write_mo(locales: Path, language: str, entries: dict[str, str]) -> None:
    catalog = Catalog(locale=language, domain="messages", fuzzy=False)
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr)
    folder = locales / language / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as out:
        write_mo(out, catalog)


@pytest.fixture
def partial_catalogs(tmp_path: Path) -> Catalogs:
    """Danish has two entries, Arabic only one of them, Turkish has no compiled catalog."""
    _write_mo(tmp_path, "da", {"Menu": "Menu (da)", "Back": "Tilbage"})
    _write_mo(tmp_path, "ar", {"Menu": "القائمة"})
    return Catalogs(tmp_path)


def test_missing_arabic_entry_falls_back_to_danish(partial_catalogs: Catalogs) -> None:
    assert partial_catalogs["ar"].gettext("Menu") == "القائمة"
    assert partial_catalogs["ar"].gettext("Back") == "Tilbage"


def test_entry_missing_everywhere_falls_back_to_english_msgid(partial_catalogs: Catalogs) -> None:
    for language in ("ar", "da", "tr", "en"):
        assert partial_catalogs[language].gettext("Next") == "Next"


def test_language_without_compiled_catalog_falls_back_to_danish(
    partial_catalogs: Catalogs,
) -> None:
    assert partial_catalogs["tr"].gettext("Back") == "Tilbage"
    assert partial_catalogs.missing() == [c for c in LANGUAGES if c not in ("da", "ar")]


def test_unknown_language_speaks_danish(partial_catalogs: Catalogs, catalogs: Catalogs) -> None:
    assert partial_catalogs["xx"].gettext("Back") == "Tilbage"
    assert partial_catalogs["xx"].language == FALLBACK_LANGUAGE
    shipped = catalogs["xx"]
    assert shipped.language == FALLBACK_LANGUAGE
    assert shipped.gettext("Choose your language.") == catalogs["da"].gettext(
        "Choose your language."
    )
    assert shipped.gettext("Choose your language.") != "Choose your language."


def test_english_does_not_fall_back_to_danish(partial_catalogs: Catalogs) -> None:
    """English residents read the msgid, never Danish, when the English catalog lacks a text."""
    assert partial_catalogs["en"].gettext("Back") == "Back"


def test_plural_falls_back_along_the_same_chain(tmp_path: Path) -> None:
    danish = Catalog(locale="da", domain="messages", fuzzy=False)
    danish.add((SINGULAR, PLURAL), ("%(count)d forening", "%(count)d foreninger"))
    folder = tmp_path / "da" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as out:
        write_mo(out, danish)
    _write_mo(tmp_path, "ar", {"Menu": "القائمة"})
    built = Catalogs(tmp_path)
    assert built["ar"].ngettext(SINGULAR, PLURAL, 1) == "%(count)d forening"
    assert built["ar"].ngettext(SINGULAR, PLURAL, 3) == "%(count)d foreninger"


# -- formatting with Babel --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "monday"), [("da", "mandag"), ("tr", "Pazartesi"), ("ar", "الاثنين")]
)
def test_card_weekdays_follow_the_locale(
    monday_engine: Engine, card_service: dict, language: str, monday: str
) -> None:
    assert "mon" in card_service["hours"]
    lines = [line.strip() for line in monday_engine.card(CARD, language).text.splitlines()]
    assert any(line.startswith(monday + ":") for line in lines), lines
    if language != "en":
        assert not any(line.startswith("Monday") for line in lines)


def test_card_times_follow_the_locale(monday_engine: Engine) -> None:
    """A 24-hour clock in every language, as on the services' own signs: Danish writes 14.00,
    the others 14:00 (Arabic in Latin digits); never "2:00 PM"."""
    danish = monday_engine.card(CARD, "da").text
    assert "14.00–17.00" in danish
    for language in ("en", "so", "tr", "ku"):
        text = monday_engine.card(CARD, language).text
        assert "14:00–17:00" in text, language
        assert not re.search(r"\d\s?(AM|PM|GH|GD)\b", text), language
    arabic = monday_engine.card(CARD, "ar").text
    assert _isolated("14:00–17:00") in arabic


# -- every shipped language ----------------------------------------------------------------------


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_menu_is_translated(engine: Engine, content: Content, language: str) -> None:
    """The menu text is not the English msgid: the compiled catalog is in use."""
    english = content.screens[content.start].text
    text = engine.menu(language).text
    assert ISOLATES.sub("", text) != english


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reachable_screen_renders(engine: Engine, language: str) -> None:
    """Every screen, card and directory page behind the menu renders in every language: no
    KeyError from a translated placeholder, no raw %(...)s left in the text."""
    reachable = _reachable(engine)
    assert len(reachable) > 30
    for data in reachable:
        reply = engine.press(data, language)
        assert reply.text.strip(), data
        assert "%(" not in reply.text, (data, reply.text)
        assert reply.screen != "updated", data
        for row in reply.buttons:
            for button in row:
                assert button.label.strip(), data
