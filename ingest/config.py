"""Ingest settings: the ``ingest`` section of :class:`tapewatch.settings.Settings`.

Environment: ``TAPEWATCH_INGEST__<FIELD>``, e.g. ``TAPEWATCH_INGEST__METRICS_PORT=9101``.
Structured fields take JSON, e.g.
``TAPEWATCH_INGEST__FEEDS='[{"name": "bbc-business", "url": "https://…", "interval_s": 300}]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, HttpUrl, field_validator

DEMO_REPLAY = Path(__file__).resolve().parent / "demo" / "headlines.jsonl"


class FeedSpec(BaseModel):
    """One RSS 2.0 / Atom feed polled on its own schedule."""

    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Source name: the `source` of its headlines, metric label, feed-state key.",
    )
    url: HttpUrl = Field(description="The feed's URL (http or https).")
    interval_s: float = Field(default=300.0, ge=1.0, description="Seconds between polls.")
    jitter_s: float = Field(
        default=30.0, ge=0.0, description="Random delay added to each poll (spreads load)."
    )


# Real public financial-news feeds (README, "Sources"). Outlets move feeds now and then; a feed
# that vanishes is counted as errors and backed off, it never stops the others.
DEFAULT_FEEDS: tuple[FeedSpec, ...] = (
    FeedSpec(
        name="cnbc-top-news",
        url="https://search.cnbc.com/rs/search/combinedcms/view.xml?partnerId=wrss01&id=100003114",
    ),
    FeedSpec(
        name="cnbc-finance",
        url="https://search.cnbc.com/rs/search/combinedcms/view.xml?partnerId=wrss01&id=10000664",
    ),
    FeedSpec(
        name="marketwatch-top-stories",
        url="https://feeds.content.dowjones.io/public/rss/mw_topstories",
    ),
    FeedSpec(name="yahoo-finance", url="https://finance.yahoo.com/news/rssindex"),
    FeedSpec(name="bbc-business", url="https://feeds.bbci.co.uk/news/business/rss.xml"),
    FeedSpec(name="nyt-business", url="https://rss.nytimes.com/services/xml/rss/nyt/Business.xml"),
    FeedSpec(
        name="federal-reserve-press",
        url="https://www.federalreserve.gov/feeds/press_all.xml",
        interval_s=900.0,
        jitter_s=60.0,
    ),
)


class IngestConfig(BaseModel):
    metrics_port: int = Field(
        default=9101, description="Prometheus metrics port of the ingest worker."
    )

    # --- sources ----------------------------------------------------------------------------
    feeds: list[FeedSpec] | None = Field(
        default=None,
        description=(
            "Feeds to poll, JSON: [{name, url, interval_s, jitter_s}]. Unset: the built-in "
            "public financial feeds (README, Sources); `[]`: none."
        ),
    )
    replay_path: Path | None = Field(
        default=DEMO_REPLAY,
        description="JSON Lines or CSV file replayed once at start (demos, backfills); empty: off.",
    )
    replay_source: str = Field(
        default="replay", min_length=1, description="Source name of replayed rows lacking one."
    )
    replay_speedup: float = Field(
        default=0.0,
        ge=0.0,
        description="Replay time compression: 60 plays an hour in a minute; 0: no pauses.",
    )
    replay_progress: bool = Field(default=False, description="Show a progress bar while replaying.")
    push_enabled: bool = Field(default=True, description="Serve the HTTP push endpoint.")
    push_host: str = Field(default="127.0.0.1", description="Address of the HTTP push endpoint.")
    push_port: int = Field(default=9111, ge=0, description="Port of the HTTP push endpoint.")
    push_max_items: int = Field(
        default=1000, ge=1, description="Most headlines accepted in one push request."
    )

    # --- HTTP fetching ------------------------------------------------------------------------
    user_agent: str = Field(
        default="tapewatch-ingest/0.1 (financial news monitor)",
        description="User-Agent sent to feeds (add a contact address for polite crawling).",
    )
    connect_timeout_s: float = Field(default=5.0, gt=0, description="HTTP connect timeout.")
    read_timeout_s: float = Field(
        default=10.0, gt=0, description="HTTP read timeout (longest silence between bytes)."
    )
    fetch_deadline_s: float = Field(
        default=30.0, gt=0, description="Whole-fetch limit: a slow-drip body is cut off after it."
    )
    hard_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="A poll still running after this is abandoned and counted as an error.",
    )
    max_body_bytes: int = Field(
        default=5_000_000, ge=1024, description="Largest (decompressed) feed body accepted."
    )
    max_redirects: int = Field(default=5, ge=0, description="Redirects followed per fetch.")
    host_min_interval_s: float = Field(
        default=1.0, ge=0, description="Politeness: least time between requests to one host."
    )
    backoff_base_s: float = Field(
        default=60.0, gt=0, description="First back-off after a failed poll; doubles per failure."
    )
    backoff_max_s: float = Field(default=3600.0, gt=0, description="Longest back-off.")

    # --- de-duplication -----------------------------------------------------------------------
    near_duplicate_max_distance: int = Field(
        default=4,
        ge=0,
        le=8,
        description="Titles whose 64-bit SimHashes differ in at most this many bits: one cluster.",
    )
    cluster_window_hours: float = Field(
        default=72.0, gt=0, description="How long a story stays open for near-duplicate copies."
    )
    max_future_skew_s: float = Field(
        default=86400.0,
        ge=0,
        description="Published times further ahead than this are invalid (fetch time is used).",
    )

    # --- publishing ---------------------------------------------------------------------------
    compression: Literal["gzip", "none"] = Field(
        default="gzip", description="Kafka producer compression."
    )
    linger_ms: int = Field(default=20, ge=0, description="Kafka producer batching delay.")
    publish_attempts: int = Field(
        default=3, ge=1, description="Rounds of re-sending undelivered headlines before giving up."
    )
    delivery_timeout_s: float = Field(
        default=60.0, gt=0, description="Longest wait for the broker to confirm one round."
    )

    @field_validator("replay_path", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # TAPEWATCH_INGEST__REPLAY_PATH= (empty) turns the replay off.
        return None if value == "" else value

    @field_validator("feeds")
    @classmethod
    def _unique_names(cls, feeds: list[FeedSpec] | None) -> list[FeedSpec] | None:
        names = [f.name for f in feeds or []]
        if len(names) != len(set(names)):
            raise ValueError("feed names must be unique")
        return feeds

    def effective_feeds(self) -> list[FeedSpec]:
        """The feeds to poll: the configured ones, or the built-in defaults when unset."""
        return list(DEFAULT_FEEDS) if self.feeds is None else list(self.feeds)
