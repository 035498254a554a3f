"""Webhooks: endpoints that receive a signed POST when a task (or item) ends (gleaner.webhooks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import func, select

from gleaner.errors import InvalidRequest, NotFound
from gleaner.models import ProcessingTask, WebhookDelivery, WebhookEndpoint
from gleaner.webhooks import check_target, new_secret
from gleaner_api.config_schemas import (
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryRead,
    WebhookRead,
)
from gleaner_api.deps import OwnerDep, PageQuery, PathId, SessionDep, SettingsDep
from gleaner_api.openapi import errors
from gleaner_api.schemas import Page

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


def _owned(session: SessionDep, owner: str, webhook_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, webhook_id)
    if endpoint is None or endpoint.owner != owner:
        raise NotFound(f"webhook {webhook_id} does not exist", code="webhook_not_found")
    return endpoint


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    responses=errors({422: ("invalid_webhook_url", "unknown_task")}, body=True),
)
def create_webhook(
    body: WebhookCreate, session: SessionDep, settings: SettingsDep, owner: OwnerDep
) -> WebhookCreated:
    """Register an endpoint; the answer holds its signing secret, shown this once."""
    check_target(body.url, settings)
    if body.task_id is not None:
        task = session.get(ProcessingTask, body.task_id)
        if task is None or task.owner != owner:
            raise InvalidRequest(
                f"task {body.task_id} does not exist", code="unknown_task"
            )
    endpoint = WebhookEndpoint(
        owner=owner,
        url=body.url,
        secret=new_secret(),
        task_id=body.task_id,
        per_item=body.per_item,
    )
    session.add(endpoint)
    session.commit()
    return WebhookCreated.model_validate(endpoint)


@router.get("", response_model=Page[WebhookRead], responses=errors())
def list_webhooks(
    session: SessionDep,
    owner: OwnerDep,
    page: PageQuery = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[WebhookRead]:
    """The caller's webhook endpoints (without their secrets)."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.owner == owner)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(WebhookEndpoint.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return Page(
        items=[WebhookRead.model_validate(row) for row in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


@router.delete(
    "/{webhook_id}", status_code=204, responses=errors({404: ("webhook_not_found",)})
)
def delete_webhook(
    webhook_id: PathId, session: SessionDep, owner: OwnerDep
) -> Response:
    """Delete an endpoint and its delivery log."""
    session.delete(_owned(session, owner, webhook_id))
    session.commit()
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=Page[WebhookDeliveryRead],
    responses=errors({404: ("webhook_not_found",)}),
)
def list_deliveries(
    webhook_id: PathId,
    session: SessionDep,
    owner: OwnerDep,
    page: PageQuery = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[WebhookDeliveryRead]:
    """The delivery log, newest first: state, attempts with their status codes, the next try."""
    _owned(session, owner, webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == webhook_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(WebhookDelivery.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return Page(
        items=[WebhookDeliveryRead.model_validate(row) for row in rows],
        total=total,
        page=page,
        page_size=page_size,
    )
