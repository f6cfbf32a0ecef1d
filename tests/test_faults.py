"""Telegram faults injected by the Bot API server: the bot (its own process) keeps serving,
retries what is worth retrying, gives up cleanly on what is not, and counts each referral once."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from tests.botapi import NOT_MODIFIED, TOO_OLD, Resident
from tests.e2e_helpers import (
    BotProcess,
    RecordingBotAPI,
    botapi,
    open_menus,
    referral_count,
    running,
)

__all__ = ["botapi", "running"]

pytestmark = pytest.mark.timeout(120)

SERVICE = "fritidsjob-hjaelp"
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)


def residents(count: int, first: int = 7_301_000_001) -> list[Resident]:
    names = ["Farhiya Warsame", "Kemal Öztürkoğlu", "Nour Haddadine", "Birgitte Kjærsgaard"]
    return [
        Resident(first + n, f"{names[n % len(names)]} {n}", f"fault_user_{n}_qx", "da")
        for n in range(count)
    ]


def card_prefix(engine: Engine, service: str = SERVICE, language: str = "da") -> str:
    """How the service's contact card begins: its name (the rest depends on the time of day)."""
    return engine.catalogs[language].gettext(engine.content.services[service].name) + "\n"


def shows(botapi: RecordingBotAPI, resident: Resident, message_id: int, prefix: str) -> bool:
    message = botapi.message(resident.id, message_id)
    return bool(message and message.get("text", "").startswith(prefix))


def times_shown(botapi: RecordingBotAPI, resident: Resident, prefix: str) -> int:
    """How often a message beginning with prefix was sent or edited into the resident's chat."""
    return sum(m.get("text", "").startswith(prefix) for m in botapi.messages_to(resident.id))


async def stop_cleanly(bot: BotProcess) -> None:
    assert await bot.stop() == 0
    assert bot.log_problems() == []


