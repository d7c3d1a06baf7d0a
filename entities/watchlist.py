"""The watchlist: the entities whose news Tapewatch follows, loaded from a YAML or CSV file.

An entity has a canonical ``id`` (stable: rows and alerts are keyed by it), a display ``name``,
``tickers`` and name ``aliases``. The name itself is always an alias. Aliases that are also
ordinary words ("Shell", "Target", "Apple") belong in ``case_sensitive_aliases``: they match
only with exactly that capitalisation, so "shell companies" is not news about Shell plc.

YAML::

    entities:
      - id: shell
        name: Shell plc
        tickers: [SHEL]
        aliases: [Royal Dutch Shell]
        case_sensitive_aliases: [Shell]

CSV (header ``id,name,tickers,aliases,case_sensitive_aliases``; list cells separated by ``|``)::

    shell,Shell plc,SHEL,Royal Dutch Shell,Shell
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
TICKER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,15}$")
LIST_SEPARATOR = "|"


class WatchlistError(ValueError):
    """The watchlist file is missing, unreadable or has an invalid entry; the message says where."""


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    name: str
    tickers: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    case_sensitive_aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "tickers": list(self.tickers)}


@dataclass(frozen=True, slots=True)
class Watchlist:
    entities: tuple[Entity, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.entities)

    def by_id(self) -> dict[str, Entity]:
        return {e.id: e for e in self.entities}


def load_watchlist(path: Path) -> Watchlist:
    """Read and validate a watchlist; ``.yaml``/``.yml`` or ``.csv`` by the file's suffix."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WatchlistError(f"{path}: cannot read the watchlist ({exc.strerror})") from exc
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        records = _yaml_records(path, raw)
    elif suffix == ".csv":
        records = _csv_records(raw)
    else:
        raise WatchlistError(f"{path}: a watchlist is a .yaml, .yml or .csv file")
    entities: list[Entity] = []
    seen: set[str] = set()
    for where, record in records:
        entity = _entity(f"{path}: {where}", record)
        if entity.id in seen:
            raise WatchlistError(f"{path}: {where}: duplicate id {entity.id!r}")
        seen.add(entity.id)
        entities.append(entity)
    return Watchlist(tuple(entities))


def _yaml_records(path: Path, raw: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise WatchlistError(f"{path}: not valid YAML ({exc})") from exc
    items = doc.get("entities") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise WatchlistError(f"{path}: expected a top-level 'entities:' list")
    out = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise WatchlistError(f"{path}: entry {i}: expected a mapping")
        out.append((f"entry {i}", item))
    return out


def _csv_records(raw: str) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(raw.splitlines())
    out = []
    for line, row in enumerate(reader, start=2):
        record: dict[str, Any] = {"id": row.get("id"), "name": row.get("name")}
        for key in ("tickers", "aliases", "case_sensitive_aliases"):
            cell = (row.get(key) or "").strip()
            record[key] = [v.strip() for v in cell.split(LIST_SEPARATOR) if v.strip()]
        out.append((f"line {line}", record))
    return out


def _strings(where: str, record: dict[str, Any], key: str) -> tuple[str, ...]:
    value = record.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise WatchlistError(f"{where}: {key!r} must be a list of non-empty strings")
    return tuple(dict.fromkeys(v.strip() for v in value))  # de-duplicated, order kept


def _entity(where: str, record: dict[str, Any]) -> Entity:
    entity_id = str(record.get("id") or "").strip()
    name = str(record.get("name") or "").strip()
    if not ID_PATTERN.match(entity_id):
        raise WatchlistError(
            f"{where}: id {entity_id!r} must be 1-64 lower-case letters, digits, '_', '.', '-'"
        )
    if not name:
        raise WatchlistError(f"{where}: entity {entity_id!r} has no name")
    tickers = tuple(t.upper() for t in _strings(where, record, "tickers"))
    for ticker in tickers:
        if not TICKER_PATTERN.match(ticker):
            raise WatchlistError(f"{where}: ticker {ticker!r} of {entity_id!r} is not a ticker")
    return Entity(
        id=entity_id,
        name=name,
        tickers=tickers,
        aliases=_strings(where, record, "aliases"),
        case_sensitive_aliases=_strings(where, record, "case_sensitive_aliases"),
    )
