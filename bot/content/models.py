"""Typed content: goals, screens, pathways and the service directory, as read from flows/*.yaml."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from bot.i18n import LANGUAGES

# Keys whose string values are shown to residents: the Babel extractor for flow files takes exactly
# these, and the engine passes exactly these through gettext.
TRANSLATABLE_KEYS = frozenset(
    {"text", "label", "name", "description", "for_whom", "meets", "how_to_join"}
)

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
# Button targets the engine builds itself: the language picker ("lang", "lang:da") and the
# association directory ("associations", "associations.sport"). No screen may take these ids, nor
# ids that start with them and a dot, so a button's data always means one thing.
PICKER = "lang"
DIRECTORY = "associations"
RESERVED_IDS = frozenset({PICKER, DIRECTORY})
# The directory's "every age" choice; no age group may take this id.
ALL_AGES = "all"


def is_reserved(screen_id: str) -> bool:
    """Whether a screen id is, or starts like, a target the engine builds itself."""
    return screen_id.split(".")[0] in RESERVED_IDS


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RANGE = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


class Strict(BaseModel):
    """Base for content models: unknown keys are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=48)]
Text = Annotated[str, Field(min_length=1, max_length=3500)]


def _parse_time_ranges(value: object) -> tuple[tuple[dt.time, dt.time], ...]:
    """Turn "09:00-12:00, 13:00-15:30" into ordered (start, end) pairs, or raise a content error."""
    ranges = []
    for part in str(value).split(","):
        match = _TIME_RANGE.match(part.strip())
        hours = [int(g) for g in match.groups()] if match else []
        past_midnight = bool(hours) and hours[2] == 24 and hours[3] != 0
        if (
            not hours
            or hours[0] > 23
            or hours[2] > 24
            or hours[1] > 59
            or hours[3] > 59
            or past_midnight
        ):
            raise PydanticCustomError(
                "time_range",
                '"{value}" is not a time range like 09:00-12:00',
                {"value": part.strip()},
            )
        start = dt.time(hours[0], hours[1])
        end = dt.time.max if hours[2] == 24 else dt.time(hours[2], hours[3])
        if end <= start:
            raise PydanticCustomError(
                "time_range", '"{value}" ends before it starts', {"value": part.strip()}
            )
        ranges.append((start, end))
    return tuple(sorted(ranges))


class Goal(Strict):
    """A strategic goal of the housing social plan: counts store its slug, reports its name."""

    name: Text
    # The years of the housing social plan the goal belongs to, e.g. "2021-2024".
    plan_period: str = Field(pattern=r"^\d{4}-\d{4}$")
    lbf_area: str

    @model_validator(mode="after")
    def _period_in_order(self) -> Goal:
        first, last = self.plan_years
        if last < first:
            raise PydanticCustomError(
                "plan_period",
                "plan_period {value} ends before it starts",
                {"value": self.plan_period},
            )
        return self

    @property
    def plan_years(self) -> tuple[int, int]:
        first, last = self.plan_period.split("-")
        return int(first), int(last)

    @property
    def plan_dates(self) -> tuple[dt.date, dt.date]:
        """The first and last day of the plan period."""
        first, last = self.plan_years
        return dt.date(first, 1, 1), dt.date(last, 12, 31)


class GoalsFile(Strict):
    goals: dict[Id, Goal] = Field(min_length=1)


class Source(Strict):
    """Where the facts on a screen come from, shown under its text."""

    url: str = Field(pattern=r"^https?://")
    checked: dt.date


class Button(Strict):
    """A button on a screen: it leads to another screen or shows a service's contact card."""

    label: Text
    to: Id | None = None
    service: Id | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Button:
        if (self.to is None) == (self.service is None):
            raise PydanticCustomError(
                "button_target", "a button needs exactly one of to or service"
            )
        return self


class Screen(Strict):
    """One message of a pathway: a short text and the buttons under it."""

    text: Text
    buttons: list[Button] = Field(default_factory=list, max_length=12)
    source: Source | None = None


# The shipped languages, from their one list in bot/i18n.py.
LanguageCode = Literal[LANGUAGES]  # type: ignore[valid-type]
Phrases = list[Annotated[str, Field(min_length=1, max_length=300)]]
Keywords = dict[LanguageCode, Phrases]


class Emergency(Strict):
    """The screen with emergency and crisis numbers: one tap from every screen."""

    screen: Id


class CrisisKind(Strict):
    """One kind of danger: what a crisis reply says first, and the line it offers first."""

    text: Text
    line: Id


# The signal list in crisis.yaml for worries that may or may not be danger.
UNCERTAIN = "uncertain"


