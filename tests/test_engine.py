"""The engine on the shipped content: every button works, forged ones are harmless, cards count."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from bot.content import Content, load_content
from bot.engine import Engine, Referral, Reply
from bot.i18n import LANGUAGES, LRI, PDI, Catalogs

SHIPPED = Path(__file__).resolve().parent.parent / "flows"
UPDATED = "This menu was updated"


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(SHIPPED)


@pytest.fixture(scope="module")
def engine(content: Content, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The engine with no compiled catalogs, so every text is the English msgid."""
    return Engine(content, Catalogs(tmp_path_factory.mktemp("no-catalogs")))


def _buttons(reply: Reply) -> list[tuple[str, str]]:
    return [(button.label, button.data) for row in reply.buttons for button in row]


def _walk(engine: Engine, language: str) -> dict[str, Reply]:
    """Press every button reachable from the menu, breadth-first; map callback data to reply."""
    seen: dict[str, Reply] = {}
    queue = deque(data for _label, data in _buttons(engine.menu(language)))
    while queue:
        data = queue.popleft()
        if data in seen:
            continue
        reply = engine.press(data, language)
        seen[data] = reply
        queue.extend(d for _label, d in _buttons(reply) if d not in seen)
    return seen


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_and_card_is_reachable_by_pressing(
    engine: Engine, content: Content, language: str
) -> None:
    """From the menu, pressing buttons reaches every screen and card, and no button is stale."""
    replies = _walk(engine, language)
    reached = {reply.screen for reply in replies.values()}
    referenced = {
        button.service
        for screen in content.screens.values()
        for button in screen.buttons
        if button.service
    }
    assert set(content.screens) <= reached
    assert {"@" + service for service in referenced} <= reached
    assert "lang" in reached
    assert "updated" not in reached
    for reply in replies.values():
        assert reply.text.strip()
        assert reply.buttons


def _forged(version: str) -> list[str | None]:
    return [
        None,
        "",
        "x",
        "v000000:nope",
        "va8288d:../../etc",
        "x" * 200,
        f"v{version}:" + "a" * 192,
        f"v{version}:menü",
        f"v{version}:العربية",
        f"v{version}:@unknown-service",
        f"v{version}:lang:xx",
        f"v{version}:lang:",
        f"V{version}:menu",
    ]


@pytest.mark.parametrize("index", range(len(_forged("000000"))))
def test_forged_data_shows_updated_menu(engine: Engine, index: int) -> None:
    """Forged or unknown button data says the menu was updated and shows the current menu."""
    data = _forged(engine.content.version)[index]
    reply = engine.press(data, "en")
    menu = engine.menu("en")
    assert reply.screen == "updated"
    assert reply.text.startswith(UPDATED)
    assert reply.text.endswith(menu.text)
    assert reply.buttons == menu.buttons
    assert reply.referral is None
    assert reply.language is None


@pytest.mark.parametrize("screen_id", ["menu", "fritidsjob", "fritidsjob.find", "tryghed"])
def test_stale_version_with_existing_screen_shows_it(engine: Engine, screen_id: str) -> None:
    """A button from before a content change still leads to its screen if the screen exists."""
    reply = engine.press(f"v000000:{screen_id}", "en")
    assert reply.screen == screen_id
    assert reply == engine.screen(screen_id, "en")
    current = f"v{engine.content.version}:"
    assert all(data.startswith(current) for _label, data in _buttons(reply))


def test_stale_card_still_shows_and_counts(engine: Engine) -> None:
    """An old contact-card button still shows the card and counts the referral."""
    reply = engine.press("v000000:@fritidsjob-hjaelp", "en")
    assert reply.screen == "@fritidsjob-hjaelp"
    assert reply.referral == Referral("fritidsjob-hjaelp", "arbejde")


def test_screens_carry_back_and_menu_buttons(engine: Engine, content: Content) -> None:
    """Every screen but the menu has Menu in its last row, and Back to the screen that led there."""
    start_data = engine.data(content.start)
    for screen_id in content.screens:
        if screen_id == content.start:
            continue
        last_row = {
            button.label: button.data for button in engine.screen(screen_id, "en").buttons[-1]
        }
        assert last_row.get("☰ Menu") == start_data, screen_id
        parent = content.parent_of[screen_id]
        if parent != content.start:
            assert last_row.get("« Back") == engine.data(parent), screen_id


@pytest.mark.parametrize(
    "service_id",
    [
        "fritidsjob-hjaelp",
        "beskaeftigelsesmentor",
        "familieraadgivning",
        "bydelskonsulent",
        "alarm-112",
        "laegevagten",
    ],
)
def test_card_shows_contact_details_and_counts(
    engine: Engine, content: Content, service_id: str
) -> None:
    """A card names the service, its address and phone, pins its venue and counts one referral."""
    service = content.services[service_id]
    reply = engine.press(engine.data("@" + service_id), "en")
    assert reply.referral == Referral(service_id, service.goals[0])
    assert service.name in reply.text
    assert service.phone is not None
    assert service.phone in reply.text
    if service.address:
        assert service.address in reply.text
    if service.location is None:
        assert reply.venue is None
    else:
        assert reply.venue is not None
        assert (reply.venue.latitude, reply.venue.longitude) == (
            service.location.lat,
            service.location.lon,
        )
        assert reply.venue.title == service.name
        assert reply.venue.address == service.address
    assert LRI not in reply.text
    assert PDI not in reply.text


