"""The HTTP client for the Bot API, retrying what is worth retrying."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from telegram import Update
from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest, RequestData

log = logging.getLogger(__name__)

# 5xx answers mean Telegram (or a proxy in front of it) had a moment; 4xx answers never change
# on a second try, and 429 is waited out by the rate limiter.
_RETRY_STATUSES = frozenset({500, 502, 503, 504})


class RetryingRequest(HTTPXRequest):
    """HTTPXRequest that retries server errors, time-outs and dropped connections a few times.

    getUpdates is not retried here: the updater has its own back-off loop for it.
    """

    def __init__(self, *args: Any, attempts: int = 3, backoff: float = 0.5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempts = attempts
        self.backoff = backoff

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        attempts = 1 if api_method == "getUpdates" else self.attempts
        for attempt in range(1, attempts + 1):
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
            except (TimedOut, NetworkError) as error:
                if attempt == attempts:
                    raise
                log.info("%s: %s, retrying", api_method, type(error).__name__)
            else:
                if api_method == "getUpdates" and status == 200:
                    return status, readable_updates(payload)
                if status not in _RETRY_STATUSES or attempt == attempts:
                    return status, payload
                log.info("%s: HTTP %d, retrying", api_method, status)
            await asyncio.sleep(self.backoff * attempt)
        raise AssertionError("unreachable")


def readable_updates(payload: bytes) -> bytes:
    """Replace each update python-telegram-bot cannot parse by its bare update id.

    A Bot API server older or newer than the library can send an update that lacks a field the
    library requires. Unhandled, the whole batch fails to parse on every poll, so the bot is stuck
    on it for good, and the library logs the raw batch (residents' names, ids and texts) each
    time. A bare update is confirmed and ignored like any other; only its id is logged.
    """
    try:
        body = json.loads(payload)
    except ValueError:
        return payload
    updates = body.get("result") if isinstance(body, dict) else None
    if not isinstance(updates, list):
        return payload
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
    if readable == updates:
        return payload
    body["result"] = readable
    return json.dumps(body).encode()
