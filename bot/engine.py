"""The conversation engine: (button data or typed text, language) -> reply; knows nothing of Telegram."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from babel.dates import format_date, format_time, get_day_names

from bot.content import Content
from bot.content.models import WEEKDAYS, Screen, Service
from bot.i18n import LANGUAGES, Catalogs, Translator, is_rtl, native_name, picker_order

# Button data is "v<content version>:<target>"; targets are a screen id, "@<service id>" for a
# contact card, "lang" for the language picker or "lang:<code>" for a choice in it.
_DATA = re.compile(r"^v([0-9a-f]{6}):([a-z0-9_.@:-]{1,60})$")
PICKER = "lang"
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


class Engine:
    """Turns content and catalogs into replies; the Telegram adapter and the console are its faces."""

    def __init__(self, content: Content, catalogs: Catalogs) -> None:
        self.content = content
        self.catalogs = catalogs
        self._prefix = f"v{content.version}:"
        self._card_parent = self._card_parents()
        self._cached_screen = lru_cache(maxsize=4096)(self._render_screen)

    # -- entry points ----------------------------------------------------------------------------

    def data(self, target: str) -> str:
        """The callback data of a button that leads to target."""
        return self._prefix + target

    def press(self, data: str | None, language: str) -> Reply:
        """Answer a button press; unknown, forged or stale data leads to the current menu."""
        match = _DATA.match(data or "")
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
        _ = self.catalogs[language].gettext
        menu = self.menu(language)
        # Translators: a resident pressed a button from an old message whose screen is gone.
        text = _("This menu was updated. Here is the current menu.")
        return Reply(f"{text}\n\n{menu.text}", menu.buttons, screen="updated")

    def typed(self, text: str, language: str) -> Reply:
        """Answer typed text by pointing kindly to the menu."""
        return self.pointer(language)

    def pointer(self, language: str) -> Reply:
        """Point a resident who typed or sent something the bot cannot read to the menu buttons."""
        _ = self.catalogs[language].gettext
        menu = self.menu(language)
        # Translators: answer to a message, sticker, photo or voice note the bot cannot read.
        text = _("I work best with the buttons. Please choose from the menu.")
        return Reply(f"{text}\n\n{menu.text}", menu.buttons, screen="pointer")

    def card(self, service_id: str, language: str) -> Reply:
        """A service's contact card, its venue pin, and the referral it counts."""
        service = self.content.services[service_id]
        tr = self.catalogs[language]
        _ = tr.gettext
        back = self._card_parent.get(service_id, self.content.start)
        venue = None
        if service.location is not None:
            venue = Venue(
                service.location.lat,
                service.location.lon,
                _(service.name),
                service.address or "",
            )
        return Reply(
            render_card(service, tr),
            (self._nav(back, tr),),
            venue=venue,
            referral=Referral(service_id, service.goals[0]),
            screen=CARD_PREFIX + service_id,
        )

    def help(self, language: str) -> Reply:
        """What the bot does and how to use it."""
        _ = self.catalogs[language].gettext
        text = _(
            "This bot helps residents of Vollsmose find local help: parent counselling, "
            "mentoring, leisure jobs for young people, local associations and safety.\n\n"
            "Tap the buttons to move around. /menu shows the main menu, /language changes "
            "the language, /privacy says what the bot keeps about you, and /forget deletes it."
        )
        return Reply(text, self.menu(language).buttons, screen="help")

    def privacy(self, language: str) -> Reply:
        """An accurate account of what the bot keeps."""
        _ = self.catalogs[language].gettext
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
        return Reply(text, self.menu(language).buttons, screen="privacy")

    def forgotten(self, language: str) -> Reply:
        """Confirm that the stored language choice was deleted."""
        _ = self.catalogs[language].gettext
        text = _("Your language choice is deleted. The bot keeps nothing else about you.")
        return Reply(text, self.picker(language).buttons, screen="forget")

    # -- rendering -------------------------------------------------------------------------------

    def _render_screen(self, screen_id: str, language: str) -> Reply:
        screen: Screen = self.content.screens[screen_id]
        tr = self.catalogs[language]
        _ = tr.gettext
        text = _(screen.text)
        if screen.source is not None:
            # Translators: %(url)s is a web address, %(date)s a date like "26 November 2026".
            text += "\n\n" + _("Source: %(url)s, last checked %(date)s") % {
                "url": tr.ltr(screen.source.url),
                "date": format_date(screen.source.checked, "long", locale=tr.locale),
            }
        rows = [
            (Button(_(b.label), self.data(b.to if b.to else CARD_PREFIX + (b.service or ""))),)
            for b in screen.buttons
        ]
        if screen_id == self.content.start:
            rows.append((Button("🌐 " + _("Language"), self.data(PICKER)),))
        else:
            rows.append(self._nav(self.content.parent_of[screen_id], tr))
        return Reply(text, tuple(rows), screen=screen_id)

    def _nav(self, back: str, tr: Translator) -> tuple[Button, ...]:
        _ = tr.gettext
        menu = Button("☰ " + _("Menu"), self.data(self.content.start))
        if back == self.content.start:
            return (menu,)
        return (Button("« " + _("Back"), self.data(back)), menu)

    def _card_parents(self) -> dict[str, str]:
        """For each service, the first screen (menu outwards) whose button shows its card."""
        parents: dict[str, str] = {}
        order = [self.content.start, *self.content.parent_of]
        for screen_id in order:
            for button in self.content.screens[screen_id].buttons:
                if button.service and button.service not in parents:
                    parents[button.service] = screen_id
        return parents


def render_card(service: Service, tr: Translator) -> str:
    """The contact card's text: what, for whom, where, when, how to reach, which languages."""
    _ = tr.gettext
    lines = [_(service.name), "", _(service.description)]
    if service.for_whom:
        lines.append(_(service.for_whom))
    lines.append("")
    if service.address:
        lines.append("📍 " + tr.ltr(service.address))
    if service.hours:
        lines.append("🕘 " + _("Opening hours:"))
        days = get_day_names("wide", locale=tr.locale)
        for index, day in enumerate(WEEKDAYS):
            if day in service.hours:
                spans = ", ".join(
                    tr.ltr(f"{_time(start, tr.language)}–{_time(end, tr.language)}")
                    for start, end in service.hours[day]
                )
                lines.append(f"   {days[index]}: {spans}")
    if service.phone:
        lines.append("☎️ " + tr.ltr(service.phone))
    if service.email:
        lines.append("✉️ " + tr.ltr(service.email))
    if service.web:
        lines.append("🔗 " + tr.ltr(service.web))
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


@lru_cache(maxsize=1024)
def _time(value: dt.time, language: str) -> str:
    """A time of day in the resident's locale ("14.00", "2:00 PM").

    Right-to-left locales get a 24-hour clock in Latin digits, as on the service's own door sign,
    because "2:00 م" inside an isolated left-to-right span reads out of order.
    """
    if is_rtl(language):
        return format_time(value, "HH:mm", locale=language)
    return format_time(value, "short", locale=language)


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
