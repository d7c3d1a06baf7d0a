"""Time ranges and grains shared by the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

# Range name -> (span in seconds, rollup grain in seconds): a few hundred points per topic at
# most, so every chart reads one index range of the rollup.
RANGES: dict[str, tuple[int, int]] = {
    "1h": (3600, 60),
    "6h": (6 * 3600, 300),
    "24h": (24 * 3600, 300),
    "7d": (7 * 86400, 3600),
    "30d": (30 * 86400, 3600),
}
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
# Where the Overview opens when the URL names no range: the shortest of these that holds the
# whole history, so a fresh install's first minutes fill the chart instead of its last sliver.
OPENING_RANGES = ("1h", "6h", "24h")


def floor_to(at: datetime, grain_s: int) -> datetime:
    """``at`` rounded down to its rollup bucket (the buckets are aligned like ``date_bin``)."""
    seconds = int((at - ORIGIN).total_seconds()) // grain_s * grain_s
    return ORIGIN + timedelta(seconds=seconds)


def grain_for(span_s: float) -> int:
    """The finest grain that keeps a span under about 400 points."""
    for grain in (60, 300, 3600):
        if span_s / grain <= 400:
            return grain
    return 3600


def buckets(start: datetime, end: datetime, grain_s: int) -> list[datetime]:
    """Every bucket from ``start`` (aligned) up to and including ``end``'s."""
    first, last = floor_to(start, grain_s), floor_to(end, grain_s)
    count = int((last - first).total_seconds()) // grain_s + 1
    return [first + timedelta(seconds=i * grain_s) for i in range(count)]


class RawJSON(str):
    """A value already encoded as JSON (by PostgreSQL), spliced into the answer as it is."""


def share(negative: Any, total: Any) -> float | None:
    """negative / total as a float (sums arrive as Decimal); None when nothing was counted."""
    return None if not total else round(float(negative or 0) / float(total), 4)


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


def series(
    rows: list[Any], grid: list[datetime], key: str = "topic"
) -> dict[str, dict[str, list[Any]]]:
    """Rows of (bucket or slot, <key>, headlines, negative) as aligned per-key arrays over
    ``grid``: volume (0 where nothing was published) and negative share (null there). A row with
    ``slot`` names its grid position itself (see overview.SERIES); one with ``bucket`` is
    looked up."""
    index = {at: i for i, at in enumerate(grid)}
    slotted = bool(rows) and "slot" in rows[0]._fields
    out: dict[str, dict[str, list[Any]]] = {}
    for row in rows:
        i = row.slot if slotted else index.get(row.bucket)
        if i is None or not 0 <= i < len(grid):
            continue
        name = getattr(row, key)
        entry = out.get(name)
        if entry is None:  # not setdefault: that would build two grid-long lists per row
            entry = out[name] = {"headlines": [0] * len(grid), "negative": [0] * len(grid)}
        entry["headlines"][i] += int(row.headlines)
        entry["negative"][i] += int(row.negative)
    for entry in out.values():
        entry["share"] = [
            share(n, t) for n, t in zip(entry["negative"], entry["headlines"], strict=True)
        ]
    return out
