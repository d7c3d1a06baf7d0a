"""De-duplication: stable headline ids, the persistent seen-set, and near-duplicate clusters.

* The id is a hash of the canonical URL, or of source + normalised title when there is none,
  so re-polling a feed yields the same ids.
* The seen-set is the ``ingest_seen`` table: an id is recorded only after Kafka confirmed the
  headline, and consulted before publishing, so a restart re-publishes nothing.
* Copies of one story syndicated across outlets have different URLs (so different ids) but
  near-identical titles; a 64-bit SimHash of the title's significant words, compared within a
  Hamming distance, links them under the ``cluster_id`` of the first copy seen.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Engine, select, text

from ingest.normalize import similarity_tokens
from storage.db import session_scope
from storage.models import SeenHeadline

ID_HEX_CHARS = 32  # 128 bits: collisions are out of the question at any news volume
_MASK64 = (1 << 64) - 1


def headline_id(canonical_url: str | None, source: str, title: str) -> str:
    """Stable id: hash of the canonical URL, else of source + case-folded normalised title."""
    key = f"url\x00{canonical_url}" if canonical_url else f"title\x00{source}\x00{title.casefold()}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:ID_HEX_CHARS]


@functools.lru_cache(maxsize=1 << 16)  # headline vocabulary repeats: most words hit the cache
def _feature_hash(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")


def simhash64(title: str) -> int:
    """Unsigned 64-bit SimHash of a title's significant words and word pairs.

    Bit ``i`` is set when more than half of the features' 64-bit hashes have bit ``i`` set
    (every feature weighs the same).
    """
    tokens = similarity_tokens(title)
    features = set(tokens) | {f"{a} {b}" for a, b in itertools.pairwise(tokens)}
    if not features:
        return 0
    hashes = np.fromiter((_feature_hash(f) for f in features), dtype="<u8", count=len(features))
    # Count, per bit position, the features that have it set (numpy: ~50x a Python loop).
    ones = np.unpackbits(hashes.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little").sum(0)
    bits = (ones * 2 > len(features)).astype(np.uint8)
    return int(np.packbits(bits, bitorder="little").view("<u8")[0])


def to_signed64(value: int) -> int:
    """PostgreSQL BIGINT is signed; store the same 64 bits as a signed integer."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def from_signed64(value: int) -> int:
    return value & _MASK64


@dataclass(frozen=True)
class _Entry:
    simhash: int
    cluster_id: str
    seen_at: datetime


class SimIndex:
    """Recent SimHashes searchable within a Hamming distance ``k`` (multi-index hashing).

    The 64 bits are cut into ``k + 1`` bands; two hashes within distance ``k`` agree exactly on at
    least one band (pigeonhole), so only hashes sharing a band value are compared. Entries older
    than ``window`` are evicted: a story is open for copies for a bounded time.
    """

    def __init__(self, max_distance: int, window: timedelta) -> None:
        self.max_distance = max_distance
        self.window = window
        bands = max_distance + 1
        widths = [64 // bands + (1 if i < 64 % bands else 0) for i in range(bands)]
        self._bands: list[tuple[int, int]] = []
        shift = 0
        for width in widths:
            self._bands.append((shift, (1 << width) - 1))
            shift += width
        self._tables: list[dict[int, list[_Entry]]] = [{} for _ in self._bands]
        self._order: deque[_Entry] = deque()

    def __len__(self) -> int:
        return len(self._order)

    def find(self, simhash: int) -> str | None:
        """The cluster of the nearest indexed hash within the distance, if any."""
        best: tuple[int, str] | None = None
        for (shift, mask), table in zip(self._bands, self._tables, strict=True):
            for entry in table.get((simhash >> shift) & mask, ()):
                distance = (entry.simhash ^ simhash).bit_count()
                if distance <= self.max_distance and (best is None or distance < best[0]):
                    best = (distance, entry.cluster_id)
        return None if best is None else best[1]

    def add(self, simhash: int, cluster_id: str, seen_at: datetime) -> None:
        entry = _Entry(simhash, cluster_id, seen_at)
        self._order.append(entry)
        for (shift, mask), table in zip(self._bands, self._tables, strict=True):
            table.setdefault((simhash >> shift) & mask, []).append(entry)
        self.evict(seen_at)

    def evict(self, now: datetime) -> None:
        horizon = now - self.window
        while self._order and self._order[0].seen_at < horizon:
            old = self._order.popleft()
            for (shift, mask), table in zip(self._bands, self._tables, strict=True):
                key = (old.simhash >> shift) & mask
                bucket = table.get(key)
                if bucket is not None:
                    bucket.remove(old)
                    if not bucket:
                        del table[key]


_INSERT_SEEN = text(
    "INSERT INTO ingest_seen (id, source, simhash, cluster_id, first_seen_at) "
    "SELECT * FROM unnest(CAST(:id AS text[]), CAST(:source AS text[]), "
    "CAST(:simhash AS bigint[]), CAST(:cluster_id AS text[]), "
    "CAST(:first_seen_at AS timestamptz[])) "
    "ON CONFLICT (id) DO NOTHING"
)


@dataclass(frozen=True)
class SeenRecord:
    id: str
    source: str
    simhash: int
    cluster_id: str
    seen_at: datetime


class SeenStore:
    """The persistent seen-set (``ingest_seen``) plus the in-memory SimHash index over it."""

    def __init__(self, engine: Engine, index: SimIndex) -> None:
        self.engine = engine
        self.index = index
        self._lock = threading.Lock()

    def load_recent(self, now: datetime) -> int:
        """Rebuild the SimHash index from the recent part of the seen-set (after a restart)."""
        horizon = now - self.index.window
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(SeenHeadline.simhash, SeenHeadline.cluster_id, SeenHeadline.first_seen_at)
                .where(SeenHeadline.first_seen_at >= horizon)
                .order_by(SeenHeadline.first_seen_at)
            ).all()
        with self._lock:
            for simhash, cluster_id, seen_at in rows:
                self.index.add(from_signed64(simhash), cluster_id, seen_at)
        return len(rows)

    def already_seen(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with session_scope(self.engine) as session:
            return set(
                session.scalars(select(SeenHeadline.id).where(SeenHeadline.id.in_(list(ids))))
            )

    def find_cluster(self, simhash: int) -> str | None:
        with self._lock:
            return self.index.find(simhash)

    def record(self, records: Iterable[SeenRecord]) -> None:
        """Mark published headlines as seen (idempotent: a re-published id keeps its first row)."""
        rows = [
            {
                "id": r.id,
                "source": r.source,
                "simhash": to_signed64(r.simhash),
                "cluster_id": r.cluster_id,
                "first_seen_at": r.seen_at,
            }
            for r in records
        ]
        if not rows:
            return
        with session_scope(self.engine) as session:
            # One statement over arrays: far cheaper than a row-by-row executemany.
            session.execute(
                _INSERT_SEEN,
                {key: [row[key] for row in rows] for key in rows[0]},
            )
        with self._lock:
            for r in sorted(rows, key=lambda row: row["first_seen_at"]):
                self.index.add(from_signed64(r["simhash"]), r["cluster_id"], r["first_seen_at"])
