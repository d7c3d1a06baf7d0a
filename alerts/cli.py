"""``tapewatch alerts …``: offline tools for the alert rules (the worker is ``tapewatch worker
alerts``). Imports stay light so the command starts fast."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

app = typer.Typer(help="Alert rules: replay them over stored history.", no_args_is_help=True)


def _when(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}") from exc
    # A time without a zone is read as UTC, the zone every stored timestamp is in.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@app.command("backtest")
def backtest_command(
    since: Annotated[str, typer.Option(help="Start, ISO 8601 (no zone: UTC).")],
    until: Annotated[str, typer.Option(help="End, ISO 8601 (no zone: UTC).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    model: Annotated[
        str | None,
        typer.Option(help="Read this model version's classifications (default: the active)."),
    ] = None,
) -> None:
    """List the alerts the rules would have fired over stored history, and each rule's
    precision against analysts' alert verdicts; sends nothing."""
    from rich.console import Console
    from rich.table import Table

    from alerts.backtest import backtest
    from alerts.precision import rule_precision
    from storage.db import make_engine
    from storage.feedback import stored_verdicts
    from tapewatch.entry import load_settings

    start, end = _when(since), _when(until)
    if end <= start:
        raise typer.BadParameter("--until must be after --since")
    settings = load_settings()
    engine = make_engine(settings.resolved_database_url())
    try:
        fired = backtest(engine, settings.alerts, start, end, model)
        precision = rule_precision(fired, stored_verdicts(engine, start, end), end)
    finally:
        engine.dispose()
    if as_json:
        for alert in fired:
            typer.echo(json.dumps(alert.as_dict()))
        # After the alerts, one line per rule that analysts judged: {"precision": {...}}.
        for rp in precision:
            if rp.judged:
                typer.echo(json.dumps({"precision": rp.as_dict()}))
        return
    table = Table(title=f"Alerts that would have fired: {len(fired)}")
    for column in ("topic", "fired at", "resolved at", "peak rate", "baseline", "min p"):
        table.add_column(column)
    for a in fired:
        table.add_row(
            a.topic,
            a.fired_at.isoformat(),
            a.resolved_at.isoformat() if a.resolved_at else "(still firing)",
            f"{a.peak_rate:.1%}",
            f"{a.baseline_rate:.1%}",
            f"{a.min_p_value:.2g}",
        )
    Console().print(table)
    scores = Table(title="Precision against analysts' verdicts")
    for column in ("rule", "fired", "judged", "useful", "false alarm", "precision"):
        scores.add_column(column)
    for rp in precision:
        shown = "n/a" if rp.precision is None else f"{rp.precision:.0%}"
        scores.add_row(
            rp.rule, str(rp.fired), str(rp.judged), str(rp.useful), str(rp.false_alarm), shown
        )
    Console().print(scores)
