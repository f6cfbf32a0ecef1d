"""Load flows/*.yaml into one validated Content, or fail naming every problem by its place."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.content.models import (
    ALL_AGES,
    DIRECTORY,
    ID_PATTERN,
    UNCERTAIN,
    AssociationsFile,
    CrisisFile,
    Emergency,
    Goal,
    GoalsFile,
    MenuFile,
    PathwayFile,
    Screen,
    Service,
    ServicesFile,
    UnderstandingFile,
    is_reserved,
)

GOALS_FILE = "goals.yaml"
MENU_FILE = "menu.yaml"
SERVICES_FILE = "services.yaml"
ASSOCIATIONS_FILE = "associations.yaml"
CRISIS_FILE = "crisis.yaml"
UNDERSTANDING_FILE = "understanding.yaml"
_SPECIAL_FILES = {
    GOALS_FILE,
    MENU_FILE,
    SERVICES_FILE,
    ASSOCIATIONS_FILE,
    CRISIS_FILE,
    UNDERSTANDING_FILE,
}
# The browsable association directory (a button with `to: associations` opens it) is DIRECTORY.
__all__ = ["DIRECTORY", "Content", "ContentError", "Problem", "load_content"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the content, named by file, line and the path inside it."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ContentError(Exception):
    """The content folder cannot be used; str() lists every problem, one a line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Content:
    """All content, validated and cross-referenced; the engine reads only this."""

    directory: Path
    version: str
    goals: dict[str, Goal]
    start: str
    screens: dict[str, Screen]
    pathways: dict[str, PathwayFile]
    services: dict[str, Service]
    pathway_of: dict[str, str] = field(default_factory=dict)
    parent_of: dict[str, str] = field(default_factory=dict)
    emergency: Emergency | None = None
    sources: frozenset[str] = frozenset()
    associations: AssociationsFile | None = None
    crisis: CrisisFile | None = None
    understanding: UnderstandingFile = field(default_factory=UnderstandingFile)
    # The file each screen is written in ("flows/job.yaml"), to name it in problems.
    origin: dict[str, str] = field(default_factory=dict)

    def file_of(self, service_id: str) -> str:
        """The file a directory entry is written in, and its section there."""
        section = "associations" if service_id in self._association_ids else "services"
        return f"{self.directory.name}/{section}.yaml"

    @property
    def _association_ids(self) -> frozenset[str]:
        return frozenset(self.associations.associations) if self.associations else frozenset()


# The C parser (libyaml) reads the content ten times faster when PyYAML was built with it.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL = "tag:yaml.org,2002:null"
# Every plain scalar is a string, as if quoted: YAML 1.1 reads an unquoted `no` as False, `112`
# as a number and `14:00` as 840. The models give each value its type. Only an empty value or ~
# means "not given".
_STRINGS_ONLY = {"": [(_NULL, re.compile(r"^(?:~|)$"))], "~": [(_NULL, re.compile(r"^~$"))]}


class _UniqueKeys(yaml.constructor.SafeConstructor):
    """A YAML loader mixin that refuses a key written twice in a mapping (PyYAML overwrites)."""

    yaml_implicit_resolvers = _STRINGS_ONLY

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"{key!r} is defined twice (first on line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


class _UniqueKeyLoader(_UniqueKeys, _SafeLoader):  # type: ignore[misc,valid-type]
    """The fast loader for content files."""


class _PureUniqueKeyLoader(_UniqueKeys, yaml.SafeLoader):
    """The loader whose error messages are shown."""


def _compose_and_load(text: str, loader: type[Any]) -> tuple[yaml.Node | None, Any]:
    """Parse once: the node tree (for line numbers) and the data built from it."""
    reader = loader(text)
    try:
        node = reader.get_single_node()
        return node, (reader.construct_document(node) if node is not None else None)
    finally:
        reader.dispose()


