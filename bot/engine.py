"""The conversation engine: (button data or typed text, language) -> reply; no Telegram here."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_day_names

from bot.content import Content
from bot.content.models import (
    ALL_AGES,
    DIRECTORY,
    PICKER,
    WEEKDAYS,
    Association,
    Screen,
    Service,
)
from bot.hours import OpenState, danish_holidays, open_state
from bot.i18n import (
    FALLBACK_LANGUAGE,
    LANGUAGES,
    Catalogs,
    Translator,
    native_name,
    picker_order,
)
from bot.understanding import Reading, Understanding

# Button data is "v<content version>:<target>" or "v<content version>:<target>~<origin>".
# Targets: a screen id, "@<service id>" for a contact card, "associations", "associations.<cat>"
# or "associations.<cat>.<age>.<page>" in the association directory, "lang" for the language
# picker and "lang:<code>" for a choice in it. The origin is the screen (or directory page) the
# button was pressed on, when that is not the target's usual parent: Back returns there, and a
# card counts under the goal of the pathway that led to it. Everything is in the button, nothing
# in server memory. Telegram allows 64 bytes; `vollsmose-bot check` builds every button to see.
# In the data, "#" stands for "associations." (and "#" alone for "associations"), to save room.
_DATA = re.compile(r"^v([0-9a-f]{6}):([a-z0-9_.@:#-]{1,64})(?:~([a-z0-9_.@#-]{1,64}))?$")
ORIGIN = "~"
SHORT_DIRECTORY = "#"
MAX_DATA_BYTES = 64
DEFAULT_TIMEZONE = ZoneInfo("Europe/Copenhagen")
PAGE_SIZE = 6
LANGUAGE_PREFIX = "lang:"
CARD_PREFIX = "@"


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str


@dataclass(frozen=True, slots=True)
class Venue:
    """Where a service is, and the label of the button that shows it on a map."""

    latitude: float
    longitude: float
    title: str
    address: str
    label: str = ""

    @property
    def url(self) -> str:
        """OpenStreetMap at the pin: no account, no tracking, opens in any browser."""
        lat, lon = f"{self.latitude:.5f}", f"{self.longitude:.5f}"
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}"


@dataclass(frozen=True, slots=True)
class Referral:
    """A contact card was shown: count one referral to this service under this goal."""

    service: str
    goal: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What to show: text, rows of buttons, maybe a place for a map, what to count or remember."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    venue: Venue | None = None
    referral: Referral | None = None
    language: str | None = None
    screen: str = ""
    # Typed text that matched nothing; counted per day, the text itself is never kept.
    unmatched: bool = False
    # Typed text about danger: the kinds found (crisis.yaml), or ("uncertain",) for a worry
    # answered with the numbers beside the suggestions.
    danger: tuple[str, ...] = ()
    # A call-back request: ask for a phone number (Telegram's contact button, a web form field).
    phone: bool = False
    # Shown before the reply (on Telegram a message of its own, which also takes the phone
    # keyboard away).
    notice: str = ""
    # Holds what the resident gave (a phone number): a face must not cache or log it.
    personal: bool = False


class Engine:
    """Turns content and catalogs into replies; Telegram and the console are its two faces."""

    def __init__(
        self,
        content: Content,
        catalogs: Catalogs,
        timezone: ZoneInfo = DEFAULT_TIMEZONE,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.content = content
        self.catalogs = catalogs
        self.timezone = timezone
        # Contact cards say whether a service is open now; tests pass a fixed clock.
        self.clock = clock or (lambda: dt.datetime.now(timezone))
        self._prefix = f"v{content.version}:"
        self._card_parent = self._card_parents()
        self._cached_screen = lru_cache(maxsize=4096)(self._render_screen)
        self._cached_card = lru_cache(maxsize=1024)(self._render_card)
        emergency = content.emergency
        self._emergency = emergency.screen if emergency else None
        self._cached_crisis = lru_cache(maxsize=256)(self._render_crisis)
        self._cached_suggestions = lru_cache(maxsize=1024)(self._render_suggestions)
        self._training = threading.Lock()
        self._understanding: Understanding | None = None

    @property
    def understanding(self) -> Understanding:
        """The typed-text reader, trained on first use (about 0.15 s): buttons need none of it,
        so `vollsmose-bot run` builds it in the background while the bot starts."""
        # A lock, not cached_property: the background thread and a resident's first message may
        # both ask, and since Python 3.12 cached_property would train the model twice.
        with self._training:
            if self._understanding is None:
                content = self.content
                self._understanding = Understanding.build(
                    {pid: (p.keywords, p.examples) for pid, p in content.pathways.items()},
                    content.crisis,
                    content.understanding,
                    content.understanding.work,
                )
            return self._understanding

    def warm_up(self) -> None:
        """Load what the first typed message and the first cards would otherwise load while
        residents wait: the model, the holidays, and CLDR's data for every language a card shows
        (dates and times in each shipped language, the names of the languages staff speak)."""
        self.understanding  # noqa: B018 (trains the model)
        now = self.clock().astimezone(self.timezone)
        danish_holidays({now.year, now.year + 1})  # a card looks two weeks ahead
        services = self.content.services.values()
        for code in sorted({code for service in services for code in service.languages}):
            native_name(code)
        # One card with opening hours in each language reads that language's day names and times.
        if timed := next((service for service in services if service.hours), None):
            for language in LANGUAGES:
                render_card(timed, self.catalogs[language], now)

    # -- entry points ----------------------------------------------------------------------------

    def data(self, target: str, origin: str | None = None) -> str:
        """The callback data of a button that leads to target, pressed on origin."""
        if origin:
            return f"{self._prefix}{_shorten(target)}{ORIGIN}{_shorten(origin)}"
        return self._prefix + _shorten(target)

    @staticmethod
    def parse(data: str | None) -> tuple[str, str | None]:
        """(target, origin) of button data; ("", None) for data this bot never made."""
        match = _DATA.fullmatch(data or "")
        if match is None:
            return "", None
        origin = match.group(3)
        return _lengthen(match.group(2)), _lengthen(origin) if origin else None

    def press(self, data: str | None, language: str) -> Reply:
        """Answer a button press; unknown, forged or stale data leads to the current menu."""
        target, origin = self.parse(data)
        if origin is not None and not self._known(origin):
            origin = None  # a place removed since: Back goes to the usual parent instead
        if target == PICKER:
            return self.picker(language)
        if target.startswith(LANGUAGE_PREFIX) and target[len(LANGUAGE_PREFIX) :] in LANGUAGES:
            chosen = target[len(LANGUAGE_PREFIX) :]
            menu = self.menu(chosen)
            return Reply(menu.text, menu.buttons, language=chosen, screen=menu.screen)
        if target.startswith(CARD_PREFIX) and target[1:] in self.content.services:
            return self.card(target[1:], language, origin)
        if target in self.content.screens:
            return self.screen(target, language, origin)
        if self._is_directory(target):
            return self.directory(target, language, origin)
        return self.updated(language)

    def _is_directory(self, target: str) -> bool:
        return self.content.associations is not None and target.split(".")[0] == DIRECTORY

    def _known(self, target: str) -> bool:
        """Whether a place can be returned to: a screen, a card, or a directory page."""
        if target in self.content.screens:
            return True
        if target.startswith(CARD_PREFIX):
            return target[1:] in self.content.services
        if not self._is_directory(target):
            return False
        assert self.content.associations is not None
        parts = target.split(".")
        return len(parts) == 1 or parts[1] in self.content.associations.categories

    def menu(self, language: str) -> Reply:
        """The main menu."""
        return self.screen(self.content.start, language)

    def screen(self, screen_id: str, language: str, origin: str | None = None) -> Reply:
        """One content screen with its buttons, and Back to origin (by default its parent)."""
        if origin in (screen_id, self.content.parent_of.get(screen_id)):
            origin = None
        return self._cached_screen(screen_id, language, origin)

    def picker(self, language: str | None, hint: str | None = None) -> Reply:
        """The language picker: every language named in its own script, the likely one first."""
        tr = self.catalogs[language or ""]
        _ = tr.gettext
        order = picker_order(language or hint)
        buttons = [Button(native_name(code), self.data(LANGUAGE_PREFIX + code)) for code in order]
        return Reply(
            # Translators: shown above the buttons that name every language in its own script.
            _("Choose your language."),
            tuple(_rows(buttons, 2)),
            screen=PICKER,
        )

    def updated(self, language: str) -> Reply:
        """The answer to a button that no longer exists: say so and show the current menu."""
        tr = self.catalogs[language]
        _ = tr.gettext
        menu = self.menu(language)
        # Translators: a resident pressed a button from an old message whose screen is gone.
        text = _("This menu was updated. Here is the current menu.")
        return Reply(f"{tr.bidi(text)}\n\n{menu.text}", menu.buttons, screen="updated")

    def typed(self, text: str, language: str) -> Reply:
        """Answer typed text: danger with the numbers at once, a topic with "did you mean"
        buttons, and anything else with the menu (counted as unmatched)."""
        return self.answer(self.understanding.read(text, language), language)

    def answer(self, reading: Reading, language: str) -> Reply:
        """The reply to what a typed message was understood to mean."""
        if reading.danger and self._emergency:
            return self._cached_crisis(reading.danger, language)
        if not reading.topics and not reading.uncertain:
            pointer = self.pointer(language)
            return Reply(pointer.text, pointer.buttons, screen=pointer.screen, unmatched=True)
        return self._cached_suggestions(reading.topics, reading.uncertain, language)

    def _render_crisis(self, kinds: tuple[str, ...], language: str) -> Reply:
        """The emergency numbers, led by what fits the danger and the line for it."""
        crisis = self.content.crisis
        assert crisis is not None
        assert self._emergency is not None
        tr = self.catalogs[language]
        numbers = self.screen(self._emergency, language)
        # The cards of the lines that fit come first, in the order of the kinds found (a line
        # the emergency screen lacks is added, as pressed there), then the rest of the screen.
        first = [CARD_PREFIX + line for line in dict.fromkeys(crisis.kinds[k].line for k in kinds)]
        targets = [self.parse(row[0].data)[0] for row in numbers.buttons]
        rows = [
            numbers.buttons[targets.index(card)]
            if card in targets
            else (
                Button(
                    tr.bidi(tr.gettext(self.content.services[card[1:]].name)),
                    self.data(card, self._emergency),
                ),
            )
            for card in first
        ]
        rows += [
            row for row, target in zip(numbers.buttons, targets, strict=True) if target not in first
        ]
        texts = dict.fromkeys(tr.gettext(crisis.kinds[kind].text) for kind in kinds)
        text = tr.bidi("\n\n".join(texts)) + "\n\n" + numbers.text
        return Reply(text, tuple(rows), screen=self._emergency, danger=kinds)

    def _render_suggestions(self, topics: tuple[str, ...], uncertain: bool, language: str) -> Reply:
        tr = self.catalogs[language]
        _ = tr.gettext
        danger = ("uncertain",) if uncertain else ()
        warning = _(self.content.crisis.uncertain) if uncertain and self.content.crisis else ""
        if not topics:
            # A worry but no topic: the numbers above the menu, and the numbers one tap away.
            pointer = self.pointer(language)
            sos = self._nav(self.content.start, tr)[-1:]
            return Reply(
                tr.bidi(warning) + "\n\n" + pointer.text,
                (*pointer.buttons, *bidi_rows([sos], tr)),
                screen="pointer",
                danger=danger,
                unmatched=True,
            )
        labels = [self._topic_label(topic, tr) for topic in topics]
        if len(topics) == 1:
            # Translators: %(topic)s is the name of a part of the menu, e.g. "Fritidsjob".
            text = _("Did you mean: %(topic)s?") % {"topic": labels[0]}
        else:
            text = _("Did you mean one of these?")
        if warning:
            text = warning + "\n\n" + text
        rows: list[tuple[Button, ...]] = [
            (Button(label, self.data(t)),) for label, t in zip(labels, topics, strict=True)
        ]
        rows.append(self._nav(self.content.start, tr))
        reply = self._reply(text, rows, tr, "suggest")
        return Reply(reply.text, reply.buttons, screen="suggest", danger=danger)

    def directory(self, target: str, language: str, origin: str | None = None) -> Reply:
        """The association directory: kinds of association, then a list (two taps from the
        pathway), which offers to narrow it by age only where that leaves something.

        Targets: "associations", "associations.<category>" (everyone, first page) and
        "associations.<category>.<age or all>.<page>".
        """
        directory = self.content.associations
        assert directory is not None
        tr = self.catalogs[language]
        _ = tr.gettext
        parts = target.split(".")
        if len(parts) == 1:
            rows: list[tuple[Button, ...]] = [
                (Button(_(category.label), self.data(f"{DIRECTORY}.{category_id}")),)
                for category_id, category in directory.categories.items()
                if self._entries(category_id, ALL_AGES)
            ]
            rows += self._consultant_row(DIRECTORY, tr)
            if origin == self.content.parent_of.get(DIRECTORY):
                origin = None
            back = origin or self.content.parent_of.get(DIRECTORY, self.content.start)
            rows.append(self._nav(back, tr, here=DIRECTORY))
            # Translators: above the list of kinds of association (sport, culture, ...).
            return self._reply(_("What kind of association are you looking for?"), rows, tr, target)
        category = directory.categories.get(parts[1])
        if category is None or len(parts) not in (2, 4):
            return self.updated(language)
        age, page = (ALL_AGES, 0) if len(parts) == 2 else (parts[2], parts[3])
        if (age != ALL_AGES and age not in directory.age_groups) or not str(page).isdigit():
            return self.updated(language)
        entries = self._entries(parts[1], age)
        pages = max(1, -(-len(entries) // PAGE_SIZE))
        page = min(int(page), pages - 1)
        here = self._list_target(parts[1], age, page)
        shown = entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        rows = [
            (Button(_(entry.name), self.data(CARD_PREFIX + entry_id, here)),)
            for entry_id, entry in shown
        ]
        paging = []
        if page > 0:
            paging.append(
                Button("‹ " + _("Previous"), self.data(self._list_target(parts[1], age, page - 1)))
            )
        if page + 1 < pages:
            paging.append(
                Button(_("Next") + " ›", self.data(self._list_target(parts[1], age, page + 1)))
            )
        if paging:
            rows.append(tuple(paging))
        everyone = self._entries(parts[1], ALL_AGES)
        if age == ALL_AGES:
            # Only the age groups that narrow the list and still leave something in it.
            narrower = [
                Button(_(group.label), self.data(self._list_target(parts[1], group_id, 0)))
                for group_id, group in directory.age_groups.items()
                if 0 < len(self._entries(parts[1], group_id)) < len(everyone)
            ]
            rows += _rows(narrower, 2)
        elif len(entries) < len(everyone):
            rows.append((Button(_("All ages"), self.data(f"{DIRECTORY}.{parts[1]}")),))
        if not entries:
            rows += self._consultant_row(here, tr)
            text = _("No associations found for this choice yet.")
        else:
            # Translators: the number of associations found, e.g. "3 associations".
            text = tr.ngettext("%(count)d association", "%(count)d associations", len(entries)) % {
                "count": len(entries)
            }
            if age != ALL_AGES:
                text += " · " + _(directory.age_groups[age].label)
            if pages > 1:
                # Translators: paging through a list, e.g. "page 2 of 3".
                text += " · " + _("page %(page)d of %(pages)d") % {"page": page + 1, "pages": pages}
        back = f"{DIRECTORY}.{parts[1]}" if age != ALL_AGES else DIRECTORY
        rows.append(self._nav(back, tr, here=here))
        return self._reply(f"{_(category.label)}: {text}", rows, tr, here)

    def _entries(self, category: str, age: str) -> list[tuple[str, Association]]:
        """The associations of a category, for an age group or for everyone (ALL_AGES)."""
        assert self.content.associations is not None
        return [
            (entry_id, entry)
            for entry_id, entry in self.content.associations.associations.items()
            if entry.category == category and (age == ALL_AGES or age in entry.ages)
        ]

    @staticmethod
    def _list_target(category: str, age: str, page: int) -> str:
        """A list page's target, in its shortest form for the first page of everyone."""
        if age == ALL_AGES and page == 0:
            return f"{DIRECTORY}.{category}"
        return f"{DIRECTORY}.{category}.{age}.{page}"

    def _consultant_row(self, here: str, tr: Translator) -> list[tuple[Button, ...]]:
        """The district consultant's card, offered beside the directory and where it is empty."""
        directory = self.content.associations
        if directory is None or not directory.consultant:
            return []
        consultant = self.content.services[directory.consultant]
        data = self.data(CARD_PREFIX + directory.consultant, here)
        return [(Button(tr.gettext(consultant.name), data),)]

    def _reply(
        self, text: str, rows: list[tuple[Button, ...]], tr: Translator, screen: str
    ) -> Reply:
        """A reply with right-to-left-safe text and labels."""
        return Reply(tr.bidi(text), bidi_rows(rows, tr), screen=screen)

    def _topic_label(self, screen_id: str, tr: Translator) -> str:
        """What the menu calls a pathway: the label of the menu button that leads to it."""
        for button in self.content.screens[self.content.start].buttons:
            if button.to == screen_id:
                return tr.gettext(button.label)
        return screen_id

    def source(self, payload: str) -> str:
        """The counted name of a /start deep-link payload: a known source, or "other"."""
        return payload if payload in self.content.sources else "other"

    def pointer(self, language: str) -> Reply:
        """Point a resident who typed or sent something the bot cannot read to the menu buttons."""
        tr = self.catalogs[language]
        _ = tr.gettext
        menu = self.menu(language)
        # Translators: answer to a message, sticker, photo or voice note the bot cannot read.
        text = _("I work best with the buttons. Please choose from the menu.")
        return Reply(f"{tr.bidi(text)}\n\n{menu.text}", menu.buttons, screen="pointer")

    def slow_down(self, language: str) -> Reply:
        """The one answer a flooding resident gets before a short pause."""
        tr = self.catalogs[language]
        _ = tr.gettext
        # Translators: sent once when someone sends very many messages in a short time.
        return Reply(tr.bidi(_("Please slow down a little. I will answer again in half a minute.")))

    def card(self, service_id: str, language: str, origin: str | None = None) -> Reply:
        """A service's contact card, its place on a map, and the referral it counts: under the goal
        of the pathway that led to it (origin) when the service serves that goal."""
        now = self.clock().astimezone(self.timezone).replace(second=0, microsecond=0)
        if origin is not None and (origin.startswith(CARD_PREFIX) or not self._known(origin)):
            origin = None
        return self._cached_card(service_id, language, now, origin)

    def card_parent(self, service_id: str) -> str:
        """Where Back on a card leads when the button did not say where it was pressed."""
        service = self.content.services[service_id]
        if isinstance(service, Association):
            return f"{DIRECTORY}.{service.category}"
        return self._card_parent.get(service_id, self.content.start)

    def pathway_goal(self, place: str) -> str | None:
        """The goal of the pathway a screen or directory page belongs to, if any."""
        if self._is_directory(place):
            place = self.content.parent_of.get(DIRECTORY, "")
        pathway = self.content.pathway_of.get(place)
        return self.content.pathways[pathway].goal if pathway else None

    def _render_card(
        self, service_id: str, language: str, now: dt.datetime, origin: str | None
    ) -> Reply:
        # Cached per minute: "open now" cannot change within one.
        service = self.content.services[service_id]
        tr = self.catalogs[language]
        _ = tr.gettext
        back = origin or self.card_parent(service_id)
        goal = self.pathway_goal(origin) if origin else None
        if goal not in service.goals:
            goal = service.goals[0]
        venue = None
        if service.location is not None:
            venue = Venue(
                service.location.lat,
                service.location.lon,
                _(service.name),
                service.address or "",
                # Translators: a button under a contact card that opens a map at the address.
                tr.bidi("🗺 " + _("Show on map")),
            )
        return Reply(
            tr.bidi(render_card(service, tr, now)),
            bidi_rows([self._nav(back, tr, here=back)], tr),
            venue=venue,
            referral=Referral(service_id, goal),
            screen=CARD_PREFIX + service_id,
        )

    def help(self, language: str) -> Reply:
        """What the bot does and how to use it."""
        tr = self.catalogs[language]
        _ = tr.gettext
        text = _(
            "This bot helps residents of Vollsmose find local help: parent counselling, "
            "mentoring, leisure jobs for young people, local associations and safety.\n\n"
            "Tap the buttons to move around. /menu shows the main menu, /language changes "
            "the language, /privacy says what the bot keeps about you, and /forget deletes it."
        )
        return Reply(tr.bidi(text), self.menu(language).buttons, screen="help")

    def privacy(self, language: str) -> Reply:
        """An accurate account of what the bot keeps."""
        tr = self.catalogs[language]
        _ = tr.gettext
        text = _(
            "What this bot keeps:\n\n"
            "- Counts only: how many times each service was shown per day, and how many people "
            "used each language per day. Your name, username, Telegram id and messages are "
            "never stored or logged.\n"
            "- Your language choice, so the bot speaks your language after a restart. It is "
            "stored under a scrambled code made from your Telegram id with a secret key, with "
            "the month you last used the bot, and deleted after six months without use.\n\n"
            "Send /forget to delete your language choice now."
        )
        # Translators: a paragraph of /privacy, after the list of what the bot keeps.
        counted = _(
            "The bot also counts, per day, how many people came from each poster or link (for "
            "example the library's), and how many typed messages it did not understand. What you "
            "type is read to answer you, and never kept."
        )
        stolen = _(
            "If someone stole the bot's files and its secret key, they could check, for a "
            "Telegram id they already know, which language that person chose and the month they "
            "last used the bot. Finding out who is behind every stored choice would take them "
            "years of computing. The counts say nothing about any one person."
        )
        text = f"{text}\n\n{counted}\n\n{stolen}"
        return Reply(tr.bidi(text), self.menu(language).buttons, screen="privacy")

    def forgotten(self, language: str) -> Reply:
        """Confirm that the stored language choice was deleted."""
        tr = self.catalogs[language]
        _ = tr.gettext
        text = _("Your language choice is deleted. The bot keeps nothing else about you.")
        return Reply(tr.bidi(text), self.picker(language).buttons, screen="forget")

    # -- checking ---------------------------------------------------------------------------------

    def audit(self) -> Iterator[tuple[str, tuple[str | int, ...], str]]:
        """Build every button a resident can be shown, from every place it can be shown on, and
        yield (file, path in it, problem) for data too long for Telegram or leading nowhere."""
        seen: set[str] = set()
        queue = deque([self.data(self.content.start), self.data(PICKER)])
        while queue:
            data = queue.popleft()
            if data in seen:
                continue
            seen.add(data)
            size = len(data.encode())
            target, _origin = self.parse(data)
            if size > MAX_DATA_BYTES or not target:
                yield (
                    *self._blame(data),
                    (
                        f"a button's data {data!r} is {size} bytes, Telegram allows at most "
                        f"{MAX_DATA_BYTES}: shorten this id"
                    ),
                )
                continue
            reply = self.press(data, FALLBACK_LANGUAGE)
            if reply.screen == "updated":
                yield *self._blame(data), f"a button's data {data!r} does not lead anywhere"
                continue
            queue.extend(b.data for row in reply.buttons for b in row if b.data not in seen)

    def _blame(self, data: str) -> tuple[str, tuple[str | int, ...]]:
        """The file and place of the longest id in button data: the one to shorten."""
        where: list[tuple[int, str, tuple[str | int, ...]]] = []
        for part in map(_lengthen, data.split(":", 1)[-1].split(ORIGIN)):
            if part.startswith(CARD_PREFIX) and part[1:] in self.content.services:
                service_id = part[1:]
                file = self.content.file_of(service_id)
                section = file.rsplit("/", 1)[-1].removesuffix(".yaml")
                where.append((len(service_id), file, (section, service_id)))
            elif part in self.content.screens:
                where.append((len(part), self.content.origin[part], ("screens", part)))
            elif self._is_directory(part) and self.content.associations is not None:
                file = f"{self.content.directory.name}/associations.yaml"
                pieces = part.split(".")
                if len(pieces) > 1:
                    where.append((len(pieces[1]), file, ("categories", pieces[1])))
                if len(pieces) > 2 and pieces[2] != ALL_AGES:
                    where.append((len(pieces[2]), file, ("age_groups", pieces[2])))
        if not where:
            return self.content.origin.get(self.content.start, ""), ()
        _length, file, path = max(where, key=lambda item: item[0])
        return file, path

    # -- rendering -------------------------------------------------------------------------------

    def _render_screen(self, screen_id: str, language: str, origin: str | None) -> Reply:
        screen: Screen = self.content.screens[screen_id]
        tr = self.catalogs[language]
        _ = tr.gettext
        text = _(screen.text)
        if screen.source is not None:
            # Translators: %(url)s is a web address, %(date)s a date like "26 November 2026".
            text += "\n\n" + _("Source: %(url)s, last checked %(date)s") % {
                "url": screen.source.url,
                "date": format_date(screen.source.checked, "long", locale=tr.locale),
            }
        rows: list[tuple[Button, ...]] = [
            (Button(_(b.label), self._button_data(b.to, b.service, screen_id)),)
            for b in screen.buttons
        ]
        if screen_id == self.content.start:
            row = [Button("🌐 " + _("Language"), self.data(PICKER))]
            if self._emergency:
                row.append(self._emergency_button(screen_id, tr))
            rows.append(tuple(row))
        else:
            back = origin or self.content.parent_of[screen_id]
            rows.append(self._nav(back, tr, here=screen_id))
        return self._reply(text, rows, tr, screen_id)

    def _button_data(self, to: str | None, service: str | None, here: str) -> str:
        """A content button's data: where it leads, and where it was pressed when that matters
        (for a card always, as it decides the goal counted; for a screen when it is not the
        screen's usual parent)."""
        if service is not None:
            return self.data(CARD_PREFIX + service, here)
        assert to is not None
        usual = self.content.parent_of.get(to)
        return self.data(to, None if here == usual or to == self.content.start else here)

    def _emergency_button(self, here: str, tr: Translator) -> Button:
        """🆘: the emergency and crisis numbers, whose Back returns here."""
        assert self._emergency is not None
        usual = self.content.parent_of.get(self._emergency)
        # Translators: a short button label; the emergency and crisis numbers are one tap away.
        label = "🆘 " + tr.gettext("Emergency")
        return Button(label, self.data(self._emergency, None if here == usual else here))

    def _nav(self, back: str, tr: Translator, here: str = "") -> tuple[Button, ...]:
        """The row under every screen: back, the main menu, and the emergency numbers."""
        _ = tr.gettext
        row = [Button("☰ " + _("Menu"), self.data(self.content.start))]
        if back != self.content.start:
            row.insert(0, Button("« " + _("Back"), self.data(back)))
        if self._emergency and here != self._emergency:
            row.append(self._emergency_button(here or back, tr))
        return tuple(row)

    def _card_parents(self) -> dict[str, str]:
        """For each service, the first screen (menu outwards) whose button shows its card."""
        parents: dict[str, str] = {}
        order = [self.content.start, *self.content.parent_of]
        for screen_id in filter(self.content.screens.__contains__, order):
            for button in self.content.screens[screen_id].buttons:
                if button.service and button.service not in parents:
                    parents[button.service] = screen_id
        return parents


