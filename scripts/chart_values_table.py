"""Rewrite the values table of helm/gleaner/README.md from the `## @section` / `## @param` comments of
values.yaml (the bitnami readme-generator convention), with each value's default.

usage: uv run python scripts/chart_values_table.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "helm" / "gleaner"
MARKER = "<!-- values table: uv run python scripts/chart_values_table.py -->"


def default(values: dict[str, Any], path: str) -> str:
    node: Any = values
    for part in path.split("."):
        node = node[part]
    return json.dumps(node).replace("|", "\\|")


def table(text: str) -> list[str]:
    values = yaml.safe_load(text)
    out: list[str] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("## @section "):
            out += [
                "",
                f"### {line.removeprefix('## @section ')}",
                "",
                "| Name | Description | Default |",
                "| --- | --- | --- |",
            ]
        elif line.startswith("## @param "):
            _, _, path, *words = line.split()
            description = " ".join(words).replace("|", "\\|")
            out.append(f"| `{path}` | {description} | `{default(values, path)}` |")
    return out


def main() -> None:
    readme = CHART / "README.md"
    head = readme.read_text().split(MARKER)[0]
    rows = table((CHART / "values.yaml").read_text())
    readme.write_text(head + MARKER + "\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
