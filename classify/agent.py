"""The classify stage as a Faust app: micro-batches from ``headlines.raw`` through the model into
PostgreSQL and ``headlines.classified``.

Offsets are acknowledged only after a batch is fully handled: dead letters delivered, rows
committed in one transaction, results published. A crash at any point re-delivers the batch;
the idempotent write (unique headline id + model version) turns the replay into a no-op, so the
database sees each headline exactly once. ``headlines.classified`` is at-least-once (keyed by
headline id, so consumers can drop repeats).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import faust
from faust.types import EventT
from prometheus_client import start_http_server
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from classify import telemetry
from classify.registration import register_when_loaded
from classify.slots import claim_slot, slot_dir, wait_for_slot
from classify.stage import BatchOutcome, DeadLetter, process_batch
from entities.tagger import EntityTagger
from storage.db import make_engine, session_scope
from storage.entities import store_entities
from storage.repository import StoreResult, store_classified
from tapewatch.health import HealthServer, ProgressTracker
from tapewatch.settings import Settings
from tapewatch.startup import milestone, seconds_since_exec

if TYPE_CHECKING:
    from classify.predictor import Predictor

log = logging.getLogger(__name__)


def dead_letter_value(dead: DeadLetter, event: EventT | None, topic: str) -> bytes:
    """JSON record of why a message was rejected, carrying the original bytes."""
    original = dead.value or b""
    try:
        body, encoding = original.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(original).decode(), "base64"
    doc: dict[str, Any] = {
        "reason": dead.reason,
        "stage": dead.stage,
        "source_topic": topic,
        "original": body,
        "encoding": encoding,
        "failed_at": datetime.now(UTC).isoformat(),
    }
    if event is not None:
        doc |= {"partition": event.message.partition, "offset": event.message.offset}
    return json.dumps(doc).encode()


class ClassifyStage:
    """Owns the engine, the database and the Faust topics; ``handle`` processes one batch."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        predictor: Predictor | concurrent.futures.Future[Predictor],
        engine: Engine,
        publish: bool = True,
        tracker: ProgressTracker | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.cfg = settings.classify
        # A future while the model still loads in the background (see ``run``).
        self._predictor = predictor
        self.tracker = tracker or ProgressTracker(settings.health.classify_stall_s)
        self.engine = engine
        self.publish = publish  # False for a shadow worker (classify/registration.py)
        self.classified_topic = app.topic(
            settings.topic_classified, key_serializer="raw", value_serializer="raw"
        )
        self.dlq_topic = app.topic(settings.topic_dlq, key_serializer="raw", value_serializer="raw")
        # One thread for the model (torch parallelises inside), one for the database.
        self._model_pool = ThreadPoolExecutor(1, thread_name_prefix="model")
        self._db_pool = ThreadPoolExecutor(1, thread_name_prefix="db")
        self._done: dict[Any, int] = {}  # tp -> last offset handled, for the lag gauge
        self._first_batch_logged = False
        # Seconds after exec a standby took its slot: its first batch is timed from there.
        self.took_slot_at: float | None = None
        # Watchlist entities (entities/tagger.py), None without a watchlist: read now, so a
        # bad file stops the worker at start; the entity model loads with its first use.
        gpu = settings.classify.gpu_index
        self.tagger = EntityTagger.from_config(
            settings.entities,
            device=settings.device if gpu is None else f"cuda:{gpu}",
            workers=settings.cpu_workers,
        )

    async def predictor(self) -> Predictor:
        if isinstance(self._predictor, concurrent.futures.Future):
            self._predictor = await asyncio.wrap_future(self._predictor)
        return self._predictor

    async def handle(self, events: Sequence[EventT]) -> None:
        loop = asyncio.get_running_loop()
        predictor = await self.predictor()
        started = time.perf_counter()
        messages = [(e.message.key, e.value) for e in events]
        outcome: BatchOutcome = await loop.run_in_executor(
            self._model_pool,
            partial(process_batch, tag=self.tagger.tag if self.tagger else None),
            messages,
            predictor.predict_batch,
        )
        inference = time.perf_counter() - started

        by_value = {id(e.value): e for e in events}
        await self._send_dead(outcome.dead, by_value)
        write_started = time.perf_counter()
        stored = await self._store(outcome)
        write = time.perf_counter() - write_started
        publish_started = time.perf_counter()
        await self._publish(outcome)
        publish = time.perf_counter() - publish_started

        for e in events:
            self._done[e.message.tp] = max(self._done.get(e.message.tp, -1), e.message.offset)
        lag = self._lag()
        telemetry.BATCH_SIZE.observe(len(events))
        telemetry.INFERENCE_SECONDS.observe(inference)
        telemetry.WRITE_SECONDS.observe(write)
        telemetry.PUBLISH_SECONDS.observe(publish)
        telemetry.CLASSIFIED.inc(len(outcome.results))
        telemetry.STORED.inc(stored.classifications_inserted)
        telemetry.CONSUMER_LAG.set(lag)
        self.tracker.progressed(lag)
        if not self._first_batch_logged:
            self._first_batch_logged = True
            if self.took_slot_at is None:
                milestone("first_batch")
            else:
                # Not a start-up milestone: a standby's time since exec is mostly waiting.
                log.info(
                    "takeover: first batch %.2f s after taking the slot",
                    seconds_since_exec() - self.took_slot_at,
                )
        log.info(
            "batch of %d: %d classified, %d dead-lettered, inference %.0f ms, write %.0f ms, "
            "lag %d",
            len(events),
            len(outcome.results),
            len(outcome.dead),
            inference * 1e3,
            write * 1e3,
            lag,
            extra={
                "batch_size": len(events),
                "classified": len(outcome.results),
                "dead_lettered": len(outcome.dead),
                "inference_ms": round(inference * 1e3, 1),
                "write_ms": round(write * 1e3, 1),
                "publish_ms": round(publish * 1e3, 1),
                "consumer_lag": lag,
                "rows_inserted": stored.classifications_inserted,
                "entity_rows": len(outcome.entities),
            },
        )

    async def _send_dead(self, dead: list[DeadLetter], by_value: dict[int, EventT]) -> None:
        futures = []
        for d in dead:
            event = by_value.get(id(d.value))
            futures.append(
                await self.dlq_topic.send(
                    key=d.key, value=dead_letter_value(d, event, self.settings.topic_raw)
                )
            )
            telemetry.DEAD_LETTERED.labels(d.stage).inc()
            log.warning("dead-lettered a message (%s): %s", d.stage, d.reason)
        await asyncio.gather(*futures)  # delivered before the batch is acknowledged

    async def _store(self, outcome: BatchOutcome) -> StoreResult:
        """Write the batch in one transaction; retry with backoff while PostgreSQL is away."""
        loop = asyncio.get_running_loop()
        delay = self.cfg.db_retry_initial_s
        while True:
            try:
                return await loop.run_in_executor(self._db_pool, self._write, outcome)
            except IntegrityError:
                raise  # a bug, not an outage: retrying cannot help
            except DBAPIError as exc:
                self.tracker.waiting_on = "database"
                telemetry.DB_RETRIES.inc()
                log.warning(
                    "database write failed (%s); retrying in %.1fs", type(exc.orig).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.cfg.db_retry_max_s)

    def _write(self, outcome: BatchOutcome) -> StoreResult:
        with session_scope(self.engine) as session:
            stored = store_classified(session, outcome.headlines, outcome.results)
            # The same transaction: a headline's entities commit with its classification.
            store_entities(session, outcome.entities)
            return stored

    async def _publish(self, outcome: BatchOutcome) -> None:
        if not self.publish:
            return
        futures = [
            await self.classified_topic.send(key=r.headline_id.encode(), value=r.to_json())
            for r in outcome.results
        ]
        await asyncio.gather(*futures)

    def _lag(self) -> int:
        consumer = self.app.consumer
        assigned = [tp for tp in consumer.assignment() if tp.topic == self.settings.topic_raw]
        lag = 0
        for tp in assigned:
            highwater = consumer.highwater(tp)
            if highwater is not None and tp in self._done:
                lag += max(0, highwater - self._done[tp] - 1)
        return lag


