"""Settings from the environment and an optional .env file, with errors that name the variable."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from bot.i18n import LANGUAGES

REPOSITORY = Path(__file__).resolve().parent.parent
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKLY = re.compile(rf"({'|'.join(WEEKDAYS)})\s+(\d{{1,2}}):(\d{{2}})")


class ConfigError(Exception):
    """The configuration cannot be used; the message names each variable and what is wrong."""


class Settings(BaseModel):
    """Everything the operator can set; each field is read from the variable of the same name."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    # Webhook mode: what Telegram sends in X-Telegram-Bot-Api-Secret-Token. From the environment
    # (the env file), never the command line, which every local user can read.
    telegram_webhook_secret: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{16,256}$")
    bot_database: Path = Path("data/vollsmose.sqlite3")
    bot_staff_ids: frozenset[int] = frozenset()
    bot_staff_chat_id: int | None = None
    bot_default_language: str = "da"
    bot_timezone: str = "Europe/Copenhagen"
    bot_content_dir: Path = REPOSITORY / "flows"
    bot_log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    # Counts of residents' attributes below this show as "<5" in reports (see bot/stats.py).
    bot_stats_threshold: int = Field(default=5, ge=3, le=100)
    # The web chat: where it listens ("127.0.0.1:8080"; beside `run`, or alone with `web`), the
    # address residents open (for posters; https:// makes its cookie Secure), and the bot's
    # Telegram @username (for posters' t.me links).
    # "Ask a person to call me": requests one resident may send a day, requests from everyone in
    # an hour, and minutes a half-filled request is kept in memory before it is forgotten.
    bot_callback_daily_limit: int = Field(default=2, ge=1, le=20)
    bot_callback_hourly_limit: int = Field(default=20, ge=1, le=1000)
    bot_callback_expiry_minutes: int = Field(default=15, ge=1, le=120)
    # When the week's follow-up questions go out, in BOT_TIMEZONE: one batch at a fixed hour.
    bot_followup_at: str = "mon 10:00"
    bot_web_listen: str | None = None
    bot_web_url: str | None = None
    bot_telegram_username: str | None = None

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _token(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not _TOKEN.match(str(value).strip()):
            # Never echo the value: it may be a real token with a typo.
            raise ValueError("is not a bot token of the form 123456789:ABC... from @BotFather")
        return str(value).strip()

    @field_validator("telegram_api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL such as https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("bot_staff_ids", mode="before")
    @classmethod
    def _staff(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            for part in parts:
                if not re.fullmatch(r"-?\d+", part):
                    raise ValueError(f"{part!r} is not a numeric Telegram user id")
            return frozenset(int(part) for part in parts)
        return value

    @field_validator("bot_default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"{value!r} is not one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("bot_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone such as Europe/Copenhagen") from None
        return value

    @field_validator("bot_followup_at")
    @classmethod
    def _followup_at(cls, value: str) -> str:
        match = _WEEKLY.fullmatch(value.strip().lower())
        if match is None or int(match.group(2)) > 23 or int(match.group(3)) > 59:
            raise ValueError(f"{value!r} is not a weekday and time such as mon 10:00")
        return f"{match.group(1)} {int(match.group(2)):02d}:{match.group(3)}"

    @field_validator("bot_web_listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not an address and port such as 127.0.0.1:8080")
        return value

    @field_validator("bot_web_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL such as https://guide.example.dk")
        return value.rstrip("/")

    @field_validator("bot_telegram_username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = value.removeprefix("@")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", name):
            raise ValueError(f"{value!r} is not a Telegram bot username such as VollsmoseGuideBot")
        return name

    @property
    def web_address(self) -> tuple[str, int]:
        """BOT_WEB_LISTEN as (host, port); 127.0.0.1:8080 when it is not set."""
        host, _, port = (self.bot_web_listen or "127.0.0.1:8080").rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def token(self) -> str | None:
        return self.telegram_bot_token.get_secret_value() if self.telegram_bot_token else None

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.bot_timezone)

    @property
    def followup_weekday(self) -> int:
        """BOT_FOLLOWUP_AT's weekday, Monday = 0 (as datetime.weekday())."""
        return WEEKDAYS.index(self.bot_followup_at.split()[0])

    @property
    def followup_time(self) -> dt.time:
        """BOT_FOLLOWUP_AT's time of day, in BOT_TIMEZONE."""
        hour, minute = self.bot_followup_at.split()[1].split(":")
        return dt.time(int(hour), int(minute), tzinfo=self.timezone)

    @property
    def secret_file(self) -> Path:
        """Where the key for hashing residents' ids lives: beside the database, mode 600."""
        return self.bot_database.with_suffix(".secret")


def _read_environment(env_file: Path = Path(".env")) -> dict[str, str]:
    """The bot's variables from .env in the working directory, then from the environment (which
    wins); empty values count as unset, as in a copied .env.example."""
    values: dict[str, str] = {}
    if env_file.is_file():
        # python-dotenv is imported only when there is a file to read: pydantic-settings, which
        # did this before, took a quarter of the bot's start-up to import.
        from dotenv import dotenv_values

        values |= {key.upper(): value for key, value in dotenv_values(env_file).items() if value}
    values |= {key: value for key, value in os.environ.items() if value}
    return {name: values[name.upper()] for name in Settings.model_fields if name.upper() in values}


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and .env); raise ConfigError naming each bad variable."""
    try:
        return Settings.model_validate(_read_environment() | overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False, include_input=False):
            name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{name}: {message}")
        raise ConfigError("\n".join(lines)) from None
