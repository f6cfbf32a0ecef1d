"""Button data that knows where it came from: Back goes back, cards count under the pathway's goal,
the directory is short and never empty, and `check` builds every button to measure it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

from bot.content import Content, load_content
from bot.engine import MAX_DATA_BYTES, Engine, Reply

REPOSITORY = Path(__file__).resolve().parent.parent
SHIPPED = REPOSITORY / "flows"
BACK, MENU = "« Back", "☰ Menu"


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(SHIPPED)


@pytest.fixture(scope="module")
def engine(content: Content, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The engine with no compiled catalogs, so every label is the English msgid."""
    from bot.i18n import Catalogs

    return Engine(content, Catalogs(tmp_path_factory.mktemp("no-catalogs")))


def _reachable(engine: Engine) -> dict[str, Reply]:
    """Every button data a resident can meet from the menu, pressed once, with its reply."""
    replies: dict[str, Reply] = {}
    queue = deque([engine.data(engine.content.start)])
    while queue:
        data = queue.popleft()
        if data in replies:
            continue
        replies[data] = reply = engine.press(data, "en")
        queue.extend(b.data for row in reply.buttons for b in row if b.data not in replies)
    return replies


def _back_target(engine: Engine, reply: Reply) -> str:
    """Where the reply's Back leads; the main menu when it only offers Menu."""
    nav = {button.label: button.data for button in reply.buttons[-1]}
    return engine.parse(nav.get(BACK, nav[MENU]))[0]


def _same_list(here: str, there: str) -> bool:
    """Whether two directory pages are pages of one kind of association's list."""
    return here.count(".") >= 1 and here.split(".")[:2] == there.split(".")[:2]


def test_back_returns_to_the_screen_the_resident_came_from(engine: Engine) -> None:
    """From every screen, card and directory page, each button that leads on (a pathway's
    buttons, the emergency button, cards in lists) gives a reply whose Back returns there:
    the fritidsjob team's card from "13-14" goes back to "13-14", the emergency numbers go back
    to where 🆘 was pressed. Paging or narrowing a list by age stays in the list."""
    replies = _reachable(engine)
    walked = 0
    for reply in replies.values():
        if reply.screen.startswith("@") or reply.screen in ("lang", "updated"):
            continue
        for row in reply.buttons:
            for button in row:
                if button.label in (BACK, MENU) or "lang" in button.data:
                    continue
                if _same_list(reply.screen, engine.parse(button.data)[0]):
                    continue  # paging or narrowing one list: Back leaves the list
                after = replies[button.data]
                assert _back_target(engine, after) == reply.screen, (reply.screen, button)
                walked += 1
    cards = {r.screen for r in replies.values() if r.referral is not None}
    assert cards == {"@" + service_id for service_id in engine.content.services}
    assert walked > 200


@pytest.mark.parametrize(
    ("parent", "expected_back"),
    [
        ("fritidsjob.age13", "fritidsjob.age13"),
        ("fritidsjob.under13", "fritidsjob.under13"),
        ("fritidsjob.age15school", "fritidsjob.age15school"),
    ],
)
def test_fritidsjob_card_goes_back_to_the_chosen_age(
    engine: Engine, parent: str, expected_back: str
) -> None:
    """The issue's case: Back from the fritidsjob team's card used to land on "Under 13"."""
    screen = engine.screen(parent, "en")
    data = next(b.data for row in screen.buttons for b in row if "@fritidsjob-hjaelp" in b.data)
    assert _back_target(engine, engine.press(data, "en")) == expected_back


def test_multi_goal_service_counts_under_the_pathway_that_led_to_it(engine: Engine) -> None:
    """The homework café serves two goals: from the parents' pathway it counts under
    uddannelse, from the association directory under civilsamfund, and without a known place
    (an old button) under its first goal."""
    lektiecafe = engine.content.services["lektiecafe"]
    assert lektiecafe.goals == ["uddannelse", "civilsamfund"]
    replies = _reachable(engine)
    goals = {
        (engine.parse(data)[1] or "", reply.referral.goal)
        for data, reply in replies.items()
        if reply.referral is not None and reply.referral.service == "lektiecafe"
    }
    assert ("foraeldre.homework", "uddannelse") in goals
    assert ("associations.homework", "civilsamfund") in goals
    assert engine.press(f"v{engine.content.version}:@lektiecafe", "en").referral.goal == (
        "uddannelse"
    )
    # A goal the service does not serve is never counted: the first goal instead.
    assert engine.card("lektiecafe", "en", "mentor").referral.goal == "uddannelse"


def test_every_button_fits_telegram_and_leads_somewhere(engine: Engine) -> None:
    """All data is ASCII, at most 64 bytes, and no button ends in "this menu was updated"."""
    replies = _reachable(engine)
    assert all(r.screen != "updated" for r in replies.values())
    for data in replies:
        assert data.isascii(), data
        assert len(data.encode()) <= MAX_DATA_BYTES, data
    assert list(engine.audit()) == []


