"""PostgreSQL storage: typed tables, Alembic migrations, the dashboard views and bulk writes."""

from storage.db import make_engine, session_scope
from storage.migrate import downgrade, upgrade

__all__ = ["downgrade", "make_engine", "session_scope", "upgrade"]
