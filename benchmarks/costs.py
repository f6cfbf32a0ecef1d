"""Cost per update against the minimal bot (tap, referral, typed text) and one-core throughput."""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from telegram import Update
from telegram.ext import Application

from benchmarks.common import (
    CONTENT_METHODS,
    CountingRequest,
    Measure,
    MinimalAnswers,
    Scale,
    build_minimal,
    canned,
    close_ours,
    cost_per_update,
    make_settings,
    open_ours,
    prepare_residents,
    press_json,
    residents_of,
    text_json,
    to_updates,
)
from bot.engine import Engine
from bot.i18n import LANGUAGES
from bot.understanding import fold

CARD = "@fritidsjob-hjaelp"

# 300 characters of what a parent might type: Danish, Turkish and Somali words, no keyword of any
# language written exactly, and one misspelt topic ("fritidjob") that only fuzzy matching finds.
# {name} is a different six-letter word in every message (names and typos are always new words),
# so a cache of whole messages cannot make the benchmark free; caching single words still can.
TEMPLATE = (
    "Hej, jeg er {name} og bor i Vollsmose med mine drenge. Min søn er fjorten år og vil gerne "
    "tjene nogle penge når timerne slutter. Vi ved ikke hvor man spørger om fritidjob eller hvad "
    "han skal skrive til firmaet. Merhaba, oğlum dersten sonra para kazanmak istiyor. "
    "Mahadsanid, waan ku faraxsanahay. Tak"
)
TYPED = TEMPLATE.format(name="Aminah")
# The same length in words no example uses: the bot answers with the menu and counts one
# unmatched message (a database write) each time. (A real question without its keyword is
# still understood, so this is nonsense on purpose.)
UNMATCHED_TEMPLATE = ("{name} " + "qwrtz plonk zibb vrumf " * 20)[: len(TEMPLATE)]
assert len(TYPED) == len(UNMATCHED_TEMPLATE.format(name="Aminah")) == 300


# Realistic typed messages for the throughput mix: keywords, misspellings, other scripts, nonsense.
MIX_TEXTS = (
    "fritidsjob",
    "hvordan finder jeg et fritidsjob?",
    "jeg søger mentor",
    "lektiecafe",
    "fritidjob hjælp tak",
    "شغل للشباب",
    "yarı zamanlı iş arıyorum",
    "shaqo dhalinyaro",
    "hej",
    "tak",
    "what can you do",
    "foreninger for børn",
    "pocket money",
    "asdfgh",
    TYPED,
)


@dataclass
class Comparison:
    """Our cost per update, the minimal bot's, and their ratio, per alternating round."""

    ratio: Measure
    ours_us: Measure
    minimal_us: Measure
    cpu_ratio: Measure  # the same from process CPU time


async def _alternate(
    ours: Application,
    ours_rounds: Sequence[Sequence[Update]],
    minimal: Application,
    minimal_rounds: Sequence[Sequence[Update]],
) -> Comparison:
    """Round 0 warms both bots up; later rounds alternate which bot goes first."""
    ratios, cpu_ratios, ours_costs, minimal_costs = [], [], [], []
    for index, (mine, theirs) in enumerate(zip(ours_rounds, minimal_rounds, strict=True)):
        if index % 2:
            their_cost, their_cpu = await cost_per_update(minimal, theirs)
            our_cost, our_cpu = await cost_per_update(ours, mine)
        else:
            our_cost, our_cpu = await cost_per_update(ours, mine)
            their_cost, their_cpu = await cost_per_update(minimal, theirs)
        if index == 0:
            continue
        ratios.append(our_cost / their_cost)
        cpu_ratios.append(our_cpu / their_cpu)
        ours_costs.append(our_cost * 1e6)
        minimal_costs.append(their_cost * 1e6)
    ours_us, minimal_us = Measure(ours_costs, "µs"), Measure(minimal_costs, "µs")
    return Comparison(Measure(ratios), ours_us, minimal_us, Measure(cpu_ratios))


# A resident takes part in at most this many rounds: the flood guard lets 20 updates through at
# once (then 1 a second), and a benchmark must not turn into a flood.
ROUNDS_PER_RESIDENT = 8


