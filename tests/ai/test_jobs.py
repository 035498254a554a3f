"""The ai stage end to end: tasks submitted like the API does, real ai worker processes, real SQL and Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from gleaner.db import make_engine, make_sessionmaker, session_scope
from gleaner.models import (
    AIModel,
    AIProcessedContent,
    ItemAttempt,
    ParsedContent,
    TaskItem,
)
from gleaner.runtime import Runtime
from gleaner.tasks import ItemInput
from gleaner_ai.jobs import save_result
from gleaner_ai.providers.base import AIResult, ProcessingOptions
from tests.ai.conftest import article, create_parsed_content
from tests.ai.openai_server import API_KEY, ChatCompletionsServer, Reply, rate_limited
from tests.factories import get_task, submit_task

RunWorker = Callable[..., Any]


def parsed_inputs(runtime: Runtime, *texts: str | None) -> list[ItemInput]:
    with session_scope(runtime.sessions) as session:
        parsed = [
            create_parsed_content(session, f"https://example.com/{n}", text)
            for n, text in enumerate(texts)
        ]
        return [
            ItemInput(item_id=p.id, item_type="parsed_content", parsed_content_id=p.id)
            for p in parsed
        ]


def digests(runtime: Runtime) -> list[AIProcessedContent]:
    with session_scope(runtime.sessions) as session:
        return list(
            session.scalars(select(AIProcessedContent).order_by(AIProcessedContent.id))
        )


def add_openai_model(runtime: Runtime, server: ChatCompletionsServer) -> int:
    with session_scope(runtime.sessions) as session:
        model = AIModel(
            name="local-llm",
            provider="openai",
            model="test-model",
            base_url=server.base_url,
            config={},
        )
        session.add(model)
        session.flush()
        return model.id


class TestOfflinePipeline:
    def test_parsed_article_becomes_a_digest(
        self, runtime: Runtime, run_worker: RunWorker
    ) -> None:
        inputs = parsed_inputs(runtime, article("harbour"), article("bees"))
        task_id = submit_task(runtime, inputs, stages=("ai",))
        run_worker("ai")
        task = get_task(runtime, task_id)
        assert task.status == "completed", [
            (i.status, i.error_code, i.error_message) for i in task.items
        ]
        rows = digests(runtime)
        assert len(rows) == 2
        by_id = {row.id: row for row in rows}
        assert {item.ai_content_id for item in task.items} == set(
            by_id
        )  # workers run items in any order
        for item in task.items:
            assert item.ai_content_id is not None
            row = by_id[item.ai_content_id]
            assert row.parsed_content_id == item.parsed_content_id
            assert item.result_data["ai"]["keywords"] == len(row.keywords)
            assert row.summary
            assert row.keywords
            assert row.insights
            assert row.processing_config == {
                "generate_summary": True,
                "generate_keywords": True,
                "generate_insights": True,
            }
        with session_scope(runtime.sessions) as session:
            default = session.scalars(
                select(AIModel).where(AIModel.is_default.is_(True))
            ).one()
        assert {row.model_id for row in rows} == {default.id}

    def test_the_item_moves_on_to_notion(
        self, runtime: Runtime, run_worker: RunWorker
    ) -> None:
        task_id = submit_task(
            runtime,
            parsed_inputs(runtime, article("compiler")),
            stages=("ai", "notion"),
        )
        run_worker("ai")
        (item,) = get_task(runtime, task_id).items
        assert item.stage == "notion"
        assert item.status == "queued"
        assert item.ai_content_id == digests(runtime)[0].id
        assert runtime.redis.llen("rq:queue:notion") == 1

    def test_processing_config_flags(
        self, runtime: Runtime, run_worker: RunWorker
    ) -> None:
        config = {
            "processing_config": {"generate_summary": False, "generate_insights": False}
        }
        task_id = submit_task(
            runtime,
            parsed_inputs(runtime, article("bees")),
            stages=("ai",),
            config=config,
        )
        run_worker("ai")
        assert get_task(runtime, task_id).status == "completed"
        (row,) = digests(runtime)
        assert row.summary is None
        assert row.insights == []
        assert row.keywords

    def test_same_article_and_model_again_updates_the_one_row(
        self, runtime: Runtime, run_worker: RunWorker
    ) -> None:
        inputs = parsed_inputs(runtime, article("bees"))
        first = submit_task(
            runtime,
            inputs,
            stages=("ai",),
            config={"processing_config": {"generate_keywords": False}},
        )
        run_worker("ai")
        second = submit_task(runtime, inputs, stages=("ai",))
        run_worker("ai")
        (row,) = digests(runtime)
        assert row.keywords  # the second run's result replaced the first's
        assert get_task(runtime, first).items[0].ai_content_id == row.id
        assert get_task(runtime, second).items[0].ai_content_id == row.id

    def test_too_short_text_fails_at_once(
        self, runtime: Runtime, run_worker: RunWorker
    ) -> None:
        task_id = submit_task(
            runtime,
            parsed_inputs(runtime, "A headline and nothing else."),
            stages=("ai",),
        )
        run_worker("ai")
        task = get_task(runtime, task_id)
        (item,) = task.items
        assert task.status == "failed"
        assert item.error_code == "text_too_short"
        assert item.attempts == 1  # permanent: no retry
        assert digests(runtime) == []

    def test_unknown_model_fails_the_item(
        self, runtime: Runtime, run_worker: RunWorker
    ) -> None:
        task_id = submit_task(
            runtime,
            parsed_inputs(runtime, article("bees")),
            stages=("ai",),
            config={"model_id": 999},
        )
        run_worker("ai")
        (item,) = get_task(runtime, task_id).items
        assert item.status == "failed"
        assert item.error_code == "model_not_found"


class TestOpenAIPipeline:
    def test_digest_and_usage_from_the_configured_model(
        self,
        runtime: Runtime,
        run_worker: RunWorker,
        openai_server: ChatCompletionsServer,
    ) -> None:
        model_id = add_openai_model(runtime, openai_server)
        task_id = submit_task(
            runtime,
            parsed_inputs(runtime, article("harbour")),
            stages=("ai",),
            config={"model_id": model_id},
        )
        run_worker("ai", env={"GLEANER_OPENAI_API_KEY": API_KEY})
        task = get_task(runtime, task_id)
        assert task.status == "completed", [
            (i.error_code, i.error_message) for i in task.items
        ]
        (row,) = digests(runtime)
        assert row.model_id == model_id
        assert row.summary
        assert row.usage["calls"] == 1
        assert row.usage["total_tokens"] > 0
        assert len(openai_server.requests) == 1

    def test_429_is_retried_after_retry_after(
        self,
        runtime: Runtime,
        run_worker: RunWorker,
        openai_server: ChatCompletionsServer,
    ) -> None:
        openai_server.script.append(rate_limited(retry_after="0"))
        model_id = add_openai_model(runtime, openai_server)
        task_id = submit_task(
            runtime,
            parsed_inputs(runtime, article("bees")),
            stages=("ai",),
            config={"model_id": model_id},
        )
        run_worker("ai", env={"GLEANER_OPENAI_API_KEY": API_KEY})
        task = get_task(runtime, task_id)
        assert task.status == "completed"
        (item,) = task.items
        with session_scope(runtime.sessions) as session:
            outcomes = session.scalars(
                select(ItemAttempt.outcome)
                .where(ItemAttempt.item_id == item.id)
                .order_by(ItemAttempt.number)
            ).all()
            codes = session.scalars(
                select(ItemAttempt.error_code).where(ItemAttempt.item_id == item.id)
            ).all()
        assert list(outcomes) == ["retry", "completed"]
        assert "rate_limited" in codes
        assert len(openai_server.requests) == 2

    def test_bad_model_output_fails_the_item_with_its_code(
        self,
        runtime: Runtime,
        run_worker: RunWorker,
        openai_server: ChatCompletionsServer,
    ) -> None:
        openai_server.script.extend(
            [Reply(content="not json"), Reply(content="still not json")]
        )
        model_id = add_openai_model(runtime, openai_server)
        task_id = submit_task(
            runtime,
            parsed_inputs(runtime, article("bees")),
            stages=("ai",),
            config={"model_id": model_id},
        )
        run_worker("ai", env={"GLEANER_OPENAI_API_KEY": API_KEY})
        (item,) = get_task(runtime, task_id).items
        assert item.status == "failed"
        assert item.error_code == "bad_model_output"
        with session_scope(runtime.sessions) as session:
            assert (
                session.scalar(select(func.count()).select_from(AIProcessedContent))
                == 0
            )
            assert session.get_one(TaskItem, item.id).attempts == 1


def test_save_result_keeps_one_row_per_article_and_model(any_db_url: str) -> None:
    """The upsert on both backends: ON CONFLICT DO NOTHING, then the row is updated in place."""
    engine = make_engine(any_db_url)
    sessions = make_sessionmaker(engine)
    try:
        with session_scope(sessions) as session:
            parsed = create_parsed_content(session)
            model = session.scalars(
                select(AIModel).where(AIModel.is_default.is_(True))
            ).one()
            first = save_result(
                session,
                parsed,
                model,
                ProcessingOptions(),
                AIResult("One.", ["a"], [], {"calls": 0}),
            )
        with session_scope(sessions) as session:
            parsed = session.get_one(ParsedContent, parsed.id)
            model = session.get_one(AIModel, model.id)
            second = save_result(
                session,
                parsed,
                model,
                ProcessingOptions(),
                AIResult("Two.", ["b", "c"], ["i"], {}),
            )
        assert second.id == first.id
        with session_scope(sessions) as session:
            (row,) = session.scalars(select(AIProcessedContent)).all()
            assert (row.summary, row.keywords, row.insights) == (
                "Two.",
                ["b", "c"],
                ["i"],
            )
    finally:
        engine.dispose()
