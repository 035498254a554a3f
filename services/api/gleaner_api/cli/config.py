"""Where the CLI finds the API: flags, then GLEANER_API_URL / GLEANER_API_KEY, then the config file.

The config file is `$XDG_CONFIG_HOME/gleaner/config.toml` (default `~/.config/gleaner/config.toml`):

    api_url = "http://127.0.0.1:8000"
    api_key = "glr_…"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API_URL = "http://127.0.0.1:8000"
"""The API a local stack serves (`python -m gleaner_api serve` listens on port 8000)."""


class ConfigError(Exception):
    """The configuration cannot be used (an unreadable file); the message says which and why."""


@dataclass(frozen=True)
class ClientConfig:
    api_url: str
    api_key: str | None


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gleaner" / "config.toml"


def _read_file(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def load_config(api_url: str | None = None, api_key: str | None = None) -> ClientConfig:
    """The first value given of: the flag, the environment, the config file (then the default URL)."""
    found = _read_file(config_path())
    url = (
        api_url
        or os.environ.get("GLEANER_API_URL")
        or found.get("api_url")
        or DEFAULT_API_URL
    )
    key = api_key or os.environ.get("GLEANER_API_KEY") or found.get("api_key") or None
    return ClientConfig(api_url=str(url).rstrip("/"), api_key=str(key) if key else None)
