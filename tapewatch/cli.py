"""The ``tapewatch`` command. Settings are read here, once, and passed down."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alerts.cli import app as alerts_app
from classify.cli import app as model_app
from tapewatch.entry import load_settings
from tapewatch.settings import Settings

app = typer.Typer(help="Tapewatch: financial-news sentiment monitor.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(model_app)  # train, eval, classify at the top level
worker_app = typer.Typer(help="Long-running pipeline workers.", no_args_is_help=True)
app.add_typer(worker_app, name="worker")
app.add_typer(alerts_app, name="alerts")
console = Console(stderr=True)


def _settings() -> Settings:
    return load_settings()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from storage.migrate import upgrade

    upgrade(_settings().resolved_database_url(), revision)
    console.print(f"[green]database at revision {revision}[/]")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="e.g. -1 or base")]) -> None:
    """Revert migrations down to REVISION."""
    from storage.migrate import downgrade

    downgrade(_settings().resolved_database_url(), revision)
    console.print(f"[yellow]database downgraded to {revision}[/]")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current migration revision."""
    from storage.migrate import current

    typer.echo(current(_settings().resolved_database_url()) or "(empty database)")


@app.command()
def config(
    markdown: Annotated[bool, typer.Option(help="Print the README's table.")] = False,
) -> None:
    """Show every setting: its environment variable, default and meaning."""
    from tapewatch.settings import settings_markdown, settings_table

    if markdown:
        typer.echo(settings_markdown())
        return
    table = Table("variable", "default", "meaning")
    for row in settings_table():
        table.add_row(*row)
    Console().print(table)


def _wait_for_stop() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


@app.command()
def up() -> None:
    """Start the pipeline's services locally and keep them running until Ctrl-C."""
    from tapewatch.stack import start_stack

    settings = _settings()
    with console.status("starting Kafka and PostgreSQL, applying migrations…"):
        stack = start_stack(settings)
    try:
        table = Table(title="Tapewatch is up", show_header=False)
        table.add_row("Kafka bootstrap", stack.kafka_bootstrap)
        table.add_row("PostgreSQL", stack.database_url)
        table.add_row("psql", f"psql '{stack.database_url.replace('+psycopg2', '')}'")
        table.add_row(
            "Topics", f"{settings.topic_raw}, {settings.topic_classified}, {settings.topic_dlq}"
        )
        table.add_row("Dashboard views", "v_headlines, v_topic_sentiment_5m")
        table.add_row("State", str(settings.state_dir))
        console.print(table)
        console.print("Press Ctrl-C to stop.")
        _wait_for_stop()
    finally:
        with console.status("stopping…"):
            stack.close()
        console.print("stopped; all data kept under", str(settings.state_dir))


@worker_app.command("ingest")
def worker_ingest() -> None:
    """Poll feeds, replay files and accept pushes; publish new headlines to Kafka."""
    from ingest.worker import run

    run(_settings())


@worker_app.command("classify")
def worker_classify() -> None:
    """Classify headlines from Kafka in micro-batches and store them in PostgreSQL."""
    from classify.agent import run

    run(_settings())


@worker_app.command("alerts")
def worker_alerts() -> None:
    """Evaluate spike rules on a schedule and deliver webhook notifications."""
    from alerts.worker import run

    run(_settings())


if __name__ == "__main__":
    app()
