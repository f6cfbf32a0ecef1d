"""The catalog pipeline: extract messages.pot, update each language's .po, compile .mo, check."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, LANGUAGES, LOCALES_DIR, catalog_file

ROOT = LOCALES_DIR.parent
FLOW_EXTRACTOR = "bot.i18n_extract:extract_flows"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
_PLACEHOLDER = re.compile(r"%\((\w+)\)")
REVIEW_NOTE = "This translation awaits review by a native speaker."


@dataclass(frozen=True)
class Status:
    language: str
    translated: int
    total: int
    fuzzy: int
    problems: tuple[str, ...]

    @property
    def share(self) -> float:
        return self.translated / self.total if self.total else 1.0


def po_path(language: str, locales: Path = LOCALES_DIR) -> Path:
    return catalog_file(locales, language, ".po")


def extract(
    root: Path = ROOT, locales: Path | None = LOCALES_DIR, flows: Path | None = None
) -> Catalog:
    """Collect every msgid from the code (root/bot) and the flow files (flows, by default
    root/flows) into locales/messages.pot; with locales=None only return it, as `check` does."""
    template = Catalog(project="vollsmose-bot", msgid_bugs_address="", fuzzy=False)
    sources = [
        (root, [("bot/**.py", "python")]),
        (flows or root / "flows", [("**.yaml", FLOW_EXTRACTOR)]),
    ]
    for folder, method_map in sources:
        for filename, _lineno, message, comments, context in extract_from_dir(
            folder,
            method_map=method_map,
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        ):
            name = filename if folder == root else f"{folder.name}/{filename}"
            # The file without its line: line numbers would change every catalog on every edit
            # of the code above a text, burying real changes in review. (Babel writes a location
            # without a line for None, though its type hints ask for an int.)
            location = [(name, None)]
            template.add(message, None, location, auto_comments=comments, context=context)  # type: ignore[arg-type]
    if locales is not None:
        _write_po(locales / f"{DOMAIN}.pot", template)
    return template


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace path with data in one step, so an interrupted write never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_po(path: Path, catalog: Catalog) -> None:
    """Write a .po or .pot atomically, obsolete entries and previous msgids kept for review."""
    out = io.BytesIO()
    write_po(out, catalog, width=100, include_previous=True, include_lineno=False)
    _atomic_write(path, out.getvalue())


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def update(locales: Path = LOCALES_DIR, languages: tuple[str, ...] = LANGUAGES) -> None:
    """Bring every language's .po in line with messages.pot without losing a translation.

    A changed text keeps its old translation, marked fuzzy (with the old msgid beside it) until a
    reviewer confirms it; a removed text is kept as an obsolete entry (#~), and comes back
    translated if the text returns."""
    template = _read(locales / f"{DOMAIN}.pot")
    for language in languages:
        path = po_path(language, locales)
        if path.is_file():
            catalog = _read(path, language)
        else:
            catalog = Catalog(locale=language, project="vollsmose-bot", fuzzy=False)
            catalog.header_comment = f"# {language}: {REVIEW_NOTE}"
        # Obsolete entries take part in matching again, so an edit undone restores its text.
        for message in list(catalog.obsolete.values()):
            if message.id not in catalog:
                catalog[message.id] = message
        catalog.obsolete.clear()
        catalog.update(template, no_fuzzy_matching=False, update_header_comment=False)
        catalog.revision_date = dt.datetime.now(dt.UTC)
        _write_po(path, catalog)


class CatalogRefused(Exception):
    """A catalog has problems `check` would refuse; str() lists them, one a line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def compile_all(locales: Path = LOCALES_DIR, languages: tuple[str, ...] = LANGUAGES) -> None:
    """Write each .po to its .mo, refusing (CatalogRefused) every catalog that `check` refuses:
    a misspelt placeholder would otherwise be a KeyError for residents. A refused catalog keeps
    its previous .mo; the others are compiled."""
    refused: list[str] = []
    for result in status(locales, languages):
        path = po_path(result.language, locales)
        if result.problems:
            refused += result.problems
            continue
        out = io.BytesIO()
        write_mo(out, _read(path, result.language))
        _atomic_write(path.with_suffix(".mo"), out.getvalue())
    if refused:
        raise CatalogRefused(refused)


def status(
    locales: Path = LOCALES_DIR,
    languages: tuple[str, ...] = LANGUAGES,
    template: Catalog | None = None,
    flows: Path | None = None,
) -> list[Status]:
    """Per language: how much is translated, what is fuzzy, and Babel's check() problems,
    against `template` (by default the texts in the code and in `flows` right now)."""
    if template is None:
        template = extract(locales.parent, locales=None, flows=flows)
    ids = {message.id for message in template if message.id}
    glossary = glossary_names(locales)
    result = []
    for language in languages:
        path = po_path(language, locales)
        if not path.is_file():
            result.append(Status(language, 0, len(ids), 0, (f"{path}: is missing",)))
            continue
        catalog = _read(path, language)
        translated = fuzzy = 0
        problems = []
        for message in catalog:
            if not message.id or message.id not in ids:
                continue
            strings = (
                message.string if isinstance(message.string, tuple | list) else [message.string]
            )
            complete = all(strings)
            if message.fuzzy:
                fuzzy += 1
                problems.append(
                    f"{path}:{message.lineno}: fuzzy (the text changed; review the translation, "
                    f"then remove the fuzzy flag): {_short(message.id)}"
                )
            elif complete:
                translated += 1
            else:
                problems.append(f"{path}:{message.lineno}: untranslated: {_short(message.id)}")
        for message, errors in catalog.check():
            for error in errors:
                problems.append(f"{path}:{message.lineno}: {error}: {_short(message.id)}")
        for message in catalog:
            # Babel's check() misses a placeholder that the translation dropped. Plural forms
            # are left out: Arabic's zero, one and two forms may rightly omit %(count)d.
            msgid, string = message.id, message.string
            if isinstance(msgid, str) and msgid and isinstance(string, str) and string:
                for name in sorted(_placeholders(msgid) - _placeholders(string)):
                    problems.append(
                        f"{path}:{message.lineno}: placeholder missing from the translation: "
                        f"%({name})s: {_short(message.id)}"
                    )
        for message in catalog:
            # Residents meet the offers under their Danish names (GLOSSARY.md): a translation
            # of a text that names one keeps the name as it is.
            if message.id in ids and isinstance(message.id, str) and message.string:
                for name in glossary:
                    if name.lower() in message.id.lower() and (
                        name.lower() not in str(message.string).lower()
                    ):
                        problems.append(
                            f"{path}:{message.lineno}: the Danish name {name!r} (GLOSSARY.md) "
                            f"is missing from the translation: {_short(message.id)}"
                        )
        missing = ids - {message.id for message in catalog if message.id}
        problems += [f"{path}: not in the catalog (run update): {_short(m)}" for m in missing]
        result.append(Status(language, translated, len(ids), fuzzy, tuple(problems)))
    return result


def glossary_names(locales: Path = LOCALES_DIR) -> list[str]:
    """The Danish names of locales/GLOSSARY.md's table, which every translation keeps as is."""
    path = locales / "GLOSSARY.md"
    if not path.is_file():
        return []
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0] or cells[0].startswith(("Danish name", "---")):
            continue
        names += [name for name in re.split(r"\s*[/,]\s*", cells[0]) if name]
    return names


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _short(msgid: object) -> str:
    text = msgid[0] if isinstance(msgid, tuple) else str(msgid)
    text = text.replace("\n", " ")
    return repr(text if len(text) <= 60 else text[:57] + "...")
