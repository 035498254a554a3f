"""Who is asking, decided before anything else about the request is read.

An ASGI middleware authenticates every /api/ request from its `Authorization: Bearer` header before
the route reads (and parses) the body, so a caller without a valid key learns only that: 401 with
`WWW-Authenticate: Bearer`, never a 400 about its JSON, and costs no parse. The caller is left in the
request scope for `deps.get_caller`.

A valid key's caller is remembered for KEY_CACHE_SECONDS per process (keyed by the key's hash): a
client polling a status 200 times a second costs one key lookup in SQL, not 200, and the request
needs no thread and no database connection before its route. The price: a key revoked in SQL still
works for up to that long on a process that saw it just before. An invalid key is never remembered.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gleaner.apikeys import Caller, caller_for_key, hash_key
from gleaner.db import session_scope
from gleaner.errors import Unauthorized
from gleaner.runtime import Runtime
from gleaner_api.readcache import TtlCache

SCOPE_KEY = "gleaner.caller"
PROTECTED_PREFIX = "/api/"

KEY_CACHE_SECONDS = 5.0
KNOWN_KEYS = TtlCache[Caller](seconds=KEY_CACHE_SECONDS, max_entries=4096)
"""(database, hash of a valid key) -> its caller, per process (see the module's docstring)."""


def known_caller(runtime: Runtime, authorization: str | None) -> Caller | None:
    """The caller when it needs no SQL: auth off, or a key seen valid in the last few seconds."""
    if not runtime.settings.AUTH_ENABLED:
        # No keys at all (local development): the one user is also the operator.
        return Caller(runtime.settings.BOOTSTRAP_OWNER, is_operator=True)
    key = _bearer_key(authorization)
    return KNOWN_KEYS.peek(_cache_key(runtime, key)) if key else None


def authenticate(runtime: Runtime, authorization: str | None) -> Caller:
    """The caller an Authorization header names; Unauthorized when it names none."""
    caller = known_caller(runtime, authorization)
    if caller is not None:
        return caller
    key = _bearer_key(authorization)
    if key is None:
        raise Unauthorized(
            "send an API key as `Authorization: Bearer <key>`", code="missing_api_key"
        )
    with session_scope(runtime.sessions) as session:
        caller = caller_for_key(session, key)
    if caller is None:
        raise Unauthorized(
            "the API key is not valid or was revoked", code="invalid_api_key"
        )
    KNOWN_KEYS.put(_cache_key(runtime, key), caller)
    return caller


def _bearer_key(authorization: str | None) -> str | None:
    scheme, _, key = (authorization or "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def _cache_key(runtime: Runtime, key: str) -> tuple[str, str]:
    return (runtime.settings.database_url, hash_key(key))


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PROTECTED_PREFIX):
            app = scope["app"]
            header = Headers(scope=scope).get("authorization")
            try:
                caller = known_caller(app.state.runtime, header)
                scope[SCOPE_KEY] = caller or await run_in_threadpool(
                    authenticate, app.state.runtime, header
                )
            except Exception as exc:
                # Answered by the app's own handlers (gleaner_api.handlers): 401, 503 for a database
                # that is down or a pool that is exhausted, the same as inside a route.
                handler = next(
                    (
                        app.exception_handlers[cls]
                        for cls in type(exc).__mro__
                        if cls in app.exception_handlers
                    ),
                    None,
                )
                if handler is None:
                    raise
                response = await handler(Request(scope), exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