def _groups(first: int, rounds: int, per_round: int) -> list[range]:
    """Round r's residents are groups[r % len(groups)]."""
    count = -(-rounds // ROUNDS_PER_RESIDENT)
    return [range(first + g * per_round, first + (g + 1) * per_round) for g in range(count)]


async def _compare(
    ours: Application, minimal: Application, round_payloads: Sequence[Sequence[dict]]
) -> Comparison:
    """The same payloads as Updates bound to each bot (shortcuts like query.answer() use it)."""
    cache: dict[int, tuple[list[Update], list[Update]]] = {}
    for payloads in round_payloads:
        if id(payloads) not in cache:
            cache[id(payloads)] = (to_updates(payloads, ours), to_updates(payloads, minimal))
    return await _alternate(
        ours,
        [cache[id(p)][0] for p in round_payloads],
        minimal,
        [cache[id(p)][1] for p in round_payloads],
    )


def _check(request: CountingRequest, expected: dict[str, int], what: str) -> None:
    for method, count in expected.items():
        got = request.counts.get(method, 0)
        if got != count:
            raise RuntimeError(f"{what}: expected {count} {method} calls, the bot made {got}")


def check_typed_text(engine: Engine, text: str, screen: str) -> None:
    """The typed-text benchmark must exercise fuzzy matching: no exact keyword, known outcome."""
    keywords = {
        fold(word)
        for pathway in engine.content.pathways.values()
        for words in pathway.keywords.values()
        for word in words
    }
    words = set(re.findall(r"\w+", fold(text)))
    exact = sorted(words & keywords)
    if exact:
        raise RuntimeError(f"the benchmark text contains keywords {exact}; change it")
    reply = engine.typed(text, "da")
    if reply.screen != screen:
        raise RuntimeError(f"the benchmark text leads to {reply.screen!r}, expected {screen!r}")


def typed_messages(engine: Engine, template: str, count: int, seed: int, screen: str) -> list[str]:
    """count 300-character messages from template, each with its own name, all of which lead
    to `screen`: a name that alone is near a keyword is skipped (words are matched one by one)."""
    rng = random.Random(seed)
    names: set[str] = set()
    messages: list[str] = []
    while len(messages) < count:
        name = rng.choice("BDFGHKLMNPRSTVZ") + "".join(rng.choices("aeiouybdfghklmnrst", k=5))
        if name in names:
            continue
        names.add(name)
        if engine.typed(name, "da").screen == "pointer":
            messages.append(template.format(name=name))
    for text in (*messages[:3], messages[-1]):
        check_typed_text(engine, text, screen)
    return messages


async def ratios(engine: Engine, directory: Path, scale: Scale) -> dict[str, Comparison]:
    """Tap, referral and typed-text cost of our bot against the minimal bot, alternately."""
    rounds = scale.rounds + 1  # plus the warm-up round
    half = max(3, rounds // 2)
    n = rounds * scale.per_round
    # Every typed message is different, in every round: a cache of whole messages gets nothing.
    texts = {
        "text": typed_messages(engine, TEMPLATE, n, 1, "suggest"),
        "text_unmatched": typed_messages(engine, UNMATCHED_TEMPLATE, n, 2, "pointer"),
    }
    ours_request = CountingRequest()
    ours = await open_ours(make_settings(directory), engine, ours_request)
    answers = MinimalAnswers()
    minimal = build_minimal(CountingRequest(), answers)
    await minimal.initialize()
    results: dict[str, Comparison] = {}
    try:
        # Taps: residents who chose Danish and were counted today press to the pathways' screens.
        targets = list(engine.content.pathways)
        for target in targets:
            answers.buttons[engine.data(target)] = canned(engine.press(engine.data(target), "da"))

        async def taps(key: str, first: int, count: int, other: Application, chosen: bool) -> None:
            groups = _groups(first, count, scale.per_round)
            if chosen:
                residents = (u for g in groups for u in g)
                await prepare_residents(ours, dict.fromkeys(residents, "da"), counted_today=True)
            group_payloads = [
                [
                    press_json(user_id, engine.data(targets[i % len(targets)]), i + 1)
                    for i, user_id in enumerate(group)
                ]
                for group in groups
            ]
            ours_request.reset()
            results[key] = await _compare(
                ours, other, [group_payloads[r % len(groups)] for r in range(count)]
            )
            presses = count * scale.per_round
            _check(ours_request, {"answerCallbackQuery": presses, "editMessageText": presses}, key)

        await taps("tap", 100_000, rounds, minimal, chosen=True)
        # The same taps from residents who never chose a language (Telegram's language_code).
        await taps("tap_unchosen", 150_000, half, minimal, chosen=False)

        # Referrals: every press is a new resident's first card of the day, so each one commits.
        data = engine.data(CARD)
        card = engine.press(data, "da")
        assert card.referral is not None
        assert card.venue is not None
        answers.buttons[data] = canned(card)
        storage = residents_of(ours).storage
        today = residents_of(ours).today()
        per_round = scale.referrals_per_round
        for key, first, count, other in (("referral", 200_000, rounds, minimal),):
            newcomers = range(first, first + count * per_round)
            await prepare_residents(ours, dict.fromkeys(newcomers, "da"), counted_today=True)
            counted = await storage.referrals(today, today + dt.timedelta(1))
            before = sum(row[3] for row in counted)
            ours_request.reset()
            results[key] = await _compare(
                ours,
                other,
                [
                    [press_json(first + r * per_round + i, data, 7) for i in range(per_round)]
                    for r in range(count)
                ],
            )
            shown = count * per_round
            _check(ours_request, {"editMessageText": shown, "sendVenue": 0}, key)
            counted = await storage.referrals(today, today + dt.timedelta(1))
            if sum(row[3] for row in counted) - before != shown:
                raise RuntimeError(f"{key}: {shown} cards shown but not as many counted")

        # Typed text: 300 characters through every keyword of all seven languages, fuzzily,
        # against the minimal bot's echo.
        for index, (key, other) in enumerate((("text", minimal), ("text_unmatched", minimal))):
            count = rounds if key == "text" else half
            groups = _groups(20_000_000 + index * 100_000, count, scale.per_round)
            await prepare_residents(
                ours, dict.fromkeys((u for g in groups for u in g), "da"), counted_today=True
            )
            messages = iter(texts[key])
            round_payloads = [
                [text_json(user_id, next(messages)) for user_id in groups[r % len(groups)]]
                for r in range(count)
            ]
            ours_request.reset()
            results[key] = await _compare(ours, other, round_payloads)
            _check(ours_request, {"sendMessage": count * scale.per_round}, key)
    finally:
        await close_ours(ours)
        await minimal.shutdown()
    return results


# -- the realistic mix --------------------------------------------------------------------------


@dataclass
class Mix:
    """One repetition's updates: payloads in arrival order and, per resident, what they sent."""

    payloads: list[dict]
    languages: dict[int, str]
    # per resident, in the order sent: ("press", callback data) or ("text", typed text)
    sent: dict[int, list[tuple[str, str]]]

    def expected(self, engine: Engine) -> dict[int, list[str]]:
        """Per resident, the text of each reply in order (cards say "open now": time-dependent)."""
        expected: dict[int, list[str]] = {}
        for user_id, steps in self.sent.items():
            language = self.languages[user_id]
            expected[user_id] = [
                (engine.press if kind == "press" else engine.typed)(value, language).text
                for kind, value in steps
            ]
        return expected


def make_mix(engine: Engine, first_user: int, residents: int, per_resident: int, seed: int) -> Mix:
    """70 % button presses, 20 % typed text, 10 % referrals; residents' updates interleaved."""
    rng = random.Random(seed)
    screens = [s for s in engine.content.screens if s != engine.content.start]
    services = list(engine.content.services)
    languages = {first_user + i: LANGUAGES[i % len(LANGUAGES)] for i in range(residents)}
    sequences: list[list[dict]] = []
    sent: dict[int, list[tuple[str, str]]] = {}
    for user_id, language in languages.items():
        own: list[dict] = []
        steps: list[tuple[str, str]] = []
        cards = rng.sample(services, k=min(per_resident, len(services)))
        for index in range(per_resident):
            roll = rng.random()
            if roll < 0.7:
                data = engine.data(rng.choice(screens))
            elif roll < 0.9:
                text = rng.choice(MIX_TEXTS)
                own.append(text_json(user_id, text, language))
                steps.append(("text", text))
                continue
            else:
                data = engine.data("@" + cards[index % len(cards)])
            own.append(press_json(user_id, data, index + 1, language))
            steps.append(("press", data))
        sequences.append(own)
        sent[user_id] = steps
    payloads = [seq[i] for i in range(per_resident) for seq in sequences]
    return Mix(payloads, languages, sent)


def mix_answers(engine: Engine, mix: Mix) -> MinimalAnswers:
    """Canned answers for the minimal bot: the Danish reply to every button in the mix."""
    answers = MinimalAnswers()
    for payload in mix.payloads:
        query = payload.get("callback_query")
        if query is not None and query["data"] not in answers.buttons:
            answers.buttons[query["data"]] = canned(engine.press(query["data"], "da"))
    return answers


async def throughput(engine: Engine, directory: Path, scale: Scale) -> dict[str, Measure]:
    """Updates a second on one core, no network delay, for the mix; the minimal bot alongside."""
    ours_rates, minimal_rates = [], []
    for rep in range(scale.mix_reps + 1):  # the first repetition warms up
        mix = make_mix(
            engine,
            first_user=1_000_000 + rep * 100_000,
            residents=scale.mix_residents,
            per_resident=scale.mix_per_resident,
            seed=rep,
        )
        request = CountingRequest()
        ours = await open_ours(make_settings(directory / f"mix{rep}"), engine, request)
        minimal_request = CountingRequest()
        minimal = build_minimal(minimal_request, mix_answers(engine, mix))
        await minimal.initialize()
        try:
            await prepare_residents(ours, mix.languages, counted_today=False)
            request.reset()
            updates = to_updates(mix.payloads, ours)
            start = time.perf_counter()
            for update in updates:
                await ours.process_update(update)
            elapsed = time.perf_counter() - start
            handled = sum(request.counts.get(m, 0) for m in CONTENT_METHODS)
            if handled != len(updates):
                raise RuntimeError(f"mix: {len(updates)} updates but {handled} replies")
            minimal_cost, _ = await cost_per_update(minimal, to_updates(mix.payloads, minimal))
        finally:
            await close_ours(ours)
            await minimal.shutdown()
        if rep:
            ours_rates.append(len(updates) / elapsed)
            minimal_rates.append(1.0 / minimal_cost)
    return {
        "updates_per_s": Measure(ours_rates, "/s"),
        "minimal_updates_per_s": Measure(minimal_rates, "/s"),
    }
