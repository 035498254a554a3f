from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gleaner.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_bad_value_stops_the_process_naming_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gleaner_parsing", "--burst"],
        env={
            "PATH": "/usr/bin:/bin",
            "GLEANER_PARSING_TIMEOUT": "soon",
            "GLEANER_FETCH_ALLOWED_PORTS": "80,x",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "GLEANER_PARSING_TIMEOUT" in result.stderr
    assert "GLEANER_FETCH_ALLOWED_PORTS" in result.stderr
    assert "Traceback" not in result.stderr


def test_lists_read_from_commas_or_json() -> None:
    assert Settings(PARSING_RETRY_DELAYS="0, 5,10").PARSING_RETRY_DELAYS == [0, 5, 10]  # type: ignore[arg-type]
    assert Settings(AI_RETRY_DELAYS="[1, 2]").AI_RETRY_DELAYS == [1, 2]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="0 or more"):
        Settings(NOTION_RETRY_DELAYS="-1")  # type: ignore[arg-type]


def test_database_urls_use_psycopg3_and_default_to_sqlite() -> None:
    assert (
        Settings(DATABASE_URL="postgresql://u@h/db").database_url
        == "postgresql+psycopg://u@h/db"
    )
    assert (
        Settings(DATABASE_URL="postgres://u@h/db").database_url
        == "postgresql+psycopg://u@h/db"
    )
    assert Settings(DATA_DIR=Path("x")).database_url == "sqlite:///x/gleaner.db"


def test_production_refuses_eager_mode() -> None:
    with pytest.raises(ValueError, match="GLEANER_EAGER"):
        Settings(ENV="production", EAGER=True)


def test_redis_url_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLEANER_REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379/2")
    assert Settings().REDIS_URL == "redis://elsewhere:6379/2"


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"GLEANER_([A-Z_]+)", readme))
    # `GLEANER_{PARSING,AI,NOTION}_TIMEOUT` documents three settings at once
    for group in re.findall(r"GLEANER_\{([A-Z,]+)\}_([A-Z_]+)", readme):
        documented |= {f"{stage}_{group[1]}" for stage in group[0].split(",")}
    missing = sorted(set(Settings.model_fields) - documented)
    assert not missing, f"settings missing from README's configuration table: {missing}"
