"""Staff: /stats for staff only, the staff command list, and the Monday report to the staff chat.

/stats is handled only for staff (python-telegram-bot's user filter) in a private chat or the
staff chat (its chat filter); from anyone else it falls through to exactly the handler an unknown
command goes to, so nothing reveals that it exists.

The Monday report is sent at most once per ISO week. The week is recorded in reports_sent after the
report and chart are built and *before* they are sent: if the process dies, or Telegram fails,
between the record and the send, that week's report is lost (and logged) rather than ever sent
twice; staff can still ask for it with /stats. Recording is atomic (INSERT ... ON CONFLICT DO
NOTHING), so a catch-up and the job running at once cannot both send. Catching up at start-up
sends only the latest week that is due, not every week missed during a long downtime.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from telegram import Bot, BotCommandScopeChat, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CommandHandler, filters

from bot.guide import LISTED, Command, Resident
from bot.i18n import N_, Translator
from bot.stats import (
    DEFAULT_WEEKS,
    IsoWeek,
    Report,
    last_weeks,
    table_blocks,
    weekly_report,
)
from bot.telegram.commands import set_commands
from bot.telegram.context import GuideApplication, GuideContext

log = logging.getLogger(__name__)

COMMAND = "stats"
# Translators: description of /stats in Telegram's command menu, shown to staff only.
DESCRIPTION = N_("Referrals per week (staff)")
STATS = Command(COMMAND, DESCRIPTION)
JOB_NAME = "weekly-report"
REPORT_TIME = dt.time(8, 0)
# python-telegram-bot 20+ numbers weekdays from Sunday: 0 = Sunday, 1 = Monday.
MONDAY = 1
MAX_WEEKS = 52
CHART_WEEKS = 4  # the Monday chart shows the reported week and the three before it
MESSAGE_LIMIT = 4096

Clock = Callable[[], dt.datetime]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def register(application: GuideApplication) -> None:
    """Add /stats for staff. Call before the group and unknown-command handlers."""
    settings = application.parts.settings
    where: filters.BaseFilter = filters.ChatType.PRIVATE
    if settings.bot_staff_chat_id is not None:
        where = where | filters.Chat(chat_id=settings.bot_staff_chat_id)
    # New messages only: an edited "/stats" takes the same way as any other edited message.
    staff = filters.UpdateType.MESSAGE & filters.User(user_id=settings.bot_staff_ids) & where
    application.add_handler(CommandHandler(COMMAND, on_stats, filters=staff))


async def on_stats(update: Update, context: GuideContext) -> None:
    """/stats [weeks] from staff: the report of the last weeks and its chart."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    parts = context.parts
    settings = parts.settings
    count = _weeks(context.args)
    today = _now().astimezone(settings.timezone).date()
    report = await weekly_report(
        parts.services.storage,
        parts.guide.engine.content,
        settings.bot_timezone,
        last_weeks(count, today),
        settings.bot_stats_threshold,
    )
    language = await parts.guide.language(Resident(f"tg:{user.id}", user.language_code))
    tr = parts.guide.engine.catalogs[language.answer]
    await send_report(context.bot, chat.id, await render_report(report, tr))
    log.info("update %s: staff statistics for %d weeks", update.update_id, count)


def _weeks(args: Sequence[str] | None) -> int:
    """The optional number after /stats, kept within 1..MAX_WEEKS; the default otherwise."""
    if args and args[0].isdigit():
        return min(max(int(args[0]), 1), MAX_WEEKS)
    return DEFAULT_WEEKS


