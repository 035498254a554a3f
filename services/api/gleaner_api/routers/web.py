"""The web page at `/`: static files from gleaner_api/web, nothing built, nothing fetched from elsewhere.

The page calls the same API with the key a person pastes in (kept in the browser's localStorage) and
reads a task's event stream with fetch(), so the key travels in the Authorization header, never in a
URL that an access log could keep.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from gleaner.errors import NotFound

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}

# The page runs only its own script and talks only to this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=HEADERS)


@router.get("/web/{name}")
def asset(name: str) -> FileResponse:
    # Only the named files: a request can never reach past the folder.
    if name not in ASSETS:
        raise NotFound(f"no web file {name!r}", code="not_found")
    return FileResponse(WEB_DIR / name, media_type=ASSETS[name], headers=HEADERS)