def build_app(
    settings: Settings,
    bootstrap: str,
    predictor: Predictor | concurrent.futures.Future[Predictor],
    engine: Engine,
    instance_id: str | None = None,
    publish: bool = True,
    tracker: ProgressTracker | None = None,
) -> faust.App:
    """Declare the app: one agent consuming ``headlines.raw`` in micro-batches.

    ``predictor``: the model, or a future of it (batches wait for it); ``instance_id``: this
    worker's static group member id (None: dynamic membership).
    """
    return _build(settings, bootstrap, predictor, engine, instance_id, publish, tracker)[0]


def _build(
    settings: Settings,
    bootstrap: str,
    predictor: Predictor | concurrent.futures.Future[Predictor],
    engine: Engine,
    instance_id: str | None,
    publish: bool,
    tracker: ProgressTracker | None,
) -> tuple[faust.App, ClassifyStage]:
    cfg = settings.classify
    app = faust.App(
        cfg.group_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        # Faust creates its data directory even for in-memory tables; its default is
        # relative to the working directory, which litters wherever the worker was started.
        datadir=str(settings.state_dir / "faust"),
        web_enabled=False,
        topic_replication_factor=1,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        worker_redirect_stdouts=False,
        # Static membership (docs/reliability.md): a restarted worker rejoins under its old
        # member id and gets its partitions back at once; without it the group waits for the
        # killed member's session to expire (Faust's default 60 s) before rebalancing.
        consumer_group_instance_id=instance_id,
        broker_session_timeout=cfg.session_timeout_s,
        broker_heartbeat_interval=cfg.heartbeat_interval_s,
    )
    raw = app.topic(settings.topic_raw, key_serializer="raw", value_serializer="raw")
    stage = ClassifyStage(app, settings, predictor, engine, publish, tracker)
    assigned_once: list[bool] = []

    @app.on_partitions_assigned.connect
    async def on_assigned(app: faust.App, assigned: set[Any], **kwargs: Any) -> None:
        # Updated on every rebalance, not only after a batch: an idle worker reports too.
        held = [tp for tp in assigned if tp.topic == settings.topic_raw]
        telemetry.ASSIGNED_PARTITIONS.set(len(held))
        stage.tracker.partitions = len(held)
        if held and not assigned_once:
            assigned_once.append(True)
            milestone("partitions_assigned")

    @app.agent(raw)
    async def classify(stream: faust.StreamT) -> None:
        # noack_take: events are acknowledged by us, after the batch is stored and published.
        async for events in stream.noack_take(cfg.max_batch, within=cfg.max_wait_ms / 1000):
            await stage.handle(events)
            for event in events:
                await stream.ack(event)

    @app.timer(interval=5.0)
    async def refresh_lag() -> None:
        # Between batches too: an idle worker whose backlog grows is not making progress.
        stage.tracker.lag = stage._lag()

    return app, stage


