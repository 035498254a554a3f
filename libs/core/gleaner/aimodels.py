"""Which AI models a tenant may use: its own and the operator's (owner NULL), never another tenant's.

The one rule both the API (naming a model at submit) and the ai worker (running it) apply. A tenant's
default is its own model marked `is_default`, else the operator's default.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from gleaner.errors import Conflict
from gleaner.models import AIModel


def usable_by(owner: str) -> ColumnElement[bool]:
    return or_(AIModel.owner.is_(None), AIModel.owner == owner)


def usable_model(session: Session, owner: str, model_id: int) -> AIModel | None:
    """The model `model_id` if `owner` may use it, else None (another tenant's model does not exist)."""
    return session.scalar(
        select(AIModel).where(AIModel.id == model_id, usable_by(owner))
    )


def default_model(session: Session, owner: str) -> AIModel | None:
    """The owner's default model, else the operator's."""
    return session.scalars(
        select(AIModel)
        .where(AIModel.is_default.is_(True), usable_by(owner))
        # the owner's own default first (NULL owners sort apart from it on both backends)
        .order_by(AIModel.owner.is_(None), AIModel.id)
    ).first()


def create_operator_model(
    session: Session,
    *,
    name: str,
    provider: str,
    model: str = "",
    base_url: str | None = None,
    is_default: bool = False,
) -> AIModel:
    """An operator's model (owner NULL); its name is unique among the operator's models.

    SQL's unique (owner, name) cannot see NULL owners as equal, so the name is checked here.
    """
    taken = session.scalar(
        select(AIModel.id).where(AIModel.owner.is_(None), AIModel.name == name)
    )
    if taken is not None:
        raise Conflict(
            f"an operator model named {name!r} exists already", code="model_exists"
        )
    if is_default:
        session.execute(
            update(AIModel).where(AIModel.owner.is_(None)).values(is_default=False)
        )
    row = AIModel(
        owner=None,
        name=name,
        provider=provider,
        model=model,
        base_url=base_url,
        config={},
        is_default=is_default,
    )
    session.add(row)
    session.flush()
    return row
