"""The published contract itself (/openapi.json), read without a running stack.

What a client relies on: every error documented with the one real shape, integer bounds as exact
integers, the event stream as text/event-stream, a description and examples on every operation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from gleaner_api.app import create_app
from gleaner_api.schemas import MAX_ID

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(create_app().openapi()))
    return document


def operations(spec: dict[str, Any]) -> Iterator[Operation]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_no_fastapi_default_error_shape(spec: dict[str, Any]) -> None:
    text = json.dumps(spec)
    assert "HTTPValidationError" not in text
    assert '"detail"' not in text


def test_every_api_operation_documents_its_failures(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        responses = operation["responses"]
        if path.startswith("/api/"):
            assert {"401", "503"} <= set(responses), (method, path)
        if "requestBody" in operation:
            assert "400" in responses, (method, path)
            assert "422" in responses, (method, path)
        if operation.get("parameters"):
            assert "422" in responses, (method, path)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert "ErrorBody" in json.dumps(schema), (method, path, status)


def test_error_codes_are_enumerated_with_examples(spec: dict[str, Any]) -> None:
    links = spec["paths"]["/api/links"]["post"]["responses"]["422"]
    body = links["content"]["application/json"]
    codes = body["schema"]["allOf"][1]["properties"]["error"]["properties"]["code"]
    assert {"validation_error", "invalid_url", "url_has_credentials"} <= set(
        codes["enum"]
    )
    assert body["example"]["error"]["details"] is None
    error = spec["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message", "details"}


def test_integer_bounds_are_exact_integers(spec: dict[str, Any]) -> None:
    maxima = [node["maximum"] for node in walk(spec) if "maximum" in node]
    assert all(isinstance(value, int) for value in maxima), maxima
    assert MAX_ID in maxima
    ids = spec["components"]["schemas"]["ParsingBatch"]["properties"]["link_ids"]
    assert ids["items"]["maximum"] == 9223372036854775807
    assert (
        ids["maxItems"] == 10_000
    )  # the batch limit, GLEANER_MAX_BATCH_SIZE's default


def test_constraints_are_published(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    urls = schemas["LinkCreate"]["properties"]["urls"]["anyOf"][0]
    assert (urls["minItems"], urls["items"]["format"]) == (1, "uri")
    assert isinstance(urls["items"]["maxLength"], int)
    stages = schemas["PipelineCreate"]["properties"]["stages"]
    assert stages["enum"] == [
        ["parsing"],
        ["parsing", "ai"],
        ["parsing", "ai", "notion"],
    ]
    assert "pattern" in schemas["ScheduleCreate"]["properties"]["cron"]["anyOf"][0]
    assert schemas["TaskRead"]["properties"]["status"]["$ref"].endswith("TaskStatus")
    properties = schemas["NotionTarget"]["properties"]["properties"]
    assert properties["additionalProperties"]["$ref"].endswith("NotionPropertyValue")
    kinds = {
        next(iter(branch["required"]))
        for branch in schemas["NotionPropertyValue"]["oneOf"]
    }
    assert {"relation", "people", "files", "date"} <= kinds


def test_event_stream_is_documented_as_such(spec: dict[str, Any]) -> None:
    ok = spec["paths"]["/api/tasks/{task_id}/events"]["get"]["responses"]["200"]
    assert list(ok["content"]) == ["text/event-stream"]


def test_every_operation_is_described_with_examples(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        assert operation.get("description"), (method, path)
        text = json.dumps(operation)
        assert '"example' in text, (method, path)


def test_monitoring_responses_are_typed(spec: dict[str, Any]) -> None:
    for name in ("workers", "queues", "statistics", "health"):
        ok = spec["paths"][f"/api/monitoring/{name}"]["get"]["responses"]["200"]
        assert "$ref" in ok["content"]["application/json"]["schema"], name


def test_examples_fit_their_schemas(spec: dict[str, Any]) -> None:
    """Every response example validates against its own schema (a wrong example misleads clients)."""
    schemas = spec["components"]["schemas"]
    checked = 0
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json", {})
            if "example" not in media:
                continue
            schema = {**media["schema"], "components": {"schemas": schemas}}
            text = json.dumps(schema).replace("#/components/", "#/components/")
            validator = jsonschema.Draft202012Validator(json.loads(text))
            errors = [e.message for e in validator.iter_errors(media["example"])]
            assert not errors, (method, path, status, errors[:3])
            checked += 1
    assert checked > 40


def test_bounds_use_json_schema_keywords(spec: dict[str, Any]) -> None:
    """pydantic publishes `ge`/`le` raw when a validator wraps the type: no client understands them."""
    raw = [node for node in walk(spec) if {"ge", "le", "gt", "lt"} & set(node)]
    assert raw == []


def test_creates_link_to_their_reads(spec: dict[str, Any]) -> None:
    """OpenAPI links (the stateful phase follows them): create → read, link detail → next stage."""
    created = spec["paths"]["/api/schedules"]["post"]["responses"]["201"]["links"]
    read = spec["paths"]["/api/schedules/{schedule_id}"]["get"]["operationId"]
    assert created[read]["parameters"] == {"schedule_id": "$response.body#/id"}
    detail = spec["paths"]["/api/links/{link_id}"]["get"]["responses"]["200"]["links"]
    assert len(detail) == 2
