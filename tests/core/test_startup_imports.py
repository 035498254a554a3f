"""What each process we run imports before its first job or request: none of the heavy modules it does
not need yet (issue 19, "fast start"). Checked on module names in a fresh interpreter, never on times
(bench/worker/start.py measures those).

Each entry point is imported step by step, as its process reaches them: the command's module, then what
its first job or request loads (the stage's job module, the app, the scheduler or the reconciler).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import importlib, json, sys
seen = []
for step in sys.argv[1:]:
    for name in step.split(","):
        importlib.import_module(name)
    seen.append(sorted(sys.modules))
print(json.dumps(seen))
"""

# Never wanted before a first job or request, by any process: extras of dependencies (rich, via
# structlog's console tracebacks and httpx's command-line tool; the OpenTelemetry SDK, via redis-py,
# while tracing is off).
NEVER = (
    "rich",
    "pygments",
    "httpx._main",
    "opentelemetry.sdk.metrics",
    "opentelemetry.sdk.trace",
    "opentelemetry.sdk.resources",
    "psutil",
)
API_ONLY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sse_starlette",
    "click",
)  # click: uvicorn's
PARSING_ONLY = ("trafilatura", "lxml", "justext", "htmldate")
AI_ONLY = ("sumy", "yake", "nltk", "numpy", "networkx", "openai")
NOTION_ONLY = ("notion_client",)

# (case, steps of comma-separated modules, modules that must not be loaded after each step)
CASES: list[tuple[str, list[str], list[tuple[str, ...]]]] = [
    (
        "parsing worker",
        ["gleaner_parsing.__main__", "gleaner_parsing.jobs"],
        [
            # httpx comes with the first fetch (or an allow list to check), trafilatura with the
            # first extraction
            (*NEVER, *API_ONLY, *PARSING_ONLY, *AI_ONLY, *NOTION_ONLY, "httpx"),
            (*NEVER, *API_ONLY, *AI_ONLY, *NOTION_ONLY),
        ],
    ),
    (
        "ai worker",
        ["gleaner_ai.__main__", "gleaner_ai.jobs"],
        [
            (*NEVER, *API_ONLY, *PARSING_ONLY, *AI_ONLY, *NOTION_ONLY, "httpx"),
            # the offline provider's libraries, not the OpenAI SDK nor its address guard's httpx
            (*NEVER, *API_ONLY, *PARSING_ONLY, *NOTION_ONLY, "openai", "httpx"),
        ],
    ),
    (
        "notion worker",
        ["gleaner_notion.__main__", "gleaner_notion.jobs"],
        [
            (*NEVER, *API_ONLY, *PARSING_ONLY, *AI_ONLY, *NOTION_ONLY, "httpx"),
            (*NEVER, *API_ONLY, *PARSING_ONLY, *AI_ONLY),
        ],
    ),
    (
        "api schedule",
        ["gleaner_api.__main__", "gleaner_api.scheduler"],
        [
            (*NEVER, *API_ONLY, *PARSING_ONLY, *AI_ONLY, *NOTION_ONLY, "httpx"),
            (*NEVER, *API_ONLY, *PARSING_ONLY, *AI_ONLY, *NOTION_ONLY),
        ],
    ),
    (
        "api reconcile",
        [
            "gleaner_api.__main__",
            "gleaner.reconciler,gleaner.deliveries,gleaner_api.scheduler",
        ],
        [
            (*NEVER, *API_ONLY, *PARSING_ONLY, *AI_ONLY, *NOTION_ONLY, "httpx"),
            (*NEVER, *API_ONLY, *PARSING_ONLY, *AI_ONLY, *NOTION_ONLY),
        ],
    ),
    (
        "api serve",
        ["gleaner_api.__main__", "gleaner_api.app"],
        [
            (*NEVER, *API_ONLY, *PARSING_ONLY, *AI_ONLY, *NOTION_ONLY, "httpx"),
            (*NEVER, *PARSING_ONLY, *AI_ONLY, *NOTION_ONLY),
        ],
    ),
]


def loaded_after_each(steps: list[str]) -> list[set[str]]:
    # a fresh interpreter with tracing off (the OTEL_* variables select it), as a process starts
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *steps],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [set(names) for names in json.loads(result.stdout)]


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The names among `modules`, a package counting as loaded when any of its modules is."""
    return sorted(
        name
        for name in set(names)
        if name in modules or any(m.startswith(name + ".") for m in modules)
    )


@pytest.mark.parametrize(
    ("steps", "unwanted"),
    [pytest.param(steps, unwanted, id=case) for case, steps, unwanted in CASES],
)
def test_an_entry_point_imports_nothing_it_does_not_need_yet(
    steps: list[str], unwanted: list[tuple[str, ...]]
) -> None:
    for step, modules, names in zip(
        steps, loaded_after_each(steps), unwanted, strict=True
    ):
        assert loaded(modules, names) == [], f"after importing {step}"


def test_the_optional_extras_stay_importable_on_their_own() -> None:
    """The hook refuses an extra only to the dependency that would import it in passing."""
    modules = loaded_after_each(
        ["gleaner.worker,httpx", "rich.console,httpx._main,opentelemetry.sdk.metrics"]
    )
    assert (
        loaded(modules[0], ("rich", "httpx._main", "opentelemetry.sdk.metrics")) == []
    )
    assert {"rich.console", "httpx._main", "opentelemetry.sdk.metrics"} <= modules[1]
