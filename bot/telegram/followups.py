"""The weekly batch of follow-up questions (BOT_FOLLOWUP_AT) and their daily purge: JobQueue jobs.

The rules (what is kept, for how long, how answers count) are in bot/followup.py; this module only
sends the questions to Telegram chats and schedules the jobs.
"""

from __future__ import annotations

import datetime as dt
import logging

from telegram.error import Forbidden, TelegramError

from bot import followup
from bot.guide import Resident
from bot.telegram.context import GuideApplication
from bot.telegram.handlers import keyboard

log = logging.getLogger(__name__)

JOB_NAME = "followup-questions"
PURGE_JOB = "purge-followups"
PURGE_TIME = dt.time(3, 40)
TELEGRAM = "tg:"


async def send_questions(application: GuideApplication) -> int:
    """Ask every follow-up due by today (their rows are deleted first); returns how many were
    delivered. A blocked bot or a closed chat counts as asked and not answered."""
    guide = application.parts.guide
    if guide.followups is None:
        return 0
    delivered = undeliverable = 0
    for due in await guide.followups.take_due():
        if not due.resident.startswith(TELEGRAM):
            continue
        language = await guide.language(Resident(due.resident))
        reply = followup.question(guide.engine, due, language.answer)
        try:
            chat = int(due.resident.removeprefix(TELEGRAM))
            await application.bot.send_reply(chat, reply.text, keyboard(reply))
        except Forbidden:
            undeliverable += 1
        except (TelegramError, ValueError) as error:
            undeliverable += 1
            log.warning("a follow-up question could not be sent: %s", type(error).__name__)
        else:
            delivered += 1
    if delivered or undeliverable:
        log.info(
            "follow-up questions: %d sent, %d could not be delivered", delivered, undeliverable
        )
    return delivered


async def purge(application: GuideApplication) -> int:
    """Delete follow-ups older than 14 days, as /privacy promises."""
    guide = application.parts.guide
    purged = await guide.followups.purge() if guide.followups is not None else 0
    if purged:
        log.info("deleted %d follow-ups older than %d days", purged, followup.KEEP_DAYS)
    return purged


def start(application: GuideApplication) -> None:
    """From post_init: schedule the weekly questions and the daily purge (jobs of one name each)."""
    queue = application.job_queue
    if queue is None or application.parts.guide.followups is None:
        return
    settings = application.parts.settings
    for name in (JOB_NAME, PURGE_JOB):
        for job in queue.get_jobs_by_name(name):
            job.schedule_removal()

    async def ask(_context: object) -> None:
        await send_questions(application)

    async def purge_job(_context: object) -> None:
        await purge(application)

    queue.run_daily(
        ask,
        time=settings.followup_time,
        # python-telegram-bot numbers weekdays from Sunday (0); the setting from Monday (0).
        days=((settings.followup_weekday + 1) % 7,),
        name=JOB_NAME,
        job_kwargs={"misfire_grace_time": None, "coalesce": True},
    )
    queue.run_daily(purge_job, time=PURGE_TIME.replace(tzinfo=settings.timezone), name=PURGE_JOB)


def stop(application: GuideApplication) -> None:
    """From post_shutdown: remove the jobs."""
    if application.job_queue is None:
        return
    for name in (JOB_NAME, PURGE_JOB):
        for job in application.job_queue.get_jobs_by_name(name):
            job.schedule_removal()
