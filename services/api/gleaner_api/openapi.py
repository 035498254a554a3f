"""The published contract (/openapi.json): the one error shape, every status an operation can answer.

Routes declare their failures with `errors({404: ("task_not_found",), ...})`; every /api/ operation also
gets 401 (no or a bad key) and 503 (database or Redis unreachable, pool exhausted), operations with a
JSON body 400 `malformed_json`, and operations with parameters or a body 422 `validation_error`. Each
error response lists the codes it can carry as an enum, so a client (and the contract test) can tell a
documented refusal from an undocumented one. `install(app)` adds the shared schemas and replaces
FastAPI's default 422 shape (`{detail: [...]}`), which this server never sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from gleaner.settings import Settings
from gleaner_api.notion_openapi import NOTION_PROPERTY_VALUE
from gleaner_api.openapi_links import add_links
from gleaner_api.schemas import MAX_ID

DEFAULT_BATCH_SIZE = Settings.model_fields["MAX_BATCH_SIZE"].default
DEFAULT_URL_LENGTH = Settings.model_fields["MAX_URL_LENGTH"].default

REF = "#/components/schemas/"

AUTH_CODES = ("missing_api_key", "invalid_api_key")
UNAVAILABLE_CODES = ("database_unavailable", "database_busy", "redis_unavailable")

# Codes several operations share (their own tuples name the rest).
URL_CODES = ("invalid_url", "url_too_long", "url_has_credentials")
BATCH_CODES = ("empty_batch", "batch_too_large")
PARENT_CODES = ("too_many_parents", "unknown_parent_task")
PIPELINE_ERRORS: dict[int, tuple[str, ...]] = {
    404: ("not_found", "model_not_found"),
    422: (
        "invalid_stages",
        *BATCH_CODES,
        *URL_CODES,
        "no_default_model",
        "invalid_notion_properties",
        *PARENT_CODES,
    ),
}
"""What POST /api/pipelines (and a schedule, which is checked as one) can refuse."""

DESCRIPTIONS = {
    400: "the body is not valid JSON",
    401: "no API key, or one that is unknown or revoked (`WWW-Authenticate: Bearer`)",
    403: "the key may not do this",
    404: "no such object of yours (another tenant's objects do not exist for you)",
    409: "the object's state forbids it",
    422: "a field breaks a rule; `details` names each one (`location`, `message`, `type`)",
    503: "the database or Redis cannot be reached, or every connection is busy; see `Retry-After`",
}

EXAMPLE_MESSAGES = {
    "malformed_json": "the request body is not valid JSON",
    "missing_api_key": "send an API key as `Authorization: Bearer <key>`",
    "invalid_api_key": "the API key is not valid or was revoked",
    "database_unavailable": "the database cannot be reached; try again shortly",
    "validation_error": "body.urls: List should have at least 1 item after validation, not 0",
    "operator_only": "queue and worker figures span every tenant: they need an operator key",
}


class ErrorDetail(BaseModel):
    code: str = Field(
        description="stable snake_case reason; each response lists the codes it can carry",
        examples=["invalid_url"],
    )
    message: str = Field(
        description="a sentence for people", examples=["urls[0]: the URL has no host"]
    )
    details: Any = Field(
        description="what exactly failed: for 422 a list of {location, message, type}, "
        "for a batch one per bad element with its index; null when there is nothing more to say",
        examples=[
            [
                {
                    "location": ["body", "urls", 0],
                    "message": "the URL has no host",
                    "type": "invalid_url",
                }
            ]
        ],
    )


class ErrorBody(BaseModel):
    """Every failure, whatever its status: `{"error": {"code", "message", "details"}}`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "task_not_found",
                        "message": "task 7 does not exist",
                        "details": None,
                    }
                }
            ]
        }
    )

    error: ErrorDetail


def error_response(status: int, codes: Iterable[str]) -> dict[str, Any]:
    """One documented failure: the shared body with `error.code` limited to `codes`."""
    ordered = list(dict.fromkeys(codes))
    first = ordered[0]
    return {
        "description": f"{DESCRIPTIONS.get(status, 'failure')}: "
        + ", ".join(f"`{code}`" for code in ordered),
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        {"$ref": REF + "ErrorBody"},
                        {
                            "type": "object",
                            "properties": {
                                "error": {
                                    "type": "object",
                                    "properties": {
                                        "code": {"type": "string", "enum": ordered}
                                    },
                                }
                            },
                        },
                    ]
                },
                "example": {
                    "error": {
                        "code": first,
                        "message": EXAMPLE_MESSAGES.get(first, first.replace("_", " ")),
                        "details": None,
                    }
                },
            }
        },
    }


