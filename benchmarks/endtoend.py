"""End to end, as residents meet it: a bot process long-polling a Bot API server on loopback.

Our bot is `vollsmose-bot run`; the minimal bot (benchmarks/launch.py) makes the same calls with
the same HTTP client and rate limiter. Both get the same residents and the same updates from the
same server (tests/botapi.py) in alternating rounds. The server runs in this process on one CPU,
the bot on the other, and the bot's CPU time is read from /proc.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import TELEGRAM_MESSAGES_PER_S, Measure, Scale
from bot.config import REPOSITORY
from bot.engine import Engine, Reply
from tests.botapi import FakeBotAPI, Json, Resident

TOKEN = "123456:BENCH-token-for-the-loopback-bot-api"
ROUND_TRIP = 0.05  # seconds: a Bot API call from a server in Europe
MIX_TEXTS = (
    "Hej, jeg leder efter hjælp til lektier til min søn",
    "fritidsjob",
    "Jeg har brug for en advokat",
    "hvor kan jeg lære dansk",
    "Merhaba, iş arıyorum",
)
# The calls that end the handling of an update, and the ones Telegram limits to ~30 a second.
_CONTENT = ("sendMessage", "editMessageText")
_LIMITED = ("sendMessage", "editMessageText", "sendVenue")


class TimedBotAPI(FakeBotAPI):
    """The loopback Bot API, noting when it applied each reply, per chat and method."""

    def __init__(self) -> None:
        super().__init__(token=TOKEN)
        self.applied: dict[str, list[tuple[int, float]]] = {}
        self.expected = 0
        self.done = asyncio.Event()
        self._counted = 0
        self.query_owner: dict[str, int] = {}
        # When the bot received each button press (the getUpdates answer that carried it).
        self.delivered: dict[str, float] = {}
        self.delivered_to: dict[int, list[float]] = {}

    def expect(self, calls: int) -> None:
        """Set `done` once this many more limited calls have been applied."""
        self.expected, self._counted = calls, 0
        self.done.clear()

    def _note(self, method: str, params: Json) -> None:
        chat = params.get("chat_id")
        self.applied.setdefault(method, []).append(
            (chat if isinstance(chat, int) else 0, time.monotonic())
        )
        if method in _LIMITED:
            self._counted += 1
            if self.expected and self._counted >= self.expected:
                self.done.set()

    def _send_message(self, params: Json) -> Json:
        self._note("sendMessage", params)
        return super()._send_message(params)

    def _edit_message_text(self, params: Json) -> Json:
        self._note("editMessageText", params)
        return super()._edit_message_text(params)

    def _send_venue(self, params: Json) -> Json:
        self._note("sendVenue", params)
        return super()._send_venue(params)

    def _answer_callback_query(self, params: Json) -> bool:
        owner = self.query_owner.get(str(params.get("callback_query_id")), 0)
        self._note("answerCallbackQuery", {"chat_id": owner})
        return super()._answer_callback_query(params)

    async def _get_updates(self, params: Json) -> list[Json]:
        updates = await super()._get_updates(params)
        now = time.monotonic()
        for update in updates:
            query = update.get("callback_query")
            if query is not None and query["id"] not in self.delivered:
                self.delivered[query["id"]] = now
                self.delivered_to.setdefault(query["from"]["id"], []).append(now)
        return updates

    def seed_menu(self, resident: Resident, text: str) -> int:
        """A message from the bot already in the resident's chat, to press buttons under."""
        chat = resident.chat()
        self._chats.setdefault(chat["id"], chat)
        return self._store(chat, self.bot_user, text=text)["message_id"]


@dataclass
class Workload:
    """Residents and what each of them does, in order; the same for both bots."""

    residents: list[Resident]
    steps: dict[int, list[tuple[str, str]]]  # resident id -> ("press" | "text", data or text)
    limited_calls: int = 0
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Each resident's first update, before the measured ones: a press to the main menu.
    greeting: tuple[str, str] = ("press", "")


def _answer(reply: Reply) -> dict[str, Any]:
    rows = [[{"text": b.label, "data": b.data} for b in row] for row in reply.buttons]
    if reply.venue is not None:  # a card's map link
        rows.append([{"text": reply.venue.label, "url": reply.venue.url}])
    return {"text": reply.text, "keyboard": rows}


