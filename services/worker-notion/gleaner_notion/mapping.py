"""An AI digest as a Notion page: properties, body blocks and the requests that file them, within Notion's limits.

Documented request limits (developers.notion.com, "Request limits"), all respected here:
- a rich-text object's `text.content` ≤ 2,000 characters; counted here in UTF-16 code units, which is
  what Notion's JavaScript counts, so an emoji is 2 and a long emoji-heavy text is never refused;
- a rich-text array ≤ 100 objects; a multi_select ≤ 100 options; option names without commas, ≤ 100 chars;
- URLs (URL property, text links) ≤ 2,000 characters;
- ≤ 100 blocks in `children` per request (the rest are appended in follow-up calls) and ≤ 500 KB per
  request: blocks are batched by count and by encoded size.
Properties and blocks are pure data here: the same functions build the dry run's stored requests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gleaner.errors import PermanentError
from gleaner.notion_rules import rich_text_problems
from gleaner.notion_schema import DatabaseSchema, check_properties, property_type

MAX_TEXT = 2000  # characters (UTF-16 units) in one rich-text object
MAX_RICH_TEXT_ITEMS = 100  # rich-text objects in one array
MAX_OPTIONS = 100  # multi_select options in one value
MAX_OPTION_NAME = 100
MAX_URL = 2000
MAX_CHILDREN = 100  # blocks in one create or append request

DEFAULT_MAX_PAYLOAD_BYTES = 400_000
"""Encoded body size one request may reach: Notion allows 500 KB; the rest is headroom for JSON framing."""

DEFAULT_BLOCK_TEXT_ITEMS = 40
"""Rich-text objects per body block: 40 × 2,000 characters stay well inside one request even at 4 bytes a
character, so a block never has to be split across requests."""

DEFAULT_PROPERTY_TEXT_CHARS = 20_000
"""The summary property is cut here (with "…"); the page body carries the whole summary."""

URL_NAMES = ("Source URL", "URL", "Source", "Link")
KEYWORD_NAMES = ("Keywords", "Tags", "Topics")
DATE_NAMES = ("Published", "Published date", "Date")
SUMMARY_NAMES = ("Summary", "Description", "Abstract")

DEFAULT_SCHEMA_PROPERTIES = {
    "Name": "title",
    "Source URL": "url",
    "Keywords": "multi_select",
    "Published": "date",
    "Summary": "rich_text",
}
"""The database the dry run assumes (it cannot read the real one without a token)."""

DATA_SOURCE_PLACEHOLDER = "{data_source_id}"
PAGE_PLACEHOLDER = "{page_id}"
DATABASE_PLACEHOLDER = "{database_id}"  # a dry run whose request named no database


@dataclass(frozen=True)
class Article:
    """What a page is made of, read from Link + ParsedContent + AIProcessedContent."""

    source_url: str
    title: str
    summary: str = ""
    keywords: list[str] = field(default_factory=list)
    insights: list[str] = field(default_factory=list)
    published: date | None = None


@dataclass(frozen=True)
class PagePlan:
    """A page's properties and body, and the property the source URL is kept in (for look-ups)."""

    properties: dict[str, Any]
    children: list[dict[str, Any]]
    url_property: str


def default_schema(database_id: str) -> DatabaseSchema:
    return DatabaseSchema(
        database_id, DATA_SOURCE_PLACEHOLDER, "Name", dict(DEFAULT_SCHEMA_PROPERTIES)
    )


# --- text ---------------------------------------------------------------------------------------


