"""The `gleaner` command against a real stack: real API, real workers for every stage, real pages."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.cli.conftest import Run
from tests.servers import free_port
from tests.stack import PageServer


def task_id_of(stdout: str) -> int:
    # The first line says "task <id>: Pipeline queued: …".
    first = stdout.splitlines()[0]
    assert first.startswith("task "), stdout
    return int(first.split()[1].rstrip(":"))


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


class TestSubmit:
    def test_wait_follows_every_stage_to_notion(
        self, gleaner: Run, pages: PageServer
    ) -> None:
        urls = [pages.url("/article/alpha"), pages.url("/article/beta")]
        result = gleaner("submit", *urls, "--wait")
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        for stage in ("parsing", "ai", "notion"):
            assert any(
                line.startswith(stage) and "2/2" in line for line in out.splitlines()
            ), out
        assert "completed: 2 done, 0 failed" in out
        assert out.count("Notion: dry run") == 2  # no Notion token in the stack
        assert all(url in out for url in urls)

        task = json.loads(gleaner("status", str(task_id_of(out)), "--json").stdout)
        assert task["status"] == "completed"
        assert [(i["stage"], i["status"]) for i in task["items"]] == [
            ("notion", "completed")
        ] * 2
        assert {i["result_data"]["notion"]["state"] for i in task["items"]} == {
            "dry_run"
        }

    def test_status_shows_queue_positions_while_waiting(
        self, gleaner: Run, pages: PageServer
    ) -> None:
        # One parsing job at a time and 1.5 s per slow page: the later links wait in line.
        links = "\n".join(pages.url(f"/slow/s{i}") for i in range(3))
        submitted = gleaner("submit", "-", "--stages", "parsing", stdin=links + "\n")
        assert submitted.returncode == 0, submitted.stderr
        task_id = task_id_of(submitted.stdout)
        status = gleaner("status", str(task_id))
        assert status.returncode == 0, status.stderr
        assert "in the parsing queue" in status.stdout, status.stdout
        watched = gleaner("status", str(task_id), "--watch")
        assert watched.returncode == 0, watched.stdout + watched.stderr
        assert "completed: 3 done" in watched.stdout

    def test_failed_item_is_reported_then_retried(
        self, gleaner: Run, pages: PageServer
    ) -> None:
        broken, fine = pages.url("/fixable/gamma"), pages.url("/article/delta")
        first = gleaner("submit", broken, fine, "--wait")
        assert first.returncode == 3, (
            first.stdout + first.stderr
        )  # finished, with a failure
        assert "partially_failed: 1 done, 1 failed" in first.stdout
        failed_row = next(line for line in first.stdout.splitlines() if broken in line)
        assert "failed" in failed_row
        assert "http_404" in failed_row
        task_id = task_id_of(first.stdout)
        assert f"gleaner retry {task_id}" in first.stdout

        pages.fix("gamma")
        again = gleaner("retry", str(task_id), "--wait")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "retrying 1 failed item" in again.stdout
        assert "completed: 2 done, 0 failed" in again.stdout

    def test_cancel_stops_a_running_task(self, gleaner: Run, pages: PageServer) -> None:
        # Pages held 20 s: the cancel, a second CLI process, must arrive before either item is done.
        submitted = gleaner(
            "submit",
            pages.url("/wait/20/c1"),
            pages.url("/wait/20/c2"),
            "--stages",
            "parsing",
        )
        task_id = task_id_of(submitted.stdout)
        cancelled = gleaner("cancel", str(task_id))
        assert cancelled.returncode == 0, cancelled.stderr
        assert f"task {task_id}: cancelled" in cancelled.stdout
        watched = gleaner("status", str(task_id), "--watch")
        assert watched.returncode == 3, watched.stdout + watched.stderr
        assert f"task {task_id} (pipeline) cancelled: 0 done" in watched.stdout


class TestErrors:
    def test_bad_url_is_one_clear_line(self, gleaner: Run) -> None:
        result = gleaner("submit", "ftp://example.com/file")
        assert result.returncode == 1
        assert result.stdout == ""
        assert "HTTP 422, invalid_url" in one_error_line(result.stderr)

    def test_api_down_is_one_clear_line(self, gleaner: Run) -> None:
        nobody = f"http://127.0.0.1:{free_port()}"
        result = gleaner("tasks", env={"GLEANER_API_URL": nobody})
        assert result.returncode == 1
        line = one_error_line(result.stderr)
        assert f"cannot reach the Gleaner API at {nobody}" in line
        assert "Traceback" not in result.stderr

    def test_wrong_key_is_refused(self, gleaner: Run) -> None:
        result = gleaner("workers", env={"GLEANER_API_KEY": "glr_not-a-key"})
        assert result.returncode == 1
        assert "HTTP 401, invalid_api_key" in one_error_line(result.stderr)

    def test_unknown_task(self, gleaner: Run) -> None:
        result = gleaner("retry", "999999")
        assert result.returncode == 1
        assert "task_not_found" in one_error_line(result.stderr)

    def test_unknown_stage_is_a_usage_error(self, gleaner: Run) -> None:
        result = gleaner(
            "submit", "https://example.com/", "--stages", "parsing,summarize"
        )
        assert result.returncode == 2
        assert "stages are parsing, ai, notion" in result.stderr


class TestOverview:
    def test_workers_queues_and_tasks(self, gleaner: Run, pages: PageServer) -> None:
        gleaner(
            "submit", pages.url("/article/epsilon"), "--stages", "parsing", "--wait"
        )
        workers = json.loads(gleaner("workers", "--json").stdout)
        assert {q for w in workers["workers"] for q in w["queues"]} >= {
            "parsing",
            "ai",
            "notion",
        }
        queues = gleaner("queues")
        assert queues.returncode == 0
        assert all(name in queues.stdout for name in ("parsing-high", "ai", "notion"))
        tasks = gleaner("tasks", "--status", "completed")
        assert tasks.returncode == 0
        assert "parsing" in tasks.stdout
        assert "completed" in tasks.stdout

    def test_config_file_gives_url_and_key(
        self, gleaner: Run, client_env: dict[str, str]
    ) -> None:
        config = Path(client_env["XDG_CONFIG_HOME"]) / "gleaner" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(
            f'api_url = "{client_env["GLEANER_API_URL"]}"\napi_key = "{client_env["GLEANER_API_KEY"]}"\n'
        )
        result = gleaner(
            "tasks", "--json", env={"GLEANER_API_URL": "", "GLEANER_API_KEY": ""}
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["total"] >= 1


class TestSchedulesAndDependencies:
    def test_schedule_lifecycle(self, gleaner: Run, pages: PageServer) -> None:
        made = gleaner(
            "schedules",
            "create",
            "morning",
            pages.url("/article/zeta"),
            "--cron",
            "0 7 * * 1-5",
            "--timezone",
            "Europe/Paris",
            "--stages",
            "parsing",
            "--json",
        )
        assert made.returncode == 0, made.stderr
        schedule_id = json.loads(made.stdout)["id"]
        listed = gleaner("schedules", "list")
        assert "cron 0 7 * * 1-5 (Europe/Paris)" in listed.stdout
        assert "never fired" in listed.stdout
        ran = gleaner("schedules", "run", str(schedule_id))
        assert ran.returncode == 0, ran.stderr
        assert "created" in ran.stdout
        shown = gleaner("schedules", "show", str(schedule_id))
        assert "(run now): task" in shown.stdout
        assert "paused" in gleaner("schedules", "pause", str(schedule_id)).stdout
        assert "paused" not in gleaner("schedules", "resume", str(schedule_id)).stdout
        assert gleaner("schedules", "delete", str(schedule_id)).returncode == 0
        gone = gleaner("schedules", "show", str(schedule_id))
        assert gone.returncode == 1
        assert "schedule_not_found" in gone.stderr

    def test_feed_schedule(self, gleaner: Run, pages: PageServer) -> None:
        feed = pages.url("/article/not-a-feed")  # a page, not RSS or Atom
        made = gleaner(
            "schedules",
            "create",
            "blog",
            "--feed",
            feed,
            "--every",
            "3600",
            "--stages",
            "parsing",
            "--json",
        )
        assert made.returncode == 0, made.stderr
        schedule_id = json.loads(made.stdout)["id"]
        assert json.loads(made.stdout)["feed_url"] == feed
        assert "feed" in gleaner("schedules", "list").stdout
        ran = gleaner("schedules", "run", str(schedule_id))
        assert "reading the feed" in ran.stdout, ran.stdout
        deadline = time.monotonic() + 60
        while "failed: feed_invalid" not in (
            shown := gleaner("schedules", "show", str(schedule_id)).stdout
        ):
            assert time.monotonic() < deadline, shown
            time.sleep(0.5)
        assert gleaner("schedules", "delete", str(schedule_id)).returncode == 0

    def test_bad_cron_is_one_line(self, gleaner: Run) -> None:
        result = gleaner(
            "schedules", "create", "x", "https://example.com/", "--cron", "nope"
        )
        assert result.returncode == 1
        assert "invalid_cron" in result.stderr

    def test_after_and_cancel_releasing_dependants(
        self, gleaner: Run, pages: PageServer
    ) -> None:
        # 20 slow pages at one job at a time: the parent runs for 30 s, long enough to be cancelled.
        slow = "\n".join(pages.url(f"/slow/dep{i}") for i in range(20))
        parent = task_id_of(
            gleaner("submit", "-", "--stages", "parsing", stdin=slow + "\n").stdout
        )
        second = gleaner(
            "submit",
            pages.url("/article/eta"),
            "--stages",
            "parsing",
            "--after",
            str(parent),
        )
        child = task_id_of(second.stdout)
        assert (
            json.loads(gleaner("status", str(child), "--json").stdout)["status"]
            == "waiting"
        )
        cancelled = gleaner("cancel", str(parent), "--dependants", "release")
        assert f"waiting tasks released: {child}" in cancelled.stdout
        watched = gleaner("status", str(child), "--watch")
        assert "completed: 1 done" in watched.stdout

    def test_webhooks(self, gleaner: Run) -> None:
        refused = gleaner("webhooks", "create", "http://10.0.0.1/hook")
        assert refused.returncode == 1
        assert "invalid_webhook_url" in refused.stderr
        made = gleaner(
            "webhooks", "create", "https://hooks.example.org/g", "--per-item"
        )
        assert made.returncode == 0, made.stderr
        assert "secret (shown once" in made.stdout
        assert "whsec_" in made.stdout
        webhook_id = made.stdout.split()[1]
        listed = gleaner("webhooks", "list")
        assert "https://hooks.example.org/g" in listed.stdout
        assert "every task, per item" in listed.stdout
        assert "whsec_" not in listed.stdout
        assert gleaner("webhooks", "deliveries", webhook_id).returncode == 0
        assert gleaner("webhooks", "delete", webhook_id).returncode == 0
