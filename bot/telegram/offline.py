"""A Bot API stand-in inside the process: canned answers, no sockets, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_USER = {
    "id": 1000,
    "is_bot": True,
    "first_name": "Vollsmose Guide",
    "username": "vollsmose_guide_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class RecordedCall:
    method: str
    params: dict[str, Any]


class OfflineRequest(BaseRequest):
    """Answers every Bot API method as Telegram would, optionally after a simulated round trip."""

    def __init__(self, delay: float = 0.0, record: bool = True) -> None:
        self.delay = delay
        self.record = record
        self.calls: list[RecordedCall] = []
        self._message_id = 0
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.method == method]

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
        params = request_data.parameters if request_data is not None else {}
        if self.record:
            self.calls.append(RecordedCall(api_method, dict(params)))
        self.on_request(api_method, params)
        refused = self.refuse(api_method, params)
        if refused is not None:
            status, description = refused
            body = {"ok": False, "error_code": status, "description": description}
            return status, json.dumps(body).encode()
        if self.delay:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(self.delay)
            finally:
                self.in_flight -= 1
        result = self._result(api_method, params)
        self.on_answer(api_method)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def on_request(self, method: str, params: dict[str, Any]) -> None:
        """Called as each call arrives; subclasses watch calls here (the default does nothing)."""

    def on_answer(self, method: str) -> None:
        """Called as each call is answered, after any simulated round trip."""

    def refuse(self, method: str, params: dict[str, Any]) -> tuple[int, str] | None:
        """An error to answer this call with, as (HTTP status, description); None answers it as
        Telegram would. Subclasses inject Bot API errors here (the default refuses nothing)."""
        return None

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            return []
        if method in ("sendMessage", "editMessageText", "sendVenue", "sendPhoto"):
            return self._message(method, params)
        return True

    def _message(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "editMessageText" and "message_id" in params:
            message_id = int(params["message_id"])
        else:
            self._message_id += 1
            message_id = self._message_id
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
            "from": BOT_USER,
        }
        if "text" in params:
            message["text"] = params["text"]
        if "reply_markup" in params:
            markup = params["reply_markup"]
            message["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
        return message