def locate(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The line (from 1) where the value at a location such as ("services", "x", "hours", "mon")
    is written: the line of its key, or of the nearest enclosing one that exists."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        elif part != "[key]":
            return line
    return line


def locate_in_file(path: Path, loc: tuple[Any, ...]) -> int | None:
    """locate() in a content file read again (for checks made after loading)."""
    try:
        node, _data = _compose_and_load(path.read_text(encoding="utf-8"), _UniqueKeyLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return locate(node, loc)


def format_path(loc: tuple[Any, ...]) -> str:
    """Render a pydantic location as services.fritidsjob-hjaelp.hours.mon or buttons[1].to."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f'["{part}"]'
    return out


def _message(error: Any) -> str:
    """Phrase a pydantic error for a staff member editing YAML."""
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key"
    if kind == "string_pattern_mismatch":
        if error["ctx"]["pattern"] == ID_PATTERN:
            return f"{error['input']!r} is not an id (lowercase letters, digits, '.', '_', '-')"
        if error["loc"][-1:] == ("plan_period",):
            return f"{error['input']!r} is not a plan period like 2021-2024"
        return f"{error['input']!r} does not have the expected form"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return f"{error['input']!r} is not a date like 2026-12-01"
    if kind in ("bool_parsing", "bool_type"):
        return f"{error['input']!r} is not true or false"
    return str(error["msg"])


class _Reader:
    """Reads one content folder, collecting problems instead of stopping at the first."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.problems: list[Problem] = []
        # Each file's node tree, to give every problem found later its line.
        self.nodes: dict[str, yaml.Node | None] = {}

    def name(self, path: Path) -> str:
        return f"{self.directory.name}/{path.name}"

    def add(self, file: str, loc: tuple[Any, ...], message: str) -> None:
        """Record a problem at a location inside a file (an empty location: the whole file)."""
        line = locate(self.nodes.get(file), loc) if loc else None
        self.problems.append(Problem(file, format_path(loc), message, line))

    def parse(self, path: Path, model: type[M]) -> M | None:
        """Read one YAML file into a model, recording any problem under the file's name."""
        name = self.name(path)
        try:
            text = path.read_text(encoding="utf-8")
            try:
                node, data = _compose_and_load(text, _UniqueKeyLoader)
            except yaml.YAMLError:
                # Read again with the pure-Python parser, whose messages are clearer and the
                # same on every machine, with or without libyaml.
                node, data = _compose_and_load(text, _PureUniqueKeyLoader)
        except OSError as exc:
            self.add(name, (), f"cannot be read ({exc.strerror})")
            return None
        except UnicodeDecodeError as exc:
            self.add(name, (), f"is not UTF-8 text (byte {exc.start}); save it as UTF-8")
            return None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line = mark.line + 1 if mark else None
            self.problems.append(Problem(name, "", str(exc.problem), line))
            return None
        except yaml.YAMLError as exc:
            self.add(name, (), f"is not valid YAML ({exc})")
            return None
        self.nodes[name] = node
        try:
            return model.model_validate(data if data is not None else {})
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                self.add(name, tuple(error["loc"]), _message(error))
            return None


def _version(directory: Path, files: list[Path]) -> str:
    """A short fingerprint of the content, carried in every button to tell stale ones apart."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:6]


def load_content(directory: Path) -> Content:
    """Read and validate a content folder; raise ContentError listing every problem found."""
    directory = Path(directory).resolve()
    reader = _Reader(directory)
    if not directory.is_dir():
        raise ContentError([Problem(str(directory), "", "is not a folder")])
    files = sorted(directory.glob("*.yaml"))
    for required in (GOALS_FILE, MENU_FILE, SERVICES_FILE):
        if not (directory / required).is_file():
            reader.add(f"{directory.name}/{required}", (), "is missing")
    if reader.problems:
        raise ContentError(reader.problems)

    goals = reader.parse(directory / GOALS_FILE, GoalsFile)
    menu = reader.parse(directory / MENU_FILE, MenuFile)
    services = reader.parse(directory / SERVICES_FILE, ServicesFile)
    associations = None
    if (directory / ASSOCIATIONS_FILE).is_file():
        associations = reader.parse(directory / ASSOCIATIONS_FILE, AssociationsFile)
    crisis = None
    if (directory / CRISIS_FILE).is_file():
        crisis = reader.parse(directory / CRISIS_FILE, CrisisFile)
    understanding: UnderstandingFile | None = UnderstandingFile()
    if (directory / UNDERSTANDING_FILE).is_file():
        understanding = reader.parse(directory / UNDERSTANDING_FILE, UnderstandingFile)
    pathways: dict[str, tuple[Path, PathwayFile]] = {}
    for path in files:
        if path.name in _SPECIAL_FILES:
            continue
        pathway = reader.parse(path, PathwayFile)
        if pathway is None:
            continue
        if pathway.pathway in pathways:
            other = reader.name(pathways[pathway.pathway][0])
            reader.add(
                reader.name(path), ("pathway",), f"{pathway.pathway!r} is already used in {other}"
            )
            continue
        pathways[pathway.pathway] = (path, pathway)
    if (
        reader.problems
        or goals is None
        or menu is None
        or services is None
        or understanding is None
    ):
        raise ContentError(reader.problems)

    # Every screen, wherever it is defined, with the file and pathway it came from.
    screens: dict[str, Screen] = {}
    origin: dict[str, str] = {}
    pathway_of: dict[str, str] = {}
    sources = [(directory / MENU_FILE, None, menu.screens)] + [
        (path, p.pathway, p.screens) for path, p in pathways.values()
    ]
    for path, pathway_id, file_screens in sources:
        for screen_id, screen in file_screens.items():
            if is_reserved(screen_id):
                reader.add(
                    reader.name(path),
                    ("screens", screen_id),
                    "this id is reserved for the bot's own screens",
                )
                continue
            if screen_id in screens:
                reader.add(
                    reader.name(path),
                    ("screens", screen_id),
                    f"id is already used in {origin[screen_id]}",
                )
                continue
            screens[screen_id] = screen
            origin[screen_id] = reader.name(path)
            if pathway_id is not None:
                pathway_of[screen_id] = pathway_id

    for path, pathway in pathways.values():
        if pathway.goal not in goals.goals:
            reader.add(
                reader.name(path), ("goal",), f"{pathway.goal!r} is not a goal in {GOALS_FILE}"
            )
    if menu.start not in screens:
        reader.add(
            reader.name(directory / MENU_FILE), ("start",), f"screen {menu.start!r} does not exist"
        )
    if menu.emergency is not None and menu.emergency.screen not in screens:
        reader.add(
            reader.name(directory / MENU_FILE),
            ("emergency", "screen"),
            f"screen {menu.emergency.screen!r} does not exist",
        )
    for service_id, service in services.services.items():
        for i, goal in enumerate(service.goals):
            if goal not in goals.goals:
                reader.add(
                    reader.name(directory / SERVICES_FILE),
                    ("services", service_id, "goals", i),
                    f"{goal!r} is not a goal in {GOALS_FILE}",
                )
    all_services: dict[str, Service] = dict(services.services)
    if crisis is not None:
        _check_crisis(reader, directory / CRISIS_FILE, crisis, services.services)
    if associations is not None:
        _check_associations(
            reader, directory / ASSOCIATIONS_FILE, associations, all_services, goals.goals
        )
        all_services.update(associations.associations)
    targets = set(screens) | ({DIRECTORY} if associations is not None else set())
    for screen_id, screen in screens.items():
        for i, button in enumerate(screen.buttons):
            where = ("screens", screen_id, "buttons", i)
            if button.to is not None and button.to not in targets:
                reader.add(
                    origin[screen_id],
                    (*where, "to"),
                    f"screen {button.to!r} does not exist",
                )
            if button.service is not None and button.service not in all_services:
                reader.add(
                    origin[screen_id],
                    (*where, "service"),
                    f"service {button.service!r} is not in {SERVICES_FILE}",
                )
    if reader.problems:
        raise ContentError(reader.problems)

    parent_of = _parents(menu.start, screens)
    for screen_id in screens:
        if screen_id not in parent_of and screen_id != menu.start:
            reader.add(
                origin[screen_id],
                ("screens", screen_id),
                "cannot be reached from the menu",
            )
    if reader.problems:
        raise ContentError(reader.problems)

    return Content(
        directory=directory,
        version=_version(directory, files),
        goals=dict(goals.goals),
        start=menu.start,
        screens=screens,
        pathways={pid: p for pid, (_path, p) in pathways.items()},
        services=all_services,
        pathway_of=pathway_of,
        parent_of=parent_of,
        emergency=menu.emergency,
        sources=frozenset(menu.sources),
        associations=associations,
        origin=origin,
        crisis=crisis,
        understanding=understanding,
    )


def _check_crisis(
    reader: _Reader, path: Path, crisis: CrisisFile, services: dict[str, Service]
) -> None:
    """Each kind's line is a service, and each signal list names a kind (or "uncertain")."""
    name = reader.name(path)
    for kind_id, kind in crisis.kinds.items():
        if kind.line not in services:
            reader.add(
                name, ("kinds", kind_id, "line"), f"service {kind.line!r} is not in {SERVICES_FILE}"
            )
    for language, lists in crisis.signals.items():
        for kind_id in lists:
            if kind_id != UNCERTAIN and kind_id not in crisis.kinds:
                reader.add(
                    name,
                    ("signals", language, kind_id),
                    f"{kind_id!r} is not one of the kinds above, nor {UNCERTAIN!r}",
                )


def _check_associations(
    reader: _Reader,
    path: Path,
    directory: AssociationsFile,
    services: dict[str, Service],
    goals: dict[str, Goal],
) -> None:
    """Associations name known categories, age groups and goals, and no service's id."""
    name = reader.name(path)
    if directory.consultant is not None and directory.consultant not in services:
        reader.add(
            name, ("consultant",), f"service {directory.consultant!r} is not in {SERVICES_FILE}"
        )
    for group_id, group in directory.age_groups.items():
        if group.min > group.max:
            reader.add(name, ("age_groups", group_id), "min is greater than max")
    # Directory pages are "associations.<category>.<age>.<page>" in button data: a dot inside
    # either id, or an age group called "all" (everyone), would make a page mean two things.
    for section, ids in (
        ("categories", directory.categories),
        ("age_groups", directory.age_groups),
    ):
        for item_id in ids:
            if "." in item_id:
                reader.add(name, (section, item_id), "this id may not contain '.': use '-'")
    if ALL_AGES in directory.age_groups:
        reader.add(name, ("age_groups", ALL_AGES), f"{ALL_AGES!r} is reserved for every age")
    for entry_id, entry in directory.associations.items():
        where = ("associations", entry_id)
        if entry_id in services:
            reader.add(name, where, f"id is already used in {SERVICES_FILE}")
        if entry.category not in directory.categories:
            reader.add(name, (*where, "category"), f"{entry.category!r} is not a category")
        for i, age in enumerate(entry.ages):
            if age not in directory.age_groups:
                reader.add(name, (*where, "ages", i), f"{age!r} is not an age group")
        for i, goal in enumerate(entry.goals):
            if goal not in goals:
                reader.add(name, (*where, "goals", i), f"{goal!r} is not a goal in {GOALS_FILE}")


def _parents(start: str, screens: dict[str, Screen]) -> dict[str, str]:
    """Breadth-first from the menu: each screen's parent is the first screen that leads to it."""
    parent_of: dict[str, str] = {}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for button in screens[current].buttons:
            target = button.to
            if target is not None and target != start and target not in parent_of:
                parent_of[target] = current
                if target in screens:  # the association directory is built, not a screen
                    queue.append(target)
    return parent_of


# -- freshness: checks that depend on today's date, so they warn instead of refusing to load --


STALE_AFTER = dt.timedelta(days=90)


def stale_entries(content: Content, today: dt.date) -> list[tuple[str, dt.date]]:
    """Entries whose details were last verified more than 90 days before today, oldest first."""
    stale = [
        (service_id, service.verified_on)
        for service_id, service in content.services.items()
        if service.verified_on is not None and today - service.verified_on > STALE_AFTER
    ]
    return sorted(stale, key=lambda item: (item[1], item[0]))


def freshness_warnings(content: Content, today: dt.date) -> list[Problem]:
    """What staff should look at soon: an ended plan period, entries verified long ago."""
    warnings = []
    goals_file = content.directory / GOALS_FILE
    for slug, goal in content.goals.items():
        if goal.plan_dates[1] < today:
            loc = ("goals", slug, "plan_period")
            warnings.append(
                Problem(
                    f"{content.directory.name}/{GOALS_FILE}",
                    format_path(loc),
                    f"the plan period {goal.plan_period} has ended: check with staff which plan "
                    "and goal names apply now, then update goals.yaml (keep the slug)",
                    locate_in_file(goals_file, loc),
                )
            )
    for service_id, verified_on in stale_entries(content, today):
        file = content.file_of(service_id)
        section = file.rsplit("/", 1)[-1].removesuffix(".yaml")
        loc = (section, service_id, "verified_on")
        warnings.append(
            Problem(
                file,
                format_path(loc),
                f"last verified {verified_on.isoformat()}, more than "
                f"{STALE_AFTER.days} days ago: confirm the details with the service again",
                locate_in_file(content.directory / file.rsplit("/", 1)[-1], loc),
            )
        )
    return warnings
