"""Headlines: newest first, filtered, searched, with syndicated copies folded under one row."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from web.queries.common import iso
from web.queries.entities import named_entities

COLUMNS = (
    "id, source, url, title, published_at, ingested_at, tickers, cluster_id, topic, "
    "topic_confidence, sentiment, sentiment_confidence, negative_probability, model_version, "
    "classified_at"
)
# The stored search vector (migration 0006): testing a row reads it instead of parsing the title.
SEARCH = "title_tsv @@ websearch_to_tsquery('english', :q)"
# A search or ticker filter looks back this far from its newest end first, then further, until
# a page is full. PostgreSQL cannot know how rare a phrase of common words (or a ticker) is:
# unbounded, it walks newest-first through everything when matches are rare, or fetches every
# match of a common word to sort them. Bounded, each step reads one time range, and a full page
# from a narrow range is the same page the whole history would give. A match that is still
# short of a page after the last window is rare, so the final, unbounded step collects all its
# matches through the GIN index first (a materialized CTE: no newest-first walk) and sorts them.
# A ticker does that at every step: tickers are sparse, and PostgreSQL's estimate for one it
# has no statistics on (an absent one) made it walk two weeks newest-first (EXPLAIN ANALYZE at
# 10 M rows: over 5 s, against 15 ms through the GIN index). A word search keeps the walk,
# which the stored vectors make cheap (a phrase 1 in 1,400 rows: 59 ms for a page over 6 h),
# where reading a common word's whole GIN posting list cost 0.3-0.7 s.
SEARCH_WINDOWS = (timedelta(hours=6), timedelta(days=2), timedelta(days=14))
# An entity filter: the ids of every headline naming it, collected through the entity's index
# first (an entity has a few headlines a day), then the page read by primary key. Walking the
# history newest-first and testing each headline would read all of it for a quiet entity.
ENTITY = "id = ANY(ARRAY(SELECT id FROM v_entity_headlines WHERE entity_id = :entity))"
COPIES = text(
    """
    SELECT id, source, url, title, published_at, cluster_id FROM v_headlines
    WHERE cluster_id = ANY(:clusters) AND NOT (id = ANY(:shown))
    ORDER BY published_at DESC LIMIT 500
    """
)


@dataclass(frozen=True)
class HeadlineFilter:
    """What the Headlines page filters on; every field optional."""

    topic: str | None = None
    sentiment: str | None = None
    source: str | None = None
    ticker: str | None = None
    q: str | None = None
    since: datetime | None = None  # published at or after
    until: datetime | None = None  # published before (also the cursor to older pages)
    after: datetime | None = None  # published after (what a live page polls for)
    entity: str | None = None  # a watchlist entity id: headlines naming it

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses, params = [], {}
        for name in ("topic", "sentiment", "source"):
            value = getattr(self, name)
            if value:
                clauses.append(f"{name} = :{name}")
                params[name] = value
        if self.ticker:
            clauses.append("tickers @> ARRAY[CAST(:ticker AS varchar)]")
            params["ticker"] = self.ticker.upper()
        if self.entity:
            clauses.append(ENTITY)
            params["entity"] = self.entity
        if self.q and self.q.strip():
            clauses.append(SEARCH)
            params["q"] = self.q.strip()
        for name, op in (("since", ">="), ("until", "<"), ("after", ">")):
            value = getattr(self, name)
            if value is not None:
                clauses.append(f"published_at {op} :{name}")
                params[name] = value
        return (" AND ".join(clauses) or "true"), params

    def view(self) -> str:
        """The view to read (migration 0006): a topic filter tests the counted classification,
        which ``v_classified_headlines`` reaches through the (topic, sentiment, published_at)
        index instead of testing headline after headline; a search needs ``title_tsv``."""
        if self.topic:
            return "v_classified_headlines"
        return "v_headline_search" if self.searching else "v_headlines"

    @property
    def searching(self) -> bool:
        return bool(self.q and self.q.strip())

    def windows(self, now: datetime) -> list[HeadlineFilter]:
        """This filter as the steps of a search (each bounded further back), or as itself."""
        if not (self.searching or self.ticker) or self.after is not None:
            return [self]  # live polls read the few rows after their cursor anyway
        end = self.until or now
        steps = []
        for back in SEARCH_WINDOWS:
            if self.since is not None and end - back <= self.since:
                break
            steps.append(replace(self, since=end - back))
        return [*steps, self]  # the last step is the whole filter: nothing is left out


def _row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "source": r.source,
        "url": r.url,
        "title": r.title,
        "published_at": iso(r.published_at),
        "ingested_at": iso(r.ingested_at),
        "tickers": list(r.tickers or []),
        "cluster_id": r.cluster_id,
        "topic": r.topic,
        "topic_confidence": r.topic_confidence,
        "sentiment": r.sentiment,
        "sentiment_confidence": r.sentiment_confidence,
        "negative_probability": r.negative_probability,
        "model_version": r.model_version,
        "classified_at": iso(r.classified_at),
        "copies": [],
    }


def fold(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Syndicated copies (same ``cluster_id``) under the newest of them; order kept."""
    heads: dict[str, dict[str, Any]] = {}
    out = []
    for row in rows:
        cluster = row["cluster_id"] or row["id"]
        head = heads.get(cluster)
        if head is None:
            heads[cluster] = row
            out.append(row)
        else:
            head["copies"].append(_copy(row))
    return out


def _copy(r: Any) -> dict[str, Any]:
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    published = get("published_at")
    return {
        "id": get("id"),
        "source": get("source"),
        "url": get("url"),
        "title": get("title"),
        "published_at": published if isinstance(published, str) else iso(published),
    }


def headlines(conn: Connection, flt: HeadlineFilter, limit: int) -> dict[str, Any]:
    # Live polls read oldest-first after the cursor, so a burst larger than one page is
    # caught up over the next polls instead of skipped.
    order = "ASC" if flt.after is not None else "DESC"
    steps = flt.windows(datetime.now(UTC))
    for n, step in enumerate(steps, 1):
        where, params = step.where()
        select = f"SELECT {COLUMNS} FROM {step.view()} WHERE {where}"
        if step.ticker or step.entity or (n > 1 and n == len(steps)):  # every match, then sort
            select = f"WITH m AS MATERIALIZED ({select}) SELECT * FROM m"
        sql = text(f"{select} ORDER BY published_at {order}, id {order} LIMIT :limit")
        rows = [_row(r) for r in conn.execute(sql, params | {"limit": limit})]
        if len(rows) == limit:
            break
    if flt.after is not None:
        rows.reverse()
    named = named_entities(conn, [r["id"] for r in rows])
    for r in rows:
        r["entities"] = named.get(r["id"], [])
    items = fold(rows)
    clusters = sorted({i["cluster_id"] for i in items if i["cluster_id"]})
    if clusters:
        shown = [r["id"] for r in rows]
        by_cluster = {i["cluster_id"]: i for i in items if i["cluster_id"]}
        for c in conn.execute(COPIES, {"clusters": clusters, "shown": shown}):
            by_cluster[c.cluster_id]["copies"].append(_copy(c))
    return {
        "items": items,
        "count": len(rows),
        "newest": rows[0]["published_at"] if rows else None,
        "oldest": rows[-1]["published_at"] if rows else None,
    }
