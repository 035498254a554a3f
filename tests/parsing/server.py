"""A real HTTP server for the parsing tests, on 127.0.0.1 and a free port, serving tests/parsing/pages.

Routes:
  /news /blog /latin1-header /cp1252-meta /plain /empty      pages (200)
  /huge                  8 MB of article with no Content-Length (close-delimited)
  /bomb                  100 MB of zeros, gzip-encoded (about 100 KB on the wire)
  /slow                  drips one byte every 0.25 s, forever
  /pdf                   application/pdf
  /redirect/<n>          a chain of n redirects ending at /news
  /loop                  redirects to itself
  /to?url=<location>     one redirect to any location (an internal address, file://, ...)
  /status/<code>         that status, with an error page
  /flaky/<key>           500 the first time for each key, then the news article
  /limited/<key>         429 with Retry-After: 1 the first time for each key, then the news article
  /bench/<id>            the gzip-compressed benchmark page <id> from a directory given at start
"""

from __future__ import annotations

import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.parsing import pages

HUGE_BYTES = 8 * 1024 * 1024


def _gzip_zeros(total: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    block = bytes(1024 * 1024)
    return (
        b"".join(compressor.compress(block) for _ in range(total // len(block)))
        + compressor.flush()
    )


class PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bench_dir: Path | None = None) -> None:
        super().__init__(("127.0.0.1", 0), PageHandler)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.bench_dir = bench_dir
        self._bomb: bytes | None = None
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def start(self) -> PageServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def count(self, key: str) -> int:
        """How many times `key` was requested before this one (thread-safe)."""
        with self.lock:
            seen = self.hits[key]
            self.hits[key] += 1
            return seen

    def handle_error(self, request: object, client_address: object) -> None:
        # The fetcher hanging up at its size cap or deadline is expected; anything else is a test bug.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def bomb(self) -> bytes:
        with self.lock:
            if self._bomb is None:
                self._bomb = _gzip_zeros(100 * 1024 * 1024)
            return self._bomb


class PageHandler(BaseHTTPRequestHandler):
    server: PageServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle + delayed ACK stall every response.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: C901 - one branch per route reads best as a table
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        self.server.count(f"path:{path}")
        if path == "/news":
            self.send_html(pages.news_article())
        elif path == "/blog":
            self.send_html(pages.blog_post())
        elif path == "/latin1-header":
            self.send_body(
                pages.latin_article(None).encode("iso-8859-1"),
                "text/html; charset=ISO-8859-1",
            )
        elif path == "/cp1252-meta":
            self.send_body(
                pages.latin_article("windows-1252").encode("cp1252"), "text/html"
            )
        elif path == "/plain":
            self.send_body(
                "\n\n".join(pages.BLOG_PARAGRAPHS).encode(), "text/plain; charset=utf-8"
            )
        elif path == "/empty":
            self.send_html(pages.empty_page())
        elif path == "/pdf":
            self.send_body(b"%PDF-1.4\n%...", "application/pdf")
        elif path == "/huge":
            self.send_close_delimited(pages.huge_article(HUGE_BYTES).encode())
        elif path == "/bomb":
            self.send_body(
                self.server.bomb(), "text/html", extra={"Content-Encoding": "gzip"}
            )
        elif path == "/slow":
            self.drip()
        elif path.startswith("/redirect/"):
            left = int(path.rsplit("/", 1)[1])
            self.redirect(f"/redirect/{left - 1}" if left > 1 else "/news")
        elif path == "/loop":
            self.redirect("/loop")
        elif path == "/to":
            self.redirect(query["url"][0])
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self.send_body(
                f"<html><body><h1>Error {code}</h1></body></html>".encode(),
                "text/html",
                status=code,
            )
        elif path.startswith("/flaky/"):
            if self.server.count(path) == 0:
                self.send_body(
                    b"<html><body>Internal Server Error</body></html>",
                    "text/html",
                    status=500,
                )
            else:
                self.send_html(pages.news_article())
        elif path.startswith("/limited/"):
            if self.server.count(path) == 0:
                self.send_body(
                    b"slow down", "text/plain", status=429, extra={"Retry-After": "1"}
                )
            else:
                self.send_html(pages.news_article())
        elif path.startswith("/bench/") and self.server.bench_dir is not None:
            name = path.rsplit("/", 1)[1]
            raw = (self.server.bench_dir / f"{name}.html.gz").read_bytes()
            # Served compressed, as most sites do: the fetcher's decoding is part of the stage.
            self.send_body(
                raw, "text/html; charset=utf-8", extra={"Content-Encoding": "gzip"}
            )
        else:
            self.send_body(
                b"<html><body>Not Found</body></html>", "text/html", status=404
            )

    def send_html(self, html: str) -> None:
        self.send_body(html.encode("utf-8"), "text/html; charset=utf-8")

    def send_body(
        self,
        body: bytes,
        content_type: str,
        status: int = 200,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def send_close_delimited(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for start in range(0, len(body), 65536):
                self.wfile.write(body[start : start + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the fetcher hung up at its cap, as it should

    def drip(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b"<html><body><p>")
            for _ in range(400):  # bounded: 100 s at most, whatever the client does
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.25)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()
