"""A classify worker's model version in ``model_versions``, recorded once the model has loaded,
and the settings of a shadow worker.

A live worker's version becomes active only when no version is (a fresh database); after that
promotion is ``tapewatch models activate``, so deploying a new model directory never switches
dashboards and alerts by itself. A worker whose version is not the active one says so: its
rows show only for headlines the active version has not classified.

A shadow worker (``tapewatch worker classify --shadow DIR``) consumes ``headlines.raw`` in a
consumer group of its own, stores under its own version, and publishes nothing to
``headlines.classified``: that topic carries the verdicts consumers act on, and one keyed by
headline id cannot say which of two versions a message is (a flag would be a contract change
every consumer must learn to filter).
"""

from __future__ import annotations

import concurrent.futures
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from storage import model_versions
from tapewatch.settings import Settings

if TYPE_CHECKING:
    from classify.predictor import Predictor

log = logging.getLogger(__name__)


def shadow_settings(settings: Settings, model_dir: Path) -> Settings:
    """The settings of a shadow worker for ``model_dir`` beside the live one."""
    cfg = settings.classify
    classify = cfg.model_copy(
        update={
            "group_id": f"{cfg.group_id}-shadow",
            # The live worker holds the metrics port; two listeners on it would collide.
            "metrics_port": 0,
        }
    )
    return settings.model_copy(update={"model_dir": model_dir, "classify": classify})


def register(engine: Engine, predictor: Predictor, model_dir: Path, *, live: bool) -> None:
    """Record the version; a database that is away must not stop the worker (it retries its
    writes anyway), so a failure is logged and classification goes on."""
    try:
        version = predictor.version
        active = model_versions.register(engine, version, model_dir, activate_if_none=live)
    except DBAPIError as exc:
        log.warning("could not register model %s: %s", predictor.version, exc.orig)
        return
    if active:
        log.info("model %s is the active version", predictor.version)
    elif live:
        log.warning(
            "model %s is not the active version: dashboards and alerts show its verdicts only "
            "for headlines the active one has not classified (`tapewatch models activate %s`)",
            predictor.version,
            predictor.version,
        )
    else:
        log.info("shadow model %s registered; its rows stay out of dashboards", predictor.version)


def register_when_loaded(
    loading: Predictor | concurrent.futures.Future[Predictor],
    engine: Engine,
    model_dir: Path,
    *,
    live: bool,
) -> None:
    """``register`` as soon as the model is loaded (now, or when the loading future is done)."""
    if not isinstance(loading, concurrent.futures.Future):
        register(engine, loading, model_dir, live=live)
        return

    def done(future: concurrent.futures.Future[Predictor]) -> None:
        if future.exception() is None:
            register(engine, future.result(), model_dir, live=live)

    loading.add_done_callback(done)
