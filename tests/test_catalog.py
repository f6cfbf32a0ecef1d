"""The translation pipeline as translators and operators run it: extract, update, compile, status
and `vollsmose-bot check`, on a copy of the repository so the real catalogs are never touched."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot import catalog
from bot.i18n import DOMAIN, LANGUAGES, Catalogs
from bot.i18n_extract import extract_flows

REPO = Path(__file__).resolve().parent.parent
NEW_LABEL = "Letters from the kommune"
NEW_BUTTON = f'      - {{label: "{NEW_LABEL}", to: foraeldre}}\n'
SOURCE = "Source: %(url)s, last checked %(date)s"
REVIEW = "awaits review by a native speaker"


# -- helpers --------------------------------------------------------------------------------------


def _without_dates(text: str) -> list[str]:
    """A catalog's lines without the header dates that every extract and update renews."""
    return [line for line in text.splitlines() if "-Date: " not in line]


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def _write(path: Path, po: Catalog) -> None:
    with path.open("wb") as out:
        write_po(out, po, width=100, ignore_obsolete=True)


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`vollsmose-bot ARGS` as the copy's own package: run from the copy, so bot/ (and with it
    LOCALES_DIR) is the copied one, with the copied flows as BOT_CONTENT_DIR."""
    env = dict(os.environ)
    env |= {"BOT_CONTENT_DIR": str(root / "flows"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _set_translation(locales: Path, language: str, msgid: str, text: str) -> None:
    path = catalog.po_path(language, locales)
    po = _read(path, language)
    message = po[msgid]
    assert message is not None, f"{msgid!r} not in {path}"
    message.string = text
    message.flags.discard("fuzzy")
    _write(path, po)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of bot/, flows/, locales/ (and babel.cfg) whose package is the one the CLI runs."""
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("bot", "flows", "locales"):
        shutil.copytree(REPO / folder, root / folder, ignore=ignore)
    if (REPO / "babel.cfg").is_file():
        shutil.copy2(REPO / "babel.cfg", root / "babel.cfg")
    where = subprocess.run(
        [sys.executable, "-c", "import bot.i18n; print(bot.i18n.LOCALES_DIR)"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    # Never let a pipeline command below write into the real locales/.
    assert Path(where.stdout.strip()) == root / "locales"
    return root


@pytest.fixture
def updated(repo: Path) -> Path:
    """The copy after `catalog extract` and `catalog update`: every msgid in every .po."""
    catalog.extract(repo, repo / "locales")
    catalog.update(repo / "locales")
    return repo


# -- extraction ---------------------------------------------------------------------------------


def test_extract_writes_one_template_from_code_and_flows(repo: Path) -> None:
    locales = repo / "locales"
    (locales / f"{DOMAIN}.pot").unlink()
    catalog.extract(repo, locales)
    assert sorted(p.name for p in locales.rglob("*.pot")) == [f"{DOMAIN}.pot"]
    template = _read(locales / f"{DOMAIN}.pot")

    # From Python, with the translator's comment and the place in the code.
    choose = template["Choose your language."]
    assert choose is not None
    assert any("every language in its own script" in c for c in choose.auto_comments)
    assert not any(c.startswith("Translators:") for c in choose.auto_comments)
    assert any(filename == "bot/engine.py" for filename, _line in choose.locations)
    plural = template["%(count)d association"]
    assert plural is not None
    assert plural.id == ("%(count)d association", "%(count)d associations")

    # From the flows, with the YAML path as the comment.
    menu = yaml.safe_load((repo / "flows" / "menu.yaml").read_text(encoding="utf-8"))
    welcome = template[menu["screens"]["menu"]["text"]]
    assert welcome is not None
    assert "screens.menu.text" in welcome.auto_comments
    assert any(filename == "flows/menu.yaml" for filename, _line in welcome.locations)
    for index, button in enumerate(menu["screens"]["menu"]["buttons"]):
        message = template[button["label"]]
        assert message is not None, button["label"]
        assert f"screens.menu.buttons[{index}].label" in message.auto_comments

    # A service from services.yaml too: its name and description.
    services = yaml.safe_load((repo / "flows" / "services.yaml").read_text(encoding="utf-8"))
    service = services["services"]["fritidsjob-hjaelp"]
    for key in ("name", "description", "for_whom"):
        message = template[service[key]]
        assert message is not None, key
        assert f"services.fritidsjob-hjaelp.{key}" in message.auto_comments


def test_flow_extractor_is_registered_under_babel_extractors() -> None:
    found = {ep.name: ep for ep in entry_points(group="babel.extractors")}
    assert "vollsmose_flows" in found
    assert found["vollsmose_flows"].value == "bot.i18n_extract:extract_flows"
    assert found["vollsmose_flows"].load() is extract_flows


def test_pybabel_extract_with_the_project_mapping(repo: Path, tmp_path: Path) -> None:
    """Plain `pybabel extract -F babel.cfg` gives the same messages as `catalog extract`."""
    if not (repo / "babel.cfg").is_file():
        pytest.skip("the repository has no babel.cfg mapping for pybabel extract")
    out = tmp_path / "pybabel.pot"
    command = [sys.executable, "-m", "babel.messages.frontend", "extract"]
    command += ["-F", "babel.cfg", "-c", "Translators:", "-s", "-o", str(out), "."]
    subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True, timeout=120)
    by_pybabel = _read(out)
    ours = catalog.extract(repo, repo / "locales")
    assert {m.id for m in by_pybabel if m.id} == {m.id for m in ours if m.id}
    menu = yaml.safe_load((repo / "flows" / "menu.yaml").read_text(encoding="utf-8"))
    welcome = by_pybabel[menu["screens"]["menu"]["text"]]
    assert welcome is not None
    assert "screens.menu.text" in welcome.auto_comments
    choose = by_pybabel["Choose your language."]
    assert choose is not None
    assert any("every language in its own script" in c for c in choose.auto_comments)


# -- a new text in a flow file -------------------------------------------------------------------


def test_new_flow_text_is_untranslated_everywhere_and_check_fails_until_translated(
    repo: Path,
) -> None:
    locales = repo / "locales"
    for step in ("extract", "update"):
        assert _cli(repo, "catalog", step).returncode == 0
    before = _cli(repo, "check")
    assert NEW_LABEL not in before.stderr

    menu = repo / "flows" / "menu.yaml"
    text = menu.read_text(encoding="utf-8")
    anchor = '      - {label: "Safety and emergency", to: tryghed}\n'
    assert anchor in text
    menu.write_text(text.replace(anchor, anchor + NEW_BUTTON), encoding="utf-8")

    for step in ("extract", "update"):
        done = _cli(repo, "catalog", step)
        assert done.returncode == 0, done.stderr

    # Untranslated in every language, named by status and by `catalog status`.
    for status in catalog.status(locales):
        assert status.share < 1.0, status.language
        assert any("untranslated" in p and NEW_LABEL in p for p in status.problems), status
        message = _read(catalog.po_path(status.language, locales))[NEW_LABEL]
        assert message is not None
        assert message.string == ""
    shown = _cli(repo, "catalog", "status").stdout.splitlines()
    assert len(shown) == len(LANGUAGES)
    assert not any("100.0%" in line for line in shown), shown

    check = _cli(repo, "check")
    assert check.returncode == 1
    for language in LANGUAGES:
        po = catalog.po_path(language, locales).as_posix()
        assert any(po in line and NEW_LABEL in line for line in check.stderr.splitlines()), language

    # Translated in all seven: check no longer names it, and residents see the translation.
    for language in LANGUAGES:
        _set_translation(locales, language, NEW_LABEL, f"[{language}] Breve fra kommunen")
    after = _cli(repo, "check")
    assert NEW_LABEL not in after.stderr
    assert after.returncode == before.returncode, after.stderr[-2000:]
    assert _cli(repo, "catalog", "compile").returncode == 0
    compiled = Catalogs(locales)
    for language in LANGUAGES:
        assert compiled[language].gettext(NEW_LABEL) == f"[{language}] Breve fra kommunen"


# -- an edited text keeps its translations -----------------------------------------------------


EDITED_FROM = "How old are you?"


def test_edited_flow_text_keeps_its_translation_as_fuzzy_until_reviewed(repo: Path) -> None:
    """Changing a text in a flow file and running extract and update loses nothing: every
    catalog keeps the old translation on the new text, marked fuzzy with the old msgid beside it;
    `check` and `compile` refuse it until a reviewer clears the flag; residents never see it."""
    locales = repo / "locales"
    flows = repo / "flows" / "fritidsjob.yaml"
    text = flows.read_text(encoding="utf-8")
    old_text = next(
        m.id
        for m in _read(locales / f"{DOMAIN}.pot")
        if isinstance(m.id, str) and m.id.endswith(EDITED_FROM) and m.id.startswith("A fritidsjob")
    )
    new_text = old_text.replace(EDITED_FROM, "How old are you now?")
    assert text.count(EDITED_FROM) == 1
    flows.write_text(text.replace("How old are you?", "How old are you now?", 1), encoding="utf-8")
    before = {
        lang: _read(catalog.po_path(lang, locales), lang)[old_text].string for lang in LANGUAGES
    }
    assert all(before.values())

    for step in ("extract", "update"):
        done = _cli(repo, "catalog", step)
        assert done.returncode == 0, done.stderr

    for language in LANGUAGES:
        po = _read(catalog.po_path(language, locales), language)
        message = po[new_text]
        assert message is not None, language
        assert message.string == before[language], language
        assert message.fuzzy, language
        # The old text stands beside it (#| msgid), so the reviewer sees what changed.
        raw = catalog.po_path(language, locales).read_text(encoding="utf-8")
        assert "#| msgid" in raw, language
    shown = _cli(repo, "catalog", "status").stdout.splitlines()
    assert len(shown) == len(LANGUAGES)
    assert all("1 to review (fuzzy)" in line for line in shown), shown

    check = _cli(repo, "check")
    assert check.returncode == 1
    for language in LANGUAGES:
        po_file = catalog.po_path(language, locales).as_posix()
        assert any(
            po_file in line and "fuzzy" in line and "A fritidsjob" in line
            for line in check.stderr.splitlines()
        ), language
    mo = catalog.po_path("tr", locales).with_suffix(".mo")
    previous = mo.read_bytes()
    compiled = _cli(repo, "catalog", "compile")
    assert compiled.returncode == 1
    assert "fuzzy" in compiled.stderr
    assert "not compiled" in compiled.stderr
    # The previous catalog stays: residents keep the reviewed translation of the old text.
    assert mo.read_bytes() == previous
    assert Catalogs(locales)["tr"].gettext(old_text) == before["tr"]

    # The reviewer confirms each translation: check passes again, compile writes the catalogs.
    for language in LANGUAGES:
        _set_translation(locales, language, new_text, before[language] + " ")
    after = _cli(repo, "check")
    assert after.returncode == 0, after.stderr[-2000:]
    assert _cli(repo, "catalog", "compile").returncode == 0
    assert Catalogs(locales)["tr"].gettext(new_text) == before["tr"] + " "


def test_removed_text_is_kept_as_obsolete_and_comes_back_translated(updated: Path) -> None:
    """A text deleted from the flows stays in every catalog as an obsolete entry (#~); putting
    the text back brings back its translation, not an empty entry."""
    locales = updated / "locales"
    menu = updated / "flows" / "menu.yaml"
    original = menu.read_text(encoding="utf-8")
    label = "Safety and emergency"
    line = '      - {label: "Safety and emergency", to: tryghed}\n'
    assert line in original
    danish = _read(catalog.po_path("da", locales), "da")[label].string
    assert danish

    menu.write_text(original.replace(line, ""), encoding="utf-8")
    catalog.extract(updated, locales)
    catalog.update(locales)
    po = _read(catalog.po_path("da", locales), "da")
    assert po[label] is None
    assert po.obsolete[label].string == danish
    assert f'#~ msgid "{label}"' in catalog.po_path("da", locales).read_text(encoding="utf-8")

    menu.write_text(original, encoding="utf-8")
    catalog.extract(updated, locales)
    catalog.update(locales)
    back = _read(catalog.po_path("da", locales), "da")[label]
    assert back is not None
    assert back.string == danish
    assert not back.fuzzy


def test_line_references_do_not_churn_when_code_moves(updated: Path) -> None:
    """Catalogs name the file of each text, not its line: adding a line of code above a text
    changes no catalog, so a review shows only real changes."""
    locales = updated / "locales"
    files = [locales / f"{DOMAIN}.pot", *(catalog.po_path(lang, locales) for lang in LANGUAGES)]
    before = {path: path.read_text(encoding="utf-8") for path in files}
    assert "#: bot/engine.py\n" in before[files[0]]
    engine = updated / "bot" / "engine.py"
    engine.write_text("# a new comment\n" + engine.read_text(encoding="utf-8"), encoding="utf-8")
    catalog.extract(updated, locales)
    catalog.update(locales)
    for path in files:
        assert _without_dates(path.read_text(encoding="utf-8")) == _without_dates(before[path])


def test_an_interrupted_write_leaves_the_catalog_whole(
    updated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If writing fails half way (disk full, Ctrl-C), the old .po is still there, complete."""
    locales = updated / "locales"
    path = catalog.po_path("so", locales)
    before = path.read_bytes()

    def fail(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(catalog.os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        catalog.update(locales, ("so",))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


# -- placeholders and fuzzy entries ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "wrong"),
    [
        ("tr", "Kaynak: son kontrol %(date)s"),  # the web address is lost
        ("ar", "المصدر: %(url)s، آخر تحقق %(date)s %(name)s"),  # KeyError for residents
        ("ckb", "سەرچاوە: %(link)s، دوایین پشکنین %(date)s"),  # misspelt placeholder
    ],
)
def test_placeholder_mismatch_is_reported(updated: Path, language: str, wrong: str) -> None:
    locales = updated / "locales"
    _set_translation(locales, language, SOURCE, wrong)
    [status] = catalog.status(locales, (language,))
    assert any(SOURCE[:20] in p and "placeholder" in p for p in status.problems), [
        p for p in status.problems if SOURCE[:20] in p
    ]


def test_fuzzy_entry_is_reported_and_not_shown(updated: Path) -> None:
    locales = updated / "locales"
    msgid = "Choose your language."
    path = catalog.po_path("tr", locales)
    po = _read(path, "tr")
    message = po[msgid]
    assert message is not None
    message.string = "Dilinizi seçin (taslak)."
    message.flags.add("fuzzy")
    _write(path, po)

    [status] = catalog.status(locales, ("tr",))
    assert status.fuzzy >= 1
    assert any("fuzzy" in p and msgid in p for p in status.problems)
    assert status.share < 1.0

    for mo in locales.rglob("*.mo"):
        mo.unlink()
    with pytest.raises(catalog.CatalogRefused) as refused:
        catalog.compile_all(locales, ("da", "tr"))
    assert all("/tr/" in problem for problem in refused.value.problems)
    assert catalog.po_path("da", locales).with_suffix(".mo").is_file()
    assert not path.with_suffix(".mo").exists()
    tr = Catalogs(locales)["tr"]
    # The unchecked draft never reaches residents: without a Turkish catalog they read Danish.
    assert tr.gettext(msgid) != "Dilinizi seçin (taslak)."
    assert tr.gettext(msgid) == Catalogs(locales)["da"].gettext(msgid)


def test_check_fails_on_a_fuzzy_entry(updated: Path) -> None:
    locales = updated / "locales"
    path = catalog.po_path("so", locales)
    po = _read(path, "so")
    message = po["Choose your language."]
    assert message is not None
    message.flags.add("fuzzy")
    _write(path, po)
    check = _cli(updated, "check")
    assert check.returncode == 1
    assert any(
        "fuzzy" in line and "Choose your language." in line for line in check.stderr.splitlines()
    )


# -- compiling ----------------------------------------------------------------------------------


def test_compile_all_writes_mo_files_that_catalogs_load(repo: Path) -> None:
    locales = repo / "locales"
    for mo in locales.rglob("*.mo"):
        mo.unlink()
    assert Catalogs(locales).missing() == list(LANGUAGES)
    catalog.compile_all(locales)
    for language in LANGUAGES:
        assert (locales / language / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file()
    loaded = Catalogs(locales)
    assert loaded.missing() == []
    for language in LANGUAGES:
        po = _read(catalog.po_path(language, locales), language)
        translated = [m for m in po if m.id and isinstance(m.id, str) and m.string]
        assert translated, language
        for message in translated[:20]:
            if not message.fuzzy:
                assert loaded[language].gettext(message.id) == message.string


# -- the shipped catalogs -----------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_shipped_catalog_is_complete(language: str) -> None:
    """`catalog status` at 100 % with no problem (missing, fuzzy, placeholder) per language."""
    [status] = catalog.status(languages=(language,))
    assert status.problems == ()
    assert status.fuzzy == 0
    assert status.translated == status.total > 0
    assert status.share == 1.0


def test_shipped_template_is_up_to_date(tmp_path: Path) -> None:
    """A fresh extraction from the code and flows adds nothing the shipped template lacks, so
    status and check are not judging an old template."""
    fresh = catalog.extract(REPO, tmp_path)
    shipped = _read(REPO / "locales" / f"{DOMAIN}.pot")
    fresh_ids = {m.id for m in fresh if m.id}
    shipped_ids = {m.id for m in shipped if m.id}
    assert sorted(map(str, fresh_ids - shipped_ids)) == []
    assert sorted(map(str, shipped_ids - fresh_ids)) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_shipped_catalog_translates_every_text_in_code_and_flows(
    language: str, tmp_path: Path
) -> None:
    fresh = catalog.extract(REPO, tmp_path)
    po = _read(catalog.po_path(language), language)
    untranslated = []
    for message in fresh:
        if not message.id:
            continue
        entry = po[message.id]
        if (
            entry is None
            or entry.fuzzy
            or not all(entry.string if entry.pluralizable else [entry.string])
        ):
            untranslated.append(message.id)
    assert untranslated == []


def test_shipped_check_passes(tmp_path: Path) -> None:
    """`vollsmose-bot check` on the repository as shipped exits 0."""
    env = dict(os.environ)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "OK:" in done.stdout


@pytest.mark.parametrize("language", LANGUAGES)
def test_shipped_catalog_header_notes_native_review(language: str) -> None:
    po = _read(catalog.po_path(language), language)
    assert REVIEW in po.header_comment
    assert po.locale is not None
    assert str(po.locale) == language


# -- the glossary and the review's findings -------------------------------------------------------


def test_a_translation_that_drops_a_danish_name_is_refused(updated: Path) -> None:
    """Residents ask for "Lægevagten" on the phone: a translation that renames it fails check."""
    locales = updated / "locales"
    msgid = "Lægevagten (out-of-hours doctor)"
    _set_translation(locales, "tr", msgid, "Nöbetçi doktor")
    [status] = catalog.status(locales, ("tr",))
    assert any("'Lægevagten' (GLOSSARY.md)" in p and msgid in p for p in status.problems)
    assert "Lægevagten" in catalog.glossary_names(locales)
    assert "Odense NØ" in catalog.glossary_names(locales)


PRIVACY = "What this bot keeps:"


@pytest.mark.parametrize(
    ("language", "where", "wrong", "why"),
    [
        ("ku", PRIVACY, r"parastin|diparêze", "protect, where the privacy text means keep"),
        ("ku", "", r"karê (malê|xwe yê malê)", "household chores, where homework is meant"),
        ("so", "", r"ciidaha", "the Eid festivals, where public holidays are meant"),
        ("so", "", r"shaqo ma jirto", "a statement, where the rule forbids work"),
        ("ar", "", r"(?<![\d.])2 (ساعة|يوم)", "a number without agreement: ساعتان, يومين"),
        ("tr", "", r"okul(un)? yanında", "a job beside the school building"),
    ],
)
def test_review_findings_are_fixed(language: str, where: str, wrong: str, why: str) -> None:
    """Wording found wrong in review (not yet a native review) stays out of the catalogs."""
    po = _read(catalog.po_path(language), language)
    found = [
        m.id
        for m in po
        if isinstance(m.id, str)
        and m.id.startswith(where)
        and isinstance(m.string, str)
        and re.search(wrong, m.string.lower())
    ]
    assert found == [], why


@pytest.mark.parametrize("language", ["so", "ku", "ckb"])
def test_laegevagten_label_is_not_your_own_doctor(language: str) -> None:
    """The emergency screen's "Lægevagten (doctor)" button says out-of-hours or on duty, the
    same words as the card, not a word that reads as the resident's own doctor."""
    po = _read(catalog.po_path(language), language)
    label = po["Lægevagten (doctor)"]
    card = po["Lægevagten (out-of-hours doctor)"]
    assert label is not None
    assert card is not None
    explained = label.string.split("(", 1)[1].rstrip(")")
    assert explained in card.string


def test_an_eighth_language_is_one_edit_plus_its_catalog(repo: Path) -> None:
    """Adding "vi" to LANGUAGES in bot/i18n.py is the only code change: `catalog update`
    creates its catalog, pathway keywords may name it, and `check` asks only for its
    translations."""
    i18n = repo / "bot" / "i18n.py"
    text = i18n.read_text(encoding="utf-8")
    shipped = '("da", "ar", "tr", "so", "ku", "ckb", "en")'
    assert text.count(shipped) == 1
    i18n.write_text(text.replace(shipped, shipped[:-1] + ', "vi")'), encoding="utf-8")
    flows = repo / "flows" / "mentor.yaml"
    flows.write_text(
        flows.read_text(encoding="utf-8").replace(
            "keywords:\n", "keywords:\n  vi: [việc làm]\n", 1
        ),
        encoding="utf-8",
    )
    assert _cli(repo, "catalog", "update").returncode == 0
    created = repo / "locales" / "vi" / "LC_MESSAGES" / "messages.po"
    assert created.is_file()
    assert REVIEW in _read(created, "vi").header_comment
    check = _cli(repo, "check")
    assert check.returncode == 1
    problems = [line for line in check.stderr.splitlines() if ".po:" in line or ".po: " in line]
    assert problems
    assert all("/vi/" in line for line in problems), problems[:5]
    assert "Content error" not in check.stderr


def test_extract_walks_a_yaml_bomb_in_no_time() -> None:
    """Ten lines of nested aliases would make the extractor walk 43 million nodes; each node is
    walked once, so the one text in it is extracted once."""
    import io

    from bot.i18n_extract import extract_flows

    lines = ['a: &a [{text: "Hello from the bomb"}, {text: "Hello from the bomb"}]']
    for before, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{before}'] * 9)}]")
    lines.append("screens: *h")
    found = list(extract_flows(io.BytesIO("\n".join(lines).encode()), None, None, {}))
    assert [message for _, _, message, _ in found] == ["Hello from the bomb"] * 2
