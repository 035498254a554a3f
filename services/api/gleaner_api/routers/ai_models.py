from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from gleaner.errors import Conflict
from gleaner.models import AIModel
from gleaner_api.deps import OwnerDep, SessionDep, SessionRoute
from gleaner_api.schemas import AIModelCreate, AIModelRead

router = APIRouter(prefix="/api/ai/models", tags=["ai"], route_class=SessionRoute)


@router.get("", response_model=list[AIModelRead])
def list_models(session: SessionDep, _owner: OwnerDep) -> list[AIModel]:
    return list(session.scalars(select(AIModel).order_by(AIModel.id)))


@router.post("", status_code=201, response_model=AIModelRead)
def create_model(body: AIModelCreate, session: SessionDep, _owner: OwnerDep) -> AIModel:
    """Register a provider and model; `is_default` makes it serve requests that name no model."""
    if body.is_default:
        session.execute(update(AIModel).values(is_default=False))
    model = AIModel(**body.model_dump())
    session.add(model)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"an AI model named {body.name!r} exists already", code="model_exists"
        ) from exc
    session.commit()
    return model
