"""Re-read stored headlines with another model: ``tapewatch reclassify --model DIR``.

The headlines of a time range go through the model in pages, oldest first, and each page's
classifications are written under the model's version in one short transaction
(``INSERT ... ON CONFLICT DO NOTHING``). A page is chosen by keyset pagination over
(published_at, id) among the headlines that version has not classified yet, so a run stopped
anywhere (Ctrl-C, a crash, a kill) resumes where it stopped when run again, and a finished run
run again writes nothing. The live pipeline is not disturbed: one connection of its own, pages
of bounded size (each transaction holds a few hundred rows' locks for milliseconds), an
optional rate cap, and classifications that never change what dashboards and alerts read
unless their version is (or becomes) the active one.

With a watchlist configured, each page's watchlist entities are tagged as the live stage tags
them and written in the classifications' transaction, under the re-read version's pass
(``headline_model_version``), so activating the version switches the entity views too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

from storage.db import session_scope
from storage.entities import EntityRow, store_entities
from storage.repository import store_classified
from tapewatch.events import ClassifiedHeadline, Headline

if TYPE_CHECKING:
    from classify.predictor import Predictor

# The entity step (entities/tagger.py ``EntityTagger.tag``): the rows of the entities named.
Tag = Callable[[Sequence[Headline], Sequence[ClassifiedHeadline]], list[EntityRow]]

log = logging.getLogger(__name__)

_RANGE = """
    h.published_at >= :since AND h.published_at < :until
    AND NOT EXISTS (
        SELECT 1 FROM classifications c WHERE c.headline_id = h.id AND c.model_version = :version
    )
"""
PENDING = text(f"SELECT count(*) FROM headlines h WHERE {_RANGE}")
# (published_at, id) is unique and ordered: the page after a key never repeats or skips a row.
PAGE = text(
    f"""
    SELECT h.id, h.source, h.title, h.url, h.published_at, h.ingested_at, h.tickers
    FROM headlines h
    WHERE {_RANGE} AND (h.published_at, h.id) > (:after_at, :after_id)
    ORDER BY h.published_at, h.id
    LIMIT :limit
    """
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime


@dataclass(slots=True)
class Progress:
    """Where a run is: rows written, rows the model could not classify, seconds spent."""

    pending: int
    stored: int = 0
    unclassifiable: int = 0
    pages: int = 0
    seconds: float = 0.0
    inference_seconds: float = 0.0
    write_seconds: float = 0.0
    entity_rows: int = 0

    @property
    def rate(self) -> float:
        return (self.stored + self.unclassifiable) / self.seconds if self.seconds else 0.0


def pending(engine: Engine, version: str, window: Window) -> int:
    """Headlines in the window the version has not classified yet."""
    with session_scope(engine) as session:
        params = {"since": window.since, "until": window.until, "version": version}
        return int(session.execute(PENDING, params).scalar_one())


def reclassify(
    engine: Engine,
    predictor: Predictor,
    window: Window,
    *,
    page_size: int = 256,
    max_rate: float | None = None,
    on_page: Callable[[Progress], None] | None = None,
    tag: Tag | None = None,
) -> Progress:
    """Classify every headline of ``window`` that ``predictor.version`` has not classified;
    with ``tag``, store the entities each names beside its classification."""
    from classify.predictor import PredictionError
    from classify.stage import to_event

    version = predictor.version
    progress = Progress(pending=pending(engine, version, window))
    after_at, after_id = EPOCH, ""
    started = time.perf_counter()
    while True:
        with session_scope(engine) as session:
            rows = session.execute(
                PAGE,
                {
                    "since": window.since,
                    "until": window.until,
                    "version": version,
                    "after_at": after_at,
                    "after_id": after_id,
                    "limit": page_size,
                },
            ).all()
        if not rows:
            break
        after_at, after_id = rows[-1].published_at, rows[-1].id
        t0 = time.perf_counter()
        predictions = predictor.predict_batch([r.title for r in rows])
        t1 = time.perf_counter()
        classified_at = datetime.now(UTC)
        results, read = [], []
        for row, p in zip(rows, predictions, strict=True):
            if isinstance(p, PredictionError):  # nothing the model can read (empty, binary)
                progress.unclassifiable += 1
                continue
            headline = _headline(row)
            read.append(headline)
            results.append(to_event(headline, p, classified_at))  # as the live stage does
        entities = tag(read, results) if tag is not None else []
        with session_scope(engine) as session:
            # One transaction: a headline's entities commit with its classification.
            stored = store_classified(session, [], results)
            progress.entity_rows += store_entities(session, entities)
        progress.inference_seconds += t1 - t0
        progress.write_seconds += time.perf_counter() - t1
        progress.stored += stored.classifications_inserted
        progress.pages += 1
        progress.seconds = time.perf_counter() - started
        if on_page is not None:
            on_page(progress)
        if max_rate:
            # Sleep off whatever this run is ahead of the cap.
            ahead = (progress.stored + progress.unclassifiable) / max_rate - progress.seconds
            if ahead > 0:
                time.sleep(ahead)
    progress.seconds = time.perf_counter() - started
    log.info(
        "reclassified %d headlines with %s in %.1f s (%.0f/s), %d unclassifiable",
        progress.stored,
        version,
        progress.seconds,
        progress.rate,
        progress.unclassifiable,
    )
    return progress


def _headline(row: Any) -> Headline:
    """A stored headline as the stage's events carry it."""
    return Headline(
        id=row.id,
        source=row.source,
        title=row.title,
        url=row.url,
        published_at=row.published_at,
        ingested_at=row.ingested_at,
        tickers=list(row.tickers or []),
    )
