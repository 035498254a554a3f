"""The resources one process holds: settings, the SQL engine and session factory, the Redis client.

Built once at process entry (the API's lifespan, a worker's start-up) and passed down. RQ calls job
functions with only their arguments, so a worker installs its Runtime with `set_current()` and jobs read
it with `current()`; a job run outside a worker (eager mode, `rq worker`) builds one from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gleaner.db import make_engine, make_sessionmaker
from gleaner.settings import Settings, load_settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: Redis

    @classmethod
    def start(cls, settings: Settings, *, pool_timeout: float = 30.0) -> Runtime:
        engine = make_engine(
            settings.database_url,
            pool_size=settings.DATABASE_POOL_SIZE,
            max_overflow=settings.DATABASE_MAX_OVERFLOW,
            pool_timeout=pool_timeout,
        )
        # Worker and API calls to Redis must fail fast when it is gone, not hang a request or a job.
        redis = Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=10,
            socket_connect_timeout=5,
            health_check_interval=30,
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            redis=redis,
        )

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()


_current: Runtime | None = None


def set_current(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    """The process's Runtime, built from the environment on first use when no entry point set one."""
    global _current
    if _current is None:
        _current = Runtime.start(load_settings())
    return _current