def workload(
    engine: Engine, residents: int, per_resident: int, seed: int, cards: float = 0.1,
    texts: float = 0.2, first: int = 8_000_000_001,
) -> Workload:  # fmt: skip
    """70 % presses to another screen, 20 % typed text, 10 % contact cards (by default)."""
    rng = random.Random(seed)
    screens = [s for s in engine.content.screens if s != engine.content.start]
    services = list(engine.content.services)
    people = [Resident(first + n, f"Resident {n}", None, "da") for n in range(residents)]
    work = Workload(people, {})
    buttons: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    for person in people:
        steps: list[tuple[str, str]] = []
        previous = ""
        for _ in range(per_resident):
            roll = rng.random()
            if roll < texts:
                text = rng.choice(MIX_TEXTS)
                steps.append(("text", text))
                reply = engine.typed(text, "da")
                typed.setdefault(text, _answer(reply))
            else:
                while True:
                    target = (
                        "@" + rng.choice(services) if roll < texts + cards else rng.choice(screens)
                    )
                    if target != previous:
                        break
                previous = target
                data = engine.data(target)
                steps.append(("press", data))
                reply = engine.press(data, "da")
                buttons.setdefault(data, _answer(reply))
            work.limited_calls += 1
        work.steps[person.id] = steps
    work.greeting = ("press", engine.data(engine.content.start))
    buttons.setdefault(work.greeting[1], _answer(engine.press(work.greeting[1], "da")))
    work.answers = {"buttons": buttons, "texts": typed}
    return work


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Round:
    cpu_per_update_ms: float
    drain_s: float
    edit_latencies: list[float]
    answer_latencies: list[float]
    last_reply_s: float
    answer_after_delivery: list[float] = field(default_factory=list)
    first_cpu_ms: float = 0.0  # a resident's first update since the start (greet)


