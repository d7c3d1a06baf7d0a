"""Engine factory and the one-session-per-unit-of-work helper."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    # pool_pre_ping: a worker must survive PostgreSQL restarts without stale-connection errors.
    return create_engine(url, pool_size=pool_size, pool_pre_ping=True, future=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine) as session, session.begin():
        yield session
