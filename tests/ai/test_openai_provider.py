"""The openai provider against a local server that follows the chat-completions API."""

from __future__ import annotations

import json

import pytest
from redis import Redis

from gleaner.errors import PermanentError, RetryableError
from gleaner.ratelimit import TokenBucket
from gleaner_ai.providers.base import ProcessingOptions
from gleaner_ai.providers.openai import OpenAIConfig, OpenAIProvider
from tests.ai.conftest import ARTICLES, article
from tests.ai.openai_server import (
    API_KEY,
    ChatCompletionsServer,
    Reply,
    rate_limited,
    server_error,
)
from tests.multilingual.articles import ARTICLES as STORIES

BY_LANGUAGE = {story.language: story for story in STORIES}


def make_provider(
    server: ChatCompletionsServer, redis: Redis, **overrides: object
) -> OpenAIProvider:
    values: dict[str, object] = {
        "base_url": server.base_url,
        "api_key": API_KEY,
        "model": "test-model",
        "timeout_seconds": 10.0,
    }
    values.update(overrides)
    return OpenAIProvider(OpenAIConfig(**values), redis)  # type: ignore[arg-type]


class TestStructuredOutput:
    def test_one_call_per_item_with_a_strict_schema(
        self, openai_server: ChatCompletionsServer, redis: Redis
    ) -> None:
        text = article("harbour")
        result = make_provider(openai_server, redis).process(
            text, "Valmora's electric terminal", ProcessingOptions()
        )
        assert len(openai_server.requests) == 1
        request = openai_server.requests[0]
        assert request["model"] == "test-model"
        schema = request["response_format"]["json_schema"]
        assert schema["strict"] is True
        assert schema["schema"]["required"] == ["summary", "keywords", "insights"]
        assert openai_server.headers[0]["authorization"] == f"Bearer {API_KEY}"
        user = request["messages"][1]["content"]
        assert user.startswith("Title: Valmora's electric terminal")
        assert text.strip() in user
        assert result.summary
        assert result.summary.startswith("Port of Valmora opens")
        assert result.keywords
        assert any("412 million" in insight for insight in result.insights)
        assert result.usage["calls"] == 1
        assert result.usage["prompt_tokens"] > 0
        assert (
            result.usage["total_tokens"]
            == result.usage["prompt_tokens"] + result.usage["completion_tokens"]
        )
        assert result.usage["model"] == "test-model"

    @pytest.mark.parametrize(
        ("lang", "declared", "name"),
        [("ja", "ja", "Japanese"), ("ru", "ru", "Russian"), ("ar", None, "Arabic")],
    )
    def test_the_request_names_the_articles_language(
        self,
        openai_server: ChatCompletionsServer,
        redis: Redis,
        lang: str,
        declared: str | None,
        name: str,
    ) -> None:
        # A stored language is passed on; a row stored without one gets it from the text.
        story = BY_LANGUAGE[lang]
        make_provider(openai_server, redis).process(
            "\n".join(story.paragraphs),
            story.title,
            ProcessingOptions(language=declared),
        )
        system = openai_server.requests[0]["messages"][0]["content"]
        assert f"The article is in {name} ({lang})" in system
        assert f"insights in {name}" in system
        assert "English" not in system

    def test_parts_not_asked_for_are_empty(
        self, openai_server: ChatCompletionsServer, redis: Redis
    ) -> None:
        options = ProcessingOptions.from_config(
            {"generate_keywords": False, "generate_insights": False}
        )
        result = make_provider(openai_server, redis).process(
            article("bees"), None, options
        )
        assert result.summary
        assert result.keywords == []
        assert result.insights == []
        assert (
            "keywords: [] (not wanted)"
            in openai_server.requests[0]["messages"][0]["content"]
        )

    def test_long_text_is_split_and_combined(self, redis: Redis) -> None:
        # The server enforces the same context: any part that did not fit would come back as a 400.
        server = ChatCompletionsServer(context_tokens=1500).start()
        try:
            text = "\n".join(article(name) for name in ARTICLES)
            result = make_provider(
                server, redis, context_tokens=1500, tokens_per_minute=6_000_000
            ).process(text, "Three stories", ProcessingOptions())
        finally:
            server.stop()
        chunks = result.usage["chunks"]
        assert chunks >= 3
        assert (
            result.usage["calls"] > chunks
        )  # every part, then at least one combining call
        assert len(server.requests) == result.usage["calls"]
        parts = [r["messages"][1]["content"] for r in server.requests[:chunks]]
        assert all(f"of {chunks}:" in part for part in parts)
        combine = server.requests[-1]["messages"][1]["content"]
        assert json.loads(
            combine[combine.index("[{") :]
        )  # the partial digests, as JSON
        assert result.summary
        # Nothing of the text is lost between the parts, and every part's digest reaches a combining call.
        sent = "\n".join(parts)
        for line in text.splitlines():
            assert line.strip() in sent
        combined = [
            json.loads(r["messages"][1]["content"].split("\n\n", 1)[1])
            for r in server.requests[chunks:]
        ]
        assert sum(len(partials) for partials in combined) >= chunks