def test_main_menu_has_the_emergency_button(engine: Engine, content: Content) -> None:
    """🆘 is on the main menu too, one tap from the first screen a resident sees."""
    assert content.emergency is not None
    menu = engine.menu("en")
    targets = [engine.parse(b.data)[0] for row in menu.buttons for b in row]
    assert content.emergency.screen in targets


def test_directory_reaches_a_list_in_three_taps_and_offers_nothing_empty(
    engine: Engine, content: Content
) -> None:
    """Menu -> Associations -> Find an association -> a kind of association is a list; every
    kind and age offered has associations in it."""
    taps = ["foreninger", "associations", "associations.sport"]
    reply = engine.menu("en")
    for target in taps:
        data = next(
            b.data for row in reply.buttons for b in row if engine.parse(b.data)[0] == target
        )
        reply = engine.press(data, "en")
    cards = [b for row in reply.buttons for b in row if engine.parse(b.data)[0].startswith("@")]
    assert cards
    for data, page in _reachable(engine).items():
        if page.screen.startswith("associations"):
            assert "No associations found" not in page.text, data


def test_empty_result_links_to_the_district_consultant(engine: Engine, content: Content) -> None:
    """An old button for an age group with no associations of that kind offers the consultant."""
    assert content.associations is not None
    empty = next(
        (category, age)
        for category in content.associations.categories
        for age in content.associations.age_groups
        if not any(
            e.category == category and age in e.ages
            for e in content.associations.associations.values()
        )
    )
    reply = engine.press(engine.data(f"associations.{empty[0]}.{empty[1]}.0"), "en")
    assert "No associations found" in reply.text
    consultant = "@" + (content.associations.consultant or "")
    assert consultant in [engine.parse(b.data)[0] for row in reply.buttons for b in row]


def test_one_homework_cafe(content: Content) -> None:
    """The library's homework café is one entry, so its counts are not split in two."""
    named = [s for s in content.services.values() if s.name.startswith("Lektiecafé")]
    assert len(named) == 1


def test_emergency_screen_and_its_cards_show_no_sample_line(
    engine: Engine, content: Content
) -> None:
    """112 and the other national numbers are verified facts with a source: no "example
    entry" doubt on the screen a resident in crisis sees, nor on its cards."""
    assert content.emergency is not None
    screen = engine.screen(content.emergency.screen, "en")
    assert "Example entry" not in screen.text
    cards = [b.data for row in screen.buttons for b in row if engine.parse(b.data)[0][:1] == "@"]
    assert len(cards) >= 5
    for data in cards:
        card = engine.press(data, "en")
        service = content.services[card.screen[1:]]
        assert "Example entry" not in card.text, card.screen
        assert service.verified_on is not None
        assert service.source is not None
        assert service.source in card.text
    # Local sample entries still say so.
    assert "Example entry" in engine.card("fritidsjob-hjaelp", "en").text


# -- `vollsmose-bot check` on a copy with mistakes staff make ------------------------------------


def _check(flows: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ) | {"BOT_CONTENT_DIR": str(flows)}
    return subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPOSITORY,
        timeout=120,
        check=False,
    )


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_check_names_file_line_and_place_of_each_mistake(tmp_path: Path) -> None:
    """A too-long category id fails with the file, line and place of the id to shorten; an
    unquoted `no` is read as the word; a stale verified_on and the ended plan period warn with
    file, line and place."""
    flows = tmp_path / "flows"
    shutil.copytree(SHIPPED, flows)
    associations = flows / "associations.yaml"
    long_id = "sport-and-exercise-for-all-ages-here"  # 36 characters
    text = associations.read_text(encoding="utf-8")
    text = text.replace("  sport: {label:", f"  {long_id}: {{label:").replace(
        "category: sport\n", f"category: {long_id}\n"
    )
    associations.write_text(text, encoding="utf-8")
    job = flows / "fritidsjob.yaml"
    job.write_text(
        job.read_text(encoding="utf-8").replace("  da: [fritidsjob,", "  da: [no, fritidsjob,"),
        encoding="utf-8",
    )
    services = flows / "services.yaml"
    services.write_text(
        services.read_text(encoding="utf-8").replace(
            "    verified_on: 2026-11-26\n", "    verified_on: 2000-01-31\n", 1
        ),
        encoding="utf-8",
    )

    done = _check(flows)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "Telegram allows at most 64" in line]
    assert errors
    line = _line_of(associations, f"  {long_id}: {{label:")
    assert all(
        e.startswith(f"flows/associations.yaml:{line}: categories.{long_id}: ") for e in errors
    ), errors
    stale = _line_of(services, "verified_on: 2000-01-31")
    assert (
        f"warning: flows/services.yaml:{stale}: services.alarm-112.verified_on: last verified "
        "2000-01-31, more than 90 days ago" in done.stderr
    )
    goals = flows / "goals.yaml"
    period = _line_of(goals, "plan_period")
    assert (
        f"warning: flows/goals.yaml:{period}: goals.civilsamfund.plan_period: the plan period "
        "2021-2024 has ended" in done.stderr
    )
    assert "1 were last verified more than 90 days ago" in done.stderr
    assert load_content(flows).pathways["fritidsjob"].keywords["da"][0] == "no"