def _bounded_worker(app: faust.App, settings: Settings) -> Any:
    """Faust's worker with a bounded shutdown.

    Faust's orderly stop waits on the broker (final commit, producer flush); with the broker
    gone it waits forever. Exiting after a grace period is safe: offsets are acknowledged only
    after a batch is stored, so whatever was in flight is re-delivered to the next worker.
    """
    from faust.worker import Worker

    grace = settings.classify.shutdown_grace_s

    def force_exit() -> None:
        log.error("shutdown did not finish within %.0fs (is Kafka reachable?); exiting now", grace)
        logging.shutdown()
        os._exit(3)

    class BoundedWorker(Worker):
        def _schedule_shutdown(self, signal: Any) -> None:
            timer = threading.Timer(grace, force_exit)
            timer.daemon = True
            timer.start()
            super()._schedule_shutdown(signal)

    return BoundedWorker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)


def _load_predictor(settings: Settings) -> Predictor:
    """Import the inference engine (torch, transformers) and load the model."""
    from classify.predictor import Predictor

    device = settings.device
    if settings.classify.gpu_index is not None:
        device = f"cuda:{settings.classify.gpu_index}"
    predictor = Predictor.from_dir(
        settings.model_dir,
        device=device,
        max_length=settings.max_length,
        batch_size=settings.inference_batch_size,
        quantize_int8=settings.quantize_int8,
        workers=settings.cpu_workers,
    )
    milestone("model_loaded")
    log.info("classify worker: model %s loaded", predictor.version)
    return predictor