class CrisisFile(Strict):
    """Danger signals per language and kind, and what the bot answers to them."""

    kinds: dict[Id, CrisisKind] = Field(min_length=1)
    # Shown above the suggestions when a message holds an uncertain signal only.
    uncertain: Text
    signals: dict[LanguageCode, dict[Id, Phrases]] = Field(min_length=1)
    # Messages from someone in danger, per language: the typed-text model learns from them to
    # show the numbers beside the suggestions when a message reads like these but holds no
    # phrase above.
    examples: Keywords = Field(default_factory=dict)


class UnderstandingFile(Strict):
    """How typed words are read: suffixes per language, and messages that mean "show the menu"."""

    # Cut from the end of a word before it is compared, longest first, for languages without a
    # Snowball stemmer (Somali, Kurmanji, Sorani).
    suffixes: Keywords = Field(default_factory=dict)
    # How many letters an ending may add to a word of a crisis phrase, per language: a short
    # limit where endings are short (English "fire" must not match "fireworks").
    endings: dict[LanguageCode, Annotated[int, Field(ge=0, le=20)]] = Field(default_factory=dict)
    # Sorani suffixes that an Arabic keyboard splits off as separate words.
    joins: Keywords = Field(default_factory=dict)
    # Greetings, thanks and chatter: the bot answers them with the menu.
    chitchat: Keywords = Field(default_factory=dict)
    # The two pathways a plain word for "work" stands between: the teenagers', then the adults'.
    # Both are offered, and an age in the message (13-17, or older) says which comes first.
    work: tuple[Id, Id] | None = None


class MenuFile(Strict):
    start: Id
    emergency: Emergency | None = None
    # Known /start payloads (t.me/<bot>?start=library) counted per source; others count as "other".
    sources: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]] = Field(
        default_factory=list
    )
    screens: dict[Id, Screen] = Field(min_length=1)


class PathwayFile(Strict):
    pathway: Id
    goal: Id
    keywords: Keywords = Field(default_factory=dict)
    # Messages residents might type about this pathway, per language: the typed-text model learns
    # from them at start-up.
    examples: Keywords = Field(default_factory=dict)
    screens: dict[Id, Screen] = Field(min_length=1)


class Location(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


TimeRanges = tuple[tuple[dt.time, dt.time], ...]
Hours = Annotated[TimeRanges, BeforeValidator(_parse_time_ranges)]


class Service(Strict):
    """An entry of the directory; showing its contact card is what counts as a referral."""

    name: Text
    goals: list[Id] = Field(min_length=1)
    description: Text
    for_whom: Text | None = None
    # sample: contact details made up or not yet confirmed; every card built from it says so.
    # verified_on and source: when staff last confirmed the details, and where (a web address,
    # "phoned the library"); a national number ships verified from its public source.
    sample: bool = False
    verified_on: dt.date | None = None
    source: Text | None = None
    # Days the service is closed besides Danish public holidays (which close it unless
    # holidays_open is set).
    closed: list[dt.date] = Field(default_factory=list)
    holidays_open: bool = False
    address: str | None = None
    location: Location | None = None
    hours: dict[Weekday, Hours] = Field(default_factory=dict)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ]{3,20}$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
    web: str | None = Field(default=None, pattern=r"^https?://")
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _verified_or_sample(self) -> Service:
        if self.sample and self.verified_on is not None:
            raise PydanticCustomError(
                "sample_verified",
                "an entry with verified_on is confirmed: remove sample: true",
            )
        if self.verified_on is not None and self.source is None:
            raise PydanticCustomError(
                "verified_without_source",
                "verified_on needs a source: where the details were confirmed",
            )
        return self


class ServicesFile(Strict):
    services: dict[Id, Service] = Field(min_length=1)


class Category(Strict):
    label: Text


class AgeGroup(Strict):
    label: Text
    min: int = Field(ge=0, le=120)
    max: int = Field(ge=0, le=120)


class Association(Service):
    """A local association: a directory entry browsed by category and age group."""

    goals: list[Id] = Field(default_factory=lambda: ["civilsamfund"], min_length=1)
    category: Id
    ages: list[Id] = Field(min_length=1)
    meets: Text | None = None
    how_to_join: Text | None = None


class AssociationsFile(Strict):
    # The contact card offered beside the categories: for starting an association or volunteering.
    consultant: Id | None = None
    categories: dict[Id, Category] = Field(min_length=1)
    age_groups: dict[Id, AgeGroup] = Field(min_length=1)
    associations: dict[Id, Association] = Field(default_factory=dict)
