"""The safe fetcher against a real local server: pages, limits, error classes and the SSRF probe list.

The only address the fetcher may reach is the page server's exact 127.0.0.1:<port>; every probe below
must be refused before any connect (the loopback-only inner backend records connects and fails the test
on any that is not loopback).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import httpcore
import httpx
import pytest

from gleaner.addresses import install_backend
from gleaner.errors import PermanentError, RetryableError
from gleaner_parsing.fetcher import Fetcher
from tests.parsing import pages
from tests.parsing.conftest import LoopbackOnlyBackend, TableResolver
from tests.parsing.server import PageServer
from tests.servers import free_port

MakeFetcher = Callable[..., Fetcher]


class TestPages:
    def test_news_article(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        page = make_fetcher().fetch(page_server.url("/news"))
        assert page.status == 200
        assert page.content_type == "text/html"
        assert page.charset == "utf-8"
        assert pages.ARTICLE_MARKERS[0] in page.text

    def test_connects_to_the_checked_literal_after_one_lookup(
        self,
        make_fetcher: MakeFetcher,
        page_server: PageServer,
        resolver: TableResolver,
        inner_backend: LoopbackOnlyBackend,
    ) -> None:
        page = make_fetcher().fetch(page_server.url("/blog", host="news.test"))
        assert pages.BLOG_MARKERS[0] in page.text
        assert resolver.calls == ["news.test"]
        assert inner_backend.connects == [("127.0.0.1", page_server.port)]

    def test_charset_from_header(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        page = make_fetcher().fetch(page_server.url("/latin1-header"))
        assert page.charset == "cp1252"
        assert all(marker in page.text for marker in pages.LATIN_MARKERS)

    def test_charset_from_meta(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        page = make_fetcher().fetch(page_server.url("/cp1252-meta"))
        assert page.charset == "cp1252"
        assert all(marker in page.text for marker in pages.LATIN_MARKERS)

    def test_plain_text(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        page = make_fetcher().fetch(page_server.url("/plain"))
        assert page.content_type == "text/plain"
        assert pages.BLOG_MARKERS[0] in page.text

    def test_redirect_chain_is_followed(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        page = make_fetcher().fetch(page_server.url("/redirect/3"))
        assert page.url == page_server.url("/news")
        assert len(page.redirects) == 3
        assert pages.ARTICLE_MARKERS[0] in page.text

    def test_sends_our_user_agent(self, make_fetcher: MakeFetcher) -> None:
        fetcher = make_fetcher()
        assert fetcher.client.headers["user-agent"] == "GleanerTest/1.0"
        assert fetcher.client.trust_env is False


class TestLimits:
    def test_huge_body_without_length_is_cut(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        with pytest.raises(PermanentError) as caught:
            make_fetcher().fetch(page_server.url("/huge"))
        assert caught.value.code == "too_large"

    def test_gzip_bomb_is_cut(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        with pytest.raises(PermanentError) as caught:
            make_fetcher().fetch(page_server.url("/bomb"))
        assert caught.value.code == "too_large"

    def test_drip_feed_hits_the_total_deadline(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        with pytest.raises(RetryableError) as caught:
            make_fetcher(timeout=1.0).fetch(page_server.url("/slow"))
        assert caught.value.code == "timeout"

    def test_other_content_types_are_refused(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        with pytest.raises(PermanentError) as caught:
            make_fetcher().fetch(page_server.url("/pdf"))
        assert caught.value.code == "unsupported_content_type"

    def test_redirect_loop_stops_after_the_limit(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        with pytest.raises(PermanentError) as caught:
            make_fetcher().fetch(page_server.url("/loop"))
        assert caught.value.code == "too_many_redirects"

    def test_six_redirects_are_one_too_many(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        make_fetcher().fetch(page_server.url("/redirect/5"))
        with pytest.raises(PermanentError):
            make_fetcher().fetch(page_server.url("/redirect/6"))


class TestErrorClasses:
    @pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
    def test_client_errors_are_permanent(
        self, make_fetcher: MakeFetcher, page_server: PageServer, status: int
    ) -> None:
        with pytest.raises(PermanentError) as caught:
            make_fetcher().fetch(page_server.url(f"/status/{status}"))
        assert caught.value.code == f"http_{status}"
        assert str(status) in caught.value.message

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_server_errors_are_retryable(
        self, make_fetcher: MakeFetcher, page_server: PageServer, status: int
    ) -> None:
        with pytest.raises(RetryableError) as caught:
            make_fetcher().fetch(page_server.url(f"/status/{status}"))
        assert caught.value.code == f"http_{status}"

    def test_429_carries_retry_after(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        with pytest.raises(RetryableError) as caught:
            make_fetcher().fetch(page_server.url("/limited/unit"))
        assert caught.value.code == "rate_limited"
        assert caught.value.retry_after == 1.0

    def test_a_name_that_does_not_exist_is_permanent(
        self, make_fetcher: MakeFetcher
    ) -> None:
        # NXDOMAIN (EAI_NONAME): no retry will make it exist; test_fetcher_dns has the retryable kind
        with pytest.raises(PermanentError) as caught:
            make_fetcher().fetch("http://no-such-host.test/")
        assert caught.value.code == "dns_not_found"

    def test_connection_refused_is_retryable(self, make_fetcher: MakeFetcher) -> None:
        port = free_port()  # opened on the allow list, but nothing listens there
        with pytest.raises(RetryableError) as caught:
            make_fetcher(allow=(f"127.0.0.1:{port}",)).fetch(
                f"http://127.0.0.1:{port}/"
            )
        assert caught.value.code == "connection_error"


def _probes(port: int) -> list[tuple[str, str]]:
    """(url, expected code): DOMAIN.md's probe list, plus the page server's neighbours on loopback."""
    return [
        ("http://127.0.0.1/", "blocked_address"),
        ("http://localhost/", "blocked_address"),
        (
            f"http://localhost:{port}/news",
            "blocked_address",
        ),  # ::1 answers too: any refused answer refuses
        ("http://[::1]/", "blocked_address"),
        ("http://2130706433/", "blocked_address"),
        ("http://0x7f000001/", "blocked_address"),
        ("http://127.1/", "blocked_address"),
        ("http://0/", "blocked_address"),
        ("http://0.0.0.0/", "blocked_address"),
        ("http://0177.0.0.1/", "invalid_url"),
        ("http://[::ffff:127.0.0.1]/", "blocked_address"),
        ("http://[::ffff:7f00:1]/", "blocked_address"),
        ("http://[64:ff9b::7f00:1]/", "blocked_address"),
        ("http://[2002:7f00:1::]/", "blocked_address"),
        ("http://169.254.169.254/latest/meta-data/", "blocked_address"),
        ("http://[fd00:ec2::254]/", "blocked_address"),
        ("http://metadata.test/latest/meta-data/", "blocked_address"),
        ("http://10.0.0.1/", "blocked_address"),
        ("http://172.16.0.1/", "blocked_address"),
        ("http://192.168.1.1/", "blocked_address"),
        ("http://100.64.0.1/", "blocked_address"),
        ("http://198.18.0.1/", "blocked_address"),
        ("http://224.0.0.1/", "blocked_address"),
        ("http://[ff02::1]/", "blocked_address"),
        ("http://[fe80::1]/", "blocked_address"),
        ("http://mixed.test/", "blocked_address"),
        ("http://internal.test/", "blocked_address"),
        ("http://127.0.0.1:22/", "blocked_address"),
        (f"http://127.0.0.1:{port + 1}/", "blocked_address"),
        (f"http://127.0.0.2:{port}/", "blocked_address"),
        ("http://public.test:22/", "blocked_port"),
        ("file:///etc/passwd", "unsupported_scheme"),
        ("ftp://127.0.0.1/", "unsupported_scheme"),
        ("gopher://127.0.0.1:6379/_INFO", "unsupported_scheme"),
        ("dict://127.0.0.1:11211/stat", "unsupported_scheme"),
        (f"http://user:pw@127.0.0.1:{port}/news", "credentials_in_url"),
    ]


PROBE_IDS = [url for url, _ in _probes(1)]


class TestSSRF:
    @pytest.mark.parametrize("index", range(len(PROBE_IDS)), ids=PROBE_IDS)
    def test_direct_probe_is_refused_before_any_connect(
        self,
        make_fetcher: MakeFetcher,
        page_server: PageServer,
        inner_backend: LoopbackOnlyBackend,
        index: int,
    ) -> None:
        url, code = _probes(page_server.port)[index]
        with pytest.raises(PermanentError) as caught:
            make_fetcher().fetch(url)
        assert caught.value.code == code
        assert inner_backend.connects == []

    @pytest.mark.parametrize("index", range(len(PROBE_IDS)), ids=PROBE_IDS)
    def test_redirect_probe_is_refused(
        self,
        make_fetcher: MakeFetcher,
        page_server: PageServer,
        inner_backend: LoopbackOnlyBackend,
        index: int,
    ) -> None:
        target, code = _probes(page_server.port)[index]
        start = page_server.url(f"/to?url={quote(target, safe='')}", host="news.test")
        with pytest.raises(PermanentError) as caught:
            make_fetcher().fetch(start)
        assert caught.value.code == code
        assert set(inner_backend.connects) == {("127.0.0.1", page_server.port)}

    def test_the_test_server_itself_is_reachable(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        assert make_fetcher().fetch(page_server.url("/news")).status == 200

    def test_public_answer_first_then_private_is_refused(
        self,
        make_fetcher: MakeFetcher,
        resolver: TableResolver,
        inner_backend: LoopbackOnlyBackend,
    ) -> None:
        resolver.table["rebind.test"] = ["93.184.216.34", "127.0.0.1"]
        with pytest.raises(PermanentError) as caught:
            make_fetcher().fetch("https://rebind.test/")
        assert caught.value.code == "blocked_address"
        assert inner_backend.connects == []

    def test_allow_list_opens_an_internal_network(
        self, make_fetcher: MakeFetcher, page_server: PageServer
    ) -> None:
        # 127.0.0.0/8 on the allow list, but only ports 80/443: the server's port stays closed by the port rule.
        with pytest.raises(PermanentError) as caught:
            make_fetcher(allow=("127.0.0.0/8",)).fetch(
                f"http://127.0.0.3:{page_server.port + 1}/"
            )
        assert caught.value.code == "blocked_port"


class TestHttpxWiring:
    def test_private_attribute_still_holds_the_network_backend(self) -> None:
        # If httpx/httpcore move this, install_backend must fail loudly and this test with it.
        transport = httpx.HTTPTransport()
        assert isinstance(transport._pool, httpcore.ConnectionPool)
        assert isinstance(transport._pool._network_backend, httpcore.NetworkBackend)
        marker = httpcore.SyncBackend()
        install_backend(transport, marker)
        assert transport._pool._network_backend is marker

    def test_requests_go_through_the_installed_backend(
        self,
        make_fetcher: MakeFetcher,
        page_server: PageServer,
        inner_backend: LoopbackOnlyBackend,
    ) -> None:
        make_fetcher().fetch(page_server.url("/news"))
        assert inner_backend.connects == [("127.0.0.1", page_server.port)]

    def test_install_refuses_an_unknown_transport_shape(self) -> None:
        transport = httpx.HTTPTransport()
        transport._pool = object()  # type: ignore[assignment]
        with pytest.raises(RuntimeError):
            install_backend(transport, httpcore.SyncBackend())
