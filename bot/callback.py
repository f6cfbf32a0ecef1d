"""Call-back requests ("Ask a person to call me"): the steps, the caps and the staff chat's message.

This is the conversation layer's part, the same for every face: the resident picks a topic, says
whether they need an interpreter, gives a phone number and confirms; the request goes to the staff
chat as one message with a Done button, through a StaffDesk that the Telegram face provides.

The phone number lives only in the resident's pending request, in memory for a few minutes, and
in the staff chat's message until staff press Done or 7 days have passed: never in the database,
a log line or a cache. The database keeps the message id and the day it is scrubbed by, and the
counts per day of requests by goal and by interpreter language (never crossed with each other).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from babel import Locale, UnknownLocaleError

from bot.content.models import DIRECTORY
from bot.engine import CARD_PREFIX, Button, Engine, Reply
from bot.i18n import LANGUAGES, Translator, native_name

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.residents import Residents

log = logging.getLogger(__name__)

# Button targets in the resident's chat: "call" or "call:<pathway>" (the pathway preselects the
# topic), then "call.topic:<topic>", "call.lang:<code>", "call.phone", "call.share", "call.send"
# and "call.cancel". Everything a step needs is in the pending request, not the button.
CALL = "call"
TOPIC, INTERPRETER = "call.topic:", "call.lang:"
PHONE, SHARE, SEND, CANCEL = "call.phone", "call.share", "call.send", "call.cancel"
# The Done button's data in the staff chat: "calldone:<topic>:<interpreter>", so the message can
# be written again without the number and without anything kept about it.
DONE = "calldone:"
OTHER = "other"  # a topic outside the pathways, or an interpreter language the bot lacks
NO_INTERPRETER = "none"
KEEP_DAYS = 7  # the number is scrubbed from the staff chat's message after this many days
OPEN_HOURS = 24  # a request sent and not marked done blocks a second one for this long
# The report's dimensions in the usage counters.
GOAL_DIMENSION, INTERPRETER_DIMENSION = "callback_goal", "callback_interpreter"

Clock = Callable[[], dt.datetime]


class DeskError(Exception):
    """The staff chat could not take a message; the text says why, in words for the log."""


class MessageGone(Exception):
    """The staff chat's message no longer exists or can no longer be edited."""


class StaffDesk(Protocol):
    """Where call-back requests go: the staff chat, as a face that can reach it provides it."""

    async def post(self, text: str, done: Button) -> int:
        """Post text with one button; return the message id, raise DeskError."""
        ...

    async def edit(self, message_id: int, text: str) -> None:
        """Replace a posted message's text, without buttons; raise DeskError or MessageGone."""
        ...


@dataclass(slots=True)
class Draft:
    """A resident's pending request, in memory only."""

    topic: str
    touched: dt.datetime
    interpreter: str | None = None
    phone: str | None = None
    step: str = "topic"  # topic, interpreter, phone, confirm


