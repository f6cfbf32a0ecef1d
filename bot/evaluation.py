"""Measure how well typed messages are understood, on labelled messages the model never saw."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from bot.understanding import MENU, Reading, Understanding

if TYPE_CHECKING:
    from bot.engine import Engine

CRISIS = "crisis"


@dataclass(frozen=True)
class Labelled:
    """A message and what it should lead to: "crisis", "menu", a pathway, or pathways to offer."""

    text: str
    language: str
    expect: tuple[str, ...]
    where: str


class LabelError(Exception):
    """A labelled file cannot be read; the message names the file and entry."""


def load_labelled(path: Path) -> list[Labelled]:
    """Read <language>.yaml files (a folder of them, or one): lists of {text, expect}."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise LabelError(f"{path}: no <language>.yaml files here")
    messages = []
    for file in files:
        try:
            entries = yaml.safe_load(file.read_text(encoding="utf-8")) or []
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
            raise LabelError(f"{file}: cannot be read ({error})") from None
        if not isinstance(entries, list):
            raise LabelError(f"{file}: should be a list of {{text, expect}} entries")
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or "text" not in entry or "expect" not in entry:
                raise LabelError(f"{file}: entry {index + 1} needs text and expect")
            expect = entry["expect"]
            labels = tuple(expect) if isinstance(expect, list) else (str(expect),)
            messages.append(
                Labelled(str(entry["text"]), file.stem, labels, f"{file.name}:{index + 1}")
            )
    return messages


def outcome(reading: Reading) -> tuple[str, ...]:
    """What the resident is shown, as labels: ("crisis",), ("menu",) or the pathways offered."""
    if reading.danger:
        return (CRISIS,)
    return reading.topics or (MENU,)


def correct(expect: tuple[str, ...], reading: Reading) -> bool:
    """Right when the expected pathway comes first, or all expected ones are offered first.

    A crisis message is right when the emergency numbers are shown: as a crisis answer, or
    above the suggestions for an uncertain signal.
    """
    if expect == (CRISIS,):
        return bool(reading.danger) or reading.uncertain
    shown = outcome(reading)
    return set(shown[: len(expect)]) == set(expect)


@dataclass
class Tally:
    """Counts for one language (or all)."""

    total: int = 0
    right: int = 0
    crisis: int = 0
    crisis_shown: int = 0
    crisis_direct: int = 0
    ordinary: int = 0
    false_crisis: int = 0
    numbers_beside: int = 0
    misses: list[tuple[Labelled, tuple[str, ...]]] = field(default_factory=list)

    def add(self, message: Labelled, reading: Reading) -> None:
        self.total += 1
        ok = correct(message.expect, reading)
        self.right += ok
        if message.expect == (CRISIS,):
            self.crisis += 1
            self.crisis_shown += ok
            self.crisis_direct += bool(reading.danger)
        else:
            self.ordinary += 1
            self.false_crisis += bool(reading.danger)
            self.numbers_beside += reading.uncertain
        if not ok:
            self.misses.append((message, outcome(reading)))


def evaluate(
    understanding: Understanding, messages: Iterable[Labelled], chosen: str | None = None
) -> dict[str, Tally]:
    """Tallies per language and "all"; the resident chose the message's language unless given."""
    tallies: dict[str, Tally] = {}
    overall = Tally()
    for message in messages:
        reading = understanding.read(message.text, chosen or message.language)
        tallies.setdefault(message.language, Tally()).add(message, reading)
        overall.add(message, reading)
    tallies["all"] = overall
    return tallies


def report(tallies: dict[str, Tally], misses: bool = False) -> str:
    """A table per language: accuracy, crisis recall, false crisis, numbers shown beside."""
    lines = [
        f"{'language':8} {'right':>11} {'crisis shown':>14} {'of which direct':>16} "
        f"{'false crisis':>13} {'numbers beside':>15}"
    ]
    for language, t in tallies.items():
        lines.append(
            f"{language:8} {_share(t.right, t.total):>11} {_share(t.crisis_shown, t.crisis):>14} "
            f"{_share(t.crisis_direct, t.crisis):>16} {_share(t.false_crisis, t.ordinary):>13} "
            f"{_share(t.numbers_beside, t.ordinary):>15}"
        )
    if misses:
        for message, shown in tallies["all"].misses:
            lines.append(
                f"  {message.where}: expected {'/'.join(message.expect)}, "
                f"shown {'/'.join(shown)}: {message.text}"
            )
    return "\n".join(lines)


def examples_taken_for_crisis(
    engine: Engine,
) -> Iterator[tuple[str, tuple[str | int, ...], str]]:
    """(file, place, text) of each pathway example that would get the crisis screen: a phrase
    in crisis.yaml is too broad for it, or the example belongs in crisis.yaml."""
    content = engine.content
    for pathway_id, pathway in content.pathways.items():
        file = content.origin.get(pathway_id, f"{content.directory.name}/{pathway_id}.yaml")
        for language, texts in pathway.examples.items():
            for index, text in enumerate(texts):
                if engine.understanding.read(text, language).danger:
                    yield file, ("examples", language, index), text


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} {part / whole:4.0%}" if whole else "-"
