"""Opt-in follow-ups: "ask me in a week whether I got in touch", kept encrypted, answered as counts.

Only a resident who presses the button on a contact card is kept, as (resident, service, goal,
due day) and nothing else. The resident's id is encrypted with AES-GCM under a key derived from
the secret key beside the database (HKDF with its own label), with a random nonce per row and the
other columns bound to it, so a copy of the database alone reveals no one. The due day is a week
after the press; the questions go out in one weekly batch at a fixed hour (BOT_FOLLOWUP_AT) to
every row due by then, so the time of an answer says nothing about the time of the card. A row is
deleted when its question is sent, on /forget, and 14 days after the press at the latest (purged
daily). Answers are counted per ISO week, goal, service and outcome; a question that cannot be
delivered is asked but not answered.

Button data, in the engine's form: "v<version>:fu:<action>:<service>~<goal>", where the action
is "in" (the opt-in on a card) or an answer: "y" got in touch, "n" not yet, "c" show the card
again, "s" stop asking.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.engine import CARD_PREFIX, Button, Engine, Reply, bidi_rows
from bot.i18n import N_
from bot.privacy import DailyOnce, ResidentKey
from bot.storage import Storage, StorageFault

log = logging.getLogger(__name__)

# The HKDF label of the follow-up key: a key of its own, never the scrypt salt itself.
KEY_INFO = b"vollsmose-guide followup resident v1"
PREFIX = "fu:"
OPT_IN = "in"
# Answer buttons and the outcome each one counts; "asked" counts every question sent or tried.
ANSWERS = {"y": "reached", "n": "not_yet", "c": "card", "s": "stop"}
ASKED = "asked"
OUTCOMES = (ASKED, *ANSWERS.values())
WAIT_DAYS = 7  # a question is asked in the first batch at least this many days after the press
KEEP_DAYS = 14  # and a row is deleted this many days after the press at the latest
_NONCE = 12
_PADDED = 32  # resident ids are padded, so a row's length does not tell one id's length


@dataclass(frozen=True, slots=True)
class Action:
    """A pressed follow-up button: what it does, for which service and under which goal."""

    action: str
    service: str
    goal: str


@dataclass(frozen=True, slots=True)
class Due:
    """A follow-up whose question goes out now: to whom (a face's resident id), about what."""

    resident: str
    service: str
    goal: str


def data(engine: Engine, action: str, service: str, goal: str) -> str:
    """The callback data of a follow-up button."""
    return engine.data(f"{PREFIX}{action}:{service}", goal)


def parse(engine: Engine, pressed: str | None) -> Action | None:
    """The follow-up button behind callback data; None for any other data, and for forged data
    whose action, service or goal this content does not have."""
    target, goal = Engine.parse(pressed)
    if not target.startswith(PREFIX) or goal is None:
        return None
    action, _, service = target[len(PREFIX) :].partition(":")
    known = engine.content.services.get(service)
    if action not in (OPT_IN, *ANSWERS) or known is None or goal not in known.goals:
        return None
    return Action(action, service, goal)


def week_of(day: dt.date) -> str:
    """The ISO week of a day, as the counters store it ("2026-W49")."""
    year, week, _weekday = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


class FollowUps:
    """The pending follow-ups (encrypted) and the counting of their answers."""

    def __init__(
        self,
        storage: Storage,
        key: bytes,
        timezone: ZoneInfo,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.storage = storage
        self._aead = AESGCM(key)
        self._timezone = timezone
        self.clock = clock or (lambda: dt.datetime.now(timezone))
        # Answers already counted, keyed only in memory and renewed every week: a repeated press
        # (a double tap, a button pressed again before its message was edited) counts once.
        self._answered = DailyOnce()

    @classmethod
    def under(cls, storage: Storage, key: ResidentKey, timezone: ZoneInfo) -> FollowUps:
        """Follow-ups encrypted under a key derived from the resident key file."""
        return cls(storage, key.derive(KEY_INFO), timezone)

    def today(self) -> dt.date:
        """The current day in the bot's time zone."""
        return self.clock().astimezone(self._timezone).date()

    # -- encryption --

    @staticmethod
    def _bound(service: str, goal: str, due: dt.date) -> bytes:
        # Associated data: a row whose service, goal or due day was changed does not decrypt.
        return f"{service}\x00{goal}\x00{due.isoformat()}".encode()

    def _seal(self, resident: str, service: str, goal: str, due: dt.date) -> bytes:
        plain = resident.encode()
        plain += b"\x00" * (-len(plain) % _PADDED)
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, plain, self._bound(service, goal, due))

    def _open(self, sealed: bytes, service: str, goal: str, due: dt.date) -> str | None:
        """The resident of a row; None for one written under another key or altered."""
        try:
            plain = self._aead.decrypt(
                sealed[:_NONCE], sealed[_NONCE:], self._bound(service, goal, due)
            )
        except InvalidTag:
            return None
        return plain.rstrip(b"\x00").decode()

    async def _rows(self) -> list[tuple[bytes, str | None, str, str, dt.date]]:
        """Every pending row as (stored bytes, resident or None, service, goal, due)."""
        return [
            (sealed, self._open(sealed, service, goal, due), service, goal, due)
            for sealed, service, goal, due in await self.storage.followups()
        ]

    # -- the resident's side --

    async def opt_in(self, resident: str, service: str, goal: str) -> None:
        """Keep one follow-up for (resident, service); pressing again keeps still one.

        Raises StorageFault while the database fails.
        """
        for _sealed, who, kept_service, _goal, _due in await self._rows():
            if who == resident and kept_service == service:
                return
        due = self.today() + dt.timedelta(days=WAIT_DAYS)
        await self.storage.add_followup(
            self._seal(resident, service, goal, due), service, goal, due
        )

    async def forget(self, resident: str) -> int:
        """Delete the resident's pending follow-ups; returns how many."""
        rows = await self._rows()
        return await self.storage.delete_followups([r[0] for r in rows if r[1] == resident])

    async def answer(self, resident: str, action: Action) -> bool:
        """Count an answer once per resident, service and week; False if it was counted before."""
        today = self.today()
        monday = today - dt.timedelta(days=today.weekday())
        if not self._answered.first_today(monday, resident, action.service):
            return False
        outcome = ANSWERS[action.action]
        await self.storage.count_followup(week_of(today), action.goal, action.service, outcome)
        return True

    # -- the weekly batch and the daily purge --

    async def take_due(self) -> list[Due]:
        """Delete the rows due by today and return them, each counted as asked.

        Deleted before the questions are sent: a question that cannot be delivered is not
        tried again, it counts as asked and never answered.
        """
        today = self.today()
        rows = [row for row in await self._rows() if row[4] <= today]
        await self.storage.delete_followups([row[0] for row in rows])
        # Rows written under a key that was replaced have no one to ask.
        due = [Due(who, service, goal) for _s, who, service, goal, _d in rows if who is not None]
        # One write per goal and service, not one per question.
        for (goal, service), n in Counter((d.goal, d.service) for d in due).items():
            await self.storage.count_followup(week_of(today), goal, service, ASKED, n)
        return due

    async def purge(self) -> int:
        """Delete rows pressed KEEP_DAYS days ago or earlier (and rows no key opens)."""
        today = self.today()
        limit = today - dt.timedelta(days=KEEP_DAYS - WAIT_DAYS)
        try:
            rows = await self._rows()
            old = [row[0] for row in rows if row[4] <= limit or row[1] is None]
            return await self.storage.delete_followups(old)
        except StorageFault:
            return 0  # tried again at the next purge; the database fault is logged once


# -- what residents see --------------------------------------------------------------------------

# Translators: a button on a contact card (Telegram only); pressing it is the only way the bot
# keeps anything that leads back to a resident, see /privacy.
OFFER = N_("🔔 Ask me in a week whether I got in touch")


def offers(engine: Engine, reply: Reply) -> bool:
    """Whether a card offers the follow-up: every card but the emergency numbers'."""
    if reply.referral is None:
        return False
    emergency = engine.content.emergency
    if emergency is None:
        return True
    screen = engine.content.screens.get(emergency.screen)
    return screen is None or all(b.service != reply.referral.service for b in screen.buttons)


def with_offer(engine: Engine, reply: Reply, language: str) -> Reply:
    """The card with the opt-in button below its navigation row (Back stays the first button)."""
    if reply.referral is None or not offers(engine, reply):
        return reply
    tr = engine.catalogs[language]
    referral = reply.referral
    row = (Button(tr.gettext(OFFER), data(engine, OPT_IN, referral.service, referral.goal)),)
    rows = (*reply.buttons, *bidi_rows([row], tr))
    return dataclasses.replace(reply, buttons=rows)


def with_privacy(engine: Engine, reply: Reply, language: str) -> Reply:
    """/privacy with what a follow-up keeps, for how long, and how."""
    tr = engine.catalogs[language]
    # Translators: a paragraph of /privacy; the quoted button is the one on contact cards.
    note = tr.gettext(
        'On Telegram, a contact card offers "Ask me in a week whether I got in touch". Only if '
        "you press it, the bot keeps your chat, that service and the day to ask, encrypted with "
        "its secret key, and nothing else. The question goes out with everyone else's in the "
        "next weekly round, at least a week later, and then this is deleted; /forget deletes it "
        "at once, and it is deleted after 14 days at the latest. Your answer only adds one to a "
        "count per week, service and answer."
    )
    # Translators: follows the paragraph above; "these waiting questions" are the follow-ups.
    stolen = tr.gettext(
        "Whoever had the bot's files and its secret key could read these waiting questions too: "
        "which chat asked about which service, until the question is sent."
    )
    return Reply(
        f"{reply.text}\n\n{tr.bidi(note)} {tr.bidi(stolen)}", reply.buttons, screen=reply.screen
    )


def confirmed(engine: Engine, action: Action, language: str, *, kept: bool) -> Reply:
    """The card again (not counted again), with what was kept or that it failed."""
    tr = engine.catalogs[language]
    _ = tr.gettext
    card = engine.card(action.service, language)
    if kept:
        # Translators: after pressing "Ask me in a week whether I got in touch" on a card.
        note = _(
            "I will ask you in a week whether you got in touch. Until then the bot keeps your "
            "chat, this service and the day to ask, encrypted, and nothing else. /forget deletes "
            "it."
        )
    else:
        # Translators: the database failed just when a resident asked to be asked in a week.
        note = _("Sorry, that did not work just now. Please try again later.")
    text = f"{card.text}\n\n{tr.bidi(note)}"
    return Reply(text, card.buttons, venue=card.venue, screen=f"{PREFIX}{OPT_IN}")


def question(engine: Engine, due: Due, language: str) -> Reply:
    """The weekly question about one service, with its four answers."""
    tr = engine.catalogs[language]
    _ = tr.gettext
    name = _(engine.content.services[due.service].name)
    # Translators: sent a week after a resident asked for it; %(service)s is a service's name.
    text = _("A week ago you asked me to check in: did you get in touch with %(service)s?") % {
        "service": name
    }

    def button(label: str, action: str) -> Button:
        return Button(label, data(engine, action, due.service, due.goal))

    rows = [
        # Translators: answers to "did you get in touch with ...?"
        (button("✅ " + _("I got in touch"), "y"), button(_("Not yet"), "n")),
        (button(_("Show me the card again"), "c"),),
        (button(_("Stop asking"), "s"),),
    ]
    return Reply(tr.bidi(text), bidi_rows(rows, tr), screen=f"{PREFIX}question")


def answered(engine: Engine, action: Action, language: str) -> Reply:
    """The answer to an answer: the question's buttons are gone, the menu is one tap away."""
    if action.action == "c":
        return engine.card(action.service, language)
    tr = engine.catalogs[language]
    _ = tr.gettext
    menu = (Button("☰ " + _("Menu"), engine.data(engine.content.start)),)
    rows: list[tuple[Button, ...]] = []
    if action.action == "y":
        text = _("Thank you for telling me. Good luck!")
    elif action.action == "n":
        text = _("Thank you for telling me. The card is one tap away when you want to try again.")
        name = _(engine.content.services[action.service].name)
        rows.append((Button(name, engine.data(CARD_PREFIX + action.service)),))
    else:
        text = _("All right, I will not ask again.")
    rows.append(menu)
    return Reply(tr.bidi(text), bidi_rows(rows, tr), screen=f"{PREFIX}{action.action}")
