"""The ``tapewatch`` command. Settings are read here, once, and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alerts.cli import app as alerts_app
from classify.cli import app as model_app
from classify.lifecycle_cli import feedback_app, models_app, reclassify_command
from tapewatch.entry import load_settings
from tapewatch.settings import Settings

app = typer.Typer(help="Tapewatch: financial-news sentiment monitor.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(model_app)  # train, eval, classify at the top level
worker_app = typer.Typer(help="Long-running pipeline workers.", no_args_is_help=True)
app.add_typer(worker_app, name="worker")
app.add_typer(alerts_app, name="alerts")
app.add_typer(models_app, name="models")
app.add_typer(feedback_app, name="feedback")
app.command("reclassify")(reclassify_command)
console = Console(stderr=True)


def _settings() -> Settings:
    return load_settings()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from storage.migrate import upgrade

    settings = _settings()
    upgrade(settings.resolved_database_url(), revision)
    from storage.migrate import set_password
    from web.feedback import FEEDBACK_USER

    logins = (
        (settings.web.readonly_user, settings.web.readonly_password),
        (FEEDBACK_USER, settings.web.feedback_password),
    )
    for role, password in logins:
        if password is not None:
            set_password(settings.resolved_database_url(), role, password.get_secret_value())
            console.print(f"[green]password of {role} set[/]")
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


@app.command()
def up(
    demo: Annotated[
        bool, typer.Option(help="Replay labelled headlines with an alert scenario (docs/demo.md).")
    ] = True,
    feeds: Annotated[bool, typer.Option(help="Poll the real public feeds.")] = True,
    dashboard: Annotated[
        bool | None,
        typer.Option(
            help="Live terminal view; --no-dashboard logs a summary line every 10 s instead. "
            "Default: on when the output is a terminal.",
            show_default=False,
        ),
    ] = None,
    receiver_port: Annotated[
        int, typer.Option(help="Port of the demo webhook receiver (loopback).")
    ] = 9120,
    demo_rate: Annotated[float, typer.Option(help="Demo headlines per second.")] = 20.0,
    demo_burst_after: Annotated[
        float, typer.Option(help="Seconds until the demo topic turns negative.")
    ] = 60.0,
    demo_backfill_minutes: Annotated[
        float, typer.Option(help="Minutes of demo history written at the first start.")
    ] = 60.0,
    started_at: Annotated[
        float | None,
        typer.Option(
            envvar="TAPEWATCH_STARTED_AT",
            hidden=True,
            help="Unix time `make run` began (for the time to the first classified headline).",
        ),
    ] = None,
) -> None:
    """Start the whole pipeline locally (stack, workers, demo, live view) until Ctrl-C."""
    from tapewatch.supervisor import UpOptions, run_up

    options = UpOptions(
        demo=demo,
        feeds=feeds,
        dashboard=dashboard,
        receiver_port=receiver_port,
        demo_rate=demo_rate,
        demo_burst_after_s=demo_burst_after,
        demo_backfill_minutes=demo_backfill_minutes,
        started_at=started_at,
    )
    run_up(_settings(), options, console)


@app.command("web")
def web_command(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default TAPEWATCH_WEB__HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default TAPEWATCH_WEB__PORT, 8000).")
    ] = None,
) -> None:
    """Serve the web dashboard: overview, alerts, headlines, pipeline and the JSON API."""
    from web.server import run

    settings = _settings()
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update={"web": settings.web.model_copy(update=overrides)})
    run(settings)


@worker_app.command("ingest")
def worker_ingest() -> None:
    """Poll feeds, replay files and accept pushes; publish new headlines to Kafka."""
    from ingest.worker import run

    run(_settings())


@worker_app.command("classify")
def worker_classify(
    shadow: Annotated[
        Path | None,
        typer.Option(
            help="Run this model in shadow: its own consumer group, rows under its own version, "
            "nothing published; dashboards and alerts ignore it until it is activated."
        ),
    ] = None,
    standby: Annotated[
        bool,
        typer.Option(
            help="Warm standby: load the model, then wait for the worker slot "
            "(TAPEWATCH_CLASSIFY__WORKER_SLOT, default 0) and take over the moment the worker "
            "holding it dies."
        ),
    ] = False,
) -> None:
    """Classify headlines from Kafka in micro-batches and store them in PostgreSQL."""
    from classify.agent import run

    settings = _settings()
    if shadow is None:
        run(settings, standby=standby)
        return
    from classify.registration import shadow_settings

    run(shadow_settings(settings, shadow), shadow=True, standby=standby)


@worker_app.command("alerts")
def worker_alerts() -> None:
    """Evaluate spike rules on a schedule and deliver webhook notifications."""
    from alerts.worker import run

    run(_settings())


if __name__ == "__main__":
    app()