def _shorten(target: str) -> str:
    """A target as written in button data: "associations.sport" as "#sport"."""
    if target == DIRECTORY or target.startswith(DIRECTORY + "."):
        return SHORT_DIRECTORY + target[len(DIRECTORY) + 1 :]
    return target


def _lengthen(target: str) -> str:
    """The target that button data names: "#sport" is "associations.sport"."""
    if target.startswith(SHORT_DIRECTORY):
        rest = target[len(SHORT_DIRECTORY) :]
        return f"{DIRECTORY}.{rest}" if rest else DIRECTORY
    return target


def render_card(service: Service, tr: Translator, now: dt.datetime) -> str:
    """The contact card's text: what, for whom, where, when, how to reach, which languages."""
    _ = tr.gettext
    lines = [_(service.name), "", _(service.description)]
    if service.for_whom:
        lines += ["", "👥 " + _(service.for_whom)]
    if isinstance(service, Association):
        if service.meets:
            lines += ["", "🗓 " + _(service.meets)]
        if service.how_to_join:
            lines.append("➡️ " + _(service.how_to_join))
    lines.append("")
    if service.address:
        lines.append("📍 " + service.address)
    if service.hours:
        lines.append("🕘 " + _("Opening hours:"))
        days = get_day_names("wide", locale=tr.locale)
        for index, day in enumerate(WEEKDAYS):
            if day in service.hours:
                spans = ", ".join(
                    f"{_time(start, tr.language)}–{_time(end, tr.language)}"
                    for start, end in service.hours[day]
                )
                lines.append(f"   {days[index]}: {spans}")
        state = open_state(
            service.hours,
            now,
            now.tzinfo,  # type: ignore[arg-type]
            closed=service.closed,
            observe_holidays=not service.holidays_open,
        )
        if state is not None:
            lines.append(_open_line(state, now, tr))
    if service.phone:
        lines.append("☎️ " + service.phone)
    if service.email:
        lines.append("✉️ " + service.email)
    if service.web:
        lines.append("🔗 " + service.web)
    if service.languages:
        names = ", ".join(native_name(code) for code in service.languages)
        lines.append("🗣 " + _("Staff speak: %(languages)s") % {"languages": names})
    if service.sample:
        lines += [
            "",
            # Translators: shown on a contact card whose details staff have not confirmed yet.
            "⚠️ " + _("Example entry: these contact details are not confirmed yet."),
        ]
    elif service.verified_on and service.source and service.source.startswith("https://"):
        lines += [
            "",
            _("Source: %(url)s, last checked %(date)s")
            % {
                "url": service.source,
                "date": format_date(service.verified_on, "long", locale=tr.locale),
            },
        ]
    return "\n".join(lines).strip()