def _load_in_background(
    settings: Settings, tracker: ProgressTracker
) -> concurrent.futures.Future[Predictor]:
    """Load the model on a thread while the worker joins its group.

    Importing torch and transformers and reading the weights is most of a cold start; the
    group join and Faust's own start are mostly waiting on the broker, so the two overlap. A
    model that cannot load ends the process: a worker that cannot classify must not hold
    partitions, and the supervisor restarts (or backs off) a worker that exits.
    """
    future: concurrent.futures.Future[Predictor] = concurrent.futures.Future()

    def load() -> None:
        try:
            predictor = _load_predictor(settings)
            tracker.model_loaded = True
            future.set_result(predictor)
        except BaseException as exc:
            log.exception("classify worker: the model in %s did not load", settings.model_dir)
            future.set_exception(exc)
            logging.shutdown()
            os._exit(4)

    threading.Thread(target=load, name="model-load", daemon=True).start()
    return future


WARM_UP_TEXTS = [
    "Acme cuts outlook as rates bite",
    "Central bank holds rates steady; markets rally on hopes of cuts later in the year",
]


def _warm_up(stage: ClassifyStage, predictor: Predictor, engine: Engine) -> None:
    """Pay the first-use costs before taking over: torch's first forward pass, the entity
    model's load, SQLAlchemy's first connection (a database that is away is not an error)."""
    predictor.predict_batch(WARM_UP_TEXTS)
    if stage.tagger is not None:
        _ = stage.tagger.sentiment
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        log.warning("classify standby: database not reachable yet (%s)", type(exc.orig).__name__)
    from faust.transport.drivers import aiokafka as _driver  # noqa: F401  (imported on start)
    from faust.worker import Worker as _Worker  # noqa: F401


def run(settings: Settings, *, shadow: bool = False, standby: bool = False) -> None:
    """`tapewatch worker classify`: run until SIGINT/SIGTERM. ``shadow``: store only, under
    the model's own version, publish nothing (settings from ``registration.shadow_settings``).
    ``standby``: load and warm the model first, then wait for the slot
    (``ClassifyConfig.standby_slot``) and take over from the worker holding it when it dies."""
    milestone("imports")
    bootstrap = settings.resolved_kafka_bootstrap()
    lock_dir = slot_dir(settings.state_dir, settings.classify.group_id)
    engine = make_engine(settings.resolved_database_url(), pool_size=2)
    publish = not shadow
    if standby:
        number = settings.classify.standby_slot()
        instance_id = settings.classify.group_instance_id(number)
        loaded = _load_predictor(settings)
        # Built now: the static id is the slot's, known before the slot is ours.
        app, stage = _build(settings, bootstrap, loaded, engine, instance_id, publish, None)
        _warm_up(stage, loaded, engine)
        # Recorded now, off the takeover's path (the same model as the worker's, as a rule).
        register_when_loaded(loaded, engine, settings.model_dir, live=not shadow)
        milestone("standby_ready")
        log.info("classify standby: model %s warm, waiting for slot %d", loaded.version, number)
        # Nothing that another process also binds (ports, the group) before this returns.
        slot = wait_for_slot(lock_dir, number)
        stage.took_slot_at = milestone("slot_taken")
        log.info("classify standby: took slot %d; taking over as member %s", number, instance_id)
        # A fresh tracker: the hours spent waiting are not a stall.
        tracker = ProgressTracker(settings.health.classify_stall_s)
        tracker.model_loaded = True
        stage.tracker = tracker
    else:
        # Held until the process exits: the slot is this worker's identity in the group.
        slot = claim_slot(lock_dir, settings.classify.worker_slot)
        tracker = ProgressTracker(settings.health.classify_stall_s)
        predictor = _load_in_background(settings, tracker)
        instance_id = settings.classify.group_instance_id(slot.number)
        app = build_app(
            settings, bootstrap, predictor, engine, instance_id, publish=publish, tracker=tracker
        )
        register_when_loaded(predictor, engine, settings.model_dir, live=not shadow)
    # Bound only once the slot is held: a standby beside a live worker would collide on them.
    if settings.classify.metrics_port:
        start_http_server(settings.classify.metrics_port)
    if settings.health.classify_port:
        HealthServer.start_or_warn(
            settings.health.host,
            settings.health.classify_port + slot.number,  # one port per worker slot
            liveness=tracker.liveness,
            readiness=tracker.readiness,
        )
    log.info(
        "classify worker: group %s (member %s), %s",
        settings.classify.group_id,
        instance_id or "dynamic",
        bootstrap,
    )
    _bounded_worker(app, settings).execute_from_commandline()