async def test_429_for_one_resident_while_another_is_served(
    botapi: RecordingBotAPI, running: BotProcess, engine: Engine
) -> None:
    """Telegram answers 429 (retry after 1 s) to one resident's card: the rate limiter waits and
    sends it once; the other resident is served; the referral counts once."""
    amina, jonas = residents(2)
    menus = await open_menus(botapi, [amina, jonas])
    botapi.fail_next(
        "editMessageText", status=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    botapi.push_callback(amina, menus[amina.id], engine.data("@" + SERVICE))
    await botapi.wait_for(lambda: any(c.status == 429 for c in botapi.calls_to("editMessageText")))
    botapi.push_callback(jonas, menus[jonas.id], engine.data("mentor"))

    card = card_prefix(engine)
    mentor = engine.screen("mentor", "da").text
    await botapi.wait_for(lambda: shows(botapi, jonas, menus[jonas.id], mentor))
    await botapi.wait_for(lambda: shows(botapi, amina, menus[amina.id], card))
    assert times_shown(botapi, amina, card) == 1
    assert [c.status for c in botapi.calls_to("answerCallbackQuery")] == [200, 200]

    await stop_cleanly(running)
    assert referral_count(running.database, SERVICE) == 1


async def test_5xx_edits_are_retried_a_5xx_send_is_not_repeated(
    botapi: RecordingBotAPI, running: BotProcess, engine: Engine
) -> None:
    """A sendMessage answered 500 may still have been delivered (Telegram does not say): it is
    not sent again, and the resident's next /menu is served. A card edit answered 500, then 502
    is tried again (an edit cannot show anything twice): the card arrives once, counts once."""
    [amina] = residents(1)
    botapi.fail_next("sendMessage", status=500, description="Internal Server Error")
    botapi.push_message(amina, "/menu")
    botapi.push_message(amina, "/menu")
    menu = engine.menu("da").text
    await botapi.wait_for(lambda: (botapi.last_message(amina.id) or {}).get("text") == menu)
    assert [c.status for c in botapi.calls_to("sendMessage")] == [500, 200]
    assert times_shown(botapi, amina, menu) == 1

    botapi.fail_next("editMessageText", status=500, description="Internal Server Error")
    botapi.fail_next("editMessageText", status=502, description="Bad Gateway")
    message_id = botapi.last_message(amina.id)["message_id"]  # type: ignore[index]
    botapi.push_callback(amina, message_id, engine.data("@" + SERVICE))
    await botapi.wait_for(lambda: shows(botapi, amina, message_id, card_prefix(engine)))
    assert [c.status for c in botapi.calls_to("editMessageText")] == [500, 502, 200]

    assert await running.stop() == 0
    problems = running.log_problems()
    assert len(problems) == 1, problems
    assert "failed: NetworkError" in problems[0]
    assert referral_count(running.database, SERVICE) == 1


async def test_dropped_connections_are_retried(
    botapi: RecordingBotAPI, running: BotProcess, engine: Engine
) -> None:
    """The connection drops without an answer on answerCallbackQuery and on editMessageText:
    both are sent again, the card is shown once and counted once."""
    [amina] = residents(1)
    menus = await open_menus(botapi, [amina])
    botapi.drop_next("answerCallbackQuery")
    botapi.drop_next("editMessageText")
    botapi.push_callback(amina, menus[amina.id], engine.data("@" + SERVICE))
    card = card_prefix(engine)
    await botapi.wait_for(lambda: shows(botapi, amina, menus[amina.id], card))
    assert len(botapi.calls_to("answerCallbackQuery")) == 2
    assert [c.status for c in botapi.calls_to("answerCallbackQuery")][-1] == 200
    assert len(botapi.calls_to("editMessageText")) == 2
    assert times_shown(botapi, amina, card) == 1

    await stop_cleanly(running)
    assert referral_count(running.database, SERVICE) == 1


async def test_a_timed_out_call_is_retried_while_others_are_served(
    botapi: RecordingBotAPI, running: BotProcess, engine: Engine
) -> None:
    """Telegram does not answer an edit within the read time-out: the bot tries again, and in
    the meantime another resident is served."""
    amina, jonas = residents(2)
    menus = await open_menus(botapi, [amina, jonas])
    # Unanswered until released: the first edit outlasts the client's 5 s read time-out however
    # slowly the machine runs (a fixed 6 s delay let a busy machine answer the retry first).
    botapi.hold("editMessageText")
    botapi.push_callback(amina, menus[amina.id], engine.data("@" + SERVICE))
    await botapi.wait_for_calls("editMessageText", 1)
    botapi.push_message(jonas, "/help")
    help_text = engine.help("da").text
    # Served while Amina's card edit waits for its answer.
    await botapi.wait_for(lambda: (botapi.last_message(jonas.id) or {}).get("text") == help_text)
    # The read time-out: the edit is tried again.
    await botapi.wait_for_calls("editMessageText", 2, timeout=30)
    botapi.release("editMessageText")
    await botapi.wait_for(lambda: shows(botapi, amina, menus[amina.id], card_prefix(engine)))
    assert len(botapi.calls_to("editMessageText")) == 2

    await stop_cleanly(running)
    # Both attempts reached Telegram; the second found the card already there: shown once.
    assert times_shown(botapi, amina, card_prefix(engine)) == 1
    assert referral_count(running.database, SERVICE) == 1


async def test_a_resident_who_blocked_the_bot_does_not_stop_the_others(
    botapi: RecordingBotAPI, running: BotProcess, engine: Engine
) -> None:
    """Every call to a resident who blocked the bot gets 403; the bot notes it quietly and
    keeps serving everyone else."""
    amina, jonas, sara = residents(3)
    menus = await open_menus(botapi, [amina, jonas, sara])
    botapi.block(jonas.id)
    botapi.push_my_chat_member(sara, "member", "kicked", sara)
    botapi.push_message(jonas, "/menu")
    botapi.push_callback(jonas, menus[jonas.id], engine.data("mentor"))
    botapi.push_message(sara, "hello, are you there?")
    botapi.push_callback(amina, menus[amina.id], engine.data("mentor"))
    mentor = engine.screen("mentor", "da").text
    await botapi.wait_for(lambda: shows(botapi, amina, menus[amina.id], mentor))

    def refused() -> set[tuple[str, int]]:
        return {
            (c.method, int(c.params["chat_id"]))
            for c in botapi.calls
            if c.status == 403 and "chat_id" in c.params
        }

    await botapi.wait_for(
        lambda: (
            refused()
            >= {("sendMessage", jonas.id), ("editMessageText", jonas.id), ("sendMessage", sara.id)}
        )
    )
    assert not shows(botapi, jonas, menus[jonas.id], mentor)

    # Unblocked again, they are served as before.
    botapi.unblock(jonas.id)
    botapi.push_message(jonas, "/menu")
    await botapi.wait_for(
        lambda: (
            (botapi.last_message(jonas.id) or {}).get("text") == engine.menu("da").text
            and botapi.last_message(jonas.id)["message_id"] != menus[jonas.id]
        )  # type: ignore[index]
    )
    await stop_cleanly(running)
    assert "blocked" in running.log_text()


async def test_not_modified_too_old_and_deleted_messages_are_not_errors(
    botapi: RecordingBotAPI, running: BotProcess, engine: Engine
) -> None:
    """ "message is not modified" and "query is too old" are nothing to do; an edit of a deleted
    message is sent as a new message. No error is logged and the bot goes on."""
    [amina] = residents(1)
    menus = await open_menus(botapi, [amina])
    botapi.fail_next("answerCallbackQuery", status=400, description=f"Bad Request: {TOO_OLD}")
    botapi.fail_next("editMessageText", status=400, description=f"Bad Request: {NOT_MODIFIED}")
    botapi.push_callback(amina, menus[amina.id], engine.data("mentor"))
    await botapi.wait_for(lambda: len(botapi.calls_to("editMessageText")) == 1)
    assert [c.status for c in botapi.calls_to("answerCallbackQuery")] == [400]

    botapi.fail_next(
        "editMessageText", status=400, description="Bad Request: message to edit not found"
    )
    botapi.push_callback(amina, menus[amina.id], engine.data("foraeldre"))
    foraeldre = engine.screen("foraeldre", "da").text
    await botapi.wait_for(lambda: (botapi.last_message(amina.id) or {}).get("text") == foraeldre)
    assert botapi.last_message(amina.id)["message_id"] != menus[amina.id]  # type: ignore[index]

    botapi.push_callback(amina, menus[amina.id], engine.data("mentor"))
    mentor = engine.screen("mentor", "da").text
    await botapi.wait_for(lambda: shows(botapi, amina, menus[amina.id], mentor))
    await stop_cleanly(running)


async def test_409_conflict_on_polling_then_serves_again(
    botapi: RecordingBotAPI, running: BotProcess, engine: Engine
) -> None:
    """A 409 Conflict on getUpdates (another poller) does not stop the bot: it polls again and
    serves the next update."""
    [amina] = residents(1)
    botapi.fail_next("getUpdates", status=409, description=CONFLICT)
    botapi.push_message(amina, "/help")  # ends the current long poll; the next one gets 409
    await botapi.wait_for(lambda: any(c.status == 409 for c in botapi.calls_to("getUpdates")))
    botapi.push_message(amina, "/menu")
    menu = engine.menu("da").text
    await botapi.wait_for(lambda: (botapi.last_message(amina.id) or {}).get("text") == menu)
    assert running.process.poll() is None
    assert await running.stop() == 0
    # The conflict is reported (an operator must learn that two bots poll), as its type only.
    problems = running.log_problems()
    assert all("only one bot may run" in line for line in problems), problems


async def test_each_referral_counted_exactly_once_under_mixed_faults(
    botapi: RecordingBotAPI, running: BotProcess, engine: Engine
) -> None:
    """Twelve residents open the same card while Telegram answers with a mix of 429, 502,
    dropped connections and "query is too old": each is shown the card once, and the count is
    exactly twelve."""
    people = residents(12)
    menus = await open_menus(botapi, people)
    botapi.fail_next("editMessageText", status=429, description="Too Many Requests", retry_after=1)
    botapi.fail_next("editMessageText", status=502, description="Bad Gateway")
    botapi.drop_next("editMessageText")
    botapi.fail_next("answerCallbackQuery", status=400, description=f"Bad Request: {TOO_OLD}")
    botapi.drop_next("answerCallbackQuery")
    for person in people:
        botapi.push_callback(person, menus[person.id], engine.data("@" + SERVICE))
    card = card_prefix(engine)
    await botapi.wait_for(
        lambda: all(shows(botapi, p, menus[p.id], card) for p in people), timeout=30
    )
    # A clean stop finishes every retry still pending, so nothing can arrive after this.
    await stop_cleanly(running)
    assert all(times_shown(botapi, p, card) == 1 for p in people)
    assert referral_count(running.database, SERVICE) == len(people)


async def test_an_update_the_library_cannot_read_is_skipped(
    botapi: RecordingBotAPI, running: BotProcess, engine: Engine
) -> None:
    """A Bot API server older than the library (here: a poll without the fields python-telegram-bot
    22.8 requires) sends an update that cannot be parsed. The bot skips it, logs only its id,
    and serves the next update; the raw update (the resident's name, the poll) is not logged."""
    [amina] = residents(1)
    old_style_poll = {
        "id": "5" * 18,
        "question": "Where can my son Abdiwali get a job?",
        "options": [{"text": "Nowhere known to Amina Qx", "voter_count": 0}],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    }
    message = {"message_id": 1, "date": 1_790_000_000, "chat": amina.chat(), "from": amina.user()}
    poisoned = botapi.push_update({"message": message | {"poll": old_style_poll}})
    botapi.push_message(amina, "/menu")
    menu = engine.menu("da").text
    await botapi.wait_for(lambda: (botapi.last_message(amina.id) or {}).get("text") == menu)
    await stop_cleanly(running)
    assert f"update {poisoned['update_id']}" in running.log_text()
    # The running fixture's teardown audits the log for the name and the poll's texts.