class TestFailures:
    def test_429_is_retryable_with_retry_after_and_pauses_every_replica(
        self, openai_server: ChatCompletionsServer, redis: Redis
    ) -> None:
        openai_server.script.append(rate_limited(retry_after="7"))
        provider = make_provider(openai_server, redis)
        with pytest.raises(RetryableError) as caught:
            provider.process(article("bees"), None, ProcessingOptions())
        assert caught.value.code == "rate_limited"
        assert caught.value.retry_after == 7
        assert "Rate limit reached" in caught.value.message
        assert len(openai_server.requests) == 1  # the client itself never retries
        # Another replica, taking from the same Redis bucket, must now wait out the Retry-After.
        other = TokenBucket(
            redis,
            provider.requests.key,
            provider.requests.rate,
            provider.requests.burst,
        )
        assert other.try_acquire() > 5

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_server_errors_are_retryable(
        self, openai_server: ChatCompletionsServer, redis: Redis, status: int
    ) -> None:
        openai_server.script.append(server_error(status))
        with pytest.raises(RetryableError) as caught:
            make_provider(openai_server, redis).process(
                article("bees"), None, ProcessingOptions()
            )
        assert caught.value.code == f"http_{status}"
        assert "The server had an error" in caught.value.message
        assert len(openai_server.requests) == 1

    def test_malformed_answer_is_asked_for_once_more(
        self, openai_server: ChatCompletionsServer, redis: Redis
    ) -> None:
        openai_server.script.append(Reply(content='{"summary": "cut off'))
        result = make_provider(openai_server, redis).process(
            article("bees"), None, ProcessingOptions()
        )
        assert result.summary
        assert len(openai_server.requests) == 2
        assert result.usage["calls"] == 2
        assert result.usage["bad_outputs"] == 1

    @pytest.mark.parametrize(
        "reply",
        [
            Reply(content="Here is your digest: the bees are fine."),
            Reply(
                content=json.dumps(
                    {"summary": "x", "keywords": "not a list", "insights": []}
                )
            ),
            Reply(content=json.dumps({"summary": "", "keywords": [], "insights": []})),
            Reply(content='{"summary": "The answer stops', finish_reason="length"),
        ],
        ids=["not-json", "wrong-types", "empty-summary", "cut-off"],
    )
    def test_malformed_twice_fails_as_bad_model_output(
        self, openai_server: ChatCompletionsServer, redis: Redis, reply: Reply
    ) -> None:
        openai_server.script.extend([reply, reply])
        with pytest.raises(PermanentError) as caught:
            make_provider(openai_server, redis).process(
                article("bees"), None, ProcessingOptions()
            )
        assert caught.value.code == "bad_model_output"
        assert len(openai_server.requests) == 2

    def test_context_length_error_is_permanent_with_the_providers_message(
        self, redis: Redis
    ) -> None:
        server = ChatCompletionsServer(
            context_tokens=200
        ).start()  # smaller than the provider believes
        try:
            with pytest.raises(PermanentError) as caught:
                make_provider(server, redis, context_tokens=16000).process(
                    article("compiler"), None, ProcessingOptions()
                )
        finally:
            server.stop()
        assert caught.value.code == "context_length_exceeded"
        assert "maximum context length is 200 tokens" in caught.value.message

    def test_refusal_is_permanent(
        self, openai_server: ChatCompletionsServer, redis: Redis
    ) -> None:
        openai_server.script.append(
            Reply(content=None, refusal="I'm sorry, I can't help with that.")
        )
        with pytest.raises(PermanentError) as caught:
            make_provider(openai_server, redis).process(
                article("bees"), None, ProcessingOptions()
            )
        assert caught.value.code == "content_refused"
        assert "I can't help with that" in caught.value.message
        assert len(openai_server.requests) == 1

    def test_wrong_key_is_permanent(
        self, openai_server: ChatCompletionsServer, redis: Redis
    ) -> None:
        with pytest.raises(PermanentError) as caught:
            make_provider(openai_server, redis, api_key="sk-wrong").process(
                article("bees"), None, ProcessingOptions()
            )
        assert caught.value.code == "http_401"
        assert "Incorrect API key" in caught.value.message

    def test_unreachable_server_is_retryable(
        self, redis: Redis, free_tcp_port: int
    ) -> None:
        config = OpenAIConfig(
            base_url=f"http://127.0.0.1:{free_tcp_port}/v1",
            api_key=API_KEY,
            model="m",
            timeout_seconds=5,
        )
        with pytest.raises(RetryableError) as caught:
            OpenAIProvider(config, redis).process(
                article("bees"), None, ProcessingOptions()
            )
        assert caught.value.code == "connection_error"

    def test_too_short_text_sends_nothing(
        self, openai_server: ChatCompletionsServer, redis: Redis
    ) -> None:
        with pytest.raises(PermanentError) as caught:
            make_provider(openai_server, redis).process(
                "Too short to digest.", None, ProcessingOptions()
            )
        assert caught.value.code == "text_too_short"
        assert openai_server.requests == []


class TestSharedBudget:
    def test_calls_wait_for_tokens_another_replica_took(
        self, openai_server: ChatCompletionsServer, redis: Redis
    ) -> None:
        provider = make_provider(
            openai_server, redis, requests_per_minute=600
        )  # 10 per second, burst 10
        other = TokenBucket(
            redis,
            provider.requests.key,
            provider.requests.rate,
            provider.requests.burst,
        )
        assert (
            other.acquire(provider.requests.burst, timeout=5) >= 0
        )  # another replica spent the burst
        result = provider.process(article("bees"), None, ProcessingOptions())
        assert result.usage["rate_limit_wait_seconds"] > 0
        assert len(openai_server.requests) == 1

    def test_every_replica_shares_one_key_per_endpoint_and_model(
        self, openai_server: ChatCompletionsServer, redis: Redis
    ) -> None:
        first = make_provider(openai_server, redis)
        second = make_provider(openai_server, redis)
        other_model = make_provider(openai_server, redis, model="other-model")
        assert first.requests.key == second.requests.key
        assert first.tokens.key == second.tokens.key
        assert other_model.requests.key != first.requests.key
