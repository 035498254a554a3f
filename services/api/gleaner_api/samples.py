"""A few sample articles the local stack serves itself, so a first try works with no network.

Served only by `make run` (gleaner_api.standalone), on 127.0.0.1, and allowed for fetching there through
the allow list's exact `127.0.0.1:<port>` form: never part of a deployment.
"""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

ARTICLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "river-meadows": (
        "The flood meadows of the lower river",
        (
            "Every winter the lower river leaves its banks and spreads across the meadows for a few "
            "weeks. The water moves slowly, and when it drains away it leaves a thin layer of silt "
            "that feeds the grass through the following summer.",
            "Farmers in the valley have worked with this cycle for centuries. Hay is cut late, after "
            "the ground-nesting birds have raised their young, and cattle graze the aftermath until "
            "the first autumn rains make the soil too soft to walk on.",
            "A plan to drain the meadows for arable fields was dropped in the nineteen-seventies "
            "after surveys showed how many rare plants grew there. Today the meadows store flood "
            "water that would otherwise reach the town downstream, a service worth far more than "
            "the crops the drained land would have grown.",
            "Visitors come in late spring, when the fritillaries flower, and again in winter to "
            "watch the swans and geese that feed on the flooded grass.",
        ),
    ),
    "sourdough": (
        "Why sourdough bread keeps longer",
        (
            "Sourdough is leavened by a culture of wild yeasts and lactic acid bacteria rather than "
            "by baker's yeast alone. The bacteria produce lactic and acetic acids while the dough "
            "ferments, which is where the bread's sour taste comes from.",
            "The same acids slow the staling of the crumb and make the loaf a poor home for moulds. "
            "A well-fermented sourdough loaf often stays fresh for four or five days, where a "
            "quickly made yeasted loaf of the same flour is dry after two.",
            "Long fermentation also changes the flour itself. Enzymes have more time to break down "
            "starches and proteins, which gives the crust its colour and the crumb its open, "
            "irregular structure.",
            "Bakers keep their starter alive by feeding it flour and water every day, and some "
            "starters have been passed from baker to baker for generations.",
        ),
    ),
    "night-trains": (
        "The return of the night train",
        (
            "Overnight sleeper trains were cut across much of Europe in the two thousands, when "
            "cheap flights made them look slow and expensive. In the last decade several routes have "
            "come back, run by new operators and by state railways that once closed them.",
            "Travellers choose them for the time they save: boarding in the evening and arriving in "
            "a city centre in the morning replaces a day of travel and a hotel night. Others choose "
            "them because a train emits a small fraction of the carbon of a short flight.",
            "Running them is hard. Sleeping cars are expensive to build, each carries few people, "
            "and the trains cross several countries whose track access charges and rules differ.",
            "Operators say demand is strong on most routes, and that the main limit on growth is the "
            "number of carriages that can be built and maintained.",
        ),
    ),
}


def render(name: str) -> bytes | None:
    if name not in ARTICLES:
        return None
    title, paragraphs = ARTICLES[name]
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><article>"
        f"<h1>{html.escape(title)}</h1>{body}</article></body></html>"
    ).encode()


class LocalServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1:<port> (0: any free one) in a daemon thread."""

    daemon_threads = True

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class HtmlHandler(BaseHTTPRequestHandler):
    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


NOT_FOUND = b"<html><body><h1>Not found</h1></body></html>"


class SampleServer(LocalServer):
    """`/<name>` for each of ARTICLES."""

    def __init__(self, port: int) -> None:
        super().__init__(port, _Handler)

    def urls(self) -> list[str]:
        return [self.url(f"/{name}") for name in ARTICLES]


class _Handler(HtmlHandler):
    def do_GET(self) -> None:
        page = render(self.path.strip("/"))
        if page is None:
            self.answer(404, NOT_FOUND)
        else:
            self.answer(200, page)
