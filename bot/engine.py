"""The conversation engine: (button data or typed text, language) -> reply; no Telegram here."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_day_names

from bot.content import Content
from bot.content.loader import DIRECTORY
from bot.content.models import WEEKDAYS, Association, Screen, Service
from bot.hours import OpenState, open_state
from bot.i18n import LANGUAGES, Catalogs, Translator, is_rtl, native_name, picker_order
from bot.matching import KeywordIndex, read_words

# Button data is "v<content version>:<target>"; targets are a screen id, "@<service id>" for a
# contact card, "lang" for the language picker or "lang:<code>" for a choice in it.
_DATA = re.compile(r"^v([0-9a-f]{6}):([a-z0-9_.@:-]{1,60})$")
DEFAULT_TIMEZONE = ZoneInfo("Europe/Copenhagen")
PICKER = "lang"
ALL_AGES = "all"
PAGE_SIZE = 6
LANGUAGE_PREFIX = "lang:"
CARD_PREFIX = "@"


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str


@dataclass(frozen=True, slots=True)
class Venue:
    latitude: float
    longitude: float
    title: str
    address: str


@dataclass(frozen=True, slots=True)
class Referral:
    """A contact card was shown: count one referral to this service under this goal."""

    service: str
    goal: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What to show: text, rows of buttons, maybe a venue pin, and what to count or remember."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    venue: Venue | None = None
    referral: Referral | None = None
    language: str | None = None
    screen: str = ""
    # Typed text that matched nothing; counted per day, the text itself is never kept.
    unmatched: bool = False


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
        keywords: dict[str, list[str]] = {}
        for pathway_id, pathway in content.pathways.items():
            keywords[pathway_id] = [w for words in pathway.keywords.values() for w in words]
        self._topics = KeywordIndex(keywords)
        # Crisis words jump without asking, so a near miss must be very near: at 80, Danish
        # "efter" (after) would be Kurmanji "xeter" (danger).
        self._crisis = KeywordIndex(
            {emergency.screen: [w for ws in emergency.keywords.values() for w in ws]}
            if emergency
            else {},
            cutoff=90.0,
        )

    # -- entry points ----------------------------------------------------------------------------

    def data(self, target: str) -> str:
        """The callback data of a button that leads to target."""
        return self._prefix + target

    def press(self, data: str | None, language: str) -> Reply:
        """Answer a button press; unknown, forged or stale data leads to the current menu."""
        match = _DATA.fullmatch(data or "")
        target = match.group(2) if match else ""
        if target == PICKER:
            return self.picker(language)
        if target.startswith(LANGUAGE_PREFIX) and target[len(LANGUAGE_PREFIX) :] in LANGUAGES:
            chosen = target[len(LANGUAGE_PREFIX) :]
            menu = self.menu(chosen)
            return Reply(menu.text, menu.buttons, language=chosen, screen=menu.screen)
        if target.startswith(CARD_PREFIX) and target[1:] in self.content.services:
            return self.card(target[1:], language)
        if target in self.content.screens:
            return self.screen(target, language)
        if self.content.associations is not None and target.split(".")[0] == DIRECTORY:
            return self.directory(target, language)
        return self.updated(language)

    def menu(self, language: str) -> Reply:
        """The main menu."""
        return self.screen(self.content.start, language)

    def screen(self, screen_id: str, language: str) -> Reply:
        """One content screen with its buttons and the way back."""
        return self._cached_screen(screen_id, language)

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
        """Answer typed text: crisis words lead straight to the emergency numbers, other known
        words to a "did you mean" button, and anything else to the menu (counted as unmatched)."""
        words = read_words(text)
        if self._emergency and self._crisis.match(words, limit=1):
            return self.screen(self._emergency, language)
        matches = self._topics.match(words)
        if not matches:
            pointer = self.pointer(language)
            return Reply(pointer.text, pointer.buttons, screen=pointer.screen, unmatched=True)
        tr = self.catalogs[language]
        _ = tr.gettext
        labels = [self._topic_label(match.target, tr) for match in matches]
        if len(matches) == 1:
            # Translators: %(topic)s is the name of a part of the menu, e.g. "Fritidsjob".
            text = _("Did you mean: %(topic)s?") % {"topic": labels[0]}
        else:
            text = _("Did you mean one of these?")
        rows: list[tuple[Button, ...]] = [
            (Button(label, self.data(m.target)),) for label, m in zip(labels, matches, strict=True)
        ]
        rows.append(self._nav(self.content.start, tr))
        return self._reply(text, rows, tr, "suggest")

    def directory(self, target: str, language: str) -> Reply:
        """The association directory: categories, then age groups, then pages of associations.

        Targets: "associations", "associations.<category>", "associations.<category>.<age>.<page>".
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
            ]
            if directory.consultant:
                consultant = self.content.services[directory.consultant]
                target_card = CARD_PREFIX + directory.consultant
                rows.append((Button(_(consultant.name), self.data(target_card)),))
            back = self.content.parent_of.get(DIRECTORY, self.content.start)
            rows.append(self._nav(back, tr))
            # Translators: above the list of kinds of association (sport, culture, ...).
            return self._reply(_("What kind of association are you looking for?"), rows, tr, target)
        category = directory.categories.get(parts[1])
        if category is None:
            return self.updated(language)
        if len(parts) == 2:
            choices = [(ALL_AGES, _("All ages"))] + [
                (age_id, _(age.label)) for age_id, age in directory.age_groups.items()
            ]
            rows = [
                (Button(label, self.data(f"{target}.{age_id}.0")),) for age_id, label in choices
            ]
            rows.append(self._nav(DIRECTORY, tr))
            # Translators: %(category)s is a kind of association, e.g. "Sport".
            text = _("%(category)s: who is it for?") % {"category": _(category.label)}
            return self._reply(text, rows, tr, target)
        if len(parts) != 4 or not parts[3].isdigit():
            return self.updated(language)
        age, page = parts[2], int(parts[3])
        if age != ALL_AGES and age not in directory.age_groups:
            return self.updated(language)
        entries = [
            (entry_id, entry)
            for entry_id, entry in directory.associations.items()
            if entry.category == parts[1] and (age == ALL_AGES or age in entry.ages)
        ]
        pages = max(1, -(-len(entries) // PAGE_SIZE))
        page = min(page, pages - 1)
        shown = entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        rows = [
            (Button(_(entry.name), self.data(CARD_PREFIX + entry_id)),) for entry_id, entry in shown
        ]
        paging = []
        if page > 0:
            paging.append(
                Button("‹ " + _("Previous"), self.data(f"{DIRECTORY}.{parts[1]}.{age}.{page - 1}"))
            )
        if page + 1 < pages:
            paging.append(
                Button(_("Next") + " ›", self.data(f"{DIRECTORY}.{parts[1]}.{age}.{page + 1}"))
            )
        if paging:
            rows.append(tuple(paging))
        rows.append(self._nav(f"{DIRECTORY}.{parts[1]}", tr))
        if not entries:
            text = _("No associations found for this choice yet.")
        else:
            # Translators: the number of associations found, e.g. "3 associations".
            text = tr.ngettext("%(count)d association", "%(count)d associations", len(entries)) % {
                "count": len(entries)
            }
            if pages > 1:
                # Translators: paging through a list, e.g. "page 2 of 3".
                text += " · " + _("page %(page)d of %(pages)d") % {"page": page + 1, "pages": pages}
        return self._reply(f"{_(category.label)}: {text}", rows, tr, target)

    def _reply(
        self, text: str, rows: list[tuple[Button, ...]], tr: Translator, screen: str
    ) -> Reply:
        """A reply with right-to-left-safe text and labels."""
        return Reply(tr.bidi(text), _bidi_rows(rows, tr), screen=screen)

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

    def card(self, service_id: str, language: str) -> Reply:
        """A service's contact card, its venue pin, and the referral it counts."""
        now = self.clock().astimezone(self.timezone).replace(second=0, microsecond=0)
        return self._cached_card(service_id, language, now)

    def _render_card(self, service_id: str, language: str, now: dt.datetime) -> Reply:
        # Cached per minute: "open now" cannot change within one.
        service = self.content.services[service_id]
        tr = self.catalogs[language]
        _ = tr.gettext
        back = self._card_parent.get(service_id, self.content.start)
        if isinstance(service, Association):
            back = f"{DIRECTORY}.{service.category}"
        venue = None
        if service.location is not None:
            venue = Venue(
                service.location.lat,
                service.location.lon,
                _(service.name),
                service.address or "",
            )
        return Reply(
            tr.bidi(render_card(service, tr, now)),
            _bidi_rows([self._nav(back, tr)], tr),
            venue=venue,
            referral=Referral(service_id, service.goals[0]),
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
        return Reply(tr.bidi(text), self.menu(language).buttons, screen="privacy")

    def forgotten(self, language: str) -> Reply:
        """Confirm that the stored language choice was deleted."""
        tr = self.catalogs[language]
        _ = tr.gettext
        text = _("Your language choice is deleted. The bot keeps nothing else about you.")
        return Reply(tr.bidi(text), self.picker(language).buttons, screen="forget")

    # -- rendering -------------------------------------------------------------------------------

    def _render_screen(self, screen_id: str, language: str) -> Reply:
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
            (Button(_(b.label), self.data(b.to if b.to else CARD_PREFIX + (b.service or ""))),)
            for b in screen.buttons
        ]
        if screen_id == self.content.start:
            rows.append((Button("🌐 " + _("Language"), self.data(PICKER)),))
        else:
            rows.append(self._nav(self.content.parent_of[screen_id], tr, here=screen_id))
        return self._reply(text, rows, tr, screen_id)

    def _nav(self, back: str, tr: Translator, here: str = "") -> tuple[Button, ...]:
        """The row under every screen: back, the main menu, and the emergency numbers."""
        _ = tr.gettext
        row = [Button("☰ " + _("Menu"), self.data(self.content.start))]
        if back != self.content.start:
            row.insert(0, Button("« " + _("Back"), self.data(back)))
        if self._emergency and here != self._emergency:
            # Translators: a short button label; the emergency and crisis numbers are one tap away.
            row.append(Button("🆘 " + _("Emergency"), self.data(self._emergency)))
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
    day = format_date(opens.date(), "EEEE d MMMM", locale=tr.locale)
    # Translators: %(day)s is a weekday and date, e.g. "Monday 30 November"; %(time)s "09:00".
    return "🔴 " + _("Closed now. Opens %(day)s at %(time)s.") % {"day": day, "time": time}


@lru_cache(maxsize=1024)
def _time(value: dt.time, language: str) -> str:
    """A time of day in the resident's locale ("14.00", "2:00 PM").

    Right-to-left locales get a 24-hour clock in Latin digits, as on the service's own door sign,
    because "2:00 م" inside an isolated left-to-right span reads out of order.
    """
    if is_rtl(language):
        return format_time(value, "HH:mm", locale=language)
    return format_time(value, "short", locale=language)


def _bidi_rows(
    rows: Iterable[tuple[Button, ...]], tr: Translator
) -> tuple[tuple[Button, ...], ...]:
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
