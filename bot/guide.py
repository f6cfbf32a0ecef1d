"""The conversation layer every face calls: the resident's language, the engine, the effects.

A face (Telegram, the terminal, the web chat) turns its input into one call here and the Reply
into its output; nothing about languages, counting or remembering is decided in a face.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot import followup
from bot.callback import card_place
from bot.engine import CARD_PREFIX, Engine, Reply
from bot.followup import FollowUps
from bot.i18n import N_, best_language
from bot.residents import Residents
from bot.storage import StorageFault

if TYPE_CHECKING:
    from bot.callback import CallBacks


@dataclass(frozen=True, slots=True)
class Command:
    """A command every face offers; listed ones appear in Telegram's menu with this description."""

    name: str
    description: str = ""  # a msgid, translated where it is shown; "" for unlisted commands


# The one command table: the Telegram handlers, setMyCommands, the terminal and the web chat.
COMMANDS: tuple[Command, ...] = (
    Command("start"),
    Command("menu", N_("Main menu")),
    Command("language", N_("Change the language")),
    Command("help", N_("How the bot works")),
    Command("privacy", N_("What the bot keeps about you")),
    Command("forget", N_("Delete your language choice")),
)
LISTED: tuple[Command, ...] = tuple(command for command in COMMANDS if command.description)
COMMAND_NAMES: frozenset[str] = frozenset(command.name for command in COMMANDS)


@dataclass(frozen=True, slots=True)
class Resident:
    """Who is talking, as a face knows them: an opaque namespaced id and a language hint.

    The id ("tg:123", "web:<random>") is never stored or logged as it is; the hint (Telegram's
    language_code, a browser's Accept-Language) only decides the answer until a choice is made.
    """

    id: str
    hint: str | None = None


