"""One Settings object for every Gleaner process, read from the environment (prefix GLEANER_).

Defaults run the embedded local stack: SQLite in ./data, a local Redis, the offline AI provider and
Notion in dry-run. Build it once at process entry with `load_settings()` and pass it down.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Stage = Literal["parsing", "ai", "notion"]


def _split_list(value: object) -> object:
    """Accept "0,30,300" as well as JSON lists, so values read naturally in env files and Helm."""
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            import json

            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GLEANER_", extra="ignore", frozen=True
    )

    # --- process -------------------------------------------------------------------------------------
    ENV: Literal["development", "test", "production"] = "development"
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    LOG_FORMAT: Literal["json", "console"] = "json"

    # --- storage -------------------------------------------------------------------------------------
    DATA_DIR: Path = Path("data")
    # Empty means a SQLite file in DATA_DIR; PostgreSQL in a cluster (postgresql://… is normalized to psycopg 3).
    DATABASE_URL: str = ""
    # The password alone (the chart reads it from a Secret): quoted into DATABASE_URL by `database_url`,
    # so `@:/?#%` in it cannot break the URL, and it replaces any password the URL carries.
    DATABASE_PASSWORD: SecretStr | None = None
    # REDIS_URL (unprefixed) is accepted too: it is what most platforms and the local stack set.
    REDIS_URL: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("GLEANER_REDIS_URL", "REDIS_URL"),
    )
    # Connections each process keeps open (pool size) and may open beyond it under load (overflow).
    DATABASE_POOL_SIZE: int = Field(default=5, ge=1)
    DATABASE_MAX_OVERFLOW: int = Field(default=10, ge=0)
    # Development only: run jobs in the API process when no worker should be needed. Refused in production,
    # where a slow stage would block the API; there Redis down means 503.
    EAGER: bool = False

    # --- queues: per-stage job timeout (s), retry delays (s) and attempts ---------------------------
    PARSING_TIMEOUT: int = Field(default=60, ge=1)
    AI_TIMEOUT: int = Field(default=120, ge=1)
    NOTION_TIMEOUT: int = Field(default=60, ge=1)
    PARSING_RETRY_DELAYS: Annotated[list[int], NoDecode] = [0, 30, 300]
    AI_RETRY_DELAYS: Annotated[list[int], NoDecode] = [0, 30, 300]
    NOTION_RETRY_DELAYS: Annotated[list[int], NoDecode] = [0, 30, 300]
    PARSING_MAX_ATTEMPTS: int = Field(default=3, ge=1, le=20)
    AI_MAX_ATTEMPTS: int = Field(default=3, ge=1, le=20)
    NOTION_MAX_ATTEMPTS: int = Field(default=3, ge=1, le=20)
    # Seconds a failed job stays in RQ's failed registry (with its traceback). Failure details live in
    # SQL for good; Redis holds only what is in flight (64,000 failed jobs kept 7 days took 329 MB).
    JOB_FAILURE_TTL_SECONDS: int = Field(default=900, ge=1)
    # Backoff per stage (gleaner.retries): "fixed" uses *_RETRY_DELAYS (today's behaviour); "exponential"
    # waits BASE × 2^(attempt-1), capped at MAX, minus up to JITTER of it at random. *_RETRY_ON lists the
    # error codes that are retried (empty: every retryable error, as today).
    PARSING_RETRY_BACKOFF: Literal["fixed", "exponential"] = "fixed"
    AI_RETRY_BACKOFF: Literal["fixed", "exponential"] = "fixed"
    NOTION_RETRY_BACKOFF: Literal["fixed", "exponential"] = "fixed"
    PARSING_RETRY_BASE_SECONDS: float = Field(default=30.0, ge=0)
    AI_RETRY_BASE_SECONDS: float = Field(default=30.0, ge=0)
    NOTION_RETRY_BASE_SECONDS: float = Field(default=30.0, ge=0)
    PARSING_RETRY_MAX_SECONDS: float = Field(default=3600.0, ge=0)
    AI_RETRY_MAX_SECONDS: float = Field(default=3600.0, ge=0)
    NOTION_RETRY_MAX_SECONDS: float = Field(default=3600.0, ge=0)
    PARSING_RETRY_JITTER: float = Field(default=0.5, ge=0, le=1)
    AI_RETRY_JITTER: float = Field(default=0.5, ge=0, le=1)
    NOTION_RETRY_JITTER: float = Field(default=0.5, ge=0, le=1)
    PARSING_RETRY_ON: Annotated[list[str], NoDecode] = []
    AI_RETRY_ON: Annotated[list[str], NoDecode] = []
    NOTION_RETRY_ON: Annotated[list[str], NoDecode] = []

    # --- API -----------------------------------------------------------------------------------------
    AUTH_ENABLED: bool = True
    # A key registered at start-up (its hash only): how a Kubernetes Secret hands the API its first key.
    BOOTSTRAP_API_KEY: SecretStr | None = None
    BOOTSTRAP_OWNER: str = "default"
    MAX_BATCH_SIZE: int = Field(
        default=10_000, ge=1
    )  # links per request; beyond it: 422
    MAX_URL_LENGTH: int = Field(default=2048, ge=64)
    SSE_POLL_SECONDS: float = Field(default=0.5, gt=0)
    # How long a request waits for a free database connection before answering 503 with Retry-After
    # (short: a client retries sooner than a request thread should sit blocked on the pool).
    API_POOL_TIMEOUT_SECONDS: float = Field(default=3.0, gt=0)
    # API processes `python -m gleaner_api serve` runs on one port (uvicorn workers); each has its own
    # database pool, so a pod opens up to this many times DATABASE_POOL_SIZE + MAX_OVERFLOW connections.
    API_PROCESSES: int = Field(default=1, ge=1, le=64)
    # The shortest interval (or cron gap) a schedule may ask for: a schedule is not a load generator.
    SCHEDULE_MIN_INTERVAL_SECONDS: int = Field(default=60, ge=1)
    # A tracing UI's page for one trace, "{trace_id}" replaced (Jaeger: https://jaeger.example/trace/{trace_id});
    # items then carry a trace_url that the web page and CLI show as a "trace" link. Tracing itself is
    # switched on by the standard OTEL_* variables (gleaner.tracing).
    TRACE_URL: str = ""

    # --- webhooks (gleaner.webhooks): delivered by the reconciler pods, through the SSRF guard ----------
    WEBHOOK_TIMEOUT_SECONDS: float = Field(
        default=10.0, gt=0
    )  # per attempt; then it counts as failed
    WEBHOOK_MAX_ATTEMPTS: int = Field(default=8, ge=1, le=50)
    WEBHOOK_RETRY_BASE_SECONDS: float = Field(
        default=10.0, ge=0
    )  # doubles per attempt, with jitter
    WEBHOOK_RETRY_MAX_SECONDS: float = Field(default=3600.0, ge=0)
    WEBHOOK_ALLOWED_PORTS: Annotated[list[int], NoDecode] = [80, 443]
    # CIDRs or exact address:port reachable although private (a known internal receiver); empty: none.
    WEBHOOK_ALLOW_NETWORKS: Annotated[list[str], NoDecode] = []

    # --- retention (the CronJob runs `python -m gleaner_api retention`) ----------------------------------
    RETENTION_COMPLETED_DAYS: int = Field(default=7, ge=1)
    RETENTION_FAILED_DAYS: int = Field(default=30, ge=1)

    # --- workers -------------------------------------------------------------------------------------
    WORKER_METRICS_PORT: int = Field(
        default=9100, ge=0, le=65535
    )  # 0 turns the endpoint off
    # Seconds between worker heartbeats; the reconciler calls a worker dead after 3 missed beats.
    WORKER_HEARTBEAT_SECONDS: int = Field(default=5, ge=1)
    RECONCILE_INTERVAL_SECONDS: float = Field(default=5.0, gt=0)
    # Jobs one worker process runs at once, each in its own thread registered as an RQ worker
    # (bench/worker/RESULTS.md: 4 threads run no-op jobs ~4× as fast as RQ's forking Worker and 50 ms IO
    # jobs ~4×; IO-bound stages such as parsing gain more from 8–16, the CPU-bound offline AI none).
    WORKER_CONCURRENCY: int = Field(default=4, ge=1, le=64)
    # Starvation guard of the low lane (queues.LaneOrder): while higher lanes keep a worker busy, at
    # least one job in this many is taken from the low lane.
    WORKER_LOW_LANE_EVERY: int = Field(default=10, ge=2, le=1000)
    # After SIGTERM the running jobs may finish for this long; then they stop at their next checkpoint
    # and go back to the queue without spending an attempt. Keep it ~10 s under the pod's
    # terminationGracePeriodSeconds so the requeue lands before the SIGKILL.
    WORKER_SHUTDOWN_GRACE_SECONDS: float = Field(default=20.0, ge=0)
    # How long a job waits for an unreachable database before giving up (the reconciler then recovers it).
    WORKER_DATABASE_WAIT_SECONDS: float = Field(default=60.0, ge=0)
    # Pod deletion cost annotation (Kubernetes only): "auto" turns it on when running in a pod.
    POD_DELETION_COST: Literal["auto", "on", "off"] = "auto"
    POD_NAME: str = ""
    POD_NAMESPACE: str = ""

    # --- parsing: the safe fetcher -------------------------------------------------------------------
    FETCH_ALLOWED_PORTS: Annotated[list[int], NoDecode] = [80, 443]
    # CIDRs that may be reached even though they are private (off by default): a known internal site.
    FETCH_ALLOW_NETWORKS: Annotated[list[str], NoDecode] = []
    FETCH_MAX_BYTES: int = Field(default=5 * 1024 * 1024, ge=1024)
    FETCH_TIMEOUT_SECONDS: float = Field(
        default=20.0, gt=0
    )  # total, across redirects and slow bodies
    FETCH_MAX_REDIRECTS: int = Field(default=5, ge=0, le=20)
    # Sites see who fetches; operators should add a contact (a URL or an address) here.
    FETCH_USER_AGENT: str = "GleanerBot/0.1 (article fetcher)"
    FETCH_PER_HOST_CONCURRENCY: int = Field(default=2, ge=1)

    # --- AI ------------------------------------------------------------------------------------------
    AI_PROVIDER: Literal["offline", "openai"] = (
        "offline"  # the default model's provider
    )
    OPENAI_BASE_URL: str = "https://api.openai.com/v1"
    OPENAI_API_KEY: SecretStr | None = None
    OPENAI_MODEL: str = "gpt-4o-mini"
    OPENAI_TIMEOUT_SECONDS: float = Field(default=60.0, gt=0)
    OPENAI_CONTEXT_TOKENS: int = Field(default=16000, ge=1000)
    AI_REQUESTS_PER_MINUTE: float = Field(default=500.0, gt=0)
    AI_TOKENS_PER_MINUTE: float = Field(default=200000.0, gt=0)
    # Fernet key(s) encrypting tenants' own provider keys (gleaner.secrets); comma-separated, newest
    # first. Unset: tenants cannot store a key (their models may still point at a keyless server).
    MODEL_KEYS_ENCRYPTION_KEY: SecretStr | None = None
    SUMMARY_SENTENCES: int = Field(default=5, ge=1, le=50)
    KEYWORDS_MAX: int = Field(default=10, ge=1, le=100)

    # --- Notion --------------------------------------------------------------------------------------
    # No token: dry run, the exact requests are stored on the NotionImport instead of sent.
    NOTION_TOKEN: SecretStr | None = None
    NOTION_DATABASE_ID: str = ""  # default target when a request names none
    NOTION_BASE_URL: str = "https://api.notion.com"
    NOTION_REQUESTS_PER_SECOND: float = Field(
        default=3.0, gt=0
    )  # Notion's documented average per integration
    NOTION_BURST: int = Field(default=3, ge=1)

    @field_validator(
        "PARSING_RETRY_DELAYS",
        "AI_RETRY_DELAYS",
        "NOTION_RETRY_DELAYS",
        "PARSING_RETRY_ON",
        "AI_RETRY_ON",
        "NOTION_RETRY_ON",
        "FETCH_ALLOWED_PORTS",
        "FETCH_ALLOW_NETWORKS",
        "WEBHOOK_ALLOWED_PORTS",
        "WEBHOOK_ALLOW_NETWORKS",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("PARSING_RETRY_DELAYS", "AI_RETRY_DELAYS", "NOTION_RETRY_DELAYS")
    @classmethod
    def _delays_not_negative(cls, value: list[int]) -> list[int]:
        if any(delay < 0 for delay in value):
            raise ValueError("retry delays must be 0 or more seconds")
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _psycopg_driver(cls, value: str) -> str:
        # postgres:// and postgresql:// mean psycopg 3 here; SQLAlchemy would otherwise pick psycopg2.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.ENV == "production" and self.EAGER:
            raise ValueError(
                "GLEANER_EAGER is for development only: it would run jobs inside the API"
            )
        return self

    @property
    def database_url(self) -> str:
        if not self.DATABASE_URL:
            return f"sqlite:///{self.DATA_DIR / 'gleaner.db'}"
        if self.DATABASE_PASSWORD is None:
            return self.DATABASE_URL
        return with_password(
            self.DATABASE_URL, self.DATABASE_PASSWORD.get_secret_value()
        )

    def timeout(self, stage: Stage) -> int:
        return int(getattr(self, f"{stage.upper()}_TIMEOUT"))

    def retry_delays(self, stage: Stage) -> list[int]:
        return list(getattr(self, f"{stage.upper()}_RETRY_DELAYS"))

    def max_attempts(self, stage: Stage) -> int:
        return int(getattr(self, f"{stage.upper()}_MAX_ATTEMPTS"))


def with_password(url: str, password: str) -> str:
    """`url` with `password` in it, percent-encoded the way SQLAlchemy parses it back."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(password=password).render_as_string(hide_password=False)


def _env_name(location: tuple[int | str, ...]) -> str:
    field = str(location[0]) if location else "?"
    return "GLEANER_" + field if field != "__root__" else "settings"


def load_settings() -> Settings:
    """Settings from the environment; on a bad value, exit naming the variable and what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"{_env_name(err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            if err["loc"]
            else err["msg"]
            for err in exc.errors()
        ]
        print("gleaner: invalid settings\n  " + "\n  ".join(lines), file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None
