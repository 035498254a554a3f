"""A page fetcher that is safe to run inside a cluster, on httpx.

Addresses are checked at connect time by the guarded httpcore network backend of gleaner.addresses
(shared with webhook delivery): it resolves the host once, refuses the connection if *any* answer is not
allowed, and connects to the checked IP literal. Redirects are followed here, one
hop at a time, each through the same check. The body is streamed with a size cap and a total deadline,
because httpx's timeouts are per read and a server dripping one byte at a time never trips them.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import httpx

from gleaner import tracing
from gleaner.addresses import (
    AddressPolicy,
    BlockedAddress,
    GuardedBackend,
    install_backend,
)
from gleaner.errors import (
    PermanentError,
    RetryableError,
    classify_http_status,
    parse_retry_after,
)
from gleaner.netguard import settings_policy
from gleaner.settings import Settings
from gleaner_parsing.decoding import decode_body

HostGate = Callable[[str], AbstractContextManager[object]]
"""host -> a context manager holding a per-host slot while one request runs (gleaner_parsing.hostlimit)."""

ALLOWED_SCHEMES = ("http", "https")

NO_SUCH_HOST = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
"""getaddrinfo's answers for a name that does not exist (NXDOMAIN) or has no address; a temporary
resolver failure (EAI_AGAIN: offline, a timeout) stays retryable."""
ALLOWED_CONTENT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8"


@dataclass(frozen=True)
class Wanted:
    """What a fetch accepts: the Accept header it sends and the media types it takes back."""

    accept: str
    content_types: tuple[str, ...]


PAGE = Wanted(ACCEPT, ALLOWED_CONTENT_TYPES)
FEED = Wanted(
    "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1",
    # what feeds are served as in the wild, text/html included (a misconfigured server; the parser decides)
    (
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "text/html",
        "text/plain",
    ),
)
"""RSS and Atom feeds (gleaner_parsing.feeds): the same guard, caps and deadline as pages."""
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Page:
    url: str  # final URL, after redirects
    status: int
    content_type: str  # media type only, lower case
    charset: str  # the encoding the text was decoded with
    text: str
    size: int  # decoded body bytes
    redirects: list[str]


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    timeout: float  # total seconds, across redirects
    max_redirects: int
    user_agent: str

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        return cls(
            max_bytes=settings.FETCH_MAX_BYTES,
            timeout=settings.FETCH_TIMEOUT_SECONDS,
            max_redirects=settings.FETCH_MAX_REDIRECTS,
            user_agent=settings.FETCH_USER_AGENT,
        )


class Fetcher:
    """One per process: holds the pooled client. `fetch(url)` returns a Page or raises a job error."""

    def __init__(
        self,
        policy: AddressPolicy,
        limits: FetchLimits,
        backend: GuardedBackend | None = None,
    ) -> None:
        self.policy = policy
        self.limits = limits
        self.backend = backend or GuardedBackend(policy)
        transport = httpx.HTTPTransport(retries=0)
        install_backend(transport, self.backend)
        self.client = httpx.Client(
            transport=transport,
            trust_env=False,  # a proxy variable would make the backend check the proxy, not the target
            follow_redirects=False,  # each hop is checked here
            headers={"User-Agent": limits.user_agent, "Accept": ACCEPT},
        )

    @classmethod
    def from_settings(cls, settings: Settings, **backend_options: Any) -> Fetcher:
        policy = settings_policy(settings)
        backend = GuardedBackend(policy, **backend_options)
        return cls(policy, FetchLimits.from_settings(settings), backend)

    def close(self) -> None:
        self.client.close()

    def fetch(
        self, url: str, gate: HostGate | None = None, wanted: Wanted = PAGE
    ) -> Page:
        deadline = time.monotonic() + self.limits.timeout
        redirects: list[str] = []
        current = url
        while True:
            target = checked_url(current)
            with (gate or _no_gate)(target.host):
                hop = self._request(target, deadline, wanted)
            if isinstance(hop, Page):
                return Page(**{**hop.__dict__, "redirects": redirects})
            if len(redirects) >= self.limits.max_redirects:
                raise PermanentError(
                    f"more than {self.limits.max_redirects} redirects",
                    code="too_many_redirects",
                )
            redirects.append(str(target))
            current = hop

    def _request(
        self, url: httpx.URL, deadline: float, wanted: Wanted = PAGE
    ) -> Page | str:
        """One hop: the Page, or the next URL to go to."""
        try:
            with (
                self.client.stream(
                    "GET",
                    url,
                    headers={"Accept": wanted.accept},
                    timeout=_remaining(deadline),
                    extensions=tracing.http_trace_extension(),  # connect / first byte / body events
                ) as response
            ):
                if response.status_code in REDIRECT_STATUSES:
                    location = response.headers.get("location")
                    if not location:
                        raise PermanentError(
                            f"{response.status_code} redirect without Location",
                            code="bad_redirect",
                        )
                    return str(url.join(location))
                if response.status_code >= 400:
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    raise classify_http_status(
                        response.status_code,
                        f"HTTP {response.status_code} from {url}",
                        retry_after,
                    )
                if response.status_code != 200:
                    raise PermanentError(
                        f"HTTP {response.status_code} from {url}",
                        code=f"http_{response.status_code}",
                    )
                return self._page(response, deadline, wanted)
        except BlockedAddress as exc:
            code = "blocked_port" if exc.port_rule else "blocked_address"
            raise PermanentError(f"{url.host}: {exc.reason}", code=code) from exc
        except socket.gaierror as exc:
            if (
                exc.errno in NO_SUCH_HOST
            ):  # the name does not exist: asking again will not help
                raise PermanentError(
                    f"no such host {url.host}: {exc}", code="dns_not_found"
                ) from exc
            raise RetryableError(
                f"cannot resolve {url.host}: {exc}", code="dns_error"
            ) from exc
        except httpx.TimeoutException as exc:
            raise RetryableError(f"timed out fetching {url}", code="timeout") from exc
        except httpx.InvalidURL as exc:
            raise PermanentError(f"invalid URL: {exc}", code="invalid_url") from exc
        except httpx.RemoteProtocolError as exc:
            # httpx parses a redirect's Location itself, even with follow_redirects off, and calls a
            # bad one a protocol error: that is the page's fault, and another attempt will not fix it.
            if "location header" in str(exc).lower():
                raise PermanentError(
                    f"invalid redirect: {exc}", code="invalid_url"
                ) from exc
            raise RetryableError(
                f"{exc} fetching {url}", code="connection_error"
            ) from exc
        except (httpx.TransportError, OSError) as exc:
            raise RetryableError(
                f"{type(exc).__name__} fetching {url}: {exc}", code="connection_error"
            ) from exc

    def _page(
        self, response: httpx.Response, deadline: float, wanted: Wanted = PAGE
    ) -> Page:
        media_type, _, params = response.headers.get(
            "content-type", wanted.content_types[0]
        ).partition(";")
        media_type = media_type.strip().lower() or wanted.content_types[0]
        if media_type not in wanted.content_types:
            what = "HTML or text" if wanted is PAGE else "a feed (RSS or Atom)"
            raise PermanentError(
                f"content type {media_type} is not {what}",
                code="unsupported_content_type",
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limits.max_bytes:
            raise PermanentError(
                f"body of {declared} bytes is over {self.limits.max_bytes}",
                code="too_large",
            )
        body = read_capped(response.iter_bytes(), self.limits.max_bytes, deadline)
        text, charset = decode_body(body, header_charset(params))
        return Page(
            str(response.url),
            response.status_code,
            media_type,
            charset,
            text,
            len(body),
            [],
        )


def read_capped(chunks: Iterator[bytes], max_bytes: int, deadline: float) -> bytes:
    """The body, or too_large / timeout. Chunks are decompressed, so a compression bomb is capped too."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise PermanentError(f"body is over {max_bytes} bytes", code="too_large")
        if time.monotonic() > deadline:
            raise RetryableError(
                "the page did not arrive within the fetch deadline", code="timeout"
            )
        parts.append(chunk)
    return b"".join(parts)


def checked_url(url: str | httpx.URL) -> httpx.URL:
    """Parse and refuse what never goes on the wire: other schemes, credentials, a missing host."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:  # not an httpx.HTTPError: e.g. 0177.0.0.1
        raise PermanentError(f"invalid URL: {exc}", code="invalid_url") from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise PermanentError(
            f"scheme {parsed.scheme or '(none)'!r} is not http or https",
            code="unsupported_scheme",
        )
    if parsed.userinfo:
        raise PermanentError(
            "URLs with credentials are not fetched", code="credentials_in_url"
        )
    if not parsed.host:
        raise PermanentError("URL has no host", code="invalid_url")
    return parsed


def header_charset(params: str) -> str | None:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise RetryableError("the fetch deadline passed", code="timeout")
    return left


def _no_gate(_host: str) -> AbstractContextManager[object]:
    return nullcontext()
