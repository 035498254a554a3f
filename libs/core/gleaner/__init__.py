"""gleaner

Importing the package installs one import hook (`_SkipOptionalExtras`) that keeps three dependencies
from importing, at their own import, extras no Gleaner process uses (about 0.3 s of CPU per process
start, issue 19).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

# extra -> the modules that import it optionally (inside `try: ... except ImportError`)
OPTIONAL_EXTRAS: dict[str, tuple[str, ...]] = {
    # structlog's console tracebacks; JSON logs never use them, and gleaner.logs imports rich itself
    # on the first console traceback
    "rich": ("structlog.dev", "structlog.tracebacks"),
    # httpx's command-line tool (click, rich, pygments)
    "httpx._main": ("httpx",),
    # redis-py names the OpenTelemetry metrics SDK in annotations only (redis 8: unused otherwise)
    "opentelemetry.sdk.metrics": ("redis.observability.providers",),
}


class _SkipOptionalExtras:
    """Refuses an extra while one of its importers is being imported, and only then: the extra itself
    stays importable by anyone else (the `gleaner` CLI imports rich, tracing the OpenTelemetry SDK)."""

    def find_spec(
        self,
        name: str,
        path: Sequence[str] | None = None,  # noqa: ARG002 (the finder protocol's)
        target: ModuleType | None = None,  # noqa: ARG002
    ) -> ModuleSpec | None:
        for importer in OPTIONAL_EXTRAS.get(name, ()):
            module = sys.modules.get(importer)
            # CPython marks a module's spec `_initializing` while its code runs
            if getattr(getattr(module, "__spec__", None), "_initializing", False):
                raise ModuleNotFoundError(
                    f"{name} is not loaded for {importer} (gleaner)", name=name
                )
        return None


if not any(isinstance(finder, _SkipOptionalExtras) for finder in sys.meta_path):
    sys.meta_path.insert(0, _SkipOptionalExtras())
