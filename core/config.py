"""Typed settings read from CHORUS_* environment variables and an optional .env file."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError

PREFIX = "CHORUS_"


@dataclass(frozen=True)
class TreeSettings:
    """Conversation-tree limits; defaults are Open-Assistant's TreeManagerConfiguration."""

    max_active_trees_per_lang: int = 10
    max_tree_depth: int = 3
    max_children: int = 3
    max_prompter_children: int = 1
    goal_tree_size: int = 12
    reviews_initial_prompt: int = 3
    reviews_reply: int = 3
    acceptance_threshold_prompt: float = 0.6
    acceptance_threshold_reply: float = 0.6
    ballots_per_sibling_set: int = 3
    auto_mod_red_flags: int = 4
    auto_mod_reply_skips: int = 25
    lonely_child_p: float = 0.75
    reply_lock_seconds: int = 300
    max_prompts_waiting_per_lang: int = 250
    # A growing tree that received no accepted work for this long is moved on (never stalls).
    stale_tree_hours: float = 72.0
    rank_prompter_replies: bool = False


@dataclass(frozen=True)
class TaskSettings:
    """Per-user task limits; defaults are Open-Assistant's."""

    max_pending_per_user: int = 8
    validity_hours: float = 48.0
    message_max_chars: int = 2000
    duplicate_window_minutes: int = 120
    label_mode: str = "full"  # "full" or "simple"
    edit_grace_minutes: int = 15


@dataclass(frozen=True)
class Settings:
    """Everything Chorus reads from its environment."""

    database_url: str = "sqlite+aiosqlite:///chorus.db"
    default_lang: str = "en"
    discord_token: str = ""
    discord_api_base: str = ""
    discord_gateway_url: str = ""
    telegram_token: str = ""
    telegram_api_base: str = ""
    telegram_webhook_url: str = ""
    telegram_webhook_listen: str = "127.0.0.1:8443"
    maintainers: str = ""  # "platform:id,platform:id" made maintainers on first sight
    tree: TreeSettings = field(default_factory=TreeSettings)
    task: TaskSettings = field(default_factory=TaskSettings)

    @property
    def maintainer_identities(self) -> set[tuple[str, str]]:
        """The (platform, external id) pairs named in CHORUS_MAINTAINERS."""
        out = set()
        for item in filter(None, (s.strip() for s in self.maintainers.split(","))):
            platform, _, ext = item.partition(":")
            out.add((platform, ext))
        return out


def _parse(name: str, raw: str, kind: type) -> object:
    raw = raw.strip()
    try:
        if kind is bool:
            low = raw.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        return raw
    except ValueError:
        expected = {bool: "true or false", int: "a whole number", float: "a number"}[kind]
        raise ConfigError(f"{name}={raw!r} is not valid: expected {expected}.") from None


def _build(cls: type, env: dict[str, str], prefix: str) -> object:
    hints = typing.get_type_hints(cls)
    values: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            values[f.name] = _build(kind, env, f"{prefix}{f.name.upper()}_")
            continue
        if isinstance(kind, types.UnionType):  # pragma: no cover - no optional fields yet
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        key = f"{prefix}{f.name.upper()}"
        if key in env:
            values[f.name] = _parse(key, env[key], kind)
    obj = cls(**values)
    _validate(obj)
    return obj


def _validate(obj: object) -> None:
    if isinstance(obj, TreeSettings):
        for name in ("max_tree_depth", "max_children", "goal_tree_size", "ballots_per_sibling_set"):
            if getattr(obj, name) < 1:
                raise ConfigError(f"CHORUS_TREE_{name.upper()} must be at least 1.")
        for name in ("acceptance_threshold_prompt", "acceptance_threshold_reply", "lonely_child_p"):
            if not 0 <= getattr(obj, name) <= 1:
                raise ConfigError(f"CHORUS_TREE_{name.upper()} must be between 0 and 1.")
    if isinstance(obj, TaskSettings):
        if obj.label_mode not in ("full", "simple"):
            raise ConfigError("CHORUS_TASK_LABEL_MODE must be 'full' or 'simple'.")
        if obj.message_max_chars < 1 or obj.max_pending_per_user < 1:
            raise ConfigError("CHORUS_TASK limits must be at least 1.")
    if isinstance(obj, Settings):
        if "://" not in obj.database_url:
            raise ConfigError(
                f"CHORUS_DATABASE_URL={obj.database_url!r} is not a database URL "
                "(e.g. sqlite+aiosqlite:///chorus.db or postgresql+asyncpg://user@host/db)."
            )


def read_dotenv(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines from a .env file (comments and blank lines ignored)."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:]
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"{path}:{lineno}: expected KEY=VALUE.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def load_settings(env: dict[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
    """Build Settings from the environment, with a .env file filling what is not set."""
    merged = read_dotenv(dotenv) if dotenv else {}
    merged.update(os.environ if env is None else env)
    known = {f"{PREFIX}{f.name.upper()}" for f in dataclasses.fields(Settings)}
    for sub in ("TREE", "TASK"):
        cls = TreeSettings if sub == "TREE" else TaskSettings
        known |= {f"{PREFIX}{sub}_{f.name.upper()}" for f in dataclasses.fields(cls)}
    unknown = sorted(k for k in merged if k.startswith(PREFIX) and k not in known and not k.startswith("CHORUS_TEST"))
    if unknown:
        raise ConfigError(f"Unknown setting {unknown[0]}: check its spelling.")
    return typing.cast(Settings, _build(Settings, merged, PREFIX))