class LanguageMemory(Protocol):
    """Where a face's residents' language choices are kept (the database, or a web session)."""

    async def language(self, resident: str) -> str | None: ...

    async def choose(self, resident: str, language: str) -> None: ...

    async def forget(self, resident: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Language:
    """The language a resident chose (None before they choose) and the one to answer in."""

    chosen: str | None
    answer: str


class Guide:
    """The conversation rules shared by every face: start, press, type, command, forget."""

    def __init__(
        self,
        engine: Engine,
        residents: Residents,
        default_language: str,
        memory: LanguageMemory | None = None,
        callbacks: CallBacks | None = None,
        followups: FollowUps | None = None,
    ) -> None:
        self.engine = engine
        # "Ask a person to call me", offered only where a staff chat can receive the request.
        self.callbacks = callbacks
        self.residents = residents
        self.default_language = default_language
        # Telegram's residents' choices live in the database; a web session keeps its own.
        self.memory: LanguageMemory = residents if memory is None else memory
        # Only a face that can write to a resident later (Telegram) offers follow-ups.
        self.followups = followups
        self._commands: dict[str, Callable[[Resident, Language, str], Awaitable[Reply]]] = {
            "start": self._start,
            "menu": self._menu,
            "language": self._picker,
            "help": self._help,
            "privacy": self._privacy,
            "forget": self._forget,
        }

    def with_memory(self, memory: LanguageMemory) -> Guide:
        """The same rules, with language choices kept elsewhere (a web session), and no
        follow-ups: such a face cannot write to the resident a week later."""
        return Guide(self.engine, self.residents, self.default_language, memory, self.callbacks)

    async def language(self, resident: Resident) -> Language:
        """The choice, else the hint when it is a shipped language, else the configured default."""
        chosen = await self.memory.language(resident.id)
        return Language(chosen, chosen or best_language(resident.hint) or self.default_language)

    async def _use(self, resident: Resident) -> Language:
        """The resident's language, counted once a day when they chose one."""
        language = await self.language(resident)
        if language.chosen is not None:
            await self.residents.count_language(resident.id, language.chosen)
        return language

    async def _effects(self, resident: Resident, reply: Reply) -> Reply:
        """Remember a language choice and count what the reply says to count."""
        if reply.language is not None:
            await self.memory.choose(resident.id, reply.language)
            await self.residents.count_language(resident.id, reply.language)
        if reply.unmatched:
            await self.residents.count_unmatched()
        if reply.referral is not None:
            # Committed before the face shows the card: a crash after this loses nothing.
            await self.residents.count_referral(resident.id, reply.referral)
        return reply

    async def start(self, resident: Resident, source: str | None = None) -> Reply:
        """The first contact: count a deep-link source, then the picker or, after a choice, the
        menu."""
        return await self.command(resident, "start", source or "")

    async def press(self, resident: Resident, data: str | None) -> Reply:
        """A button press; forged or stale data leads to "this menu was updated"."""
        language = await self._use(resident)
        target, origin = self.engine.parse(data)
        if self.callbacks is not None and self.callbacks.handles(target):
            reply = await self.callbacks.press(resident.id, target, language.answer)
            return await self._effects(resident, reply)
        action = followup.parse(self.engine, data) if self.followups is not None else None
        if action is not None:
            reply = await self._followup(resident, action, language)
            return await self._effects(resident, reply)
        reply = self.engine.press(data, language.answer)
        if self.followups is not None:
            reply = followup.with_offer(self.engine, reply, language.answer)
        place = card_place(target, origin, self.engine)
        return await self._effects(resident, self._offer(resident, reply, language, place))

    async def _followup(
        self, resident: Resident, action: followup.Action, language: Language
    ) -> Reply:
        """An opt-in to be asked in a week, or an answer to that question."""
        assert self.followups is not None
        if action.action == followup.OPT_IN:
            try:
                await self.followups.opt_in(resident.id, action.service, action.goal)
            except StorageFault:
                return followup.confirmed(self.engine, action, language.answer, kept=False)
            return followup.confirmed(self.engine, action, language.answer, kept=True)
        await self.followups.answer(resident.id, action)
        reply = followup.answered(self.engine, action, language.answer)
        return followup.with_offer(self.engine, reply, language.answer)

    async def type(self, resident: Resident, text: str) -> Reply:
        """Typed text, understood by the engine; the text is not kept. At the phone step of a
        call-back request it is the phone number, and the engine never sees it."""
        language = await self._use(resident)
        if self.callbacks is not None and self.callbacks.waiting_for_phone(resident.id):
            return await self._effects(
                resident, await self.callbacks.phone(resident.id, text, language.answer)
            )
        reply = self.engine.typed(text, language.answer)
        return await self._effects(resident, self._offer(resident, reply, language, None))

    async def phone(self, resident: Resident, number: str) -> Reply:
        """A phone number shared from a contact or a web form's field, for a call-back request."""
        language = await self._use(resident)
        if self.callbacks is None:
            return self.engine.pointer(language.answer)
        return await self._effects(
            resident, await self.callbacks.phone(resident.id, number, language.answer)
        )

    async def still(self, resident: Resident, reply: Reply) -> Reply:
        """A reply a face keeps on show, unless it holds a phone number whose request expired."""
        if self.callbacks is None or not reply.personal:
            return reply
        language = await self.language(resident)
        return self.callbacks.still(resident.id, reply, language.answer)

    def _offer(
        self, resident: Resident, reply: Reply, language: Language, place: str | None
    ) -> Reply:
        """Leaving a call-back request forgets it; the menu and every card offer a new one."""
        callbacks = self.callbacks
        if callbacks is None:
            return reply
        reply = callbacks.leave(resident.id, reply, language.answer)
        screen = reply.screen
        start = self.engine.content.start
        if screen in (start, "updated", "pointer") or screen.startswith(CARD_PREFIX):
            return callbacks.offer(reply, language.answer, place)
        return reply

    async def command(self, resident: Resident, name: str, argument: str = "") -> Reply:
        """A command from COMMANDS by name (without "/"); unknown ones get the kind pointer."""
        language = await self._use(resident)
        handler = self._commands.get(name)
        if handler is None:
            return self._offer(resident, self.engine.pointer(language.answer), language, None)
        reply = await handler(resident, language, argument)
        return await self._effects(resident, self._offer(resident, reply, language, None))

    async def forget(self, resident: Resident) -> Reply:
        """Delete the resident's language choice."""
        return await self.command(resident, "forget")

    async def other(self, resident: Resident) -> Reply:
        """Something the bot cannot read (a sticker, a photo, an unknown command)."""
        language = await self._use(resident)
        return self._offer(resident, self.engine.pointer(language.answer), language, None)

    async def slow_down(self, resident: Resident) -> Reply:
        """The one warning to a flooding resident; nothing is counted."""
        language = await self.language(resident)
        return self.engine.slow_down(language.answer)

    async def _start(self, resident: Resident, language: Language, source: str) -> Reply:
        # A deep link (t.me/<bot>?start=library, /?src=library) counts its source once per
        # resident and day: known sources by name, anything else as "other".
        if source:
            await self.residents.count_once(resident.id, "source", self.engine.source(source))
        if language.chosen is None:
            return self.engine.picker(language.answer, resident.hint)
        return self.engine.menu(language.answer)

    async def _menu(self, _resident: Resident, language: Language, _argument: str) -> Reply:
        return self.engine.menu(language.answer)

    async def _picker(self, _resident: Resident, language: Language, _argument: str) -> Reply:
        return self.engine.picker(language.answer)

    async def _help(self, _resident: Resident, language: Language, _argument: str) -> Reply:
        return self.engine.help(language.answer)

    async def _privacy(self, _resident: Resident, language: Language, _argument: str) -> Reply:
        reply = self.engine.privacy(language.answer)
        reply = followup.with_privacy(self.engine, reply, language.answer)
        if self.callbacks is None:
            return reply
        tr = self.engine.catalogs[language.answer]
        text = reply.text + "\n\n" + tr.bidi(self.callbacks.privacy(tr))
        return Reply(text, reply.buttons, screen=reply.screen)

    async def _forget(self, resident: Resident, language: Language, _argument: str) -> Reply:
        await self.memory.forget(resident.id)
        if self.callbacks is not None:
            self.callbacks.forget(resident.id)
        if self.followups is not None:
            # While the database fails, the daily purge deletes them within 14 days.
            with contextlib.suppress(StorageFault):
                await self.followups.forget(resident.id)
        return self.engine.forgotten(language.answer)
