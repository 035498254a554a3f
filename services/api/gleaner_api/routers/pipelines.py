from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter
from sqlalchemy.orm import Session

from gleaner.errors import InvalidRequest
from gleaner.links import SavedLink, get_or_create_links
from gleaner.models import Link, TaskStatus, TaskType
from gleaner.queues import PIPELINE_STAGES
from gleaner.runtime import Runtime
from gleaner.tasks import ItemInput
from gleaner_api.deps import OwnerDep, RuntimeDep, SessionDep, SessionRoute
from gleaner_api.openapi import PIPELINE_ERRORS, errors
from gleaner_api.schemas import LinkRead, PipelineCreate, TaskQueued
from gleaner_api.submission import (
    check_batch_size,
    notion_target,
    owned_ids,
    queued_message,
    resolve_model,
    submit,
)

router = APIRouter(
    prefix="/api/pipelines", tags=["pipelines"], route_class=SessionRoute
)


def _check_stages(stages: Sequence[str]) -> None:
    # Links enter at parsing, and each stage needs the one before it: a prefix of the pipeline.
    if not stages or stages != list(PIPELINE_STAGES[: len(stages)]):
        raise InvalidRequest(
            f"stages must be a prefix of {list(PIPELINE_STAGES)} (links start at parsing); got {stages}",
            code="invalid_stages",
        )


@dataclass(frozen=True)
class PreparedPipeline:
    """A checked pipeline request: its links, and what create_task needs."""

    links: list[SavedLink]
    inputs: list[ItemInput]
    config: dict[str, object]


def prepare_pipeline(
    session: Session, runtime: Runtime, owner: str, body: PipelineCreate
) -> PreparedPipeline:
    """Check a pipeline request and save its links (not committed): shared with schedules."""
    settings = runtime.settings
    _check_stages(body.stages)
    count = len(body.urls or []) + len(body.link_ids or [])
    check_batch_size(settings.MAX_BATCH_SIZE, count)
    links, _ = get_or_create_links(
        session, owner, body.urls or [], settings.MAX_URL_LENGTH
    )
    if body.link_ids:
        ids = owned_ids(session, Link, owner, body.link_ids)
        known = {link.id for link in links}
        for link_id in ids:
            if link_id not in known:
                link = session.get_one(Link, link_id)
                links.append(
                    SavedLink(link.id, link.url, link.normalized_url, link.created_at)
                )
    config = pipeline_config(session, runtime, owner, body)
    inputs = [
        ItemInput(item_id=link.id, item_type="link", link_id=link.id) for link in links
    ]
    return PreparedPipeline(links, inputs, config)


def pipeline_config(
    session: Session, runtime: Runtime, owner: str, body: PipelineCreate
) -> dict[str, object]:
    """The task config of a pipeline's options (stages, model, Notion target), checked; writes nothing:
    a feed schedule checks its options with it at creation, before any entry is known."""
    _check_stages(body.stages)
    config: dict[str, object] = {
        "processing_config": body.processing_config.model_dump()
    }
    if "ai" in body.stages:
        config["model_id"] = resolve_model(session, owner, body.model_id)
    # Checked even when the notion stage does not run: a bad value is refused wherever it is given.
    notion = notion_target(runtime, body.notion.database_id, body.notion.properties)
    if "notion" in body.stages:
        config["notion"] = notion
    return config


@router.post(
    "",
    status_code=202,
    response_model=TaskQueued,
    responses=errors(PIPELINE_ERRORS, body=True),
)
def run_pipeline(
    body: PipelineCreate, session: SessionDep, runtime: RuntimeDep, owner: OwnerDep
) -> TaskQueued:
    """Run links through the chosen stages; each item moves on as soon as its own stage is done."""
    prepared = prepare_pipeline(session, runtime, owner, body)
    task, dispatched = submit(
        session,
        runtime,
        owner=owner,
        task_type=TaskType.PIPELINE,
        stages=body.stages,
        inputs=prepared.inputs,
        config=prepared.config,
        priority=body.priority,
        after=body.after,
        condition=body.condition,
    )
    return TaskQueued(
        task_id=task.id,
        job_id=task.job_id,
        total_items=task.total_items,
        status=TaskStatus(task.status),
        message=queued_message("Pipeline", task, dispatched),
        stages=task.stages,
        links=[LinkRead.model_validate(link) for link in prepared.links],
    )
