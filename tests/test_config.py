"""Settings from the environment and .env: defaults, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import REPOSITORY, ConfigError, load_settings

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture(autouse=True)
def empty_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No .env from the repository may leak into a test (conftest clears the variables)."""
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    """With nothing set, the bot uses Telegram, the data/ file, Danish and Copenhagen time."""
    settings = load_settings()
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.bot_database == Path("data/vollsmose.sqlite3")
    assert settings.bot_default_language == "da"
    assert settings.bot_timezone == "Europe/Copenhagen"
    assert settings.bot_content_dir == REPOSITORY / "flows"
    assert settings.bot_staff_ids == frozenset()
    assert settings.bot_staff_chat_id is None
    assert settings.token is None


def test_good_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each variable the operator sets reaches the settings."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("BOT_DATABASE", "/srv/bot/counts.sqlite3")
    monkeypatch.setenv("BOT_STAFF_IDS", " 12, 34 ,56")
    monkeypatch.setenv("BOT_STAFF_CHAT_ID", "-100123")
    monkeypatch.setenv("BOT_DEFAULT_LANGUAGE", "ar")
    monkeypatch.setenv("BOT_TIMEZONE", "UTC")
    settings = load_settings()
    assert settings.token == TOKEN
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    assert settings.bot_database == Path("/srv/bot/counts.sqlite3")
    assert settings.bot_staff_ids == frozenset({12, 34, 56})
    assert settings.bot_staff_chat_id == -100123
    assert settings.bot_default_language == "ar"
    assert settings.bot_timezone == "UTC"


@pytest.mark.parametrize(
    ("variable", "value", "mentions"),
    [
        ("BOT_STAFF_IDS", "12,abc", "'abc'"),
        ("BOT_STAFF_CHAT_ID", "staff", ""),
        ("BOT_TIMEZONE", "Mars/Base", "'Mars/Base'"),
        ("BOT_DEFAULT_LANGUAGE", "xx", "'xx'"),
        ("TELEGRAM_API_URL", "ftp://x", "'ftp://x'"),
        ("TELEGRAM_BOT_TOKEN", "nonsense", "BotFather"),
    ],
)
def test_bad_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, mentions: str
) -> None:
    """A bad value gives one line that starts with the variable's name and says what is wrong."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert len(message.splitlines()) == 1
    assert mentions in message


@pytest.mark.parametrize("token", ["nonsense", "123456789:short", f"{TOKEN}@"])
def test_bad_token_is_not_repeated(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    """A mistyped token never appears in the error, which may end up in a log or a screenshot."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("TELEGRAM_BOT_TOKEN: ")
    assert token not in str(caught.value)
    assert token.split(":")[-1] not in str(caught.value)


def test_every_bad_variable_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several mistakes are reported together, one line each, so the operator fixes them at once."""
    monkeypatch.setenv("BOT_TIMEZONE", "Mars/Base")
    monkeypatch.setenv("BOT_DEFAULT_LANGUAGE", "xx")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    names = sorted(line.split(":")[0] for line in str(caught.value).splitlines())
    assert names == ["BOT_DEFAULT_LANGUAGE", "BOT_TIMEZONE"]


def test_dotenv_in_working_directory_is_read(tmp_path: Path) -> None:
    """A .env file beside where the bot starts supplies settings."""
    (tmp_path / ".env").write_text(
        f"TELEGRAM_BOT_TOKEN={TOKEN}\nBOT_DEFAULT_LANGUAGE=so\nBOT_STAFF_IDS=7,8\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.token == TOKEN
    assert settings.bot_default_language == "so"
    assert settings.bot_staff_ids == frozenset({7, 8})


def test_environment_beats_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A variable set in the environment wins over the same one in .env."""
    (tmp_path / ".env").write_text("BOT_DEFAULT_LANGUAGE=so\nBOT_TIMEZONE=UTC\n", encoding="utf-8")
    monkeypatch.setenv("BOT_DEFAULT_LANGUAGE", "tr")
    settings = load_settings()
    assert settings.bot_default_language == "tr"
    assert settings.bot_timezone == "UTC"


@pytest.mark.parametrize(
    ("line", "attribute", "default"),
    [
        ("BOT_STAFF_CHAT_ID=", "bot_staff_chat_id", None),
        ("BOT_DATABASE=", "bot_database", Path("data/vollsmose.sqlite3")),
        ("TELEGRAM_BOT_TOKEN=", "token", None),
    ],
)
def test_blank_line_in_dotenv_means_not_set(
    tmp_path: Path, line: str, attribute: str, default: object
) -> None:
    """An optional variable left blank in .env (as in a template) falls back to its default."""
    (tmp_path / ".env").write_text(line + "\n", encoding="utf-8")
    assert getattr(load_settings(), attribute) == default


def test_bad_value_in_dotenv_is_named(tmp_path: Path) -> None:
    """A mistake in .env is reported under the variable's name, like one in the environment."""
    (tmp_path / ".env").write_text("BOT_TIMEZONE=Mars/Base\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^BOT_TIMEZONE: "):
        load_settings()
