"""Fake Telegram Bot API server (aiohttp on 127.0.0.1) for end-to-end tests of the bot."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import inspect
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

Json = dict[str, Any]

# fmt: off
_JSON_KEYS = {
    "reply_markup", "commands", "scope", "allowed_updates", "entities", "caption_entities",
    "link_preview_options", "reply_parameters", "media", "results", "options", "permissions",
    "rights", "menu_button", "reaction",
}
_INT_KEYS = {
    "chat_id", "message_id", "offset", "limit", "timeout", "from_chat_id", "message_thread_id",
    "reply_to_message_id", "cache_time", "user_id", "max_connections", "until_date",
}
_FLOAT_KEYS = {"latitude", "longitude", "horizontal_accuracy"}
_BOOL_KEYS = {
    "disable_notification", "protect_content", "show_alert", "drop_pending_updates",
    "has_spoiler", "allow_sending_without_reply", "show_caption_above_media",
}
_BUTTON_ACTIONS = {
    "url", "callback_data", "web_app", "login_url", "switch_inline_query", "copy_text", "pay",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "callback_game",
}
_CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
}
_HTML_ENTITIES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "span": "spoiler", "tg-spoiler": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}
_ADMIN_RIGHTS = [
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories",
]
_RESTRICTIONS = [
    "can_change_info", "can_invite_users", "can_pin_messages", "can_send_messages",
    "can_send_polls", "can_send_other_messages", "can_add_web_page_previews", "can_manage_topics",
    "can_send_audios", "can_send_documents", "can_send_photos", "can_send_videos",
    "can_send_video_notes", "can_send_voice_notes", "can_edit_tag", "can_react_to_messages",
]
# fmt: on
_MEMBER_EXTRA: dict[str, Json] = {
    "creator": {"is_anonymous": False},
    "administrator": {"can_be_edited": False, "is_anonymous": False}
    | dict.fromkeys(_ADMIN_RIGHTS, True),
    "restricted": {"is_member": True, "until_date": 0} | dict.fromkeys(_RESTRICTIONS, False),
    "kicked": {"until_date": 0},
}
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)((?:\s[^>]*)?)>")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the"
    " same as a current content and reply markup of the message"
)
TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"


class ApiError(Exception):
    """An error answer in Telegram's format."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def response(self) -> web.Response:
        """Render as `{"ok": false, "error_code": ..., "description": ...}`."""
        body: Json = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.status)


def bad(description: str) -> ApiError:
    """A 400 Bad Request error."""
    return ApiError(400, f"Bad Request: {description}")