def errors(
    codes: Mapping[int, Sequence[str]] | None = None,
    *,
    body: bool = False,
    validated: bool = True,
    authenticated: bool = True,
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: its own failures plus the ones every such route shares.

    `body`: the route reads a JSON body (400 `malformed_json`); `validated`: it has parameters or a body
    (422 `validation_error`); `authenticated`: it is under /api/ (401, and 503 from the key lookup).
    """
    table: dict[int, list[str]] = {}
    if body:
        table[400] = ["malformed_json"]
    if authenticated:
        table[401] = list(AUTH_CODES)
    if validated:
        table[422] = ["validation_error"]
    for status, own in (codes or {}).items():
        table.setdefault(status, []).extend(own)
    table.setdefault(503, []).extend(UNAVAILABLE_CODES)
    return {status: error_response(status, table[status]) for status in sorted(table)}


def _shared_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    body = ErrorBody.model_json_schema(ref_template=REF + "{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ErrorBody"] = body
    schemas["NotionPropertyValue"] = NOTION_PROPERTY_VALUE
    return schemas


def _replace_default_422(spec: dict[str, Any]) -> None:
    """FastAPI documents `{detail: [...]}` 422s on routes that declare none; this server never sends it."""
    for operations in spec["paths"].values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "HTTPValidationError" in str(responses.get("422", "")):
                responses["422"] = error_response(422, ["validation_error"])
    schemas = spec.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _restore_error_examples(spec: dict[str, Any]) -> None:
    """FastAPI drops None from examples; an error example without `details` would break its own schema."""
    for operations in spec["paths"].values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                example = (
                    response.get("content", {})
                    .get("application/json", {})
                    .get("example")
                )
                if isinstance(example, dict) and isinstance(example.get("error"), dict):
                    example["error"].setdefault("details", None)


def _example(schema: Any, schemas: Mapping[str, Any], depth: int = 0) -> Any:
    """A value that fits `schema`, from its examples and defaults where it has them."""
    if not isinstance(schema, dict) or depth > 30:
        return None
    if "$ref" in schema:
        return _example(schemas[schema["$ref"].removeprefix(REF)], schemas, depth + 1)
    for key in ("examples", "enum"):
        if schema.get(key):
            return schema[key][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            branches = [b for b in schema[key] if b.get("type") != "null"]
            return _example((branches or schema[key])[0], schemas, depth + 1)
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: _example(sub, schemas, depth + 1) for name, sub in properties.items()
        }
    if kind == "array":
        return [_example(schema.get("items", {}), schemas, depth + 1)]
    simple = {"integer": 1, "number": 1.5, "boolean": True, "null": None}
    if kind in simple:
        return simple[kind]
    formats = {"date-time": "2026-11-29T12:00:00Z", "date": "2026-11-29"}
    return formats.get(schema.get("format", ""), "text")


def _response_examples(spec: dict[str, Any]) -> None:
    """An example on every JSON success response, built from its schema's examples and defaults."""
    schemas = spec["components"]["schemas"]
    for operations in spec["paths"].values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                media = response.get("content", {}).get("application/json")
                if status.startswith("2") and media and "example" not in media:
                    media["example"] = _example(media.get("schema", {}), schemas)


def _publish_limits(node: Any, settings: Settings | None) -> None:
    """Integer bounds as integers, and the configured batch and URL limits where fields are marked.

    FastAPI's OpenAPI models hold `maximum` as a float, which turns 2**63-1 into 9.223372036854776e18
    (2**63, out of range); the only bound that large is the 64-bit id limit, so it is restored exactly.
    """
    if isinstance(node, list):
        for item in node:
            _publish_limits(item, settings)
        return
    if not isinstance(node, dict):
        return
    for key in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
        value = node.get(key)
        if isinstance(value, float) and value.is_integer():
            node[key] = MAX_ID if value >= float(MAX_ID) else int(value)
    arrays = [node, *node.get("anyOf", [])]
    if node.pop("x-gleaner-batch", False):
        limit = settings.MAX_BATCH_SIZE if settings else DEFAULT_BATCH_SIZE
        for schema in arrays:
            if schema.get("type") == "array":
                schema["maxItems"] = limit
    if node.pop("x-gleaner-url", False):
        node["maxLength"] = settings.MAX_URL_LENGTH if settings else DEFAULT_URL_LENGTH
    for value in node.values():
        _publish_limits(value, settings)


def build(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    _replace_default_422(spec)
    _restore_error_examples(spec)
    runtime = getattr(app.state, "runtime", None)
    _publish_limits(spec, runtime.settings if runtime is not None else None)
    spec.setdefault("components", {}).setdefault("schemas", {}).update(
        _shared_schemas()
    )
    _response_examples(spec)
    add_links(spec)
    return spec


def install(app: FastAPI) -> None:
    """Serve `build(app)` at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
