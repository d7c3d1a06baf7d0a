"""File replay: JSON Lines or CSV headlines, for backfills and demos.

Columns / keys: ``title`` (required), ``url``, ``published_at`` (ISO 8601 with a zone, or Unix
seconds), ``source``, ``tickers`` (a list, or a string separated by spaces/commas). Rows are
streamed, not loaded whole. With ``speedup`` > 0 the gaps between rows' publication times are
replayed compressed by that factor (60: an hour of news in a minute); 0 replays flat out.
The seen-set makes replays idempotent: replaying a file twice publishes nothing the second time.
"""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.errors import IngestError, ReplayFileError
from ingest.metrics import IngestMetrics
from ingest.pipeline import CHUNK, Outcome, Pipeline, RawItem

log = logging.getLogger(__name__)

MAX_LOGGED_BAD_ROWS = 10
RETRY_PAUSE_S = 5.0


def _parse_time(value: Any) -> tuple[datetime | None, bool]:
    """(time, invalid): ISO 8601 or Unix seconds; a naive or unreadable time is invalid."""
    if value is None or value == "":
        return None, False
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
            return datetime.fromtimestamp(float(value), UTC), False
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            return (parsed, False) if parsed.tzinfo is not None else (None, True)
    except (ValueError, OverflowError, OSError):
        pass
    return None, True


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _tickers(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v).lstrip("$") for v in value if v)
    if isinstance(value, str):
        return tuple(t.lstrip("$") for t in value.replace(",", " ").split() if t)
    return ()


def row_to_item(row: dict[str, Any]) -> RawItem:
    published, invalid = _parse_time(row.get("published_at"))
    title = row.get("title")
    url = row.get("url")
    source = row.get("source")
    return RawItem(
        title=title if isinstance(title, str) else None,
        url=url if isinstance(url, str) and url else None,
        published_at=published,
        tickers=_tickers(row.get("tickers")),
        source=source if isinstance(source, str) and source.strip() else None,
        date_invalid=invalid,
    )


@dataclass
class _BadRows:
    count: int = 0


def read_rows(path: Path, bad: _BadRows) -> Iterator[dict[str, Any]]:
    """Rows of a JSON Lines (``.jsonl``/``.ndjson``/``.json``) or CSV file, skipping bad lines."""
    suffix = path.suffix.lower()
    try:
        handle = path.open(encoding="utf-8", errors="replace", newline="")
    except OSError as exc:
        raise ReplayFileError(f"cannot open replay file {path}: {exc}") from exc
    with handle:
        if suffix == ".csv":
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "title" not in reader.fieldnames:
                raise ReplayFileError(f"{path}: CSV needs a header with a 'title' column")
            yield from reader
            return
        if suffix not in (".jsonl", ".ndjson", ".json"):
            raise ReplayFileError(f"{path}: expected .jsonl, .ndjson, .json or .csv")
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                row = exc
            if not isinstance(row, dict):
                bad.count += 1
                if bad.count <= MAX_LOGGED_BAD_ROWS:
                    log.warning("replay %s line %d: not a JSON object, skipped", path, number)
                continue
            yield row


def count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines - 1 if path.suffix.lower() == ".csv" else lines


class ReplaySource:
    """Replays one file through the pipeline; stops early when ``stop`` is set."""

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        pipeline: Pipeline,
        metrics: IngestMetrics,
        stop: threading.Event,
        speedup: float = 0.0,
        progress: bool = False,
    ) -> None:
        self.path = path
        self.name = name
        self.pipeline = pipeline
        self.metrics = metrics
        self.stop = stop
        self.speedup = speedup
        self.progress = progress

    def run(self) -> Outcome:
        """Replay the whole file; never raises (failures are logged and counted)."""
        total = Outcome()
        try:
            self._run(total)
        except IngestError as exc:
            self.metrics.errors.labels(self.name, exc.kind).inc()
            log.error("source %s: replay of %s failed: %s", self.name, self.path, exc)
        except Exception:
            self.metrics.errors.labels(self.name, "unexpected").inc()
            log.exception("source %s: replay of %s failed", self.name, self.path)
        return total

    def _run(self, total: Outcome) -> None:
        if not self.path.is_file():
            raise ReplayFileError(f"replay file {self.path} does not exist")
        bad = _BadRows()
        bar = None
        if self.progress:
            from rich.progress import Progress  # only when asked: a terminal nicety

            bar = Progress(transient=False)
            bar.start()
            task = bar.add_task(f"replay {self.path.name}", total=count_rows(self.path))
        started = time.monotonic()
        first_time: datetime | None = None
        batch: list[RawItem] = []
        try:
            for row in read_rows(self.path, bad):
                if self.stop.is_set():
                    log.info("source %s: replay stopped early", self.name)
                    break
                item = row_to_item(row)
                if self.speedup > 0 and item.published_at is not None:
                    first_time = first_time or item.published_at
                    offset = (item.published_at - first_time).total_seconds() / self.speedup
                    wait = started + offset - time.monotonic()
                    if wait > 0:
                        self._flush(batch, total)
                        if bar is not None:
                            bar.update(task, completed=total.fetched)
                        if self.stop.wait(wait):
                            break
                batch.append(item)
                if len(batch) >= CHUNK:
                    self._flush(batch, total)
                    if bar is not None:
                        bar.update(task, completed=total.fetched)
            self._flush(batch, total)
        finally:
            if bar is not None:
                bar.update(task, completed=total.fetched)
                bar.stop()
        if bad.count:
            self.metrics.rejected.labels(self.name, "bad_row").inc(bad.count)
            log.warning("source %s: %d unreadable rows skipped", self.name, bad.count)
        log.info(
            "source %s: replayed %d rows from %s: %d new, %d duplicates, %d rejected",
            self.name,
            total.fetched,
            self.path,
            total.published,
            total.duplicates,
            sum(total.rejected.values()),
        )

    def _flush(self, batch: list[RawItem], total: Outcome) -> None:
        """Ingest the batch, retrying a failed publish until it succeeds or we are stopped."""
        while batch:
            try:
                total.add(self.pipeline.ingest(self.name, batch), keep_items=False)
                batch.clear()
            except IngestError as exc:
                # Confirmed headlines are already in the seen-set: a retry skips them.
                self.metrics.errors.labels(self.name, exc.kind).inc()
                log.warning("source %s: replay batch failed (%s), retrying", self.name, exc)
                if self.stop.wait(RETRY_PAUSE_S):
                    raise