def _u16(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Resident:
    """A simulated Telegram user talking to the bot."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = None
    last_name: str | None = None

    def _names(self) -> Json:
        """first_name plus whichever of last_name/username are set."""
        names = {"first_name": self.first_name, "last_name": self.last_name}
        return {k: v for k, v in (names | {"username": self.username}).items() if v is not None}

    def user(self) -> Json:
        """The User object."""
        lang = {"language_code": self.language_code} if self.language_code else {}
        return {"id": self.id, "is_bot": False} | self._names() | lang

    def chat(self) -> Json:
        """The private Chat object with this resident."""
        return {"id": self.id, "type": "private"} | self._names()


@dataclass
class Upload:
    """A file uploaded with multipart/form-data."""

    filename: str | None
    content_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        """Byte length of the upload."""
        return len(self.data)


@dataclass
class Call:
    """One request the bot made; `status` stays None until a response reaches the client."""

    method: str
    params: Json
    at: float
    status: int | None = None


def parse_html(source: str) -> tuple[str, list[Json]]:
    """Parse Telegram-flavoured HTML into plain text and MessageEntity dicts."""
    out: list[str] = []
    stack: list[tuple[str, str, int]] = []
    entities: list[Json] = []
    pos = length = 0

    def fail(what: str, at: int) -> ApiError:
        return bad(f"can't parse entities: {what} at byte offset {len(source[:at].encode())}")

    for match in [*_TAG.finditer(source), None]:
        chunk = source[pos : match.start() if match else len(source)]
        if "<" in chunk:
            raise fail("Can't find end of the tag starting", pos + chunk.index("<"))
        text = html.unescape(chunk)
        out.append(text)
        length += _u16(text)
        if match is None:
            break
        pos, closing, tag, attrs = match.end(), match[1] == "/", match[2].lower(), match[3]
        if tag not in _HTML_ENTITIES:
            raise fail(f'Unsupported {"end" if closing else "start"} tag "{tag}"', match.start())
        if not closing:
            stack.append((tag, attrs, length))
            continue
        if not stack or stack[-1][0] != tag:
            expected = f', expected "</{stack[-1][0]}>"' if stack else ""
            raise fail(f'Unmatched end tag{expected}, found "</{tag}>"', match.start())
        _, attrs, start = stack.pop()
        if length > start:
            entity: Json = {"type": _HTML_ENTITIES[tag], "offset": start, "length": length - start}
            for attr, key in (("href", "url"), ("emoji-id", "custom_emoji_id")):
                if value := re.search(rf"""{attr}\s*=\s*["']([^"']*)""", attrs):
                    entity[key] = html.unescape(value[1])
            if tag == "blockquote" and "expandable" in attrs:
                entity["type"] = "expandable_blockquote"
            entities.append(entity)
    if stack:
        unclosed = stack[-1][0]
        raise bad(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{unclosed}\""
        )
    return "".join(out), sorted(entities, key=lambda e: e["offset"])


def _format(params: Json, key: str, entities_key: str) -> tuple[str, list[Json]]:
    """Apply parse_mode (HTML only) and Telegram's whitespace trimming to a text parameter."""
    raw = str(params.get(key) or "")
    if str(params.get("parse_mode") or "").lower() == "html":
        text, entities = parse_html(raw)
    else:
        text, entities = raw, list(params.get(entities_key) or [])
    lead = _u16(text) - _u16(text.lstrip())
    entities = [e | {"offset": max(e["offset"] - lead, 0)} for e in entities]
    return text.strip(), entities


def _group_chat(chat_id: int, title: str = "Test group") -> Json:
    """A Chat object for a group (-100… ids are supergroups)."""
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": title}


def _normalize(params: Json) -> Json:
    """Decode form values: JSON-object parameters, numbers and booleans."""
    for key, value in params.items():
        if not isinstance(value, str):
            continue
        if key in _JSON_KEYS:
            try:
                params[key] = json.loads(value)
            except ValueError:
                raise bad(f"can't parse {key} JSON object") from None
        elif key in _INT_KEYS and re.fullmatch(r"-?\d+", value.strip()):
            params[key] = int(value)
        elif key in _FLOAT_KEYS:
            with contextlib.suppress(ValueError):
                params[key] = float(value)
        elif key in _BOOL_KEYS and value.lower() in ("true", "false"):
            params[key] = value.lower() == "true"
    return params


def _check_markup(params: Json) -> Json | None:
    """Validate reply_markup; return it if it is an inline keyboard (Telegram echoes only those)."""
    markup = params.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
    for button in itertools.chain.from_iterable(rows):
        if not isinstance(button, dict) or not str(button.get("text") or "").strip():
            raise bad("BUTTON_TEXT_INVALID")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                raise bad("BUTTON_DATA_INVALID")
        elif not _BUTTON_ACTIONS & button.keys():
            raise bad("text buttons are unallowed in the inline keyboard")
    return markup


class FakeBotAPI:
    """In-process fake of https://api.telegram.org with simulated residents and fault injection."""

    def __init__(self, token: str = "123456:TEST-token", bot_username: str = "vollsmose_test_bot"):
        self.token, self.bot_username, self.url = token, bot_username, ""
        bot_id = token.split(":")[0]
        self.bot_user: Json = {
            "id": int(bot_id) if bot_id.isdigit() else 123456,
            "is_bot": True,
            "first_name": "Vollsmose Guide (test)",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.updates: list[Json] = []  # pending, not yet confirmed by getUpdates offset
        self.commands: dict[tuple[str, str], list[Json]] = {}
        self.webhook_url = ""
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(4_823_000_000_000_001)
        self._new_update = asyncio.Event()
        self._closing = asyncio.Event()
        self._poll_generation = 0
        self._chats: dict[int, Json] = {}
        self._messages: dict[tuple[int, int], Json] = {}
        self._next_message_id: dict[int, int] = {}
        self._log: list[tuple[int, Json]] = []  # snapshots of bot messages as sent/edited
        self._last: dict[int, int] = {}  # chat id -> most recently sent/edited message id
        self._open_queries: set[str] = set()
        self._forbidden: dict[int, str] = {}
        self._faults: dict[str, list[ApiError]] = {}
        self._drops: dict[str, int] = {}
        self._delays: dict[str, float] = {}
        self._holds: dict[str, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, Callable[[Json], Any]] = {
            "getMe": lambda p: self.bot_user,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "sendVenue": self._send_venue,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": lambda p: self.commands.get(self._commands_key(p), []),
            "deleteMyCommands": self._delete_my_commands,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "leaveChat": self._leave_chat,
            "close": lambda p: True,
            "logOut": lambda p: True,
        }
        self._canonical = {name.lower(): name for name in self._handlers}

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, port: int = 0) -> None:
        """Bind 127.0.0.1 on `port` (0: a free one) and set `.url`."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._not_found)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Wake pending long polls and delays, then shut the server down."""
        self._closing.set()
        self._wake()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def go_down(self) -> None:
        """An outage: every connection is dropped and new ones are refused until `come_back`;
        chats, messages and pending updates are kept."""
        await self.stop()

    async def come_back(self) -> None:
        """End an outage: listen again on the same port."""
        self._closing.clear()
        await self.start(int(self.url.rsplit(":", 1)[1]))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- HTTP --------------------------------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.Response:
        """404 in Telegram's format (also for every file download)."""
        return ApiError(404, "Not Found").response()

    async def _read_params(self, request: web.Request) -> Json:
        """Merge query string and JSON / urlencoded / multipart body into one decoded dict."""
        params: Json = dict(request.query)
        if not request.body_exists:
            return _normalize(params)
        if request.content_type == "application/json":
            try:
                body = json.loads(await request.text())
            except ValueError:
                raise bad("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise bad("JSON request body must be an object")
            params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            files: dict[str, Upload] = {}
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[key] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    params[key] = value
            for key, value in list(params.items()):
                if isinstance(value, str) and value.startswith("attach://"):
                    params[key] = files.pop(value.removeprefix("attach://"), value)
            params.update(files)
        return _normalize(params)

    async def _handle(self, request: web.Request) -> web.Response:
        """Dispatch `/bot<token>/<method>`, recording the call and applying injected faults."""
        name = request.match_info["method"]
        method = self._canonical.get(name.lower())
        call = Call(method or name, {}, time.monotonic())
        self.calls.append(call)
        try:
            call.params = await self._read_params(request)
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if method is None:
                raise ApiError(404, "Not Found")
            if seconds := self._delays.get(method):
                await self._sleep(seconds)
            if (held := self._holds.get(method)) is not None:
                await self._until(held)
            if self._drops.get(method):
                self._drops[method] -= 1
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)
            if faults := self._faults.get(method):
                raise faults.pop(0)
            result = self._handlers[method](call.params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as error:
            response = error.response()
        else:
            response = web.json_response({"ok": True, "result": result})
        if request.transport is not None:  # None: the client hung up (e.g. a cancelled long poll)
            call.status = response.status
        return response

    # -- fault injection -----------------------------------------------------------------------

    def _method(self, method: str) -> str:
        """Canonical camelCase name of a (case-insensitive) method name."""
        try:
            return self._canonical[method.lower()]
        except KeyError:
            raise ValueError(f"FakeBotAPI does not implement {method!r}") from None

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail with this error, without applying them."""
        errors = [ApiError(status, description, retry_after) for _ in range(times)]
        self._faults.setdefault(self._method(method), []).extend(errors)

    def delay(self, method: str, seconds: float) -> None:
        """Delay every response of `method` by `seconds` (0 to stop), before it is applied."""
        self._delays[self._method(method)] = seconds

    def hold(self, method: str) -> None:
        """Hold every response of `method`, before it is applied, until release(method)."""
        self._holds.setdefault(self._method(method), asyncio.Event())

    def release(self, method: str) -> None:
        """Apply and answer the held calls of `method`, and stop holding it."""
        if (held := self._holds.pop(self._method(method), None)) is not None:
            held.set()

    def drop_next(self, method: str, times: int = 1) -> None:
        """Abort the connection of the next `times` calls of `method` without responding."""
        name = self._method(method)
        self._drops[name] = self._drops.get(name, 0) + times

    def block(self, resident_id: int) -> None:
        """The resident blocks the bot: sends to their chat get 403."""
        self._forbidden[resident_id] = BLOCKED

    def unblock(self, resident_id: int) -> None:
        """The resident unblocks the bot."""
        self._forbidden.pop(resident_id, None)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but return early when the server stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def _until(self, event: asyncio.Event) -> None:
        """Wait for the event, but return early when the server stops."""
        waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._closing.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    # -- recording helpers ---------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """All calls of `method` (including failed ones), in order."""
        name = self._canonical.get(method.lower(), method)
        return [call for call in self.calls if call.method == name]

    def messages_to(self, chat_id: int) -> list[Json]:
        """Snapshots of every bot message sent or edited in the chat, in order."""
        return [copy.deepcopy(message) for chat, message in self._log if chat == chat_id]

    def last_message(self, chat_id: int) -> Json | None:
        """Current state of the bot message most recently sent or edited in the chat."""
        message_id = self._last.get(chat_id)
        return None if message_id is None else copy.deepcopy(self._messages[chat_id, message_id])

    def message(self, chat_id: int, message_id: int) -> Json | None:
        """Current state of any stored message."""
        return copy.deepcopy(self._messages.get((chat_id, message_id)))

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10) -> Any:  # noqa: ASYNC109
        """Poll `predicate` every 10 ms until truthy; return its value or fail with recent calls."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() > deadline:
                try:
                    what = inspect.getsource(predicate).strip()
                except (OSError, TypeError):
                    what = repr(predicate)
                calls = [c for c in self.calls if c.method != "getUpdates"]
                recent = "\n".join(
                    f"  {c.method} -> {c.status}: {json.dumps(c.params, default=repr)[:300]}"
                    for c in calls[-8:]
                )
                polls = len(self.calls) - len(calls)
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}\n"
                    f"{len(self.updates)} updates pending, {polls} getUpdates calls; "
                    f"last other calls:\n{recent or '  (none)'}"
                )
            await asyncio.sleep(0.01)
        return value

    async def wait_for_calls(self, method: str, count: int, timeout: float = 10) -> list[Call]:  # noqa: ASYNC109
        """Wait until `method` was called at least `count` times; return those calls."""
        return await self.wait_for(
            lambda: len(calls := self.calls_to(method)) >= count and calls, timeout
        )

    # -- simulated residents ----------------------------------------------------------------

    def push_update(self, update: Json) -> Json:
        """Enqueue a raw update (update_id is assigned here) and wake long polls."""
        update = {**update, "update_id": next(self._update_ids)}
        if query := update.get("callback_query"):
            self._open_queries.add(str(query["id"]))
        self.updates.append(update)
        self._wake()
        return update

    def push_message(self, resident: Resident, text: str) -> Json:
        """A private text message from the resident."""
        return self.push_update({"message": self._user_message(resident, resident.chat(), text)})

    def push_group_message(
        self, resident: Resident, chat_id: int, text: str, *, title: str = "Test group"
    ) -> Json:
        """A text message from the resident in a group chat."""
        chat = self._chats.get(chat_id) or _group_chat(chat_id, title)
        return self.push_update({"message": self._user_message(resident, chat, text)})

    def push_callback(
        self, resident: Resident, message_id: int, data: str, chat_id: int | None = None
    ) -> Json:
        """The resident presses an inline button with `data` under bot message `message_id` (in
        their private chat, or in the group `chat_id`)."""
        chat_id = resident.id if chat_id is None else chat_id
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise LookupError(f"no message {message_id} in chat {chat_id} to press a button on")
        query = {
            "id": str(next(self._query_ids)),
            "from": resident.user(),
            "message": copy.deepcopy(message),
            "chat_instance": str(-(abs(resident.id) * 1_000_003 + 7)),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def push_contact(
        self, resident: Resident, phone_number: str, first_name: str | None = None
    ) -> Json:
        """The resident shares a contact (their own, from a request_contact button, by default)."""
        contact = {
            "phone_number": phone_number,
            "first_name": first_name or resident.first_name,
            "user_id": resident.id,
        }
        message = self._user_message(resident, resident.chat(), None, contact=contact)
        return self.push_update({"message": message})

    def forbid(self, chat_id: int, reason: str = "Forbidden: bot was kicked from the group chat"):
        """Sends to a group chat get 403 from now on (the bot was removed from it)."""
        self._forbidden[chat_id] = reason

    def push_sticker(self, resident: Resident, emoji: str = "👍") -> Json:
        """A private sticker message from the resident."""
        sticker = {
            "file_id": "CAACAgIAAxkBAAEStickerFileId", "file_unique_id": "AgADsticker",
            "type": "regular", "width": 512, "height": 512,
            "is_animated": False, "is_video": False, "emoji": emoji,
        }  # fmt: skip
        message = self._user_message(resident, resident.chat(), None, sticker=sticker)
        return self.push_update({"message": message})

    def push_photo(self, resident: Resident, caption: str | None = None) -> Json:
        """A private photo message from the resident."""
        photo = [
            {"file_id": f"AgACAgIAAxkBAAEPhoto{w}", "file_unique_id": f"AQADphoto{w}",
             "width": w, "height": w * 3 // 4, "file_size": w * 100}
            for w in (90, 320, 1280)
        ]  # fmt: skip
        extra: Json = {"photo": photo} | ({"caption": caption} if caption else {})
        return self.push_update(
            {"message": self._user_message(resident, resident.chat(), None, **extra)}
        )

    def push_my_chat_member(
        self, chat: Resident | int | Json, old_status: str, new_status: str, by_resident: Resident
    ) -> Json:
        """The bot's membership in `chat` changed (added to a group, blocked by a user, ...)."""
        if isinstance(chat, Resident):
            chat = chat.chat()
        elif isinstance(chat, int):
            chat = self._chats.get(chat) or _group_chat(chat)
        self._chats[chat["id"]] = chat
        if new_status in ("member", "administrator", "creator", "restricted"):
            self._forbidden.pop(chat["id"], None)
        elif chat["type"] == "private":
            self._forbidden[chat["id"]] = BLOCKED
        else:
            how = "was kicked from" if new_status == "kicked" else "is not a member of"
            self._forbidden[chat["id"]] = f"Forbidden: bot {how} the {chat['type']} chat"
        member = {
            "chat": chat,
            "from": by_resident.user(),
            "date": int(time.time()),
            "old_chat_member": self._member(old_status),
            "new_chat_member": self._member(new_status),
        }
        return self.push_update({"my_chat_member": member})

    def _member(self, status: str) -> Json:
        """A ChatMember object for the bot with the fields PTB requires for that status."""
        return {"status": status, "user": self.bot_user} | _MEMBER_EXTRA.get(status, {})

    def _wake(self) -> None:
        """Wake every waiting long poll."""
        self._new_update.set()
        self._new_update = asyncio.Event()

    def _user_message(self, resident: Resident, chat: Json, text: str | None, **extra: Any) -> Json:
        """Store a message from the resident, with a bot_command entity for a leading command."""
        if text is not None:
            extra["text"] = text
            if command := _COMMAND.match(text):
                extra["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
        self._chats.setdefault(chat["id"], chat)
        return copy.deepcopy(self._store(chat, resident.user(), **extra))

    def _store(self, chat: Json, sender: Json, **fields: Any) -> Json:
        """Create a message with the chat's next message_id."""
        message_id = self._next_message_id.get(chat["id"], 0) + 1
        self._next_message_id[chat["id"]] = message_id
        message = {"message_id": message_id, "from": sender, "chat": chat, "date": int(time.time())}
        self._messages[chat["id"], message_id] = message = message | fields
        return message

    # -- Bot API methods ----------------------------------------------------------------------

    async def _get_updates(self, params: Json) -> list[Json]:
        """Long polling; `offset` confirms earlier updates, a newer poll ends this one with 409."""
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active;"
                           " use deleteWebhook to delete the webhook first")  # fmt: skip
        offset = params.get("offset") or 0
        limit = min(max(params.get("limit") or 100, 1), 100)
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while not self.updates and not self._closing.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), remaining)
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request;"
                               " make sure that only one bot instance is running")  # fmt: skip
        return self.updates[:limit]

    def _chat(self, params: Json) -> Json:
        """Resolve chat_id to a Chat, raising Telegram's errors for missing/blocked chats."""
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad("chat_id is empty")
        if not isinstance(chat_id, int):
            raise bad("chat not found")
        if reason := self._forbidden.get(chat_id):
            raise ApiError(403, reason)
        default = {"id": chat_id, "type": "private"} if chat_id > 0 else _group_chat(chat_id)
        return self._chats.get(chat_id, default)

    def _send(self, params: Json, **fields: Any) -> Json:
        """Store and log a new bot message in the requested chat."""
        chat = self._chat(params)
        if markup := _check_markup(params):
            fields["reply_markup"] = markup
        reply_id = (params.get("reply_parameters") or {}).get("message_id")
        if replied := self._messages.get(
            (chat["id"], reply_id or params.get("reply_to_message_id"))
        ):
            fields["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        message = self._store(chat, self.bot_user, **fields)
        self._touch(message)
        return message

    def _touch(self, message: Json) -> None:
        """Log a snapshot of a sent/edited bot message."""
        self._log.append((message["chat"]["id"], copy.deepcopy(message)))
        self._last[message["chat"]["id"]] = message["message_id"]

    def _text(self, params: Json) -> Json:
        """Validate and format the `text` parameter into message fields."""
        text, entities = _format(params, "text", "entities")
        if not text:
            raise bad("message text is empty")
        if _u16(text) > 4096:
            raise bad("message is too long")
        return {"text": text} | ({"entities": entities} if entities else {})

    def _send_message(self, params: Json) -> Json:
        """sendMessage."""
        self._chat(params)
        return self._send(params, **self._text(params))

    def _editable(self, params: Json) -> Json:
        """The bot message addressed by chat_id + message_id of an edit call."""
        if params.get("inline_message_id"):
            raise bad("MESSAGE_ID_INVALID")
        chat = self._chat(params)
        if params.get("message_id") is None:
            raise bad("message identifier is not specified")
        message = self._messages.get((chat["id"], params["message_id"]))
        if message is None:
            raise bad("message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise bad("message can't be edited")
        return message

    def _apply_edit(self, message: Json, params: Json, changes: Json) -> Json:
        """Apply an edit (a missing reply_markup removes the keyboard) unless nothing changes."""
        markup = _check_markup(params)
        new = {k: v for k, v in message.items() if k not in ("reply_markup", "edit_date")}
        new |= changes | ({"reply_markup": markup} if markup else {})
        shown = ("text", "entities", "caption", "caption_entities", "reply_markup")
        if all((new.get(key) or None) == (message.get(key) or None) for key in shown):
            raise bad(NOT_MODIFIED)
        message.clear()
        message.update(new, edit_date=int(time.time()))
        self._touch(message)
        return message

    def _edit_message_text(self, params: Json) -> Json:
        """editMessageText."""
        message = self._editable(params)
        changes = self._text(params)
        if "text" not in message:
            raise bad("there is no text in the message to edit")
        return self._apply_edit(message, params, {"entities": None} | changes)

    def _edit_message_reply_markup(self, params: Json) -> Json:
        """editMessageReplyMarkup."""
        return self._apply_edit(self._editable(params), params, {})

    def _answer_callback_query(self, params: Json) -> bool:
        """answerCallbackQuery: each query can be answered once."""
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_queries:
            raise bad(TOO_OLD)
        if len(str(params.get("text") or "")) > 200:
            raise bad("MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        return True

    def _send_venue(self, params: Json) -> Json:
        """sendVenue."""
        self._chat(params)
        for key in ("latitude", "longitude", "title", "address"):
            if params.get(key) in (None, ""):
                raise bad(f"{key} is empty")
        if not all(isinstance(params[k], int | float) for k in ("latitude", "longitude")):
            raise bad("wrong location specified")
        location = {"latitude": params["latitude"], "longitude": params["longitude"]}
        venue = {"location": location, "title": params["title"], "address": params["address"]}
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if params.get(key):
                venue[key] = params[key]
        return self._send(params, venue=venue, location=location)

    def _send_photo(self, params: Json) -> Json:
        """sendPhoto: an upload (size recorded as file_size), a file_id or a URL."""
        self._chat(params)
        photo = params.get("photo")
        if not photo:
            raise bad("there is no photo in the request")
        caption, entities = _format(params, "caption", "caption_entities")
        if _u16(caption) > 1024:
            raise bad("message caption is too long")
        n = len(self._log) + 1
        file_id = photo if isinstance(photo, str) else f"AgACAgIAAxkDAAIBotPhoto{n}"
        size = {"file_id": file_id, "file_unique_id": f"AQADphoto{n}", "width": 1280, "height": 960}
        if isinstance(photo, Upload):
            size["file_size"] = photo.size
        fields: Json = {"photo": [size]}
        if caption:
            fields |= {"caption": caption} | ({"caption_entities": entities} if entities else {})
        return self._send(params, **fields)

    def _send_chat_action(self, params: Json) -> bool:
        """sendChatAction."""
        self._chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True

    @staticmethod
    def _commands_key(params: Json) -> tuple[str, str]:
        """Storage key of a command list: (scope JSON, language_code)."""
        language = str(params.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad("invalid language code specified")
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        return scope, language

    def _set_my_commands(self, params: Json) -> bool:
        """setMyCommands."""
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad("parameter \"commands\" is required")  # fmt: skip
        if len(commands) > 100:
            raise bad("too many commands specified")
        for command in commands:
            if not isinstance(command, dict):
                raise bad("BOT_COMMAND_INVALID")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command") or "")):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description") or "").strip()) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        stored = [{"command": c["command"], "description": c["description"]} for c in commands]
        self.commands[self._commands_key(params)] = stored
        return True

    def _delete_my_commands(self, params: Json) -> bool:
        """deleteMyCommands."""
        self.commands.pop(self._commands_key(params), None)
        return True

    def _delete_webhook(self, params: Json) -> bool:
        """deleteWebhook, optionally dropping pending updates."""
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    def _set_webhook(self, params: Json) -> bool:
        """setWebhook (an empty url removes it); getUpdates then answers 409."""
        self.webhook_url = str(params.get("url") or "")
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    def _get_webhook_info(self, params: Json) -> Json:
        """getWebhookInfo."""
        info = {"url": self.webhook_url, "has_custom_certificate": False}
        return info | {"pending_update_count": len(self.updates)}

    def _leave_chat(self, params: Json) -> bool:
        """leaveChat: later sends to the group get 403."""
        chat = self._chat(params)
        if chat["type"] == "private":
            raise bad("chat member status can't be changed in private chats")
        self._forbidden[chat["id"]] = f"Forbidden: bot is not a member of the {chat['type']} chat"
        return True