def _chunks(blocks: Sequence[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join blocks into as few <pre> messages as fit Telegram's limit, splitting long blocks."""
    room = limit - len("<pre></pre>")
    pieces: list[str] = []
    for block in blocks:
        if len(html.escape(block)) <= room:
            pieces.append(block)
            continue
        part = ""
        for line in block.split("\n"):
            line = line[: room // 6]  # even escaped, one line fits a message
            candidate = f"{part}\n{line}" if part else line
            if part and len(html.escape(candidate)) > room:
                pieces.append(part)
                candidate = line
            part = candidate
        pieces.append(part)
    messages: list[str] = []
    for piece in pieces:
        joined = f"{messages[-1]}\n\n{piece}" if messages else piece
        if messages and len(html.escape(joined)) <= room:
            messages[-1] = joined
        else:
            messages.append(piece)
    return [f"<pre>{html.escape(message)}</pre>" for message in messages]


@dataclass(frozen=True)
class Rendered:
    """A report ready to send: HTML messages (monospace tables) and the chart as PNG bytes."""

    messages: list[str]
    chart: bytes


async def render_report(report: Report, tr: Translator, chart: Report | None = None) -> Rendered:
    """The table and the chart (of `chart`'s weeks, if given), drawn in a worker thread."""
    from bot.chart import referrals_chart

    png = await asyncio.to_thread(referrals_chart, chart or report, tr)
    return Rendered(_chunks(table_blocks(report, tr)), png)


async def send_report(bot: Bot, chat_id: int, rendered: Rendered) -> None:
    """The table as monospace messages, then the chart as a photo."""
    for text in rendered.messages:
        await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
    await bot.send_photo(chat_id, rendered.chart)


async def set_staff_commands(application: GuideApplication) -> None:
    """List /stats after the residents' commands, only in staff members' and the staff chat."""
    settings = application.parts.settings
    catalogs = application.parts.guide.engine.catalogs
    scopes = [(staff_id, (*LISTED, STATS)) for staff_id in sorted(settings.bot_staff_ids)]
    if settings.bot_staff_chat_id is not None:
        # Residents' commands work in private chats only, so the staff chat lists just /stats.
        scopes.append((settings.bot_staff_chat_id, (STATS,)))
    for chat_id, commands in scopes:
        try:
            await set_commands(
                application.bot,
                catalogs,
                settings.bot_default_language,
                commands,
                BotCommandScopeChat(chat_id),
            )
        except TelegramError as error:
            # Typically "chat not found": the staff member has not opened the bot yet.
            log.warning("could not list the staff commands in one chat: %s", type(error).__name__)


def due_week(now: dt.datetime, timezone: dt.tzinfo) -> IsoWeek:
    """The latest ISO week whose report time (the Monday after it, 08:00 local) has passed."""
    local = now.astimezone(timezone)
    current = IsoWeek.containing(local.date())
    due_at = dt.datetime.combine(current.start, REPORT_TIME, tzinfo=timezone)
    return current.previous() if local >= due_at else current.shift(-2)


async def send_due_report(application: GuideApplication, now: dt.datetime) -> IsoWeek | None:
    """Send the latest due week's report to the staff chat unless that week was sent already.

    Returns the week sent (or recorded and attempted), None when there was nothing to do.
    """
    parts = application.parts
    settings, engine = parts.settings, parts.guide.engine
    chat_id = settings.bot_staff_chat_id
    if chat_id is None:
        return None
    storage = parts.services.storage
    week = due_week(now, settings.timezone)
    last = await storage.last_report_week()
    if last is not None and last >= str(week):  # "2026-W53" < "2027-W01" as text too
        return None
    content, zone, limit = engine.content, settings.bot_timezone, settings.bot_stats_threshold
    report = await weekly_report(storage, content, zone, [week], limit)
    chart = await weekly_report(
        storage, content, zone, [week.shift(-back) for back in range(CHART_WEEKS)], limit
    )
    # Everything that can fail before Telegram is involved happens before the week is recorded.
    rendered = await render_report(
        report, engine.catalogs[settings.bot_default_language], chart=chart
    )
    today = now.astimezone(settings.timezone).date()
    if not await storage.mark_report_sent(str(week), today):
        return None  # recorded meanwhile by another run: never twice
    try:
        await send_report(application.bot, chat_id, rendered)
    except TelegramError as error:
        log.error(
            "the report for %s was recorded but not delivered (%s); it is not sent again, "
            "staff can ask for it with /stats",
            week,
            type(error).__name__,
        )
    else:
        log.info("sent the weekly report for %s to the staff chat", week)
    return week


async def start(application: GuideApplication, clock: Clock | None = None) -> None:
    """From post_init: list the staff commands, schedule the Monday report and catch up."""
    await set_staff_commands(application)
    settings = application.parts.settings
    if settings.bot_staff_chat_id is None:
        return
    queue = application.job_queue
    if queue is None:
        log.warning("no job queue (python-telegram-bot[job-queue]): no Monday report")
    else:
        for job in queue.get_jobs_by_name(JOB_NAME):
            job.schedule_removal()

        async def weekly_job(_context: GuideContext) -> None:
            """The Monday 08:00 job."""
            await send_due_report(application, (clock or _now)())

        queue.run_daily(
            weekly_job,
            time=REPORT_TIME.replace(tzinfo=settings.timezone),
            days=(MONDAY,),
            name=JOB_NAME,
            # Run late rather than never if the event loop was busy at 08:00 exactly.
            job_kwargs={"misfire_grace_time": None, "coalesce": True},
        )
    try:
        await send_due_report(application, (clock or _now)())
    except Exception:  # a broken report must not keep residents from being served
        log.exception("catching up the weekly report failed")
