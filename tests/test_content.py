"""Content validation: the shipped flows load; each kind of mistake is named by file and path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content import Content, ContentError, load_content
from bot.engine import Engine
from bot.i18n import Catalogs

REPOSITORY = Path(__file__).resolve().parent.parent
SHIPPED = REPOSITORY / "flows"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "content"
VALID = FIXTURES / "valid"
BROKEN = sorted(path.name for path in (FIXTURES / "broken").iterdir() if path.is_dir())


def _flows(tmp_path: Path) -> Path:
    """A copy of the valid fixture in a folder named flows, as staff would have it."""
    target = tmp_path / "flows"
    shutil.copytree(VALID, target)
    return target


def _overlay(flows: Path, case: Path) -> None:
    """Replace the valid fixture's files with the case's, and delete those listed in remove.txt."""
    for path in case.glob("*.yaml"):
        shutil.copyfile(path, flows / path.name)
    removals = case / "remove.txt"
    if removals.is_file():
        for name in removals.read_text(encoding="utf-8").split():
            (flows / name).unlink()


def test_valid_fixture_loads(tmp_path: Path) -> None:
    """The minimal fixture is valid, so every broken case differs from it by one mistake."""
    content = load_content(_flows(tmp_path))
    assert set(content.goals) == {"civilsamfund", "tryghed", "uddannelse", "arbejde"}
    assert content.start == "menu"
    assert set(content.screens) == {"menu", "job", "job.age13"}
    assert set(content.services) == {"job-help", "alarm-112"}
    assert content.pathway_of == {"job": "job", "job.age13": "job"}


def test_unquoted_yaml_values_are_read_as_written(tmp_path: Path) -> None:
    """An unquoted `no`, `112` or `14:00` means what staff typed, not YAML 1.1's false, the
    number 112 or 840 minutes: every scalar is a string until the models give it a type."""
    content = load_content(_flows(tmp_path))
    assert content.pathways["job"].keywords["da"] == ["fritidsjob", "no", "112"]
    alarm = content.services["alarm-112"]
    assert alarm.phone == "112"
    assert alarm.verified_on is not None
    assert alarm.verified_on.isoformat() == "2026-11-26"
    help_ = content.services["job-help"]
    assert help_.sample is True
    assert [(a.isoformat(), b.isoformat()) for a, b in help_.hours["mon"]] == [
        ("14:00:00", "17:00:00")
    ]


@pytest.mark.parametrize("case", BROKEN)
def test_broken_content_names_file_path_and_problem(tmp_path: Path, case: str) -> None:
    """Each broken fixture fails with exactly the message in its expected.txt."""
    flows = _flows(tmp_path)
    _overlay(flows, FIXTURES / "broken" / case)
    expected = (FIXTURES / "broken" / case / "expected.txt").read_text(encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(flows)
    assert str(caught.value) == expected.rstrip("\n")
    assert len(caught.value.problems) == len(expected.rstrip("\n").splitlines())


def test_file_not_saved_as_utf8_is_a_content_error(tmp_path: Path) -> None:
    """A services.yaml saved as Latin-1 (an old Windows editor) is reported, not a crash."""
    flows = _flows(tmp_path)
    text = (flows / "services.yaml").read_text(encoding="utf-8")
    (flows / "services.yaml").write_bytes(text.encode("latin-1"))
    with pytest.raises(ContentError) as caught:
        load_content(flows)
    assert str(caught.value).startswith("flows/services.yaml: ")


def test_missing_folder_is_a_content_error(tmp_path: Path) -> None:
    """Pointing the bot at a folder that does not exist says so."""
    with pytest.raises(ContentError, match="is not a folder"):
        load_content(tmp_path / "nowhere")


@pytest.fixture(scope="module")
def shipped() -> Content:
    return load_content(SHIPPED)


def test_shipped_content_loads(shipped: Content) -> None:
    """The content in flows/ is valid and has the four goals and the main pathways."""
    assert set(shipped.goals) == {"civilsamfund", "tryghed", "uddannelse", "arbejde"}
    assert shipped.start in shipped.screens
    assert "fritidsjob" in shipped.pathways
    for service in shipped.services.values():
        assert set(service.goals) <= set(shipped.goals)


def test_shipped_callback_data_is_ascii_and_fits_telegram(
    shipped: Content, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every button the bot can show carries ASCII callback data of at most 64 bytes."""
    engine = Engine(shipped, Catalogs(tmp_path_factory.mktemp("no-catalogs")))
    replies = [engine.screen(screen_id, "da") for screen_id in shipped.screens]
    replies += [engine.card(service_id, "da") for service_id in shipped.services]
    replies.append(engine.picker("da"))
    data = [button.data for reply in replies for row in reply.buttons for button in row]
    assert data
    for value in data:
        assert value.isascii(), value
        assert len(value.encode()) <= 64, value


def test_version_is_stable_for_unchanged_content(tmp_path: Path) -> None:
    """Loading the same files again, even from another folder, gives the same version."""
    first = load_content(_flows(tmp_path / "a"))
    again = load_content(tmp_path / "a" / "flows")
    elsewhere = load_content(_flows(tmp_path / "b"))
    assert len(first.version) == 6
    assert first.version == again.version == elsewhere.version


@pytest.mark.parametrize("file", ["menu.yaml", "job.yaml", "services.yaml", "goals.yaml"])
def test_version_changes_when_a_file_changes(tmp_path: Path, file: str) -> None:
    """Editing any content file gives a new version, so old buttons are recognised as stale."""
    flows = _flows(tmp_path)
    before = load_content(flows).version
    with (flows / file).open("a", encoding="utf-8") as handle:
        handle.write("# edited by staff\n")
    assert load_content(flows).version != before
