"""The classify stage's entity step: match watchlist entities in each classified headline and
give each one a sentiment.

A headline naming one entity gives that entity the headline's own sentiment from the same model
pass: for one named company the headline's tone is the tone towards it (on SEntFiN the headline
model scores about as well on those as the entity model, docs/classifier.md). A headline naming
several gets one entity-model verdict per entity, all in one batched call per micro-batch,
since that is where a per-headline label is wrong by construction ("Tata Steel gains as JSW
slips"). Without an entity model every entity falls back to the headline's sentiment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from entities.matcher import EntityMatch, Matcher
from entities.watchlist import load_watchlist
from storage.entities import EntityRow
from tapewatch.events import ClassifiedHeadline, Headline

if TYPE_CHECKING:
    from entities.config import EntitiesConfig
    from entities.sentiment import EntitySentiment

log = logging.getLogger(__name__)


class EntityTagger:
    """``sentiment``: the entity model, or a function that loads it on first use (the classify
    worker loads it on its model thread, so the event loop never waits on torch)."""

    def __init__(
        self,
        matcher: Matcher,
        sentiment: EntitySentiment | Callable[[], EntitySentiment | None] | None = None,
    ) -> None:
        self.matcher = matcher
        self._sentiment = sentiment

    @property
    def sentiment(self) -> EntitySentiment | None:
        if callable(self._sentiment) and not hasattr(self._sentiment, "predict"):
            self._sentiment = self._sentiment()
        return self._sentiment  # type: ignore[return-value]

    @classmethod
    def from_config(
        cls, config: EntitiesConfig, *, device: str = "auto", workers: int | None = None
    ) -> EntityTagger | None:
        """The tagger the settings ask for; None when no watchlist is configured. The watchlist
        is read now (a bad file stops the worker at start); the model on first use."""
        if config.watchlist_path is None:
            return None
        matcher = Matcher(load_watchlist(config.watchlist_path))
        log.info("watchlist %s: %d entities", config.watchlist_path, len(matcher))
        if not _is_model_dir(config.model_dir):
            log.warning(
                "no entity model in %s: entities get their headline's sentiment", config.model_dir
            )
            return cls(matcher, None)

        def load() -> EntitySentiment:
            import os

            import torch

            from entities.sentiment import EntitySentiment

            name = device
            if name == "auto":
                name = "cuda" if torch.cuda.is_available() else "cpu"
            from classify.hardware import native_bf16

            bf16 = native_bf16(torch.device(name)) if config.bf16 is None else config.bf16
            on_cpu = torch.device(name).type == "cpu"
            int8 = (on_cpu and not bf16) if config.int8 is None else config.int8
            sentiment = EntitySentiment.from_dir(
                config.model_dir,
                device=name,
                max_length=config.max_length,
                workers=workers or len(os.sched_getaffinity(0)),
                bf16=bf16,
                int8=int8,
            )
            log.info(
                "entity model %s loaded from %s (bf16 %s, int8 %s)",
                sentiment.version,
                config.model_dir,
                bf16,
                int8,
            )
            return sentiment

        return cls(matcher, load)

    def tag(
        self, headlines: Sequence[Headline], results: Sequence[ClassifiedHeadline]
    ) -> list[EntityRow]:
        """One row per (headline, named entity); ``results[i]`` is ``headlines[i]``'s."""
        rows: list[EntityRow] = []
        pairs: list[tuple[str, str]] = []
        pending: list[tuple[ClassifiedHeadline, EntityMatch]] = []
        for headline, result in zip(headlines, results, strict=True):
            matches = self.matcher.match(headline.title, headline.tickers)
            if len(matches) == 1 or (matches and self.sentiment is None):
                rows += [_from_headline(result, m) for m in matches]
                continue
            for m in matches:
                # The entity as the title spells it: the model learnt from in-title names.
                pairs.append((m.matched_text, headline.title))
                pending.append((result, m))
        if pairs and self.sentiment is not None:
            try:
                verdicts = self.sentiment.predict(pairs)
            except Exception:
                # The headline's classification is still good: store it, and give these
                # entities the headline's sentiment rather than failing the whole batch.
                log.exception(
                    "entity model failed on %d pairs; using headline sentiment", len(pairs)
                )
                return rows + [_from_headline(result, m) for result, m in pending]
            for (result, m), verdict in zip(pending, verdicts, strict=True):
                rows.append(
                    EntityRow(
                        headline_id=result.headline_id,
                        entity_id=m.entity.id,
                        entity_name=m.entity.name,
                        matched_text=m.matched_text,
                        sentiment=verdict.sentiment,
                        confidence=verdict.confidence,
                        negative_probability=verdict.negative_probability,
                        model_version=verdict.model_version,
                        method="entity_model",
                        published_at=result.published_at,
                        classified_at=result.classified_at,
                        headline_model_version=result.model_version,
                        entity_tickers=m.entity.tickers,
                    )
                )
        return rows


def _from_headline(result: ClassifiedHeadline, m: EntityMatch) -> EntityRow:
    return EntityRow(
        headline_id=result.headline_id,
        entity_id=m.entity.id,
        entity_name=m.entity.name,
        matched_text=m.matched_text,
        sentiment=result.sentiment,
        confidence=result.sentiment_confidence,
        negative_probability=result.probabilities.get("sentiment", {}).get("negative", 0.0),
        model_version=result.model_version,
        method="headline",
        published_at=result.published_at,
        classified_at=result.classified_at,
        headline_model_version=result.model_version,
        entity_tickers=m.entity.tickers,
    )


# entities.model's file names, spelled out: importing that module imports torch and
# transformers, which the classify worker is importing on its model-load thread at this moment
# (two threads importing transformers at once break its lazy module).
MODEL_FILES = ("entity_config.json", "model.safetensors")


def _is_model_dir(path: Path) -> bool:
    return all((path / name).exists() for name in MODEL_FILES)