def _open_line(state: OpenState, now: dt.datetime, tr: Translator) -> str:
    """ "Open now, until 17:00." or when it opens next, in the resident's words."""
    _ = tr.gettext
    if state.open_now:
        if state.closes_at is None:
            return "🟢 " + _("Open now.")
        # Translators: %(time)s is a time of day, e.g. "17:00".
        return "🟢 " + _("Open now, until %(time)s.") % {
            "time": _time(state.closes_at.time(), tr.language)
        }
    if state.opens_at is None:
        return "🔴 " + _("Closed now.")
    opens = state.opens_at
    time = _time(opens.time(), tr.language)
    days_ahead = (opens.date() - now.date()).days
    if days_ahead == 0:
        # Translators: %(time)s is a time of day, e.g. "09:00".
        return "🔴 " + _("Closed now. Opens today at %(time)s.") % {"time": time}
    if days_ahead == 1:
        return "🔴 " + _("Closed now. Opens tomorrow at %(time)s.") % {"time": time}
    day = format_date(opens.date(), _weekday_and_date(tr.language), locale=tr.locale)
    # Translators: %(day)s is a weekday and date, e.g. "Monday 30 November"; %(time)s "09:00".
    return "🔴 " + _("Closed now. Opens %(day)s at %(time)s.") % {"day": day, "time": time}


