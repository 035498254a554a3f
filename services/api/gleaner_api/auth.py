"""Who is asking, decided before anything else about the request is read.

An ASGI middleware authenticates every /api/ request from its `Authorization: Bearer` header before
the route reads (and parses) the body, so a caller without a valid key learns only that: 401 with
`WWW-Authenticate: Bearer`, never a 400 about its JSON, and costs no parse. The caller is left in the
request scope for `deps.get_caller`.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gleaner.apikeys import Caller, caller_for_key
from gleaner.db import session_scope
from gleaner.errors import Unauthorized
from gleaner.runtime import Runtime

SCOPE_KEY = "gleaner.caller"
PROTECTED_PREFIX = "/api/"


def authenticate(runtime: Runtime, authorization: str | None) -> Caller:
    """The caller an Authorization header names; Unauthorized when it names none."""
    settings = runtime.settings
    if not settings.AUTH_ENABLED:
        # No keys at all (local development): the one user is also the operator.
        return Caller(settings.BOOTSTRAP_OWNER, is_operator=True)
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized(
            "send an API key as `Authorization: Bearer <key>`", code="missing_api_key"
        )
    with session_scope(runtime.sessions) as session:
        caller = caller_for_key(session, key.strip())
    if caller is None:
        raise Unauthorized(
            "the API key is not valid or was revoked", code="invalid_api_key"
        )
    return caller


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PROTECTED_PREFIX):
            app = scope["app"]
            header = Headers(scope=scope).get("authorization")
            try:
                scope[SCOPE_KEY] = await run_in_threadpool(
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
