"""Per-feed polling state in PostgreSQL (``feed_state``): validators, outcome, back-off.

The ETag / Last-Modified validators are stored only after the feed's new headlines were
published and recorded, so a failure in between makes the next poll fetch the body again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert

from storage.db import session_scope
from storage.models import FeedState


@dataclass(frozen=True)
class FeedStateView:
    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    consecutive_failures: int = 0
    next_poll_after: datetime | None = None
    last_success_at: datetime | None = None


class FeedStateStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self, source: str) -> FeedStateView:
        with session_scope(self.engine) as session:
            row = session.scalar(select(FeedState).where(FeedState.source == source))
            if row is None:
                return FeedStateView()
            return FeedStateView(
                url=row.url,
                etag=row.etag,
                last_modified=row.last_modified,
                consecutive_failures=row.consecutive_failures or 0,
                next_poll_after=row.next_poll_after,
                last_success_at=row.last_success_at,
            )

    def _upsert(self, source: str, values: dict[str, object]) -> None:
        with session_scope(self.engine) as session:
            session.execute(
                insert(FeedState)
                .values(source=source, **values)
                .on_conflict_do_update(index_elements=[FeedState.source], set_=values)
            )

    def record_success(
        self,
        source: str,
        url: str,
        *,
        status: str,
        etag: str | None,
        last_modified: str | None,
        now: datetime,
    ) -> None:
        self._upsert(
            source,
            {
                "url": url,
                "etag": etag,
                "last_modified": last_modified,
                "last_polled_at": now,
                "last_status": status[:64],
                "last_error": None,
                "last_success_at": now,
                "consecutive_failures": 0,
                "next_poll_after": None,
            },
        )

    def record_failure(
        self,
        source: str,
        url: str,
        *,
        status: str,
        error: str,
        failures: int,
        next_poll_after: datetime,
        now: datetime,
    ) -> None:
        self._upsert(
            source,
            {
                "url": url,
                "last_polled_at": now,
                "last_status": status[:64],
                "last_error": error[:2000],
                "consecutive_failures": failures,
                "next_poll_after": next_poll_after,
            },
        )
