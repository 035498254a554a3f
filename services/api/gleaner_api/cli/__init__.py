"""The `gleaner` command: a client of the HTTP API (`[project.scripts] gleaner = "gleaner_api.cli:main"`)."""

from gleaner_api.cli.app import app, main

__all__ = ["app", "main"]
