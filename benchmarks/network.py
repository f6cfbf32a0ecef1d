"""Waiting on the network: every Bot API answer 50 ms late, 1,000 residents at once, in order?"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CONTENT_METHODS,
    CountingRequest,
    Measure,
    Scale,
    make_settings,
    prepare_residents,
    to_updates,
)
from benchmarks.costs import make_mix
from bot.engine import Engine
from bot.services import Services
from bot.telegram import build_application

ROUND_TRIP = 0.05  # seconds: a Bot API call from a server in Europe


class OrderRequest(CountingRequest):
    """Records, per chat, the text of each reply in the order the bot sent it, and signals when
    the last expected call has been answered."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay=delay)
        self.sequences: dict[int, list[str]] = {}
        self.answered = 0
        self.expected = 0
        self.finished = asyncio.Event()

    def expect(self, calls: int) -> None:
        self.sequences.clear()
        self.answered = 0
        self.expected = calls
        self.finished.clear()

    def on_request(self, method: str, params: dict[str, Any]) -> None:
        if method in CONTENT_METHODS:
            self.sequences.setdefault(int(params["chat_id"]), []).append(str(params["text"]))

    def on_answer(self, method: str) -> None:
        if method in CONTENT_METHODS:
            self.answered += 1
            if self.expected and self.answered >= self.expected:
                self.finished.set()


def _same(got: list[str], before: list[str], after: list[str]) -> bool:
    return len(got) == len(before) and all(
        text in (a, b) for text, a, b in zip(got, before, after, strict=True)
    )


async def network(engine: Engine, directory: Path, scale: Scale) -> dict[str, Any]:
    """Updates a second through application.start() and the update queue (so the per-resident
    update processor decides what runs at once), and whether every resident's order was kept."""
    rates, in_flight = [], []
    kept = True
    broken = 0
    for rep in range(scale.network_reps):
        mix = make_mix(
            engine,
            first_user=5_000_000 + rep * 100_000,
            residents=scale.network_residents,
            per_resident=scale.network_per_resident,
            seed=100 + rep,
        )
        request = OrderRequest(delay=ROUND_TRIP)
        settings = make_settings(directory / f"network{rep}")
        services = await Services.open(settings)
        app = build_application(settings, engine, services, request=request, rate_limit=False)
        async with app:
            await app.post_init(app)  # type: ignore[misc]
            try:
                await prepare_residents(app, mix.languages, counted_today=False)
                updates = to_updates(mix.payloads, app)
                expected = mix.expected(engine)
                await app.start()
                request.expect(len(updates))
                request.max_in_flight = 0
                start = time.perf_counter()
                for update in updates:
                    app.update_queue.put_nowait(update)
                await asyncio.wait_for(request.finished.wait(), timeout=300)
                elapsed = time.perf_counter() - start
            finally:
                if app.running:
                    await app.stop()
                await app.post_shutdown(app)  # type: ignore[misc]
                await services.close()
        rates.append(len(updates) / elapsed)
        in_flight.append(float(request.max_in_flight))
        # A card's "open now" line may change while the run crosses a minute: accept either.
        before, after = expected, mix.expected(engine)
        wrong = [
            user_id
            for user_id, texts in before.items()
            if not _same(request.sequences.get(user_id, []), texts, after[user_id])
        ]
        broken += len(wrong)
        kept = kept and not wrong
    return {
        "network_updates_per_s": Measure(rates, "/s"),
        "max_in_flight": Measure(in_flight),
        "order_kept": kept,
        "residents_out_of_order": broken,
    }
