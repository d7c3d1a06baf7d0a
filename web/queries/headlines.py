"""Headlines: newest first, filtered, searched, with syndicated copies folded under one row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from web.queries.common import iso

COLUMNS = (
    "id, source, url, title, published_at, ingested_at, tickers, cluster_id, topic, "
    "topic_confidence, sentiment, sentiment_confidence, negative_probability, model_version, "
    "classified_at"
)
# Written as the index is (migration 0004), so PostgreSQL pushes it down into v_headlines.
SEARCH = "to_tsvector('english', title) @@ websearch_to_tsquery('english', :q)"
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
        if self.q and self.q.strip():
            clauses.append(SEARCH)
            params["q"] = self.q.strip()
        for name, op in (("since", ">="), ("until", "<"), ("after", ">")):
            value = getattr(self, name)
            if value is not None:
                clauses.append(f"published_at {op} :{name}")
                params[name] = value
        return (" AND ".join(clauses) or "true"), params


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
    where, params = flt.where()
    # Live polls read oldest-first after the cursor, so a burst larger than one page is
    # caught up over the next polls instead of skipped.
    order = "ASC" if flt.after is not None else "DESC"
    sql = text(
        f"SELECT {COLUMNS} FROM v_headlines WHERE {where} "
        f"ORDER BY published_at {order}, id {order} LIMIT :limit"
    )
    rows = [_row(r) for r in conn.execute(sql, params | {"limit": limit})]
    if flt.after is not None:
        rows.reverse()
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
