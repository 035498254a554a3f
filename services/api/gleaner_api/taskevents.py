"""What a task's event stream sends: a first snapshot, then only what changed (deltas).

The first `progress` event is the task as GET /api/tasks/{id} shows it, with the first page of items
(`delta: false`). Every later one carries the task's counts, stage progress and ETA again (small), and
in `items` only the items changed since the event before (`delta: true`); a client merges them by id.
A 10,000-item task's subscriber is sent what moved, not 4 MB a tick.

Changed items are found by `updated_at` along ix_task_items_task_updated. A write is stamped before it
commits, so each look reaches back OVERLAP before the previous one, and what was already sent with the
same stamp is left out (the first event notes every item stamped in that window before it, so the
items of a batch just submitted are not all sent again as changes). When more items changed than one event carries, the next look goes on from
the last one sent, in (updated_at, id) order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi.encoders import jsonable_encoder
from redis import Redis
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gleaner.models import ProcessingTask, TaskItem, utcnow
from gleaner.settings import Settings
from gleaner_api.taskviews import ItemPage, render_items, render_task

OVERLAP = timedelta(seconds=5)
"""How late a change may commit after its `updated_at` and still be sent."""

MAX_DELTA_ITEMS = 1000
"""Changed items in one event; more wait for the next tick."""


@dataclass
class TaskEvents:
    """One subscriber's stream of a task: what it has been sent so far."""

    task_id: int
    include_items: bool
    page: ItemPage
    started: bool = False
    looked_at: datetime | None = None  # when the last look for changed items began
    resume: tuple[datetime, int] | None = (
        None  # (updated_at, id) after a truncated look
    )
    sent: dict[int, datetime] = field(
        default_factory=dict
    )  # item id -> updated_at sent
    last_summary: str = ""
    last_status: str = ""

    def next_event(
        self, session: Session, redis: Redis, settings: Settings
    ) -> dict[str, Any] | None:
        """The next event's body, or None when nothing changed since the last one."""
        task = session.get_one(ProcessingTask, self.task_id)
        now = utcnow()
        if not self.started:
            body = render_task(
                session, redis, task, self.include_items, settings, self.page
            )
            # what changed just before the snapshot is in it (or off its page): not a change to send
            recent = session.execute(
                select(TaskItem.id, TaskItem.updated_at).where(
                    TaskItem.task_id == task.id,
                    TaskItem.updated_at > now - OVERLAP,
                )
            )
            self.sent = {row.id: row.updated_at for row in recent}
        else:
            body = render_task(session, redis, task, False, settings)
            if self.include_items:
                body["items"] = self._changed_items(session, redis, task, settings)
        body["delta"] = self.started
        self.last_status = str(task.status)
        self.looked_at = now
        items: list[dict[str, Any]] = body.get("items") or []  # type: ignore[assignment]
        for item in items:
            self.sent[item["id"]] = item["updated_at"]
        summary = json.dumps(
            jsonable_encoder(
                {**body, "items": None, "items_next": None, "delta": None}
            ),
            sort_keys=True,
        )
        if self.started and not items and summary == self.last_summary:
            return None
        self.started = True
        self.last_summary = summary
        encoded: dict[str, Any] = jsonable_encoder(body)
        return encoded

    def _changed_items(
        self, session: Session, redis: Redis, task: ProcessingTask, settings: Settings
    ) -> list[dict[str, object]]:
        assert self.looked_at is not None
        if self.resume is not None:
            stamp, item_id = self.resume
            which = or_(
                TaskItem.updated_at > stamp,
                and_(TaskItem.updated_at == stamp, TaskItem.id > item_id),
            )
        else:
            which = TaskItem.updated_at > self.looked_at - OVERLAP
        rows = render_items(
            session,
            redis,
            task,
            settings,
            which,
            MAX_DELTA_ITEMS,
            order=(TaskItem.updated_at, TaskItem.id),
        )
        last = rows[-1] if len(rows) == MAX_DELTA_ITEMS else None
        self.resume = (
            (last["updated_at"], last["id"])  # type: ignore[assignment]
            if last is not None
            else None
        )
        return [row for row in rows if self.sent.get(row["id"]) != row["updated_at"]]  # type: ignore[call-overload]
