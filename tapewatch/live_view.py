"""The live view of `tapewatch up`: what the pipeline is doing, gathered and drawn with rich.

:class:`Collector` reads the workers' Prometheus endpoints (throughput counters, consumer lag)
and PostgreSQL (through the dashboard views where they serve, the tables where an index makes
a query cheap) into a :class:`Snapshot`; :func:`render` draws it as panels for ``rich.live``;
:func:`summary_line` is the same in one log line, for when there is no terminal to draw on.
Every read tolerates a service that is down or still starting: the field is simply empty.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, text

from tapewatch.demo.receiver import describe, read_received

log = logging.getLogger(__name__)

RATE_WINDOW_S = 10.0
SENTIMENT_MINUTES = 15
LATENCY_WINDOW_S = 60
SHOWN_TOPICS = 10
SHOWN_ALERTS = 5

SENTIMENT_SQL = text(
    """
    SELECT topic, count(*) AS headlines,
           count(*) FILTER (WHERE sentiment = 'negative') AS negative,
           count(*) FILTER (WHERE sentiment = 'neutral') AS neutral,
           count(*) FILTER (WHERE sentiment = 'positive') AS positive
    FROM v_headlines
    WHERE published_at >= now() - make_interval(mins => :minutes) AND topic IS NOT NULL
    GROUP BY topic ORDER BY count(*) DESC
    """
)
# The tables, not v_headlines: the index on classified_at keeps this cheap as history grows.
LATENCY_SQL = text(
    """
    SELECT count(*),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY latency),
           percentile_cont(0.99) WITHIN GROUP (ORDER BY latency)
    FROM (
        SELECT extract(epoch FROM c.classified_at - h.ingested_at) AS latency
        FROM classifications c JOIN headlines h ON h.id = c.headline_id
        WHERE c.classified_at >= now() - make_interval(secs => :seconds)
    ) recent
    """
)
TOTALS_SQL = text(
    """
    SELECT (SELECT count(*) FROM classifications) AS classified,
           (SELECT min(classified_at) FROM classifications WHERE classified_at >= :since) AS first
    """
)
ALERTS_SQL = text(
    """
    SELECT topic, state, started_at, fired_at, ended_at FROM alerts
    ORDER BY greatest(started_at, fired_at, ended_at) DESC NULLS LAST LIMIT :limit
    """
)
FEEDS_SQL = text(
    "SELECT source, consecutive_failures, last_status, last_error, next_poll_after, "
    "last_success_at FROM feed_state ORDER BY source"
)


@dataclass(frozen=True)
class TopicCounts:
    topic: str
    headlines: int
    negative: int
    neutral: int
    positive: int


@dataclass(frozen=True)
class FeedStatus:
    source: str
    failures: int
    status: str | None
    error: str | None
    next_poll_after: datetime | None
    last_success_at: datetime | None


@dataclass
class Snapshot:
    """One reading of the whole pipeline; ``None`` where a figure is not available (yet)."""

    taken_at: float
    ingest_rate: float | None = None
    ingest_total: float | None = None
    classify_rate: float | None = None
    classify_total: float | None = None
    consumer_lag: float | None = None
    stored_rate: float | None = None
    stored_total: int | None = None
    latency_count: int = 0
    latency_p50_s: float | None = None
    latency_p99_s: float | None = None
    first_classified_at: datetime | None = None
    topics: list[TopicCounts] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    feeds: list[FeedStatus] = field(default_factory=list)
    workers: list[tuple[str, str]] = field(default_factory=list)


class Rate:
    """Per-second rate of a counter over the last ``window_s`` seconds of readings."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._points: deque[tuple[float, float]] = deque()

    def add(self, at: float, value: float) -> float | None:
        if self._points and value < self._points[-1][1]:
            self._points.clear()  # the worker restarted: its counter began again
        self._points.append((at, value))
        while len(self._points) > 2 and at - self._points[1][0] >= self.window_s:
            self._points.popleft()
        (t0, v0), (t1, v1) = self._points[0], self._points[-1]
        return (v1 - v0) / (t1 - t0) if t1 > t0 else None