class BotUnderTest:
    """One bot process (ours or the minimal one) against a fresh loopback Bot API."""

    def __init__(self, kind: str, limiter: bool, work: Workload, directory: Path, cpu: int | None):
        self.kind, self.limiter, self.work, self.directory, self.cpu = (
            kind,
            limiter,
            work,
            directory,
            cpu,
        )
        self.api = TimedBotAPI()
        self.process: subprocess.Popen[bytes] | None = None
        self.menus: dict[int, int] = {}

    async def __aenter__(self) -> BotUnderTest:
        await self.api.start()
        for person in self.work.residents:
            self.menus[person.id] = self.api.seed_menu(person, "menu")
        self.directory.mkdir(parents=True, exist_ok=True)
        answers = self.directory / "answers.json"
        answers.write_text(json.dumps(self.work.answers), encoding="utf-8")
        args = ["ours"] if self.kind == "ours" else ["minimal", str(answers)]
        if not self.limiter:
            args.append("--no-limiter")
        env = dict(os.environ)
        env |= {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": self.api.url,
            "BOT_DATABASE": str(self.directory / "data" / "bot.sqlite3"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")])),
        }
        cpu = self.cpu
        with (self.directory / "bot.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: ASYNC220 (started once, not awaited)
                [sys.executable, "-m", "benchmarks.launch", *args],
                cwd=self.directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None,
            )
        polls = 0
        deadline = time.monotonic() + 60
        while polls == 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.kind} bot did not start; see {self.directory / 'bot.log'}"
                )
            await asyncio.sleep(0.05)
            polls = len(self.api.calls_to("getUpdates"))
        await asyncio.sleep(0.3)  # start-up work (setMyCommands, the first poll) is over
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            for _ in range(200):
                if self.process.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                self.process.kill()
            self.process.wait()
        await self.api.stop()

    def push(self, person: Resident, step: tuple[str, str]) -> None:
        kind, value = step
        if kind == "press":
            update = self.api.push_callback(person, self.menus[person.id], value)
            self.api.query_owner[update["callback_query"]["id"]] = person.id
        else:
            self.api.push_message(person, value)

    async def greet(self) -> float:
        """Each resident's first update since the bot started (the greeting), all at once, until
        every reply is applied: the bot's CPU milliseconds per resident."""
        assert self.process is not None
        self.api.expect(len(self.work.residents))
        cpu = _cpu_seconds(self.process.pid)
        for person in self.work.residents:
            self.push(person, self.work.greeting)
        await asyncio.wait_for(self.api.done.wait(), timeout=600)
        return (_cpu_seconds(self.process.pid) - cpu) / len(self.work.residents) * 1000

    async def drain(self, delay: float, greet: bool = False) -> Round:
        """Every step of every resident queued at once; until the last reply is applied.

        With `greet`, every resident has been seen once before (the greeting), as most residents
        have been by a bot that runs for days; the greeting's own cost is in `first_cpu_ms`.
        """
        assert self.process is not None
        for method in (*_LIMITED, "answerCallbackQuery"):
            self.api.delay(method, delay)
        first = await self.greet() if greet else 0.0
        count = sum(len(s) for s in self.work.steps.values())
        self.api.expect(self.work.limited_calls)
        self.api.applied.clear()
        cpu = _cpu_seconds(self.process.pid)
        start = time.monotonic()
        depth = max(len(s) for s in self.work.steps.values())
        for index in range(depth):
            for person in self.work.residents:
                steps = self.work.steps[person.id]
                if index < len(steps):
                    self.push(person, steps[index])
        await asyncio.wait_for(self.api.done.wait(), timeout=600)
        drained = time.monotonic() - start
        used = _cpu_seconds(self.process.pid) - cpu
        result = self._round(used / count * 1000, drained, start, {})
        result.first_cpu_ms = first
        return result

    async def paced(self, delay: float, interval: tuple[float, float], seed: int) -> Round:
        """Each resident presses at random intervals; latency from press to the reply applied."""
        assert self.process is not None
        for method in (*_LIMITED, "answerCallbackQuery"):
            self.api.delay(method, delay)
        self.api.expect(self.work.limited_calls)
        self.api.applied.clear()
        rng = random.Random(seed)
        pushed: dict[int, list[float]] = {}
        cpu = _cpu_seconds(self.process.pid)
        start = time.monotonic()

        async def resident(person: Resident, waits: list[float]) -> None:
            for step, wait in zip(self.work.steps[person.id], waits, strict=True):
                await asyncio.sleep(wait)
                pushed.setdefault(person.id, []).append(time.monotonic())
                self.push(person, step)

        plans = {
            p.id: [rng.uniform(*interval) for _ in self.work.steps[p.id]]
            for p in self.work.residents
        }
        await asyncio.gather(*(resident(p, plans[p.id]) for p in self.work.residents))
        await asyncio.wait_for(self.api.done.wait(), timeout=600)
        drained = time.monotonic() - start
        count = sum(len(s) for s in self.work.steps.values())
        used = _cpu_seconds(self.process.pid) - cpu
        return self._round(used / count * 1000, drained, start, pushed)

    def _round(
        self, cpu_ms: float, drained: float, start: float, pushed: dict[int, list[float]]
    ) -> Round:
        """Latencies: each resident's n-th reply against their n-th update (order is kept)."""
        replies: dict[int, list[float]] = {}
        for method in _CONTENT:
            for chat, at in self.api.applied.get(method, []):
                replies.setdefault(chat, []).append(at)
        answers: dict[int, list[float]] = {}
        for chat, at in self.api.applied.get("answerCallbackQuery", []):
            answers.setdefault(chat, []).append(at)
        edits: list[float] = []
        answered: list[float] = []
        after: list[float] = []
        for person in self.work.residents:
            times = pushed.get(person.id) or [start] * len(self.work.steps[person.id])
            got = sorted(replies.get(person.id, []))
            edits += [b - a for a, b in zip(times, got, strict=False)]
            presses = [
                t for t, s in zip(times, self.work.steps[person.id], strict=True) if s[0] == "press"
            ]
            got_answers = sorted(answers.get(person.id, []))
            answered += [b - a for a, b in zip(presses, got_answers, strict=False)]
            received = self.api.delivered_to.get(person.id, [])
            after += [b - a for a, b in zip(received, got_answers, strict=False)]
        last = max((at for calls in self.api.applied.values() for _, at in calls), default=start)
        return Round(cpu_ms, drained, edits, answered, last - start, after)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def _cpus() -> tuple[int | None, int | None]:
    """(this process's CPU, the bot's CPU): two different ones when there are two."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[-1], cpus[-2]


async def _rounds(
    make: Callable[[int], Workload], directory: Path, reps: int, limiter: bool,
    run: Callable[[BotUnderTest, int], Any], bot_cpu: int | None,
) -> dict[str, list[Round]]:  # fmt: skip
    """Alternate ours and the minimal bot (who goes first alternates too), `reps` rounds each."""
    results: dict[str, list[Round]] = {"ours": [], "minimal": []}
    for rep in range(reps):
        work = make(rep)
        order = ("ours", "minimal") if rep % 2 == 0 else ("minimal", "ours")
        for kind in order:
            async with BotUnderTest(
                kind, limiter, work, directory / f"{kind}{rep}", bot_cpu
            ) as bot:
                results[kind].append(await run(bot, rep))
    return results


def _ratio(ours: list[float], minimal: list[float]) -> Measure:
    ratios = [a / b for a, b in zip(ours, minimal, strict=True) if b]
    # CPU time is read in clock ticks (10 ms): a quick run's few updates can read 0 for the
    # minimal bot, and then there is nothing to compare (NaN, not a crash of the whole run).
    return Measure(ratios or [math.nan], "×")


async def run(
    engine: Engine, scale: Scale, directory: Path, progress: Callable[[str], None]
) -> dict:
    """Every end-to-end figure, ours against the minimal bot."""
    server_cpu, bot_cpu = _cpus()
    if server_cpu is not None:
        os.sched_setaffinity(0, {server_cpu})
    figures: dict[str, Any] = {}

    progress(f"end to end: {scale.e2e_residents * scale.e2e_per_resident:,} updates, no limiter")
    mix = await _rounds(
        lambda rep: workload(engine, scale.e2e_residents, scale.e2e_per_resident, seed=rep),
        directory / "mix", scale.e2e_reps, False, lambda bot, rep: bot.drain(0.0, greet=True),
        bot_cpu,
    )  # fmt: skip
    for kind in ("ours", "minimal"):
        figures[f"e2e_first_cpu_ms_{kind}"] = Measure([r.first_cpu_ms for r in mix[kind]], "ms")
    figures["e2e_first_cpu_ratio"] = _ratio(
        [r.first_cpu_ms for r in mix["ours"]], [r.first_cpu_ms for r in mix["minimal"]]
    )
    for kind in ("ours", "minimal"):
        figures[f"e2e_cpu_ms_{kind}"] = Measure([r.cpu_per_update_ms for r in mix[kind]], "ms")
        figures[f"e2e_drain_s_{kind}"] = Measure([r.drain_s for r in mix[kind]], "s")
    figures["e2e_cpu_ratio"] = _ratio(
        [r.cpu_per_update_ms for r in mix["ours"]], [r.cpu_per_update_ms for r in mix["minimal"]]
    )
    figures["e2e_drain_ratio"] = _ratio(
        [r.drain_s for r in mix["ours"]], [r.drain_s for r in mix["minimal"]]
    )

    for limiter in (True, False):
        label = "limiter on" if limiter else "no limiter"
        progress(f"end to end: {scale.paced_residents} residents pressing, 50 ms per call, {label}")
        paced = await _rounds(
            lambda rep: workload(engine, scale.paced_residents, scale.paced_presses, seed=50 + rep,
                                 texts=0.0, cards=0.0),
            directory / f"paced{limiter}", scale.paced_reps, limiter,
            lambda bot, rep: bot.paced(ROUND_TRIP, (0.5, 2.0), seed=rep), bot_cpu,
        )  # fmt: skip
        suffix = "" if limiter else "_unlimited"
        for kind in ("ours", "minimal"):
            for name, share in (("p50", 0.5), ("p99", 0.99)):
                figures[f"e2e_edit_{name}_s_{kind}{suffix}"] = Measure(
                    [_percentile(r.edit_latencies, share) for r in paced[kind]], "s"
                )
        figures[f"e2e_edit_p99_ratio{suffix}"] = _ratio(
            [_percentile(r.edit_latencies, 0.99) for r in paced["ours"]],
            [_percentile(r.edit_latencies, 0.99) for r in paced["minimal"]],
        )

    progress(f"end to end: {scale.burst_residents:,} residents open a card at once, limiter on")
    burst_work: dict[int, Workload] = {}

    def burst(rep: int) -> Workload:
        work = workload(engine, scale.burst_residents, 1, seed=90 + rep, texts=0.0, cards=1.0)
        burst_work[rep] = work
        return work

    bursts = await _rounds(
        burst, directory / "burst", scale.burst_reps, True,
        lambda bot, rep: bot.drain(ROUND_TRIP), bot_cpu,
    )  # fmt: skip
    floor = burst_work[0].limited_calls / TELEGRAM_MESSAGES_PER_S
    figures["e2e_burst_floor_s"] = Measure([floor], "s")
    for kind in ("ours", "minimal"):
        rounds = bursts[kind]
        figures[f"e2e_burst_last_s_{kind}"] = Measure([r.last_reply_s for r in rounds], "s")
        figures[f"e2e_burst_late_answers_{kind}"] = Measure(
            [float(sum(t > 2.0 for t in r.answer_latencies)) for r in rounds]
        )
        figures[f"e2e_burst_answer_max_s_{kind}"] = Measure(
            [max(r.answer_latencies, default=0.0) for r in rounds], "s"
        )
        figures[f"e2e_burst_cpu_ms_{kind}"] = Measure([r.cpu_per_update_ms for r in rounds], "ms")
        # The same answers timed from when the bot received the press: what the bot adds.
        figures[f"e2e_burst_late_after_receipt_{kind}"] = Measure(
            [float(sum(t > 2.0 for t in r.answer_after_delivery)) for r in rounds]
        )
        figures[f"e2e_burst_receipt_max_s_{kind}"] = Measure(
            [max(r.answer_after_delivery, default=0.0) for r in rounds], "s"
        )
    figures["e2e_burst_floor_ratio"] = Measure(
        [r.last_reply_s / floor for r in bursts["ours"]], "×"
    )
    figures["e2e_burst_ratio"] = _ratio(
        [r.last_reply_s for r in bursts["ours"]], [r.last_reply_s for r in bursts["minimal"]]
    )
    figures["e2e_burst_answered"] = min(
        len(r.answer_latencies) for rounds in bursts.values() for r in rounds
    )
    return figures
