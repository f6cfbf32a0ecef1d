"""The terminal face: buttons become numbered choices, typing a number presses one."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.config import Settings
from bot.engine import Button, Engine, Reply
from bot.guide import COMMAND_NAMES, Guide, Resident
from bot.services import Services

# The terminal has one resident; its counts go to a database in memory, gone at the end.
RESIDENT = Resident("console:1")


class ConsoleChat:
    """A chat with the guide over text streams, with the same commands as every face."""

    def __init__(self, guide: Guide, reply: Reply, out: TextIO = sys.stdout) -> None:
        self.guide = guide
        self.reply = reply
        self.out = out

    @classmethod
    async def start(
        cls, guide: Guide, language: str | None, out: TextIO = sys.stdout
    ) -> ConsoleChat:
        """Begin as /start does: the picker, or the menu when a language is given."""
        if language is not None:
            await guide.memory.choose(RESIDENT.id, language)
        return cls(guide, await guide.start(RESIDENT), out)

    def render(self, reply: Reply) -> str:
        """The reply as text with numbered buttons."""
        lines = ["", reply.text, ""]
        for number, button in enumerate(self.buttons(reply), start=1):
            lines.append(f"  [{number}] {button.label}")
        if reply.venue is not None:
            lines.append(
                f"  📍 {reply.venue.title}: {reply.venue.latitude}, {reply.venue.longitude}"
            )
        return "\n".join(lines)

    @staticmethod
    def buttons(reply: Reply) -> list[Button]:
        """The reply's buttons in the order they are numbered."""
        return [button for row in reply.buttons for button in row]

    async def handle(self, line: str) -> Reply:
        """Press the numbered button, run a /command, or treat the line as typed text."""
        text = line.strip()
        buttons = self.buttons(self.reply)
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            reply = await self.guide.press(RESIDENT, buttons[int(text) - 1].data)
        elif text.startswith("/") and text[1:].split(" ")[0] in COMMAND_NAMES:
            name, _, argument = text[1:].partition(" ")
            reply = await self.guide.command(RESIDENT, name, argument.strip())
        elif text.startswith("/") or not text:
            reply = await self.guide.other(RESIDENT)
        else:
            reply = await self.guide.type(RESIDENT, text)
        self.reply = reply
        return reply

    async def run(self, stdin: TextIO = sys.stdin) -> None:
        """Read lines until end of input or /quit, printing each reply."""
        language = await self.guide.language(RESIDENT)
        _ = self.guide.engine.catalogs[language.answer].gettext
        # Translators: the first line of the terminal chat, before the language picker.
        print(_("Terminal chat. Type a number to press a button, /quit to leave."), file=self.out)
        print(self.render(self.reply), file=self.out)
        while True:
            self.out.write("> ")
            self.out.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line or line.strip() in ("/quit", "/exit"):
                break
            print(self.render(await self.handle(line)), file=self.out)


async def run_console(settings: Settings, engine: Engine, language: str | None) -> None:
    """`vollsmose-bot chat`: the guide on services in memory, so nothing is written to disk."""
    async with await Services.open(settings, in_memory=True) as services:
        guide = Guide(engine, services.residents, settings.bot_default_language)
        chat = await ConsoleChat.start(guide, language)
        await chat.run()