def parse_phone(text: str) -> str | None:
    """A phone number in international form ("+45 20 30 40 50"), or None if it is not one.

    Danish numbers may be written with or without +45 or 0045; others need their country code.
    """
    import phonenumbers

    cleaned = text.strip()[:40]
    candidates = [cleaned]
    digits = "".join(c for c in cleaned if c.isdigit())
    if not cleaned.startswith(("+", "00")) and len(digits) > 8:
        # Telegram shares a contact's number without the "+": "4520304050".
        candidates.append("+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, "DK")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return None


class CallBacks:
    """Pending requests, the caps, and the texts for residents and for the staff chat."""

    def __init__(
        self,
        engine: Engine,
        residents: Residents,
        desk: StaffDesk,
        *,
        staff_language: str,
        daily_limit: int = 2,
        hourly_limit: int = 20,
        expiry: dt.timedelta = dt.timedelta(minutes=15),
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.residents = residents
        self.desk = desk
        self.staff_language = staff_language
        self.daily_limit = daily_limit
        self.hourly_limit = hourly_limit
        self.expiry = expiry
        # Tests set a clock of their own: expiry, caps and the 7 days all follow it.
        self.clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._drafts: dict[str, Draft] = {}
        self._sent_today: dict[str, tuple[dt.date, int]] = {}
        self._last_hour: deque[dt.datetime] = deque()
        self._open: dict[str, tuple[int, dt.datetime]] = {}  # resident -> (message id, sent)
        content = engine.content
        menu = content.screens[content.start]
        self.topics: tuple[str, ...] = tuple(
            b.to for b in menu.buttons if b.to is not None and b.to in content.pathways
        )
        self._labels = {b.to: b.label for b in menu.buttons if b.to is not None}
        self._phone_card = {topic: self._first_card(topic) for topic in (*self.topics, OTHER)}

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: Engine, residents: Residents, desk: StaffDesk
    ) -> CallBacks:
        """The call-backs with the caps and expiry from BOT_CALLBACK_*."""
        return cls(
            engine,
            residents,
            desk,
            staff_language=settings.bot_default_language,
            daily_limit=settings.bot_callback_daily_limit,
            hourly_limit=settings.bot_callback_hourly_limit,
            expiry=dt.timedelta(minutes=settings.bot_callback_expiry_minutes),
        )

    # -- what the guide asks ---------------------------------------------------------------------

    @staticmethod
    def handles(target: str) -> bool:
        """Whether button data's target is a step of a call-back request."""
        return target == CALL or target.startswith((CALL + ":", CALL + "."))

    def offer(self, reply: Reply, language: str, place: str | None) -> Reply:
        """The reply with "Ask a person to call me" above its last row (the menu's, a card's)."""
        pathway = self.pathway_of(place)
        tr = self.engine.catalogs[language]
        # Translators: a button on the main menu and on every contact card.
        label = tr.bidi("📞 " + tr.gettext("Ask a person to call me"))
        row = (Button(label, self.engine.data(f"{CALL}:{pathway}" if pathway else CALL)),)
        buttons = reply.buttons
        return replace(reply, buttons=(*buttons[:-1], row, *buttons[-1:]))

    def pathway_of(self, place: str | None) -> str | None:
        """The pathway a screen, card origin or directory page belongs to."""
        if not place:
            return None
        content = self.engine.content
        if place.split(".")[0] == DIRECTORY:
            place = content.parent_of.get(DIRECTORY, "")
        return content.pathway_of.get(place)

    def waiting_for_phone(self, resident: str) -> bool:
        """Whether the resident's next typed text is the phone number of a pending request."""
        draft = self._draft(resident)
        return draft is not None and draft.step == "phone"

    def leave(self, resident: str, reply: Reply, language: str) -> Reply:
        """The resident went elsewhere mid-request: forget it (and take the phone keyboard away)."""
        draft = self._drafts.pop(resident, None)
        if draft is None or draft.step != "phone":
            return reply
        # Translators: shown when a resident leaves a call-back request before sending it.
        notice = self.engine.catalogs[language].gettext("The call-back request was not sent.")
        return replace(reply, notice=self.engine.catalogs[language].bidi(notice))

    def still(self, resident: str, reply: Reply, language: str) -> Reply:
        """A reply kept on show (a web page reloaded): one with a number only while its request
        is pending, else "this request was not finished in time"."""
        if reply.personal and self._draft(resident) is None:
            return self._expired(language)
        return reply

    def forget(self, resident: str) -> None:
        """/forget: drop a pending request with its phone number."""
        self._drafts.pop(resident, None)

    async def press(self, resident: str, target: str, language: str) -> Reply:
        """A button of the call-back steps."""
        if target == CALL or target.startswith(CALL + ":"):
            return self._begin(resident, target.partition(":")[2], language)
        draft = self._draft(resident)
        if target == CANCEL:
            self._drafts.pop(resident, None)
            return self._cancelled(language)
        if draft is None:
            return self._expired(language)
        if target.startswith(TOPIC):
            topic = target[len(TOPIC) :]
            draft.topic = topic if topic in self.topics else OTHER
            draft.step = "interpreter"
            return self._interpreter_step(draft, language)
        if target.startswith(INTERPRETER):
            code = target[len(INTERPRETER) :]
            draft.interpreter = code if code in (*LANGUAGES, NO_INTERPRETER) else OTHER
            draft.step = "phone"
            return self._phone_step(language)
        if target in (PHONE, SHARE):
            draft.phone, draft.step = None, "phone"
            return self._phone_step(language)
        if target == SEND and draft.step == "confirm":
            return await self._send(resident, draft, language)
        return self._resume(draft, language)

    async def phone(self, resident: str, text: str, language: str) -> Reply:
        """A phone number typed or shared at the phone step (or the keyboard's Cancel)."""
        tr = self.engine.catalogs[language]
        draft = self._draft(resident)
        if draft is None:
            return self._expired(language)
        if _plain(text) == _plain(self._cancel_label(tr)):
            self._drafts.pop(resident, None)
            return replace(self._cancelled(language), notice=tr.bidi(self._cancelled_text(tr)))
        number = parse_phone(text)
        if number is None:
            # The text is not repeated: it may be a number after all, with a typo.
            text = tr.gettext(
                "That does not look like a phone number. Please type it with its digits, for "
                "example 20 30 40 50, or +45 20 30 40 50, or with the country code if it is not "
                "a Danish number."
            )
            return replace(self._phone_step(language), text=tr.bidi(text))
        draft.phone, draft.step = number, "confirm"
        # Translators: the first line after a resident gave their phone number.
        return replace(
            self._confirm_step(draft, language), notice=tr.bidi(tr.gettext("Thank you."))
        )

    def privacy(self, tr: Translator) -> str:
        """The paragraph of /privacy about call-back requests."""
        return tr.gettext(
            "If you ask a person to call you, the topic, whether you need an interpreter and "
            "your phone number are sent as one message to the local staff's chat, and nothing "
            "else about you. The number is kept only in that message: staff remove it when they "
            "have called you, and the bot removes it after 7 days at the latest. The bot counts "
            "only how many calls were asked for each day, by topic and, separately, by "
            "interpreter language."
        )

    # -- the staff chat ----------------------------------------------------------------------------

    def done_text(self, data: str) -> str:
        """The staff chat's message once Done was pressed: the request without the number."""
        topic, _sep, interpreter = data.removeprefix(DONE).partition(":")
        tr = self.engine.catalogs[self.staff_language]
        _ = tr.gettext
        lines = self._staff_lines(topic, interpreter, tr)
        # Translators: in the staff chat, after a staff member pressed Done on a call-back request.
        lines += ["", "✅ " + _("Done. The phone number was removed from this message.")]
        return tr.bidi("\n".join(lines))

    def scrubbed_text(self) -> str:
        """The staff chat's message after 7 days without Done."""
        tr = self.engine.catalogs[self.staff_language]
        _ = tr.gettext
        # Translators: replaces a call-back request in the staff chat 7 days after it was sent.
        text = _("The phone number was removed after 7 days without Done.")
        return tr.bidi("📞 " + _("Call-back request") + "\n\n" + text)

    async def done(self, message_id: int) -> None:
        """Staff pressed Done: nothing left to scrub, and the resident may ask again."""
        for resident, (sent_id, _at) in list(self._open.items()):
            if sent_id == message_id:
                del self._open[resident]
        await self.residents.storage.drop_scrub(message_id)

    async def scrub_due(self) -> int:
        """Remove the number from every request sent 7 days ago or more; return how many."""
        storage = self.residents.storage
        scrubbed = 0
        for message_id in await storage.due_scrubs(self._today()):
            try:
                await self.desk.edit(message_id, self.scrubbed_text())
            except MessageGone:
                pass  # deleted by staff, or Done pressed meanwhile: nothing to remove
            except DeskError as error:
                log.warning(
                    "BOT_STAFF_CHAT_ID: phone numbers due to be removed from call-back requests "
                    "could not be removed yet (%s); tried again in an hour",
                    error,
                )
                return scrubbed
            await storage.drop_scrub(message_id)
            scrubbed += 1
        if scrubbed:
            log.info("removed the phone number from %d call-back requests after 7 days", scrubbed)
        return scrubbed

    # -- steps ---------------------------------------------------------------------------------

    def _now(self) -> dt.datetime:
        return self.clock()

    def _today(self) -> dt.date:
        return self._now().astimezone(self.engine.timezone).date()

    def _draft(self, resident: str) -> Draft | None:
        """The resident's pending request unless it expired; an expired one is forgotten."""
        draft = self._drafts.get(resident)
        if draft is None:
            return None
        now = self._now()
        if now - draft.touched > self.expiry:
            del self._drafts[resident]
            return None
        draft.touched = now
        return draft

    def _prune(self) -> None:
        """Forget expired requests, old caps and requests open longer than OPEN_HOURS."""
        now, today = self._now(), self._today()
        self._drafts = {r: d for r, d in self._drafts.items() if now - d.touched <= self.expiry}
        self._sent_today = {r: s for r, s in self._sent_today.items() if s[0] == today}
        while self._last_hour and now - self._last_hour[0] >= dt.timedelta(hours=1):
            self._last_hour.popleft()
        open_for = dt.timedelta(hours=OPEN_HOURS)
        self._open = {r: o for r, o in self._open.items() if now - o[1] < open_for}

    def _refusal(self, resident: str, topic: str, language: str) -> Reply | None:
        """A kind answer with a number to phone when a cap stops a new request; None to go on."""
        self._prune()
        _ = self.engine.catalogs[language].gettext
        if resident in self._open:
            text = _(
                "Staff already have your request and will phone you. If something changed, or "
                "if it is urgent, you can phone yourself:"
            )
        elif self._sent_today.get(resident, (None, 0))[1] >= self.daily_limit:
            text = _(
                "You have asked for calls as often as the bot allows in one day. Please ask "
                "again tomorrow, or phone yourself:"
            )
        elif len(self._last_hour) >= self.hourly_limit:
            text = _(
                "Very many people have asked for a call in the last hour. Please try again "
                "later, or phone yourself:"
            )
        else:
            return None
        return self._phone_instead(text, topic, language)

    def _begin(self, resident: str, pathway: str, language: str) -> Reply:
        topic = pathway if pathway in self.topics else OTHER
        if (refused := self._refusal(resident, topic, language)) is not None:
            self._drafts.pop(resident, None)
            return refused
        draft = self._draft(resident)
        if draft is not None:
            if pathway and draft.step == "topic":
                draft.topic = topic
            return self._resume(draft, language)  # one pending request at a time
        draft = self._drafts[resident] = Draft(topic if pathway else "", self._now())
        return self._topic_step(draft, language)

    def _resume(self, draft: Draft, language: str) -> Reply:
        if draft.step == "interpreter":
            return self._interpreter_step(draft, language)
        if draft.step == "phone":
            return self._phone_step(language)
        if draft.step == "confirm":
            return self._confirm_step(draft, language)
        return self._topic_step(draft, language)

    def _topic_step(self, draft: Draft, language: str) -> Reply:
        tr = self.engine.catalogs[language]
        _ = tr.gettext
        # Translators: the first step of "Ask a person to call me".
        intro = _("Someone from the local team can phone you, in your language if you need it.")
        # Translators: above buttons naming the parts of the menu (topics of the call).
        text = intro + "\n\n" + _("What should the call be about?")
        order = [t for t in self.topics if t == draft.topic]
        order += [t for t in self.topics if t != draft.topic]
        rows: list[tuple[Button, ...]] = [
            (Button(self._mark(t == draft.topic, _(self._labels[t])), self._data(TOPIC + t)),)
            for t in order
        ]
        # Translators: a topic button for a call about something the menu does not list.
        other = _("Something else")
        rows.append((Button(self._mark(draft.topic == OTHER, other), self._data(TOPIC + OTHER)),))
        rows.append(self._cancel_row(tr))
        return self._reply(text, rows, tr, "call.topic")

    def _interpreter_step(self, draft: Draft, language: str) -> Reply:
        tr = self.engine.catalogs[language]
        _ = tr.gettext
        text = self._topic_line(draft.topic, tr)
        # Translators: the second step of "Ask a person to call me".
        text += "\n\n" + _("Do you need an interpreter on the phone?")
        # Translators: a button: the call can be in Danish.
        no = _("No, Danish is fine")
        rows: list[tuple[Button, ...]] = [(Button(no, self._data(INTERPRETER + NO_INTERPRETER)),)]
        codes = [code for code in LANGUAGES if code != "da"]
        if language in codes:  # the resident's own language first
            codes.remove(language)
            codes.insert(0, language)
        buttons = [Button(native_name(code), self._data(INTERPRETER + code)) for code in codes]
        rows += [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
        # Translators: a button: an interpreter for a language the bot does not speak.
        rows.append((Button(_("Another language"), self._data(INTERPRETER + OTHER)),))
        rows.append(self._cancel_row(tr))
        return self._reply(text, rows, tr, "call.interpreter")

    def _phone_step(self, language: str) -> Reply:
        tr = self.engine.catalogs[language]
        _ = tr.gettext
        # Translators: the third step of "Ask a person to call me".
        text = _(
            "Which number should they call? Type your phone number, for example 20 30 40 50 or "
            "+45 20 30 40 50."
        )
        # Translators: a button that shares the resident's own phone number from Telegram.
        share = (Button("📱 " + _("Share my number"), self._data(SHARE)),)
        reply = self._reply(text, [share, self._cancel_row(tr)], tr, "call.phone")
        return replace(reply, phone=True)

    def _confirm_step(self, draft: Draft, language: str) -> Reply:
        tr = self.engine.catalogs[language]
        _ = tr.gettext
        assert draft.phone is not None
        lines = [
            # Translators: above the summary of a call-back request, before it is sent.
            _("Please check what will be sent to the local staff's chat:"),
            "",
            "• " + self._topic_line(draft.topic, tr),
            "• " + self._interpreter_line(draft.interpreter, tr),
            # Translators: %(phone)s is the phone number the resident gave.
            "• " + _("Phone: %(phone)s") % {"phone": draft.phone},
            "",
            _(
                "Nothing else about you is sent: not your name, not your account. Staff remove "
                "the number from their message when they have called you, and the bot removes "
                "it after 7 days at the latest. The bot does not store it."
            ),
            "",
            # Translators: the question before the Send button of a call-back request.
            _("Send the request?"),
        ]
        rows = [
            # Translators: a button that sends the call-back request to the staff chat.
            (Button("✅ " + _("Send"), self._data(SEND)),),
            # Translators: a button to type a different phone number.
            (Button("✏️ " + _("Change the number"), self._data(PHONE)),),
            self._cancel_row(tr),
        ]
        return replace(self._reply("\n".join(lines), rows, tr, "call.confirm"), personal=True)

    async def _send(self, resident: str, draft: Draft, language: str) -> Reply:
        """Post the request to the staff chat, count it, and forget the number."""
        if (refused := self._refusal(resident, draft.topic, language)) is not None:
            self._drafts.pop(resident, None)
            return refused
        assert draft.phone is not None
        del self._drafts[resident]
        interpreter = draft.interpreter or NO_INTERPRETER
        tr = self.engine.catalogs[self.staff_language]
        _ = tr.gettext
        lines = self._staff_lines(draft.topic, interpreter, tr)
        lines += [
            "☎️ " + draft.phone,
            "",
            # Translators: under a call-back request in the staff chat.
            _(
                "Press Done when you have called. The number is then removed from this "
                "message, and after 7 days at the latest."
            ),
        ]
        done = Button("✅ " + _("Done"), f"{DONE}{draft.topic}:{interpreter}")
        try:
            message_id = await self.desk.post(tr.bidi("\n".join(lines)), done)
        except DeskError as error:
            log.error(
                "BOT_STAFF_CHAT_ID: a call-back request could not be delivered to the staff "
                "chat (%s); the resident was asked to phone instead",
                error,
            )
            _r = self.engine.catalogs[language].gettext
            text = _r(
                "Sorry, the request could not be passed on to the staff just now. Please phone "
                "instead:"
            )
            return self._phone_instead(text, draft.topic, language)
        now, today = self._now(), self._today()
        await self.residents.storage.add_scrub(message_id, today + dt.timedelta(days=KEEP_DAYS))
        goal = self._goal(draft.topic)
        await self.residents.storage.count_usage(today, GOAL_DIMENSION, goal)
        await self.residents.storage.count_usage(today, INTERPRETER_DIMENSION, interpreter)
        day, count = self._sent_today.get(resident, (today, 0))
        self._sent_today[resident] = (today, count + 1 if day == today else 1)
        self._last_hour.append(now)
        self._open[resident] = (message_id, now)
        log.info("a call-back request went to the staff chat")
        rtr = self.engine.catalogs[language]
        # Translators: after a call-back request was sent to the staff chat.
        text = rtr.gettext(
            "Your request was sent. Someone from the local team will phone you as soon as they "
            "can. If it is urgent, use 🆘 Emergency."
        )
        menu = self.engine.menu(language)
        sent = Reply(rtr.bidi(text) + "\n\n" + menu.text, menu.buttons, screen="call.sent")
        return self.offer(sent, language, None)

    # -- pieces ----------------------------------------------------------------------------------

    def _cancelled_text(self, tr: Translator) -> str:
        # Translators: after a resident cancelled a call-back request.
        return tr.gettext("The request was cancelled. Nothing was sent.")

    def _cancelled(self, language: str) -> Reply:
        tr = self.engine.catalogs[language]
        menu = self.engine.menu(language)
        text = tr.bidi(self._cancelled_text(tr)) + "\n\n" + menu.text
        return self.offer(Reply(text, menu.buttons, screen="call.cancelled"), language, None)

    def _expired(self, language: str) -> Reply:
        tr = self.engine.catalogs[language]
        menu = self.engine.menu(language)
        # Translators: a button of a call-back request was pressed after the request expired.
        text = tr.gettext(
            "This request was not finished in time, so it was deleted. You can start again."
        )
        reply = Reply(tr.bidi(text) + "\n\n" + menu.text, menu.buttons, screen="call.expired")
        return self.offer(reply, language, None)

    def _phone_instead(self, text: str, topic: str, language: str) -> Reply:
        """The text, then the contact card with a number to phone for the topic."""
        tr = self.engine.catalogs[language]
        service = self._phone_card[topic] or self._phone_card[OTHER]
        if service is None:
            menu = self.engine.menu(language)
            return Reply(tr.bidi(text) + "\n\n" + menu.text, menu.buttons, screen="call.refused")
        card = self.engine.card(service, language)
        return replace(card, text=tr.bidi(text) + "\n\n" + card.text)

    def _first_card(self, topic: str) -> str | None:
        """The first service with a phone number in a pathway (the consultant for "other"),
        leaving out the emergency numbers: a call-back is not for emergencies."""
        content = self.engine.content
        emergency = content.emergency.screen if content.emergency else None
        urgent: set[str | None] = set()
        if emergency is not None:
            urgent = {b.service for b in content.screens[emergency].buttons if b.service}
        if topic == OTHER:
            consultant = content.associations.consultant if content.associations else None
            if consultant and content.services[consultant].phone:
                return consultant
            screens = list(content.screens)
        else:
            screens = [s for s, p in content.pathway_of.items() if p == topic]
        for screen_id in screens:
            for button in content.screens[screen_id].buttons:
                service = button.service
                if service and service not in urgent and content.services[service].phone:
                    return service
        return None if topic == OTHER else self._first_card(OTHER)

    def _goal(self, topic: str) -> str:
        pathway = self.engine.content.pathways.get(topic)
        return pathway.goal if pathway else OTHER

    def _topic_name(self, topic: str, tr: Translator) -> str:
        if topic in self._labels:
            return tr.gettext(self._labels[topic])
        return tr.gettext("Something else")

    def _topic_line(self, topic: str, tr: Translator) -> str:
        # Translators: %(topic)s is a part of the menu, e.g. "Fritidsjob (leisure job)".
        return tr.gettext("Topic: %(topic)s") % {"topic": self._topic_name(topic, tr)}

    def _interpreter_line(self, interpreter: str | None, tr: Translator) -> str:
        _ = tr.gettext
        if interpreter in (None, NO_INTERPRETER):
            # Translators: in the summary of a call-back request: no interpreter is needed.
            name = _("not needed")
        elif interpreter == OTHER:
            # Translators: in a call-back request: an interpreter for a language not listed.
            name = _("another language (ask on the phone)")
        else:
            name = _language_name(interpreter, tr)
        # Translators: %(language)s is a language name, or "not needed".
        return _("Interpreter: %(language)s") % {"language": name}

    def _staff_lines(self, topic: str, interpreter: str, tr: Translator) -> list[str]:
        _ = tr.gettext
        topic_line = self._topic_line(topic if topic in self.topics else OTHER, tr)
        goal = self.engine.content.goals.get(self._goal(topic))
        if goal is not None:
            topic_line += f" ({_(goal.name)})"
        # Translators: the heading of a call-back request in the staff chat.
        return ["📞 " + _("Call-back request"), topic_line, self._interpreter_line(interpreter, tr)]

    def _data(self, target: str) -> str:
        return self.engine.data(target)

    @staticmethod
    def _mark(chosen: bool, label: str) -> str:
        return "✓ " + label if chosen else label

    def _cancel_label(self, tr: Translator) -> str:
        # Translators: a button that cancels a call-back request.
        return "✖ " + tr.gettext("Cancel")

    def _cancel_row(self, tr: Translator) -> tuple[Button, ...]:
        return (Button(self._cancel_label(tr), self._data(CANCEL)),)

    def _reply(
        self, text: str, rows: Sequence[tuple[Button, ...]], tr: Translator, screen: str
    ) -> Reply:
        labelled = tuple(tuple(Button(tr.bidi(b.label), b.data) for b in row) for row in rows)
        return Reply(tr.bidi(text), labelled, screen=screen)


def _language_name(code: str, tr: Translator) -> str:
    """A language's name in the reader's language ("arabisk"), else in its own."""
    try:
        name = Locale.parse(code).get_display_name(tr.locale)
    except (ValueError, TypeError, UnknownLocaleError):
        name = None
    return name or native_name(code)


def _plain(text: str) -> str:
    """Text without directional isolates and surrounding space, to compare a keyboard's label."""
    return text.translate(_ISOLATES).strip()


_ISOLATES = str.maketrans("", "", "\u2066\u2067\u2068\u2069")


def is_done(data: str | None) -> bool:
    """Whether callback data is a staff chat's Done button."""
    return bool(data) and str(data).startswith(DONE)


def card_place(target: str, origin: str | None, engine: Engine) -> str | None:
    """Where a card or screen stands in the menu, for the topic a call-back preselects."""
    if target.startswith(CARD_PREFIX) and target[1:] in engine.content.services:
        return origin or engine.card_parent(target[1:])
    return target or None