@lru_cache(maxsize=64)
def _weekday_and_date(language: str) -> str:
    """The locale's own way to write a weekday and date, without the year: "mandag den 30.
    november", "Monday, November 30", "30 Kasım Pazartesi" (CLDR's full date, year removed)."""
    pattern = Locale.parse(language).date_formats["full"].pattern
    return re.sub(r"^y+(?:'[^']*')?[\s,،]*|[\s,،]*y+(?:'[^']*')?", "", pattern).strip()


@lru_cache(maxsize=1024)
def _time(value: dt.time, language: str) -> str:
    """A time of day on a 24-hour clock, in the locale's own 24-hour form ("14.00" in Danish)
    or as 14:00: services in Denmark, and the signs on their doors, keep a 24-hour clock, so
    "2:00 PM" would read differently from the sign; a right-to-left "2:00 م" would also
    scramble inside its isolated left-to-right span."""
    pattern = Locale.parse(language).time_formats["short"].pattern
    if "h" in pattern or "K" in pattern or "a" in pattern:
        pattern = "HH:mm"
    return format_time(value, pattern, locale=language)


def bidi_rows(rows: Iterable[tuple[Button, ...]], tr: Translator) -> tuple[tuple[Button, ...], ...]:
    """Buttons with right-to-left-safe labels (a no-op for left-to-right languages)."""
    if not tr.rtl:
        return tuple(rows)
    return tuple(tuple(Button(tr.bidi(b.label), b.data) for b in row) for row in rows)


def _rows(buttons: Iterable[Button], width: int) -> list[tuple[Button, ...]]:
    row: list[Button] = []
    rows: list[tuple[Button, ...]] = []
    for button in buttons:
        row.append(button)
        if len(row) == width:
            rows.append(tuple(row))
            row = []
    if row:
        rows.append(tuple(row))
    return rows