def _units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` UTF-16 units, cut after whitespace when one is near, never inside a character."""
    text = text.replace("\x00", "")
    pieces: list[str] = []
    start = 0
    while start < len(text):
        used, end = 0, start
        while end < len(text) and used + _units(text[end]) <= limit:
            used += _units(text[end])
            end += 1
        if end < len(text):
            space = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            if space > start + limit * 0.8:
                end = space + 1
        pieces.append(text[start:end])
        start = end
    return pieces


def rich_text(
    text: str, link: str | None = None, max_items: int = MAX_RICH_TEXT_ITEMS
) -> list[dict[str, Any]]:
    """A rich-text array for `text`, cut into ≤ 2,000-unit objects, at most `max_items` (then cut with "…")."""
    pieces = split_text(text)
    if len(pieces) > max_items:
        pieces = pieces[:max_items]
        pieces[-1] = split_text(pieces[-1], MAX_TEXT - 1)[0] + "…"
    items: list[dict[str, Any]] = []
    for piece in pieces:
        content: dict[str, Any] = {"content": piece}
        if link and len(link) <= MAX_URL:
            content["link"] = {"url": link}
        items.append({"type": "text", "text": content})
    return items


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def option_names(keywords: Iterable[str]) -> list[str]:
    """multi_select option names: no commas (Notion refuses them), ≤ 100 chars, distinct, ≤ 100 of them."""
    names: list[str] = []
    seen: set[str] = set()
    for keyword in keywords:
        name = _cut(" ".join(str(keyword).replace(",", " ").split()), MAX_OPTION_NAME)
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return names[:MAX_OPTIONS]


# --- blocks -------------------------------------------------------------------------------------


def _block(kind: str, text: str, link: str | None = None) -> list[dict[str, Any]]:
    """One block of `kind`, or several when the text needs more than one block's rich-text objects."""
    items = rich_text(text, link, max_items=10**9)
    step = DEFAULT_BLOCK_TEXT_ITEMS
    return [
        {"object": "block", "type": kind, kind: {"rich_text": items[at : at + step]}}
        for at in range(0, len(items), step)
    ]


def _heading(text: str) -> dict[str, Any]:
    return {
        "object": "block",
        "type": "heading_2",
        "heading_2": {"rich_text": rich_text(text)},
    }


def body_blocks(article: Article) -> list[dict[str, Any]]:
    """Summary, insights as bullets, keywords and the source link, as flat (unnested) blocks."""
    blocks: list[dict[str, Any]] = []
    paragraphs = [
        part.strip() for part in re.split(r"\n\s*\n", article.summary) if part.strip()
    ]
    if paragraphs:
        blocks.append(_heading("Summary"))
        for paragraph in paragraphs:
            blocks.extend(_block("paragraph", paragraph))
    insights = [insight.strip() for insight in article.insights if insight.strip()]
    if insights:
        blocks.append(_heading("Key insights"))
        for insight in insights:
            blocks.extend(_block("bulleted_list_item", insight))
    if article.keywords:
        blocks.append(_heading("Keywords"))
        blocks.extend(_block("paragraph", ", ".join(article.keywords)))
    blocks.append(_heading("Source"))
    blocks.extend(_block("paragraph", article.source_url, link=article.source_url))
    return blocks


# --- properties ---------------------------------------------------------------------------------


def _named(
    schema: DatabaseSchema, kind: str, names: tuple[str, ...], any_name: bool
) -> str | None:
    found = schema.first_of_type(kind, names)
    if (
        found is None
        or any_name
        or found.casefold() in {name.casefold() for name in names}
    ):
        return found
    return None


def page_properties(
    article: Article, schema: DatabaseSchema
) -> tuple[dict[str, Any], str]:
    """Our property values for the schema's columns, and the URL property's name."""
    url_property = _named(schema, "url", URL_NAMES, any_name=True)
    if url_property is None:
        raise PermanentError(
            "the Notion database needs a URL property (e.g. 'Source URL'): Gleaner keeps each page's source "
            "there and looks it up before creating, so a retry never files a second page",
            code="notion_no_url_property",
        )
    if len(article.source_url) > MAX_URL:
        raise PermanentError(
            f"the source URL is longer than Notion's {MAX_URL} characters",
            code="notion_url_too_long",
        )
    properties: dict[str, Any] = {
        schema.title_property: {"title": rich_text(_cut(article.title, MAX_TEXT))},
        url_property: {"url": article.source_url},
    }
    keywords = _named(schema, "multi_select", KEYWORD_NAMES, any_name=True)
    if keywords and article.keywords:
        properties[keywords] = {
            "multi_select": [{"name": name} for name in option_names(article.keywords)]
        }
    published = _named(schema, "date", DATE_NAMES, any_name=False)
    if published and article.published:
        properties[published] = {"date": {"start": article.published.isoformat()}}
    summary = _named(schema, "rich_text", SUMMARY_NAMES, any_name=False)
    if summary and article.summary.strip():
        properties[summary] = {
            "rich_text": rich_text(
                _cut(article.summary.strip(), DEFAULT_PROPERTY_TEXT_CHARS)
            )
        }
    return properties, url_property


def merge_properties(
    ours: dict[str, Any],
    user: Mapping[str, Any],
    schema: DatabaseSchema | None,
    url_property: str,
) -> dict[str, Any]:
    """User-supplied values checked against the schema and merged: theirs win, multi_selects are joined."""
    problems = check_properties(user, schema)
    if url_property in user:
        problems.append(
            f"property {url_property!r} holds the source URL Gleaner finds pages by; it cannot be set"
        )
    if problems:
        raise PermanentError(
            "invalid Notion properties: " + "; ".join(problems),
            code="notion_invalid_properties",
        )
    merged = dict(ours)
    for name, value in user.items():
        if name in merged and property_type(value) == "multi_select" == property_type(
            merged[name]
        ):
            names = [
                option.get("name", "")
                for option in value["multi_select"] + merged[name]["multi_select"]
            ]
            merged[name] = {
                "multi_select": [{"name": option} for option in option_names(names)]
            }
        else:
            merged[name] = value
    return merged


def plan_page(
    article: Article, schema: DatabaseSchema, user: Mapping[str, Any] | None = None
) -> PagePlan:
    properties, url_property = page_properties(article, schema)
    check_against = None if schema.data_source_id == DATA_SOURCE_PLACEHOLDER else schema
    merged = merge_properties(properties, user or {}, check_against, url_property)
    plan = PagePlan(merged, body_blocks(article), url_property)
    # The whole request as Notion would check it, so a dry run fails what Notion would refuse.
    problems = check_properties(merged) + [
        problem
        for index, block in enumerate(plan.children)
        for problem in rich_text_problems(
            block.get(block.get("type", ""), {}).get("rich_text", []),
            f"children[{index}].rich_text",
        )
    ]
    if problems:
        raise PermanentError(
            "Notion would refuse the page: " + "; ".join(problems[:5]),
            code="notion_invalid_request",
        )
    return plan


# --- requests -----------------------------------------------------------------------------------


def encoded_size(value: Any) -> int:
    """Bytes of `value` as httpx sends it (compact JSON, UTF-8)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def batch_blocks(
    blocks: list[dict[str, Any]], first_budget: int = DEFAULT_MAX_PAYLOAD_BYTES
) -> list[list[dict[str, Any]]]:
    """Blocks in request-sized groups: ≤ 100 each and within the byte budget (the first shares its request
    with the page's properties, so it gets `first_budget`)."""
    batches: list[list[dict[str, Any]]] = [[]]
    budget, used = first_budget, 0
    for block in blocks:
        size = encoded_size(block) + 1
        if batches[-1] and (len(batches[-1]) >= MAX_CHILDREN or used + size > budget):
            batches.append([])
            budget, used = DEFAULT_MAX_PAYLOAD_BYTES, 0
        batches[-1].append(block)
        used += size
    return batches


def create_request(
    plan: PagePlan, data_source_id: str
) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """The create body (with the first blocks) and the groups of blocks to append after it."""
    body: dict[str, Any] = {
        "parent": {"type": "data_source_id", "data_source_id": data_source_id},
        "properties": plan.properties,
    }
    batches = batch_blocks(
        plan.children, DEFAULT_MAX_PAYLOAD_BYTES - encoded_size(body)
    )
    body["children"] = batches[0]
    return body, [batch for batch in batches[1:] if batch]


def planned_requests(plan: PagePlan, data_source_id: str) -> list[dict[str, Any]]:
    """The requests that file this page on a first attempt, in order (the dry run stores these; the
    schema reads before them are cached per database, not per page)."""
    create, appends = create_request(plan, data_source_id)
    requests: list[dict[str, Any]] = [
        {"method": "POST", "path": "pages", "body": create}
    ]
    requests.extend(
        {
            "method": "PATCH",
            "path": f"blocks/{PAGE_PLACEHOLDER}/children",
            "body": {"children": batch},
        }
        for batch in appends
    )
    return requests
