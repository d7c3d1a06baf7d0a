"""The dashboard's database access: a read-only role, read-only transactions, bounded queries."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, make_url, text

from web.config import WebConfig

# Any of these being true means the role could read the tables behind the views or write
# them: the dashboard refuses to start with such a role (it only ever needs the views).
PRIVILEGE_CHECK = text(
    """
    SELECT has_table_privilege('headlines', 'SELECT')
        OR has_table_privilege('headlines', 'INSERT')
        OR has_table_privilege('classifications', 'UPDATE')
        OR has_table_privilege('alerts', 'SELECT')
    """
)


class NotReadOnlyError(RuntimeError):
    """The configured dashboard role can do more than read the dashboard views."""


def readonly_url(config: WebConfig, database_url: str) -> str:
    """The configured read-only URL, or the main database's with the read-only login role."""
    if config.database_url is not None:
        return config.database_url.get_secret_value()
    url = make_url(database_url).set(username=config.readonly_user, password=None)
    if config.readonly_password is not None:
        url = url.set(password=config.readonly_password.get_secret_value())
    return url.render_as_string(hide_password=False)


def make_readonly_engine(url: str, config: WebConfig) -> Engine:
    # Read-only at the session level too: a view that someone later makes writable still
    # cannot be written through this engine. The statement timeout bounds a bad query.
    options = f"-c default_transaction_read_only=on -c statement_timeout={config.query_timeout_ms}"
    return create_engine(
        url,
        pool_size=4,
        max_overflow=4,
        pool_pre_ping=True,
        connect_args={"options": options, "application_name": "tapewatch-web"},
    )


def check_read_only(engine: Engine) -> None:
    """Raise :class:`NotReadOnlyError` unless the role sees the views and nothing more."""
    with engine.connect() as conn:
        if conn.execute(PRIVILEGE_CHECK).scalar():
            user = conn.execute(text("SELECT current_user")).scalar()
            raise NotReadOnlyError(
                f"the dashboard connects as {user!r}, which can read or write the tables; "
                "use a member of tapewatch_readonly (TAPEWATCH_WEB__DATABASE_URL)"
            )


def query(engine: Engine, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run one page's reads on one connection; the answer says how long they took."""
    started = time.perf_counter()
    with engine.connect() as conn:
        answer = fn(conn, *args)
    answer["query_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return answer