def test_card_back_leads_to_the_screen_offering_it(engine: Engine, content: Content) -> None:
    """Back on a contact card returns to the screen whose button showed it."""
    for screen_id in content.screens:
        for service_id in {b.service for b in content.screens[screen_id].buttons if b.service}:
            back = {b.label: b.data for b in engine.card(service_id, "en", screen_id).buttons[0]}
            target = engine.parse(back.get("« Back", engine.data(content.start)))[0]
            assert target == screen_id, service_id


def test_card_with_location_in_english_has_venue(engine: Engine) -> None:
    """The fritidsjob card pins the advisor's address on the map."""
    reply = engine.card("fritidsjob-hjaelp", "en")
    assert reply.venue is not None
    assert "Vollsmose" in reply.venue.address
    assert reply.venue.label == "🗺 Show on map"
    assert reply.venue.url == (
        "https://www.openstreetmap.org/?mlat=55.40960&mlon=10.43310#map=18/55.40960/10.43310"
    )
    assert reply.referral == Referral("fritidsjob-hjaelp", "arbejde")


@pytest.mark.parametrize("language", ["ar", "ckb"])
def test_right_to_left_card_isolates_phone_and_address(
    engine: Engine, content: Content, language: str
) -> None:
    """In Arabic script, the phone number and address are wrapped in LRI ... PDI to keep order."""
    service = content.services["fritidsjob-hjaelp"]
    assert engine.catalogs[language].rtl
    text = engine.card("fritidsjob-hjaelp", language).text
    assert f"{LRI}{service.phone}{PDI}" in text
    assert f"{LRI}{service.address}{PDI}" in text
    assert f"{LRI}{service.email}{PDI}" in text
    assert text.count(LRI) == text.count(PDI)


@pytest.mark.parametrize(
    ("hint", "first"),
    [
        ("ar", "العربية"),
        ("tr-TR", "Türkçe"),
        ("so", "Soomaali"),
        ("en-US", "English"),
        ("da", "Dansk"),
        ("pt-br", "Dansk"),
        (None, "Dansk"),
    ],
)
def test_picker_lists_seven_native_names_hinted_first(
    engine: Engine, hint: str | None, first: str
) -> None:
    """The picker names all seven languages in their own script, the hinted one first."""
    reply = engine.picker(None, hint=hint)
    labels = [label for label, _data in _buttons(reply)]
    assert reply.screen == "lang"
    assert len(labels) == 7
    assert len(set(labels)) == 7
    assert labels[0] == first
    assert {"العربية", "Türkçe", "Soomaali", "Dansk", "English"} <= set(labels)


def test_chosen_language_comes_first_in_picker(engine: Engine) -> None:
    """A resident who already chose Somali sees Somali first when changing language."""
    labels = [label for label, _data in _buttons(engine.picker("so", hint="ar"))]
    assert labels[0] == "Soomaali"


@pytest.mark.parametrize("language", LANGUAGES)
def test_pressing_a_language_sets_it_and_shows_menu(
    engine: Engine, content: Content, language: str
) -> None:
    """Choosing a language in the picker remembers it and shows the main menu in it."""
    reply = engine.press(engine.data(f"lang:{language}"), "da")
    assert reply.language == language
    assert reply.screen == content.start
    assert reply.buttons == engine.menu(language).buttons


def test_picker_buttons_choose_their_language(engine: Engine) -> None:
    """Each picker button chooses the language it names."""
    reply = engine.picker(None, hint="ar")
    chosen = [engine.press(data, "da").language for _label, data in _buttons(reply)]
    assert chosen == ["ar", "da", "tr", "so", "ku", "ckb", "en"]


def test_typed_text_points_to_the_menu(engine: Engine) -> None:
    """Typed text the bot cannot place gets a kind pointer to the buttons, with the menu."""
    reply = engine.typed("qwrtz plonk", "en")
    assert reply.screen == "pointer"
    assert reply.unmatched
    assert reply.text.startswith("I work best with the buttons")
    assert reply.buttons == engine.menu("en").buttons


def test_the_model_is_trained_once_when_the_warm_up_and_a_first_message_ask_together(
    content: Content, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`vollsmose-bot run` trains the model in a thread while the bot connects; a resident who
    types meanwhile waits for that model instead of training a second one."""
    import threading
    import time

    from bot.understanding import Understanding

    trainings: list[int] = []
    build = Understanding.build
    started = threading.Event()

    def slow_build(*args: object, **kwargs: object) -> Understanding:
        trainings.append(1)
        started.set()
        time.sleep(0.2)  # long enough for the second thread to arrive meanwhile
        return build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Understanding, "build", staticmethod(slow_build))
    engine = Engine(content, Catalogs(tmp_path))
    warm_up = threading.Thread(target=engine.warm_up)
    warm_up.start()
    started.wait(10)
    reply = engine.typed("hjælp min mand slår mig", "da")
    warm_up.join(10)
    assert trainings == [1]
    assert "112" in reply.text