def scrape(url: str, client: httpx.Client) -> dict[str, float]:
    """Prometheus text from ``url`` as {sample name: value summed over labels}; {} if down."""
    try:
        response = client.get(url)
        response.raise_for_status()
    except httpx.HTTPError:
        return {}
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


class Collector:
    """Takes :class:`Snapshot` readings; keeps the counters' history for the rates."""

    def __init__(
        self,
        engine: Engine,
        *,
        ingest_metrics_url: str | None,
        classify_metrics_url: str | None,
        received_path: Path | None,
        started_at: datetime,
    ) -> None:
        self.engine = engine
        self.ingest_metrics_url = ingest_metrics_url
        self.classify_metrics_url = classify_metrics_url
        self.received_path = received_path
        self.started_at = started_at
        self._client = httpx.Client(timeout=httpx.Timeout(2.0))
        self._ingest = Rate()
        self._classify = Rate()
        self._stored = Rate()

    def collect(self) -> Snapshot:
        now = time.monotonic()
        snap = Snapshot(taken_at=now)
        if self.ingest_metrics_url:
            metrics = scrape(self.ingest_metrics_url, self._client)
            if "ingest_items_new_total" in metrics:
                snap.ingest_total = metrics["ingest_items_new_total"]
                snap.ingest_rate = self._ingest.add(now, snap.ingest_total)
        if self.classify_metrics_url:
            metrics = scrape(self.classify_metrics_url, self._client)
            if "tapewatch_classify_classified_total" in metrics:
                snap.classify_total = metrics["tapewatch_classify_classified_total"]
                snap.classify_rate = self._classify.add(now, snap.classify_total)
                snap.consumer_lag = metrics.get("tapewatch_classify_consumer_lag")
        try:
            self._read_database(snap, now)
        except Exception as exc:  # PostgreSQL restarting or the schema not there yet
            log.debug("live view: database not readable: %s", exc)
        if self.received_path is not None:
            snap.received = read_received(self.received_path)
        return snap

    def _read_database(self, snap: Snapshot, now: float) -> None:
        with self.engine.connect() as conn:
            totals = conn.execute(TOTALS_SQL, {"since": self.started_at}).one()
            snap.stored_total = int(totals.classified)
            snap.stored_rate = self._stored.add(now, snap.stored_total)
            snap.first_classified_at = totals.first
            count, p50, p99 = conn.execute(LATENCY_SQL, {"seconds": LATENCY_WINDOW_S}).one()
            snap.latency_count = int(count)
            snap.latency_p50_s = float(p50) if p50 is not None else None
            snap.latency_p99_s = float(p99) if p99 is not None else None
            snap.topics = [
                TopicCounts(r.topic, r.headlines, r.negative, r.neutral, r.positive)
                for r in conn.execute(SENTIMENT_SQL, {"minutes": SENTIMENT_MINUTES})
            ]
            snap.alerts = [
                dict(r._mapping) for r in conn.execute(ALERTS_SQL, {"limit": SHOWN_ALERTS})
            ]
            snap.feeds = [FeedStatus(*r) for r in conn.execute(FEEDS_SQL)]

    def close(self) -> None:
        self._client.close()
        self.engine.dispose()


