"""A local server that follows OpenAI's chat-completions API, for the openai provider's tests.

It checks what a real endpoint checks (bearer key, a strict json_schema response_format, the context
length, counted here as 4 characters per token) and answers in the API's shapes: a chat.completion with
usage, and errors as `{"error": {"message", "type", "param", "code"}}` with the real statuses and
headers (429 with Retry-After). Tests queue scripted answers in `script`; with none queued it writes a
digest from the request's own text, as a model would.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "sk-test-gleaner"


@dataclass
class Reply:
    """One scripted answer: an HTTP error (status >= 400) or a completion with this content."""

    status: int = 200
    content: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    refusal: str | None = None
    finish_reason: str = "stop"


def rate_limited(retry_after: str = "2") -> Reply:
    return Reply(
        429,
        headers={"Retry-After": retry_after, "x-ratelimit-remaining-requests": "0"},
        error={
            "message": "Rate limit reached for test-model in organization org-test on requests per min (RPM): "
            "Limit 3, Used 3, Requested 1. Please try again in 2s.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        },
    )


def server_error(status: int = 500) -> Reply:
    return Reply(
        status,
        error={
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        },
    )


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _default_digest(user: str) -> dict[str, Any]:
    """What a model would say: a digest built from the request's own text."""
    if "[{" in user:  # combining partial digests
        partials = json.loads(user[user.index("[{") :])
        return {
            "summary": " ".join(p["summary"] for p in partials if p["summary"]),
            "keywords": [k for p in partials for k in p["keywords"]][:10],
            "insights": [i for p in partials for i in p["insights"]][:5],
        }
    body = user.split("\n\n", 1)[-1] if user.startswith(("Title:", "Part")) else user
    body = re.sub(r"^Part \d+ of \d+:\n\n", "", body)
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", body) if s.strip()]
    words = sorted(
        {w.lower() for w in re.findall(r"[A-Za-z]{7,}", body)},
        key=lambda w: (-len(w), w),
    )
    return {
        "summary": " ".join(sentences[:2]),
        "keywords": words[:5],
        "insights": [s for s in sentences if re.search(r"\d", s)][:3],
    }


class ChatCompletionsServer:
    def __init__(self, context_tokens: int = 16000, api_key: str = API_KEY) -> None:
        self.context_tokens = context_tokens
        self.api_key = api_key
        self.script: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> ChatCompletionsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- the API -------------------------------------------------------------------------------------

    def answer(
        self, headers: dict[str, str], request: dict[str, Any]
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)
            scripted = self.script.popleft() if self.script else None
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return (
                401,
                {},
                _error(
                    "Incorrect API key provided.",
                    "invalid_request_error",
                    None,
                    "invalid_api_key",
                ),
            )
        problem = _check_request(request)
        if problem:
            return (
                400,
                {},
                _error(problem, "invalid_request_error", "response_format", None),
            )
        prompt = sum(_tokens(str(m.get("content") or "")) for m in request["messages"])
        if prompt > self.context_tokens:
            return (
                400,
                {},
                _error(
                    f"This model's maximum context length is {self.context_tokens} tokens. However, your messages "
                    f"resulted in {prompt} tokens. Please reduce the length of the messages.",
                    "invalid_request_error",
                    "messages",
                    "context_length_exceeded",
                ),
            )
        if scripted is not None and scripted.status >= 400:
            return scripted.status, scripted.headers, {"error": scripted.error}
        user = next(m["content"] for m in request["messages"] if m["role"] == "user")
        content = json.dumps(_default_digest(user))
        reply = scripted or Reply()
        if reply.content is not None or reply.refusal is not None:
            content = reply.content  # type: ignore[assignment]
        completion = _completion(request["model"], content, reply, prompt)
        return 200, reply.headers, completion

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(
                        404,
                        {},
                        _error(
                            f"Unknown request URL: POST {self.path}.",
                            "invalid_request_error",
                            None,
                            "unknown_url",
                        ),
                    )
                    return
                try:
                    request = json.loads(raw)
                except json.JSONDecodeError:
                    self._send(
                        400,
                        {},
                        _error(
                            "We could not parse the JSON body of your request.",
                            "invalid_request_error",
                            None,
                            None,
                        ),
                    )
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                self._send(*server.answer(headers, request))

            def _send(
                self, status: int, headers: dict[str, str], body: dict[str, Any]
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-request-id", f"req_{len(server.requests)}")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                return None

        return Handler


def _error(
    message: str, type_: str, param: str | None, code: str | None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _check_request(request: dict[str, Any]) -> str | None:
    """What a strict structured-output endpoint rejects; None when the request is well-formed."""
    if not request.get("model") or not isinstance(request.get("messages"), list):
        return "Missing required parameter: 'model' or 'messages'."
    response_format = request.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return "Invalid parameter: 'response_format' must be of type 'json_schema'."
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") or {}
    if not spec.get("name") or spec.get("strict") is not True:
        return "Invalid schema: a name and strict=true are required."
    if schema.get("additionalProperties") is not False or set(
        schema.get("required", [])
    ) != set(schema.get("properties", {})):
        return "Invalid schema for response_format: In context=(), 'required' is required to be supplied and to be an array including every key in properties."
    return None


def _completion(
    model: str, content: str | None, reply: Reply, prompt: int
) -> dict[str, Any]:
    completion_tokens = _tokens(content or reply.refusal or "")
    return {
        "id": f"chatcmpl-{int(time.time() * 1000)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": reply.refusal,
                },
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        },
    }


@contextmanager
def running(context_tokens: int = 16000) -> Iterator[ChatCompletionsServer]:
    server = ChatCompletionsServer(context_tokens=context_tokens).start()
    try:
        yield server
    finally:
        server.stop()
