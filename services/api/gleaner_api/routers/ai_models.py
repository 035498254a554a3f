"""AI models: a tenant registers its own (seen and used by it alone) and uses the operator's."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from gleaner.addresses import BlockedAddress
from gleaner.aimodels import default_model, usable_by
from gleaner.errors import Conflict, InvalidRequest
from gleaner.models import AIModel
from gleaner.netguard import check_url_target, settings_policy
from gleaner.secrets import encrypt_model_key
from gleaner_api.config_schemas import AIModelCreate, AIModelRead
from gleaner_api.deps import OwnerDep, SessionDep, SessionRoute, SettingsDep
from gleaner_api.openapi import errors

router = APIRouter(prefix="/api/ai/models", tags=["ai"], route_class=SessionRoute)


def _read(model: AIModel, default: AIModel | None) -> AIModelRead:
    # `is_default` as the caller sees it: the one model that serves its requests naming none.
    read = AIModelRead.model_validate(model)
    read.is_default = default is not None and model.id == default.id
    return read


@router.get("", response_model=list[AIModelRead], responses=errors(validated=False))
def list_models(session: SessionDep, owner: OwnerDep) -> list[AIModelRead]:
    """The caller's own models and the operator's, which every tenant may use."""
    default = default_model(session, owner)
    models = session.scalars(
        select(AIModel).where(usable_by(owner)).order_by(AIModel.id)
    )
    return [_read(model, default) for model in models]


@router.post(
    "",
    status_code=201,
    response_model=AIModelRead,
    responses=errors(
        {
            409: ("model_exists",),
            422: ("blocked_address", "key_storage_not_configured"),
            503: ("key_storage_misconfigured",),
        },
        body=True,
    ),
)
def create_model(
    body: AIModelCreate, session: SessionDep, settings: SettingsDep, owner: OwnerDep
) -> AIModelRead:
    """Register a model of the caller's own; `is_default` makes it serve the caller's requests that name none.

    Its base URL must pass the same address rules as a page fetch (checked again at every connection),
    and it is only ever sent the key given here, never the server's.
    """
    if body.base_url is not None:
        try:
            check_url_target(body.base_url, settings_policy(settings))
        except BlockedAddress as exc:
            raise InvalidRequest(
                f"base_url: {exc.reason}",
                code="blocked_address",
                details=[
                    {
                        "location": ["body", "base_url"],
                        "message": exc.reason,
                        "type": "blocked_address",
                    }
                ],
            ) from exc
    if body.is_default:
        session.execute(
            update(AIModel).where(AIModel.owner == owner).values(is_default=False)
        )
    model = AIModel(
        **body.model_dump(exclude={"api_key"}),
        owner=owner,
        api_key_encrypted=encrypt_model_key(settings, body.api_key.get_secret_value())
        if body.api_key is not None
        else None,
    )
    session.add(model)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"an AI model named {body.name!r} exists already", code="model_exists"
        ) from exc
    session.commit()
    return _read(model, default_model(session, owner))
