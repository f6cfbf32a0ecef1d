"""The HTTP client for the Bot API: aiohttp, and retries that never send a reply twice."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from typing import Any

import aiohttp
from telegram import Update
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)

# 5xx answers mean Telegram (or a proxy in front of it) had a moment; 4xx answers never change
# on a second try, and 429 is waited out by the rate limiter.
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
# Calls that post something new: repeating one after Telegram may have received it could show
# the resident the same message twice. Everything else (edits, answers, commands) is idempotent.
_SENDS = ("send", "forward", "copy")
# The errors of the connection phase: the request never left, so any call may be repeated.
_NOT_CONNECTED = (aiohttp.ClientConnectorError, aiohttp.ServerFingerprintMismatch)


class NotSent(NetworkError):
    """No connection to the Bot API could be made: the request provably never reached it."""


def is_send(api_method: str) -> bool:
    """Whether repeating this Bot API call could post a second message."""
    return api_method.startswith(_SENDS)


class AiohttpRequest(BaseRequest):
    """A BaseRequest on aiohttp, with python-telegram-bot's time-outs and pool size.

    httpx cost about six times as much CPU per update as the bot's own work when hundreds of
    calls were in flight (benchmarks/README.md); aiohttp's client stays cheap there.
    """

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_ssl",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the connection pool (inside the running event loop, as aiohttp requires)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, ssl=self._ssl if self._ssl is not None else True
            )
            self._session = aiohttp.ClientSession(connector=connector)

    async def shutdown(self) -> None:
        """Close the connection pool."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _timeout(
        self, read: Any, write: Any, connect: Any, pool: Any, media: bool
    ) -> aiohttp.ClientTimeout:
        """aiohttp's time-outs for python-telegram-bot's four."""
        if _default(write):
            write = self._media_write_timeout if media else self._write_timeout
        read = self._read_timeout if _default(read) else read
        connect = self._connect_timeout if _default(connect) else connect
        pool = self._pool_timeout if _default(pool) else pool
        # aiohttp's read timer already runs while the request is written: an upload (media)
        # gets its write time-out on top; a small request is written at once.
        if read is not None and media:
            read = None if write is None else read + write
        return aiohttp.ClientTimeout(
            total=None,
            connect=None if connect is None else connect + (pool or 0),
            sock_connect=connect,
            sock_read=read,
        )

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP request: (status, body), TimedOut, NotSent or NetworkError."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        body: Any = fields
        if files:
            body = aiohttp.FormData(fields or {})
            for name, (filename, content, mimetype) in files.items():
                body.add_field(name, content, filename=filename, content_type=mimetype)
        timeout = self._timeout(
            read_timeout, write_timeout, connect_timeout, pool_timeout, media=bool(files)
        )
        try:
            async with self._session.request(
                method, url, data=body, timeout=timeout, headers={"User-Agent": self.USER_AGENT}
            ) as response:
                return response.status, await response.read()
        except _NOT_CONNECTED as error:
            raise NotSent(f"aiohttp.{type(error).__name__}: {_redact(error, url)}") from error
        except aiohttp.ConnectionTimeoutError as error:
            # No connection within the connect (or pool) time-out: nothing was sent.
            raise NotSent("Timed out while connecting") from error
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {_redact(error, url)}") from error


def _default(value: Any) -> bool:
    return isinstance(value, type(BaseRequest.DEFAULT_NONE))


def _redact(error: BaseException, url: str) -> str:
    """The error's text without the bot token, which is part of every Bot API URL."""
    text = str(error)
    token = url.rsplit("/", 2)[-2].removeprefix("bot") if url.count("/") >= 2 else ""
    return text.replace(token, "<token>") if token else text


class RetryingRequest(AiohttpRequest):
    """AiohttpRequest that repeats a call only where a repeat cannot show anything twice.

    Any call whose connection could not be made is tried again for up to `patience` seconds: it
    never reached Telegram, and a reply held through an outage still arrives. Time-outs, dropped
    connections and 5xx answers are tried again `attempts` times for idempotent calls (edits,
    callback answers, commands); a send (sendMessage, sendVenue, ...) that may have arrived is
    never repeated, so a slow Telegram cannot make the resident read the same message twice.
    getUpdates is tried once: the updater has its own back-off loop for it.
    """

    __slots__ = ("_down_since", "attempts", "backoff", "last_poll", "max_backoff", "patience")

    def __init__(
        self,
        *args: Any,
        attempts: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 5.0,
        patience: float = 90.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.patience = patience
        self._down_since: float | None = None
        # The last answer to getUpdates, for GuideBot to read again if the library cannot.
        self.last_poll = b""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        polling = api_method == "getUpdates"
        attempts = 1 if polling or is_send(api_method) else self.attempts
        started = time.monotonic()
        attempt = unconnected = 0
        while True:
            try:
                status, payload = await super().do_request(
                    url,
                    method,
                    request_data,
                    read_timeout=read_timeout,
                    write_timeout=write_timeout,
                    connect_timeout=connect_timeout,
                    pool_timeout=pool_timeout,
                )
            except NotSent:
                self._note_down()
                unconnected += 1
                if polling or time.monotonic() - started >= self.patience:
                    raise
                delay = min(self.max_backoff, self.backoff * 2 ** (unconnected - 1))
            except NetworkError as error:  # TimedOut included
                attempt += 1
                if attempt >= attempts:
                    raise
                log.info("%s: %s, retrying", api_method, type(error).__name__)
                delay = self.backoff * attempt
            else:
                self._note_up()
                if polling:
                    self.last_poll = payload
                attempt += 1
                if status not in _RETRY_STATUSES or attempt >= attempts:
                    return status, payload
                log.info("%s: HTTP %d, retrying", api_method, status)
                delay = self.backoff * attempt
            await asyncio.sleep(delay)

    def _note_down(self) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "the Bot API cannot be reached; replies are held for up to %.0f s", self.patience
            )

    def _note_up(self) -> None:
        if self._down_since is not None:
            log.info(
                "the Bot API is reachable again after %.0f s", time.monotonic() - self._down_since
            )
            self._down_since = None


def readable_updates(payload: bytes) -> list[dict[str, Any]]:
    """The updates of a getUpdates answer, each one python-telegram-bot cannot parse replaced by
    its bare update id: confirmed and ignored like any other, and only its id is logged (the
    library would log the raw batch: residents' names, ids and texts)."""
    try:
        body = json.loads(payload)
    except ValueError:
        return []
    updates = body.get("result") if isinstance(body, dict) else None
    if not isinstance(updates, list):
        return []
    readable = []
    for raw in updates:
        try:
            Update.de_json(raw, None)
        except Exception as error:  # any parse failure: the library's own errors vary
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            name = type(error).__name__
            log.warning("update %s could not be read (%s): skipped", update_id, name)
            if isinstance(update_id, int):
                readable.append({"update_id": update_id})
        else:
            readable.append(raw)
    return readable
