"""``tapewatch reclassify``, ``tapewatch models …`` and ``tapewatch feedback …``: the model
lifecycle from the command line. Imports stay light so ``--help`` starts fast; torch loads only
where a model runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alerts.cli import _when
from tapewatch.entry import load_settings

models_app = typer.Typer(
    help="Model versions: list, activate (promote or roll back), compare.", no_args_is_help=True
)
feedback_app = typer.Typer(help="Analyst feedback: export corrections.", no_args_is_help=True)
console = Console(stderr=True)

EARLIEST = "2000-01-01T00:00:00+00:00"


def reclassify_command(
    model: Annotated[Path, typer.Option(help="Model directory to classify with.")],
    since: Annotated[
        str, typer.Option(help="Published at or after, ISO 8601 (no zone: UTC).")
    ] = EARLIEST,
    until: Annotated[
        str | None, typer.Option(help="Published before, ISO 8601 (default: now).")
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=4096, help="Headlines per page: one read, one write.")
    ] = 512,
    max_rate: Annotated[
        float | None, typer.Option(min=1, help="At most this many headlines a second.")
    ] = None,
) -> None:
    """Run stored headlines through MODEL and store the results under its version.

    Resumable: stop it any time and run the same command again; headlines the version already
    classified are skipped. The dashboards and alerts change only if the version is active.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from classify.loader import load_predictor
    from classify.reclassify import Window, reclassify
    from entities.tagger import EntityTagger
    from storage import model_versions
    from storage.db import make_engine

    settings = load_settings()
    window = Window(_when(since), _when(until) if until else datetime.now(UTC))
    predictor = load_predictor(settings, model)
    # The watchlist's entities too, as the live stage tags them (None: no watchlist set).
    tagger = EntityTagger.from_config(
        settings.entities, device=settings.device, workers=settings.cpu_workers
    )
    # One connection of its own: the live workers' pools are untouched.
    engine = make_engine(settings.resolved_database_url(), pool_size=1)
    model_versions.register(engine, predictor.version, model, activate_if_none=False)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>6.0f} headlines/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    done = None
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(f"reclassify {predictor.version}", total=None, rate=0.0)

            def on_page(p: object) -> None:
                bar.update(
                    task,
                    total=p.pending,  # type: ignore[attr-defined]
                    completed=p.stored + p.unclassifiable,  # type: ignore[attr-defined]
                    rate=p.rate,  # type: ignore[attr-defined]
                )

            done = reclassify(
                engine,
                predictor,
                window,
                page_size=batch_size,
                max_rate=max_rate,
                on_page=on_page,
                tag=tagger.tag if tagger is not None else None,
            )
    except KeyboardInterrupt:
        console.print("[yellow]stopped; run the same command again to resume[/]")
        raise typer.Exit(130) from None
    finally:
        engine.dispose()
    console.print(
        f"[green]{done.stored} classifications stored under {predictor.version}[/] "
        f"in {done.seconds:.1f} s ({done.rate:.0f} headlines/s; inference "
        f"{done.inference_seconds:.1f} s, writes {done.write_seconds:.1f} s), "
        f"{done.unclassifiable} unclassifiable"
        + (f"; {done.entity_rows} watchlist entity rows" if tagger is not None else "")
    )
    typer.echo(
        json.dumps(
            {
                "model_version": predictor.version,
                "stored": done.stored,
                "unclassifiable": done.unclassifiable,
                "entity_rows": done.entity_rows,
                "seconds": round(done.seconds, 3),
                "headlines_per_s": round(done.rate, 1),
            }
        )
    )


