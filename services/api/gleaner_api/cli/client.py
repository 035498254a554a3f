"""The API over HTTP: one httpx client, errors turned into one clear line, the task event stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

from gleaner_api.cli.config import ClientConfig

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""Seconds per request; the event stream has no read timeout (the server pings every 15 s)."""

STREAM_TIMEOUT = httpx.Timeout(None, connect=5.0)


ITEMS_PAGE = 1000
"""Items asked for per status request when a command shows them all (the API's largest page)."""


class ApiError(Exception):
    """A failed call, said in one line: the API's `{"error": {"code", "message"}}` or why it was unreachable."""

    def __init__(
        self, message: str, code: str = "error", status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        where = f"HTTP {self.status}, " if self.status else ""
        return f"{self.message} ({where}{self.code})"


def _error_of(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
        error = body["error"]
        return ApiError(str(error["message"]), str(error["code"]), response.status_code)
    except (ValueError, KeyError, TypeError):
        text = (
            response.text.strip().splitlines()[0][:200]
            if response.text.strip()
            else response.reason_phrase
        )
        return ApiError(text, f"http_{response.status_code}", response.status_code)


class ApiClient:
    def __init__(self, config: ClientConfig) -> None:
        self.base_url = config.api_url
        headers = {"Accept": "application/json", "User-Agent": "gleaner-cli"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._http = httpx.Client(
            base_url=config.api_url, headers=headers, timeout=DEFAULT_TIMEOUT
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _unreachable(self, exc: httpx.TransportError) -> ApiError:
        reason = type(exc).__name__ if not str(exc) else str(exc)
        return ApiError(
            f"cannot reach the Gleaner API at {self.base_url}: {reason}; is it running? "
            "(set GLEANER_API_URL or api_url in the config file)",
            code="api_unreachable",
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON body of a 2xx answer; anything else raises ApiError."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.is_error:
            raise _error_of(response)
        if response.status_code == 204:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                f"{self.base_url}{path} did not answer JSON; is GLEANER_API_URL right?",
                "not_json",
            ) from exc

    def get(self, path: str, **params: Any) -> Any:
        return self.request(
            "GET", path, params={k: v for k, v in params.items() if v is not None}
        )

    def task_with_items(self, task_id: int) -> dict[str, Any]:
        """The task with every item: the status answer pages them, so follow `items_next`."""
        task: dict[str, Any] = self.get(
            f"/api/tasks/{task_id}", items_limit=ITEMS_PAGE
        )["task"]
        items = list(task["items"] or [])
        while task["items_next"] is not None:
            task = self.get(
                f"/api/tasks/{task_id}",
                items_limit=ITEMS_PAGE,
                items_after=task["items_next"],
            )["task"]
            items += task["items"] or []
        return {**task, "items": items, "items_next": None}

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params or None)

    def task_events(self, task_id: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event, data) pairs from /api/tasks/{id}/events: `progress` with the task, then `end`."""
        try:
            with connect_sse(
                self._http,
                "GET",
                f"/api/tasks/{task_id}/events",
                timeout=STREAM_TIMEOUT,
            ) as source:
                if source.response.is_error:
                    source.response.read()
                    raise _error_of(source.response)
                for event in source.iter_sse():
                    if event.event in ("progress", "end"):
                        yield event.event, json.loads(event.data)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        except SSEError as exc:
            raise ApiError(
                f"the event stream of task {task_id} is not an event stream: {exc}",
                "not_sse",
            ) from exc
