"""`helm test <release>`: checks a user runs after install, from inside the cluster (stdlib only; the
chart runs it with the API image). Environment: GLEANER_TEST_URL (the API Service), GLEANER_TEST_API_KEY,
GLEANER_TEST_STAGES (comma-separated). Prints one line per check; exits 1 on the first failure."""

import os
import re
import sys
import time
import urllib.error
import urllib.request

URL = os.environ["GLEANER_TEST_URL"].rstrip("/")
KEY = os.environ["GLEANER_TEST_API_KEY"]
STAGES = [
    s
    for s in os.environ.get("GLEANER_TEST_STAGES", "parsing,ai,notion").split(",")
    if s
]


def get(path: str, key: str = "") -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    request = urllib.request.Request(URL + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def check(ok: bool, what: str) -> None:
    sys.stdout.write(("ok   " if ok else "FAIL ") + what + "\n")
    sys.stdout.flush()
    if not ok:
        sys.exit(1)


# The Service may only just have an endpoint: give /readyz a minute.
deadline = time.monotonic() + 60
while True:
    try:
        status, body = get("/readyz")
    except OSError as error:
        status, body = 0, str(error)
    if status == 200 or time.monotonic() > deadline:
        break
    time.sleep(2)
check(
    status == 200,
    f"GET /readyz answers 200 (SQL and Redis reachable): {status} {body[:200]}",
)

status, _ = get("/api/tasks")
check(status == 401, f"GET /api/tasks without a key is refused: {status}")
status, body = get("/api/tasks", KEY)
check(
    status == 200,
    f"GET /api/tasks with the release's API key answers 200: {status} {body[:200]}",
)

status, metrics = get("/metrics")
check(status == 200, f"GET /metrics answers 200: {status}")
for stage in STAGES:
    pattern = (
        r'^gleaner_queue_backlog_jobs\{[^}]*queue="' + re.escape(stage) + r'"[^}]*\} '
    )
    check(
        re.search(pattern, metrics, re.MULTILINE) is not None,
        f'/metrics has gleaner_queue_backlog_jobs{{queue="{stage}"}}',
    )
