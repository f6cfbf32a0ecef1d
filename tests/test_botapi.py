"""Tests of the fake Telegram Bot API server, driven by a real PTB `telegram.Bot`."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import telegram
from telegram import BotCommand, BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter

from tests.botapi import NOT_MODIFIED, FakeBotAPI, Resident

ANNA = Resident(id=4201, first_name="Anna", username="anna_v", language_code="da")
OMAR = Resident(id=4202, first_name="Omar", last_name="Hassan", language_code="ar")


@pytest.fixture
async def botapi() -> AsyncIterator[FakeBotAPI]:
    """A started fake Bot API server."""
    async with FakeBotAPI() as api:
        yield api


def make_bot(api: FakeBotAPI, token: str | None = None) -> telegram.Bot:
    """A PTB bot pointed at the fake server."""
    return telegram.Bot(
        token or api.token, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot"
    )


@pytest.fixture
async def bot(botapi: FakeBotAPI) -> AsyncIterator[telegram.Bot]:
    """An initialized PTB bot talking to `botapi`."""
    async with make_bot(botapi) as bot:
        yield bot


@pytest.fixture
async def http(botapi: FakeBotAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A raw HTTP client for what PTB cannot express."""
    async with httpx.AsyncClient(base_url=botapi.url) as client:
        yield client


