"""Run Alembic programmatically: ``tapewatch db upgrade`` and the tests use these."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Passed as an attribute, not an ini option: '%' in passwords would break interpolation.
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def set_password(url: str, role: str, password: str) -> None:
    """Give a login role (one of the dashboard's two) its password, from the settings."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            # format() with %I and %L quotes the name and the secret; nothing is interpolated.
            statement = conn.execute(
                text("SELECT format('ALTER ROLE %I PASSWORD %L', :role, :password)"),
                {"role": role, "password": password},
            ).scalar_one()
            conn.execute(text(statement))
    finally:
        engine.dispose()
