"""The same engine in a terminal: buttons become numbered choices, typing a number presses one."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from bot.engine import Button, Engine, Reply
from bot.i18n import DEFAULT_LANGUAGE


class ConsoleChat:
    """A chat with the engine over text streams; nothing is counted or stored."""

    def __init__(self, engine: Engine, language: str | None, out: TextIO = sys.stdout) -> None:
        self.engine = engine
        self.language = language or DEFAULT_LANGUAGE
        self.out = out
        self.reply = engine.picker(language) if language is None else engine.menu(self.language)

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

    def handle(self, line: str) -> Reply:
        """Press the numbered button, run a /command, or treat the line as typed text."""
        text = line.strip()
        buttons = self.buttons(self.reply)
        commands: dict[str, Callable[[str], Reply]] = {
            "/start": self.engine.menu,
            "/menu": self.engine.menu,
            "/language": self.engine.picker,
            "/help": self.engine.help,
            "/privacy": self.engine.privacy,
        }
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            reply = self.engine.press(buttons[int(text) - 1].data, self.language)
        elif text.split(" ")[0] in commands:
            reply = commands[text.split(" ")[0]](self.language)
        elif text.startswith("/") or not text:
            reply = self.engine.pointer(self.language)
        else:
            reply = self.engine.typed(text, self.language)
        if reply.language is not None:
            self.language = reply.language
        self.reply = reply
        return reply

    def run(self, stdin: TextIO = sys.stdin) -> None:
        """Read lines until end of input or /quit, printing each reply."""
        _ = self.engine.catalogs[self.language].gettext
        # Translators: the first line of the terminal chat, before the language picker.
        print(_("Terminal chat. Type a number to press a button, /quit to leave."), file=self.out)
        print(self.render(self.reply), file=self.out)
        while True:
            self.out.write("> ")
            self.out.flush()
            line = stdin.readline()
            if not line or line.strip() in ("/quit", "/exit"):
                break
            print(self.render(self.handle(line)), file=self.out)
