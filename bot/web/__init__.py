"""The web chat face: server-rendered pages anyone can open from a poster's QR code."""

from bot.web.app import WebChat, start

__all__ = ["WebChat", "start"]
