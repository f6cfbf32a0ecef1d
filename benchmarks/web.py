"""The web chat's cost per page, beside the Telegram face's cost per tap.

A tap in the web chat is two requests over loopback HTTP: the form post (303) and the page it
leads to (200). The same client drives a bare aiohttp server that answers the same two requests
with a fixed page of the same size, so the ratio shows what the guide, the sessions and the
template add to the web library's own cost. The client is a few lines over asyncio streams (one
kept-alive connection), so its share of the time is small and the same on both sides.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from benchmarks.common import Measure, Scale, make_settings
from bot.engine import Engine
from bot.flood import Throttle
from bot.guide import Guide
from bot.services import Services
from bot.web import WebChat, start


class _Client:
    """HTTP/1.1 over one kept-alive connection: just enough to post a form and read a page."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.cookie = ""

    @classmethod
    async def open(cls, port: int) -> _Client:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, method: str, body: bytes = b"") -> bytes:
        head = f"{method} / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if self.cookie:
            head += f"Cookie: {self.cookie}\r\n"
        if body:
            head += "Content-Type: application/x-www-form-urlencoded\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in headers.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"set-cookie":
                self.cookie = value.split(b";")[0].strip().decode()
        return await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def _token(page: bytes) -> str:
    marker = b'name="t" value="'
    start_at = page.index(marker) + len(marker)
    return page[start_at : page.index(b'"', start_at)].decode()


async def _taps(client: _Client, bodies: list[bytes]) -> float:
    """Seconds per tap (post, then the page) over the bodies, in turn."""
    started = time.perf_counter()
    for body in bodies:
        await client.request("POST", body)
        await client.request("GET")
    return (time.perf_counter() - started) / len(bodies)


async def _bare(page: bytes) -> web.AppRunner:
    """A minimal aiohttp server: the post answers 303, the page is always the same bytes."""

    async def post(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(status=303, headers={"Location": "/"})

    async def get(_request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html")

    app = web.Application()
    app.router.add_post("/", post)
    app.router.add_get("/", get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def _port(runner: web.AppRunner) -> int:
    return int(runner.addresses[0][1])


async def web_costs(engine: Engine, directory: Path, scale: Scale) -> dict[str, Measure]:
    """Median µs per web tap, ours and bare, and their ratio, over alternating rounds."""
    settings = make_settings(directory)
    async with await Services.open(settings) as services:
        guide = Guide(engine, services.residents, settings.bot_default_language)
        # One visitor taps for the whole run: the flood guards still run, with room for it.
        chat = WebChat(
            settings,
            guide,
            per_session=Throttle(burst=10**9),
            per_address=Throttle(burst=10**9),
        )
        ours = await start(chat, "127.0.0.1", 0)
        visitor = await _Client.open(_port(ours))
        page = await visitor.request("GET")
        token = _token(page)
        data = [engine.data(target) for target in ("lang:da", "fritidsjob", "menu")]
        await visitor.request("POST", urlencode({"t": token, "b": data[0]}).encode())
        bodies = [
            urlencode({"t": token, "b": data[1 + n % 2]}).encode() for n in range(scale.per_round)
        ]
        sample = await visitor.request("GET")
        bare = await _bare(sample)
        baseline = await _Client.open(_port(bare))
        ours_us, bare_us, ratios = [], [], []
        try:
            for index in range(scale.rounds):
                if index % 2:
                    theirs = await _taps(baseline, bodies)
                    mine = await _taps(visitor, bodies)
                else:
                    mine = await _taps(visitor, bodies)
                    theirs = await _taps(baseline, bodies)
                if index == 0:
                    continue  # warming up both
                ours_us.append(mine * 1e6)
                bare_us.append(theirs * 1e6)
                ratios.append(mine / theirs)
        finally:
            await visitor.close()
            await baseline.close()
            await ours.cleanup()
            await bare.cleanup()
    return {
        "web_tap_us": Measure(ours_us, "µs"),
        "web_bare_tap_us": Measure(bare_us, "µs"),
        "web_tap_ratio": Measure(ratios),
    }
