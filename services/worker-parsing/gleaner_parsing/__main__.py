"""`python -m gleaner_parsing`: the parsing worker."""

import sys

from gleaner.settings import Settings
from gleaner.worker import run


def check_settings(settings: Settings) -> None:
    """Exit at start-up naming a bad allow-list entry, rather than failing every job later."""
    if not settings.FETCH_ALLOW_NETWORKS:
        return
    # Imported only when there is something to check: gleaner.addresses loads httpx, which the
    # worker otherwise first needs for its first fetch, not before its first job.
    from gleaner.addresses import AllowEntry

    for entry in settings.FETCH_ALLOW_NETWORKS:
        try:
            AllowEntry.parse(entry)
        except ValueError as exc:
            message = (
                f"gleaner: GLEANER_FETCH_ALLOW_NETWORKS: bad entry {entry!r}: {exc}"
            )
            print(message, file=sys.stderr)  # noqa: T201
            raise SystemExit(2) from None


if __name__ == "__main__":
    raise SystemExit(run("parsing", setup=check_settings))