def keyboard(*data: str) -> InlineKeyboardMarkup:
    """One row of callback buttons."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.upper(), callback_data=d) for d in data]])


async def test_get_me(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "vollsmose_test_bot")
    assert bot.username == "vollsmose_test_bot"
    assert [c.method for c in botapi.calls] == ["getMe", "getMe"]  # initialize() + ours
    assert all(c.status == 200 for c in botapi.calls)


async def test_pushed_message_arrives_and_offset_confirms(
    bot: telegram.Bot, botapi: FakeBotAPI
) -> None:
    pushed = botapi.push_message(ANNA, "/start welcome")
    assert pushed["update_id"] == 1
    (update,) = await bot.get_updates(timeout=0)
    message = update.message
    assert message is not None
    assert message.from_user is not None
    assert message.text == "/start welcome"
    assert (message.from_user.id, message.from_user.first_name) == (ANNA.id, "Anna")
    assert message.from_user.language_code == "da"
    assert (message.chat.id, message.chat.type) == (ANNA.id, "private")
    assert message.entities[0].type == "bot_command"
    assert message.entities[0].length == 6
    assert (await bot.get_updates(timeout=0))[0].update_id == 1  # not confirmed yet
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert botapi.updates == []
    assert botapi.push_message(ANNA, "again")["update_id"] == 2


async def test_long_poll_returns_early_when_update_pushed(
    bot: telegram.Bot, botapi: FakeBotAPI
) -> None:
    # A poll that had returned empty before the push would give () here, not the update; one
    # that waited for its whole 60 s would hit the test's timeout.
    poll = asyncio.create_task(bot.get_updates(timeout=60))
    await botapi.wait_for_calls("getUpdates", 1)
    botapi.push_message(OMAR, "hello")
    (update,) = await poll
    assert update.message is not None
    assert update.message.text == "hello"


async def test_long_poll_times_out_empty(bot: telegram.Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=0.3) == ()
    assert time.monotonic() - started >= 0.3


async def test_send_then_edit_updates_last_message(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    sent = await bot.send_message(ANNA.id, "Pick one", reply_markup=keyboard("a", "b"))
    assert sent.text == "Pick one"
    assert sent.reply_markup == keyboard("a", "b")
    assert sent.from_user is not None
    assert sent.from_user.is_bot
    assert botapi.last_message(ANNA.id)["reply_markup"]["inline_keyboard"][0][1]["text"] == "B"
    edited = await bot.edit_message_text("Picked a", chat_id=ANNA.id, message_id=sent.message_id)
    assert isinstance(edited, telegram.Message)
    assert edited.edit_date is not None
    last = botapi.last_message(ANNA.id)
    assert last["message_id"] == sent.message_id
    assert last["text"] == "Picked a"
    assert "reply_markup" not in last  # editing without reply_markup removes the keyboard
    assert [m["text"] for m in botapi.messages_to(ANNA.id)] == ["Pick one", "Picked a"]
    assert botapi.messages_to(OMAR.id) == []


async def test_message_ids_are_shared_per_chat(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    assert botapi.push_message(ANNA, "hi")["message"]["message_id"] == 1
    assert (await bot.send_message(ANNA.id, "hello")).message_id == 2
    assert (await bot.send_message(OMAR.id, "hello")).message_id == 1


async def test_edit_not_modified(bot: telegram.Bot) -> None:
    sent = await bot.send_message(ANNA.id, "Same", reply_markup=keyboard("x"))
    with pytest.raises(BadRequest) as error:
        await bot.edit_message_text(
            "Same", chat_id=ANNA.id, message_id=sent.message_id, reply_markup=keyboard("x")
        )
    assert error.value.message == NOT_MODIFIED.capitalize()
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(ANNA.id, sent.message_id, reply_markup=keyboard("x"))
    await bot.edit_message_reply_markup(ANNA.id, sent.message_id, reply_markup=keyboard("y"))


async def test_edit_unknown_message(bot: telegram.Bot) -> None:
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=ANNA.id, message_id=99)


async def test_callback_query_answered_once(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    sent = await bot.send_message(ANNA.id, "Menu", reply_markup=keyboard("jobs"))
    botapi.push_callback(ANNA, sent.message_id, "jobs")
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None
    assert query.data == "jobs"
    assert query.from_user.id == ANNA.id
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    assert query.chat_instance
    with pytest.raises(BadRequest, match="Message_too_long"):
        await query.answer("x" * 201)
    assert await query.answer("Ok")
    with pytest.raises(BadRequest, match="Query is too old"):
        await query.answer()
    with pytest.raises(BadRequest, match="query id is invalid"):
        await bot.answer_callback_query("123")
    with pytest.raises(LookupError):
        botapi.push_callback(ANNA, 99, "jobs")


@pytest.mark.parametrize("data", ["x" * 65, "æ" * 33])
async def test_oversize_callback_data_rejected(
    bot: telegram.Bot, botapi: FakeBotAPI, data: str
) -> None:
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(ANNA.id, "Menu", reply_markup=keyboard("ok", data))
    assert botapi.messages_to(ANNA.id) == []
    await bot.send_message(ANNA.id, "Menu", reply_markup=keyboard("ø" * 32))  # 64 bytes


async def test_empty_callback_data_rejected(http: httpx.AsyncClient, botapi: FakeBotAPI) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": ""}]]}
    body = {"chat_id": ANNA.id, "text": "Menu", "reply_markup": markup}
    response = await http.post(f"/bot{botapi.token}/sendMessage", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: BUTTON_DATA_INVALID",
    }


@pytest.mark.parametrize(
    ("text", "description"),
    [("   ", "Message text is empty"), ("x" * 4097, "Message is too long")],
)
async def test_text_validation(bot: telegram.Bot, text: str, description: str) -> None:
    with pytest.raises(BadRequest) as error:
        await bot.send_message(ANNA.id, text)
    assert error.value.message == description
    await bot.send_message(ANNA.id, "x" * 4096)


async def test_missing_chat_id(http: httpx.AsyncClient, botapi: FakeBotAPI) -> None:
    response = await http.post(f"/bot{botapi.token}/sendMessage", data={"text": "hi"})
    assert response.status_code == 400
    assert response.json()["description"] == "Bad Request: chat_id is empty"


async def test_fail_next_retry_after(
    bot: telegram.Bot, botapi: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # else PTB 22 warns on RetryAfter.retry_after
    botapi.fail_next(
        "sendmessage", status=429, description="Too Many Requests: retry after 3", retry_after=3
    )
    with pytest.raises(RetryAfter) as error:
        await bot.send_message(ANNA.id, "first")
    assert error.value.retry_after == dtm.timedelta(seconds=3)
    assert botapi.messages_to(ANNA.id) == []  # the failed call was not applied
    await bot.send_message(ANNA.id, "second")
    assert [c.status for c in botapi.calls_to("sendMessage")] == [429, 200]
    assert [m["text"] for m in botapi.messages_to(ANNA.id)] == ["second"]


async def test_fail_next_times_and_other_statuses(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    botapi.fail_next("sendMessage", status=502, description="Bad Gateway", times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(ANNA.id, "x")
    await bot.send_message(ANNA.id, "x")


async def test_blocked_resident(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    sent = await bot.send_message(ANNA.id, "hi")
    botapi.block(ANNA.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ANNA.id, "still there?")
    with pytest.raises(Forbidden):
        await bot.edit_message_text("edit", chat_id=ANNA.id, message_id=sent.message_id)
    await bot.send_message(OMAR.id, "unaffected")
    botapi.unblock(ANNA.id)
    await bot.send_message(ANNA.id, "welcome back")


async def test_my_chat_member_kicked_in_private_chat_blocks(
    bot: telegram.Bot, botapi: FakeBotAPI
) -> None:
    botapi.push_my_chat_member(OMAR, "member", "kicked", OMAR)
    (update,) = await bot.get_updates(timeout=0)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_chat_action(OMAR.id, "typing")


async def test_bot_added_to_group(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    botapi.push_my_chat_member(-100777, "left", "administrator", ANNA)
    botapi.push_group_message(ANNA, -100777, "/help@vollsmose_test_bot now")
    first, second = await bot.get_updates(timeout=0)
    member = first.my_chat_member
    assert member is not None
    assert member.chat.type == "supergroup"
    assert (member.old_chat_member.status, member.new_chat_member.status) == (
        "left",
        "administrator",
    )
    assert member.from_user.id == ANNA.id
    assert second.message is not None
    assert second.message.chat.id == -100777
    assert second.message.entities[0].length == len("/help@vollsmose_test_bot")
    assert await bot.leave_chat(-100777)
    with pytest.raises(Forbidden, match="not a member"):
        await bot.send_message(-100777, "bye")


async def test_wrong_token(botapi: FakeBotAPI, http: httpx.AsyncClient) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(botapi, token="999:wrong-token"):
            pass
    response = await http.post("/bot999:wrong-token/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_unknown_method_and_case_insensitivity(
    http: httpx.AsyncClient, botapi: FakeBotAPI
) -> None:
    response = await http.post(f"/bot{botapi.token}/sendTelepathy", json={"chat_id": 1})
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    response = await http.get(f"/bot{botapi.token}/SENDMESSAGE?chat_id={ANNA.id}&text=hi")
    assert response.json()["result"]["text"] == "hi"
    assert botapi.calls_to("sendMessage")[0].params == {"chat_id": ANNA.id, "text": "hi"}
    response = await http.get(f"/file/bot{botapi.token}/photos/file_1.jpg")
    assert response.status_code == 404


async def test_unknown_method_through_ptb(bot: telegram.Bot) -> None:
    with pytest.raises(telegram.error.EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": ANNA.id})


async def test_form_values_are_decoded(http: httpx.AsyncClient, botapi: FakeBotAPI) -> None:
    markup = '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'
    form = {"chat_id": str(OMAR.id), "text": "[1, 2]", "reply_markup": markup}
    response = await http.post(f"/bot{botapi.token}/sendMessage", data=form)
    assert response.json()["ok"]
    params = botapi.calls[-1].params
    assert params["chat_id"] == OMAR.id
    assert params["text"] == "[1, 2]"
    assert params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"
    bad_json = form | {"reply_markup": "{nope"}
    response = await http.post(f"/bot{botapi.token}/sendMessage", data=bad_json)
    assert response.status_code == 400


async def test_commands_round_trip_per_language(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    await bot.set_my_commands([BotCommand("start", "Begynd")], language_code="da")
    await bot.set_my_commands(
        [BotCommand("admin", "Admin")], scope=BotCommandScopeChat(ANNA.id), language_code="da"
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert await bot.get_my_commands(language_code="da") == (BotCommand("start", "Begynd"),)
    assert await bot.get_my_commands(language_code="ar") == ()
    chat_scope = BotCommandScopeChat(ANNA.id)
    assert (await bot.get_my_commands(scope=chat_scope, language_code="da"))[0].command == "admin"
    assert await bot.delete_my_commands(language_code="da")
    assert await bot.get_my_commands(language_code="da") == ()
    assert len(await bot.get_my_commands()) == 2
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start-Now", "x")])


async def test_send_photo_upload_and_venue(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    upload = b"\x89PNG" + bytes(2000)
    photo = await bot.send_photo(ANNA.id, upload, caption="<b>Map</b>", parse_mode="HTML")
    assert photo.photo[-1].file_size == 2004
    assert photo.caption == "Map"
    assert botapi.calls_to("sendPhoto")[0].params["photo"].size == 2004
    again = await bot.send_photo(ANNA.id, photo.photo[-1].file_id)
    assert again.photo[-1].file_id == photo.photo[-1].file_id
    venue = await bot.send_venue(ANNA.id, 55.4081, 10.4316, "Bydelshuset", "Vollsmose Torv 8")
    assert venue.venue is not None
    assert venue.venue.title == "Bydelshuset"
    assert venue.venue.location.latitude == pytest.approx(55.4081)
    assert botapi.last_message(ANNA.id)["venue"]["address"] == "Vollsmose Torv 8"
    assert [len(m.get("photo", [])) for m in botapi.messages_to(ANNA.id)] == [1, 1, 0]


async def test_html_parse_mode(bot: telegram.Bot) -> None:
    sent = await bot.send_message(
        ANNA.id, '<b>Åbent</b> &amp; <a href="https://x.dk">gratis</a>', parse_mode="HTML"
    )
    assert sent.text == "Åbent & gratis"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 5),
        ("text_link", 8, 6),
    ]
    assert sent.entities[1].url == "https://x.dk"
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(ANNA.id, "<b>open", parse_mode="HTML")
    with pytest.raises(BadRequest, match="unsupported start tag"):
        await bot.send_message(ANNA.id, "line<br>break", parse_mode="HTML")


async def test_chat_action_webhook_and_misc(
    bot: telegram.Bot, botapi: FakeBotAPI, http: httpx.AsyncClient
) -> None:
    assert await bot.send_chat_action(ANNA.id, "typing")
    body = {"chat_id": ANNA.id, "action": "dance"}
    response = await http.post(f"/bot{botapi.token}/sendChatAction", json=body)
    assert response.json()["description"] == "Bad Request: wrong parameter action in request"
    assert await bot.set_webhook("https://example.invalid/hook")
    assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
    with pytest.raises(telegram.error.Conflict, match="webhook is active"):
        await bot.get_updates()
    botapi.push_message(ANNA, "pending")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()
    assert await bot.close()
    assert await bot.log_out()


async def test_second_poller_conflicts_first(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await botapi.wait_for_calls("getUpdates", 1)
    async with make_bot(botapi) as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(telegram.error.Conflict, match="terminated by other getUpdates"):
        await first


async def test_drop_next_and_delay(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    botapi.drop_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(ANNA.id, "lost")
    assert botapi.calls_to("sendMessage")[0].status is None
    assert botapi.messages_to(ANNA.id) == []
    botapi.delay("sendMessage", 0.3)
    started = time.monotonic()
    await bot.send_message(ANNA.id, "slow")
    assert time.monotonic() - started >= 0.3
    botapi.delay("sendMessage", 0)
    with pytest.raises(ValueError, match="does not implement"):
        botapi.fail_next("sendTelepathy", status=500, description="x")


async def test_push_sticker_photo_and_raw(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    botapi.push_sticker(ANNA)
    botapi.push_photo(OMAR, caption="look")
    botapi.push_update({"edited_message": botapi.push_message(ANNA, "typo")["message"]})
    sticker, photo, text, edited = await bot.get_updates(timeout=0)
    assert sticker.message is not None
    assert sticker.message.sticker is not None
    assert photo.message is not None
    assert photo.message.caption == "look"
    assert len(photo.message.photo) == 3
    assert photo.message.from_user is not None
    assert photo.message.from_user.last_name == "Hassan"
    assert text.update_id == 3
    assert edited.update_id == 4
    assert edited.edited_message is not None
    assert edited.edited_message.text == "typo"


async def test_wait_for_reports_recent_calls(bot: telegram.Bot, botapi: FakeBotAPI) -> None:
    await bot.send_message(ANNA.id, "visible in report")
    assert await botapi.wait_for(lambda: botapi.last_message(ANNA.id)) is not None
    with pytest.raises(AssertionError) as error:
        await botapi.wait_for(lambda: botapi.last_message(OMAR.id), timeout=0.05)
    assert "botapi.last_message(OMAR.id)" in str(error.value)
    assert "sendMessage -> 200" in str(error.value)
    assert "visible in report" in str(error.value)
