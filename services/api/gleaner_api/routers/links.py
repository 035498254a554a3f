from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from gleaner.errors import InvalidRequest, NotFound
from gleaner.links import get_or_create_links
from gleaner.models import AIProcessedContent, Link, NotionImport, ParsedContent
from gleaner_api.deps import (
    OwnerDep,
    PageQuery,
    PathId,
    SessionDep,
    SessionRoute,
    SettingsDep,
)
from gleaner_api.openapi import BATCH_CODES, URL_CODES, errors
from gleaner_api.schemas import LinkCreate, LinkDetail, LinkRead, LinksCreated, Page
from gleaner_api.submission import check_batch_size

router = APIRouter(prefix="/api/links", tags=["links"], route_class=SessionRoute)


@router.post(
    "",
    status_code=201,
    response_model=LinksCreated,
    responses=errors(
        {
            422: (
                "invalid_request",
                *BATCH_CODES,
                *URL_CODES,
            )
        },
        body=True,
    ),
)
def create_links(
    body: LinkCreate, session: SessionDep, settings: SettingsDep, owner: OwnerDep
) -> LinksCreated:
    """Save one (`url`) or many (`urls`) links; known URLs are returned, not duplicated."""
    urls = ([body.url] if body.url is not None else []) + (body.urls or [])
    if body.url is not None and body.urls is not None:
        raise InvalidRequest(
            "give either `url` or `urls`, not both", code="invalid_request"
        )
    check_batch_size(settings.MAX_BATCH_SIZE, len(urls))
    field = "url" if body.url is not None else "urls"
    links, created = get_or_create_links(
        session, owner, urls, settings.MAX_URL_LENGTH, field
    )
    session.commit()
    return LinksCreated(
        links=[LinkRead.model_validate(link) for link in links], created=created
    )


@router.get("", response_model=Page[LinkRead], responses=errors())
def list_links(
    session: SessionDep,
    owner: OwnerDep,
    page: PageQuery = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[LinkRead]:
    """The caller's links, newest first."""
    total = (
        session.scalar(
            select(func.count()).select_from(Link).where(Link.owner == owner)
        )
        or 0
    )
    rows = session.scalars(
        select(Link)
        .where(Link.owner == owner)
        .order_by(Link.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return Page(
        items=[LinkRead.model_validate(r) for r in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


@router.get(
    "/{link_id}",
    response_model=LinkDetail,
    responses=errors({404: ("link_not_found",)}),
)
def get_link(link_id: PathId, session: SessionDep, owner: OwnerDep) -> LinkDetail:
    """A link with what each stage made of it: parsed content, AI results, Notion imports."""
    link = session.get(Link, link_id)
    if link is None or link.owner != owner:
        raise NotFound(f"link {link_id} does not exist", code="link_not_found")
    parsed = session.scalar(
        select(ParsedContent).where(ParsedContent.link_id == link.id)
    )
    ai = (
        list(
            session.scalars(
                select(AIProcessedContent).where(
                    AIProcessedContent.parsed_content_id == parsed.id
                )
            )
        )
        if parsed
        else []
    )
    notion = (
        list(
            session.scalars(
                select(NotionImport).where(
                    NotionImport.ai_content_id.in_([a.id for a in ai])
                )
            )
        )
        if ai
        else []
    )
    return LinkDetail.model_validate(
        {
            **LinkRead.model_validate(link).model_dump(),
            "parsed": parsed,
            "ai": ai,
            "notion": notion,
        }
    )
