"""The model card (README.md in the model directory), rendered from what training and
evaluation recorded (training.json, eval-valid*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from classify.training.sources import HEADLINE_TOPIC_SOURCE

HEADLINE_NOTE = (
    f"{HEADLINE_TOPIC_SOURCE.name}: the twitter topic split read as headlines (links, a leading "
    "cashtag, RT, @ and # taken off), the one topic-labelled set that looks like news."
)


def _metrics_rows(report: dict[str, Any]) -> list[str]:
    """One row per validation set (per source), or per head in reports made before sources."""
    if "sources" in report:
        groups = {f"{name} ({r['head']})": r for name, r in report["sources"].items()}
    else:
        groups = {h: report[h] for h in ("topic", "sentiment") if h in report}
    rows = []
    for name, r in groups.items():
        recall = r["per_class"].get("negative", {}).get("recall")
        rows.append(
            f"| {name} | {_f(recall)} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | "
            f"{r.get('ece', float('nan')):.4f} | {r['n']} |"
        )
    return rows


def _yes(flag: object) -> str:
    return "yes" if flag else ""


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _is_here(recorded: str, directory: Path) -> bool:
    """Whether a path recorded at training time names ``directory``, from any working directory
    (a relative record is compared by its trailing parts)."""
    path = Path(recorded)
    if path.is_absolute():
        return path.resolve() == directory.resolve()
    return directory.resolve().parts[-len(path.parts) :] == path.parts


def _teacher_line(teacher: dict[str, Any], directory: Path, sources: list[str] | None) -> str:
    where = f"`{teacher['directory']}` (version `{teacher['model_version']}`"
    # A model trained with the then-shipped model as a teacher and shipped in its place names
    # its own directory as a teacher; say so rather than leave the reader to puzzle it out.
    if _is_here(teacher["directory"], directory):
        where += ": the model this directory held before this one"
    if teacher.get("heads"):
        on = f", its {' and '.join(teacher['heads'])} head only, on every row"
    else:
        on = f", on the rows of {', '.join(sources)} only" if sources else ""
    return f"- Distilled from teacher {where}){on}"


def _average_lines(members: list[dict[str, Any]], start: dict[str, Any] | None) -> list[str]:
    if not members:
        return []
    what = f"Weight average of {len(members)} runs" if len(members) > 1 else "One run's weights"
    if start:
        what += (
            f", pulled {start['fraction']:g} of the way back to the model they started from "
            f"(version `{start['model_version']}`)"
        )
    return [
        f"- {what}, temperatures fitted again on their holdout "
        "(the hyper-parameters below are the first run's):",
        *(
            f"  - `{m['directory']}` (version `{m['model_version']}`): `{m['command']}`"
            for m in members
        ),
    ]


def render_card(directory: Path) -> str:
    training: dict[str, Any] = json.loads((directory / "training.json").read_text())
    members = training.get("averaged_from") or []
    lines = [
        "# Tapewatch headline classifier",
        "",
        "One BERT-family encoder with two heads: 20 financial-news topics and sentiment "
        "(negative / neutral / positive), from one forward pass.",
        "",
        f"- Model version (content hash): `{training['model_version']}`",
        f"- Base encoder: `{training['base_model']}`",
        f"- Produced by: `{training['command']}`",
        *(
            f"- Fine-tuned from `{i['directory']}` (version `{i['model_version']}`)"
            for i in [training.get("init_from")]
            if i
        ),
        *(
            _teacher_line(t, directory, training.get("hyperparameters", {}).get("distill_sources"))
            for t in training.get("teachers", [])
        ),
        *(
            f"- Representation distillation, weight {w}: the pooled vectors learnt to predict "
            "the first teacher's on its rows (through a training-only map, not saved)"
            for w in [training.get("hyperparameters", {}).get("feature_weight")]
            if w
        ),
        *(
            f"- Prior-corrected from version `{c['source_model_version']}` by `{c['command']}`"
            for c in [training.get("prior_correction")]
            if c
        ),
        *(
            f"- Temperature-scaled on the holdout: {head} T = {c['temperature']:.3f} "
            f"(holdout ECE {c['holdout_ece_before']:.3f} → {c['holdout_ece_after']:.3f})"
            for head, c in (training.get("calibration") or {}).items()
            if head in ("topic", "sentiment") and "holdout_ece_before" in c
        ),
        *(
            f"- Calibrated from version `{c['source_model_version']}` by `{c['command']}`"
            for c in [(training.get("calibration") or {}).get("post_hoc")]
            if c
        ),
        *_average_lines(members, training.get("toward_start")),
        f"- Training time: {training['train_seconds'] / 60:.1f} min, {training['steps']} steps, "
        f"best epoch {training['best_epoch']}"
        + (" (all members together)" if members else "")
        + f" (torch {training['torch']})",
        "",
        "## Training data (train splits only)",
        "",
        "| source | file | head | weight | own prior | own head | sha256 |",
        "|---|---|---|---:|---|---|---|",
        *(
            f"| {name}{' (read as headlines)' if d.get('style') == 'headline' else ''} "
            f"| `{d['file']}` | {d.get('head', name)} | {d.get('weight', 1.0)} | "
            f"{_yes(d.get('own_prior'))} | {_yes(d.get('own_head'))} | `{d['sha256']}` |"
            for name, d in training["data"].items()
        ),
        "",
        "## Hyper-parameters",
        "",
        "| name | value |",
        "|---|---|",
        # The sources are the table above (their label maps are in training.json).
        *(f"| {k} | `{v}` |" for k, v in training["hyperparameters"].items() if k != "sources"),
        "",
        "## Metrics",
        "",
        "Holdout (a stratified slice of the train files, used for early stopping):",
        "",
        "| set | accuracy | macro-F1 |",
        "|---|---:|---:|",
    ]
    holdout = training["holdout"].get("sources") or {
        h: m for h, m in training["holdout"].items() if h != "sources"
    }
    lines += [
        f"| {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |" for name, m in holdout.items()
    ]
    for name, title in (("eval-valid.json", "fp32"), ("eval-valid-int8.json", "CPU int8")):
        path = directory / name
        if path.exists():
            report = json.loads(path.read_text())
            # A file read two ways (as written, and as headlines) is named once.
            files = ", ".join(
                dict.fromkeys(
                    f"`{d['file']}` (sha256 `{d['sha256'][:12]}…`)" for d in report["data"].values()
                )
            )
            lines += [
                "",
                f"Validation splits, {title} engine ({files}); "
                "`tapewatch eval` prints the full report:",
                "",
                "| set | negative recall | accuracy | macro-F1 | ECE | n |",
                "|---|---:|---:|---:|---:|---:|",
                *_metrics_rows(report),
            ]
            if HEADLINE_TOPIC_SOURCE.name in report["sources"]:
                lines += ["", HEADLINE_NOTE]
    return "\n".join(lines) + "\n"


def write_card(directory: Path) -> Path:
    path = directory / "README.md"
    path.write_text(render_card(directory))
    return path
