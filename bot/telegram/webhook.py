"""Webhook mode: a small aiohttp server that hands Telegram's updates to the Application.

python-telegram-bot's own server (tornado, behind `run_webhook`) reads a whole body, up to 100 MB,
before it looks at the secret, and answers a malformed body with 500. Here the secret is checked
from the headers before any of the body is read, a refused request's connection is closed rather
than drained, a body is at most MAX_BODY, and what is not an update gets 400.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.web.app import runner_options

log = logging.getLogger(__name__)

HEADER = "X-Telegram-Bot-Api-Secret-Token"
# An update is a few kilobytes (a message holds at most 4096 characters); Telegram's own limit
# for what it posts is far below this.
MAX_BODY = 1 << 20


class WebhookError(Exception):
    """The webhook server cannot start; the message is one sentence naming the setting."""


class Webhook:
    """The route Telegram posts updates to: secret first, then size, then the update itself."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any], secret: str):
        self.application = application
        self._secret = secret.encode()

    def web_application(self, path: str) -> web.Application:
        """The aiohttp application: POST `path` only; bodies over MAX_BODY are refused (413)."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(path or "/", self.receive, name="webhook")
        return app

    async def receive(self, request: web.Request) -> web.Response:
        """One update from Telegram onto the Application's queue; 200 as soon as it is there."""
        token = request.headers.get(HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(token, self._secret):
            return _refuse(403)
        if (request.content_length or 0) > MAX_BODY:
            return _refuse(413)
        try:
            data = await request.json()
        except web.HTTPRequestEntityTooLarge:  # a chunked body that did not announce its size
            return _refuse(413)
        except ValueError:  # not UTF-8, or not JSON
            return _refuse(400, keep_alive=True)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return _refuse(400, keep_alive=True)
        bot = self.application.bot
        try:
            update = Update.de_json(data, bot)
        except Exception as error:  # any parse failure: the library's own errors vary
            # As in polling: a newer Bot API can send what this library cannot read. It is
            # confirmed and skipped (Telegram would post it again and again), and only its id
            # is logged: the rest holds residents' names and texts.
            log.warning(
                "update %d could not be read (%s): skipped", data["update_id"], type(error).__name__
            )
            return web.Response(status=200)
        bot.insert_callback_data(update)  # python-telegram-bot's own server does this too
        await self.application.update_queue.put(update)
        return web.Response(status=200)


def _refuse(status: int, *, keep_alive: bool = False) -> web.Response:
    """A bare refusal; without keep_alive the connection closes instead of reading on."""
    response = web.Response(status=status)
    if not keep_alive:
        response.force_close()
    return response


async def serve(
    application: Application[Any, Any, Any, Any, Any, Any],
    *,
    listen: str,
    port: int,
    url: str,
    secret: str,
) -> None:
    """Serve Telegram's updates posted to `url` on listen:port until SIGINT or SIGTERM.

    The steps of python-telegram-bot's `run_webhook`, with this server: initialize and post_init,
    listen, setWebhook, start; at the end stop taking updates, then stop (the updates already
    queued are handled), post_stop, shutdown and post_shutdown.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # lingering_time=0: a request refused before its body was read is closed at once, where
    # aiohttp would otherwise go on reading (and dropping) its body for ten seconds.
    webhook = Webhook(application, secret)
    runner = web.AppRunner(
        webhook.web_application(urlsplit(url).path),
        handle_signals=False,
        lingering_time=0,
        **runner_options(),
    )
    try:
        await application.initialize()
        if application.post_init is not None:
            await application.post_init(application)
        await runner.setup()
        try:
            await web.TCPSite(runner, listen, port).start()
        except OSError as error:
            # asyncio's strerror repeats the address: the plain reason is enough.
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise WebhookError(
                f"--listen {listen} --port {port}: cannot listen there ({reason}); "
                "is another program using that port?"
            ) from error
        await application.bot.set_webhook(
            url, secret_token=secret, allowed_updates=Update.ALL_TYPES
        )
        await application.start()
        log.info("webhook listening on %s:%d", listen, port)
        await stop.wait()
    finally:
        await runner.cleanup()
        if application.running:
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