@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Registered versions, the active one first, with their stored classifications."""
    from storage import model_versions
    from storage.db import make_engine

    engine = make_engine(load_settings().resolved_database_url(), pool_size=1)
    try:
        versions = model_versions.list_versions(engine)
        history = model_versions.activations(engine, limit=5)
    finally:
        engine.dispose()
    if as_json:
        for v in versions:
            doc = {
                "version": v.version,
                "name": v.name,
                "active": v.active,
                "loaded_from": v.loaded_from,
                "classifications": v.classifications,
                "metrics": v.metrics,
                "registered_at": v.registered_at.isoformat(),
                "activated_at": v.activated_at.isoformat() if v.activated_at else None,
            }
            typer.echo(json.dumps(doc))
        return
    table = Table(title="Model versions")
    for column in ("", "version", "name", "classified", "topic acc", "sentiment acc", "since"):
        table.add_column(column)
    for v in versions:
        table.add_row(
            "*" if v.active else "",
            v.version,
            v.name or "",
            str(v.classifications),
            _metric(v.metrics, "topic"),
            _metric(v.metrics, "sentiment"),
            (v.activated_at if v.active and v.activated_at else v.registered_at).isoformat(
                timespec="seconds"
            ),
        )
    Console().print(table)
    for a in history:
        Console().print(
            f"{a.activated_at.isoformat(timespec='seconds')}  {a.previous_version or '-'} -> "
            f"{a.version}  by {a.activated_by}  ({a.reason or 'no reason given'})"
        )


def _metric(metrics: dict, head: str) -> str:
    value = (metrics.get(head) or {}).get("accuracy")
    return f"{value:.4f}" if isinstance(value, float) else ""


@models_app.command("activate")
def models_activate(
    version: Annotated[str, typer.Argument(help="Version hash (a unique prefix is enough).")],
    reason: Annotated[str | None, typer.Option(help="Recorded with the switch.")] = None,
) -> None:
    """Make VERSION the one dashboards and alerts read; atomic and recorded."""
    from storage import model_versions
    from storage.db import make_engine

    engine = make_engine(load_settings().resolved_database_url(), pool_size=1)
    try:
        done = model_versions.activate(engine, version, reason=reason)
    except model_versions.ModelVersionError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    console.print(
        f"[green]{done.version} active[/] (was {done.previous or 'none'}); "
        f"rollup rebuilt in {done.rebuild_ms:.0f} ms"
    )


@models_app.command("rollback")
def models_rollback(
    reason: Annotated[str | None, typer.Option(help="Recorded with the switch.")] = "rollback",
) -> None:
    """Activate the version that was active before the current one."""
    from storage import model_versions
    from storage.db import make_engine

    engine = make_engine(load_settings().resolved_database_url(), pool_size=1)
    try:
        previous = model_versions.previous_version(engine)
        done = model_versions.activate(engine, previous, reason=reason)
    except model_versions.ModelVersionError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    console.print(f"[green]{done.version} active again[/] (was {done.previous})")


@models_app.command("diff")
def models_diff(
    a: Annotated[str, typer.Argument(help="First version (a unique prefix is enough).")],
    b: Annotated[str, typer.Argument(help="Second version.")],
    since: Annotated[
        str | None, typer.Option(help="Start, ISO 8601 (default: 24 hours before --until).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="End, ISO 8601 (default: now).")] = None,
    limit: Annotated[int, typer.Option(help="Disagreements and topic swaps to list.")] = 10,
    alerts: Annotated[bool, typer.Option(help="Backtest the alert rules under each.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="The report as one JSON object.")] = False,
) -> None:
    """Compare two versions over the headlines both classified: agreement, confusion, the
    biggest disagreements, and the alerts each would have fired."""
    from classify.diff import diff
    from storage import model_versions
    from storage.db import make_engine, session_scope

    settings = load_settings()
    end = _when(until) if until else datetime.now(UTC)
    start = _when(since) if since else end - timedelta(hours=24)
    engine = make_engine(settings.resolved_database_url(), pool_size=1)
    try:
        with session_scope(engine) as session:
            va, vb = model_versions.resolve(session, a), model_versions.resolve(session, b)
        report = diff(engine, settings.alerts, va, vb, start, end, limit=limit, with_alerts=alerts)
    except model_versions.ModelVersionError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    _print_diff(report)


def _print_diff(report: object) -> None:
    from classify.diff import DiffReport

    assert isinstance(report, DiffReport)
    out = Console()
    out.print(
        f"[bold]{report.a}[/] vs [bold]{report.b}[/], {report.since.isoformat()} to "
        f"{report.until.isoformat()}: {report.n} headlines classified by both"
    )
    out.print(
        f"agreement: topic {report.share(report.topic_agree):.1%}, sentiment "
        f"{report.share(report.sentiment_agree):.1%}, both {report.share(report.both_agree):.1%}"
    )
    per_topic = Table(title="Agreement per topic (of A)")
    for column in ("topic", "headlines", "topic agrees", "sentiment agrees"):
        per_topic.add_column(column)
    for row in report.per_topic:
        n = row["n"]
        per_topic.add_row(
            row["topic"],
            str(n),
            f"{row['topic_agree'] / n:.1%}",
            f"{row['sentiment_agree'] / n:.1%}",
        )
    out.print(per_topic)
    confusion = Table(title="Sentiment: A (rows) x B (columns)")
    labels = ("negative", "neutral", "positive")
    confusion.add_column("A \\ B")
    for label in labels:
        confusion.add_column(label)
    for label in labels:
        row = report.sentiment_confusion.get(label, {})
        confusion.add_row(label, *(str(row.get(other, 0)) for other in labels))
    out.print(confusion)
    if report.topic_swaps:
        swaps = Table(title="Most common topic swaps")
        for column in ("A", "B", "headlines"):
            swaps.add_column(column)
        for s in report.topic_swaps:
            swaps.add_row(s["topic_a"], s["topic_b"], str(s["n"]))
        out.print(swaps)
    worst = Table(title="Where they disagree most")
    for column in ("title", "A", "B", "P(neg) A", "P(neg) B"):
        worst.add_column(column)
    for d in report.disagreements:
        worst.add_row(
            d["title"][:80],
            f"{d['topic_a']} / {d['sentiment_a']}",
            f"{d['topic_b']} / {d['sentiment_b']}",
            f"{d['neg_a']:.2f}",
            f"{d['neg_b']:.2f}",
        )
    out.print(worst)
    for name, fired in (("A", report.alerts_a), ("B", report.alerts_b)):
        out.print(f"alerts under {name}: {len(fired)}")
        for alert in fired:
            resolved = alert.resolved_at.isoformat() if alert.resolved_at else "still firing"
            out.print(f"  {alert.topic}: fired {alert.fired_at.isoformat()}, {resolved}")


@feedback_app.command("export")
def feedback_export(
    out: Annotated[Path, typer.Option(help="Directory for the CSVs and the sources JSON.")],
    weight: Annotated[float, typer.Option(help="Loss weight of the feedback sources.")] = 2.0,
) -> None:
    """Write analysts' corrections as training sources: one CSV (text,label) per head and
    feedback-sources.json, for `tapewatch train --sources` (add the default sources to it to
    train on both)."""
    from storage.db import make_engine
    from storage.feedback import export_corrections

    engine = make_engine(load_settings().resolved_database_url(), pool_size=1)
    try:
        done = export_corrections(engine, out, weight=weight)
    finally:
        engine.dispose()
    console.print(
        f"[green]{done.rows['sentiment']} sentiment and {done.rows['topic']} topic corrections[/]"
        f" -> {done.sources}"
    )
    typer.echo(str(done.sources))