def _num(value: float | None, fmt: str = "{:,.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def latency_text(snap: Snapshot) -> str:
    if snap.latency_p50_s is None:
        return "–"
    return (
        f"p50 {snap.latency_p50_s:.2f} s · p99 {_num(snap.latency_p99_s, '{:.2f}')} s "
        f"({snap.latency_count} in the last {LATENCY_WINDOW_S} s)"
    )


def summary_line(snap: Snapshot) -> str:
    """The snapshot as one log line (no terminal, or ``--no-dashboard``)."""
    firing = sum(1 for a in snap.alerts if a.get("state") == "firing")
    return (
        f"ingest {_num(snap.ingest_rate)}/s · classify {_num(snap.classify_rate)}/s · "
        f"stored {_num(snap.stored_rate)}/s · lag {_num(snap.consumer_lag, '{:.0f}')} · "
        f"latency {latency_text(snap)} · {_num(snap.stored_total, '{:,}')} classified in total · "
        f"{firing} alert(s) firing, {len(snap.received)} received"
    )


def _pipeline_panel(snap: Snapshot) -> Panel:
    table = Table(expand=True, box=None)
    table.add_column("stage")
    table.add_column("headlines/s", justify="right")
    table.add_column("this run / total", justify="right")
    table.add_column("")
    table.add_row(
        "ingest → Kafka", _num(snap.ingest_rate), _num(snap.ingest_total, "{:,.0f}"), "published"
    )
    table.add_row(
        "classify",
        _num(snap.classify_rate),
        _num(snap.classify_total, "{:,.0f}"),
        f"consumer lag {_num(snap.consumer_lag, '{:,.0f}')}",
    )
    table.add_row(
        "PostgreSQL views",
        _num(snap.stored_rate),
        _num(snap.stored_total, "{:,}"),
        "stored, all runs",
    )
    return Panel(
        Group(table, Text(f"ingest → classified latency: {latency_text(snap)}")),
        title="Pipeline",
    )


def _sentiment_panel(snap: Snapshot) -> Panel:
    table = Table(expand=True, box=None)
    for name, justify in (
        ("topic", "left"),
        ("headlines", "right"),
        ("negative", "right"),
        ("neutral", "right"),
        ("positive", "right"),
        ("neg. share", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for t in snap.topics[:SHOWN_TOPICS]:
        share = t.negative / t.headlines if t.headlines else 0.0
        style = "bold red" if share >= 0.5 and t.negative >= 10 else None
        table.add_row(
            t.topic,
            f"{t.headlines:,}",
            f"{t.negative:,}",
            f"{t.neutral:,}",
            f"{t.positive:,}",
            f"{share:.0%}",
            style=style,
        )
    return Panel(table, title=f"Sentiment by topic, last {SENTIMENT_MINUTES} min (v_headlines)")


def _alerts_panel(snap: Snapshot) -> Panel:
    lines: list[RenderableType] = []
    for a in snap.alerts:
        when = a.get("fired_at") or a.get("started_at")
        stamp = when.astimezone(UTC).strftime("%H:%M:%S") if when else ""
        colour = {"firing": "bold red", "pending": "yellow"}.get(str(a.get("state")), "green")
        lines.append(Text(f"{stamp}  {a.get('state'):<9} {a.get('topic')}", style=colour))
    if snap.received:
        lines.append(Text("received by the demo webhook receiver:", style="dim"))
        for record in snap.received[-SHOWN_ALERTS:][::-1]:
            stamp = str(record.get("received_at", ""))[11:19]
            lines.append(Text(f"{stamp}  {describe(record.get('payload', {}))}"))
    return Panel(Group(*lines) if lines else Text("no alerts yet"), title="Latest alerts")


def _status_panel(snap: Snapshot) -> Panel:
    lines = [Text(f"{name:<9} {state}") for name, state in snap.workers]
    for feed in snap.feeds:
        if feed.failures:
            retry = (
                feed.next_poll_after.astimezone().strftime("%H:%M") if feed.next_poll_after else ""
            )
            lines.append(
                Text(f"feed {feed.source}: unreachable ({feed.status}), retry {retry}", style="dim")
            )
        elif feed.last_success_at is not None:
            lines.append(Text(f"feed {feed.source}: ok", style="green"))
    return Panel(Group(*lines) if lines else Text("–"), title="Workers and sources")


def render(snap: Snapshot, header: str) -> RenderableType:
    return Group(
        Text(header, style="bold"),
        _pipeline_panel(snap),
        _sentiment_panel(snap),
        _alerts_panel(snap),
        _status_panel(snap),
    )
