"""The one typed settings object. Read once at the entry point, then passed down.

Every field can be set from the environment with the ``TAPEWATCH_`` prefix, e.g.
``TAPEWATCH_DATABASE_URL``. The README's configuration table lists them all.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alerts.config import AlertsConfig
from classify.config import ClassifyConfig
from entities.config import EntitiesConfig
from ingest.config import IngestConfig
from tapewatch.health import HealthConfig
from tapewatch.restarts import SupervisorConfig
from web.config import WebConfig

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TAPEWATCH_", env_nested_delimiter="__", extra="ignore"
    )

    # --- where local state lives -------------------------------------------------------------
    state_dir: Path = Field(
        default=REPO_ROOT / ".tapewatch",
        description="Local state: the persistent Kafka and PostgreSQL of `make run`, logs.",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "tapewatch",
        description="Downloaded artefacts kept across runs (the Kafka broker jars).",
    )
    data_dir: Path = Field(
        default=REPO_ROOT.parent / "shared" / "data",
        description="Labelled training/validation CSVs (twitter-financial-news topic/sentiment).",
    )

    # --- Kafka --------------------------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        default=None,
        description="Kafka bootstrap servers. Unset: `tapewatch up` starts a local broker.",
    )
    kafka_version: str = Field(default="4.0.2", description="Broker version for the local broker.")
    kafka_port: int = Field(default=19092, description="Port of the local broker (`make run`).")
    kafka_heap: str = Field(default="512m", description="JVM heap of the local broker.")
    topic_raw: str = Field(default="headlines.raw", description="Topic ingest publishes to.")
    topic_classified: str = Field(
        default="headlines.classified", description="Topic the classifier publishes results to."
    )
    topic_dlq: str = Field(default="headlines.dlq", description="Dead-letter topic.")
    topic_partitions: int = Field(
        default=6,
        ge=1,
        description="Partitions of the headline topics (bounds worker parallelism).",
    )

    # --- PostgreSQL ---------------------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL. Unset: `make run` uses a local cluster under `state_dir`.",
    )
    postgres_port: int = Field(default=15432, description="Port of the local PostgreSQL cluster.")

    # --- model --------------------------------------------------------------------------------
    model_dir: Path = Field(
        default=REPO_ROOT / "models" / "tapewatch-minilm",
        description="Directory of the trained classifier used for inference.",
    )
    device: str = Field(
        default="auto", description="`auto` (CUDA when present), `cpu`, `cuda` or `cuda:N`."
    )
    max_length: int = Field(default=64, ge=8, le=512, description="Token truncation length.")
    inference_batch_size: int = Field(default=64, ge=1, description="Engine batch size.")
    quantize_int8: bool = Field(
        default=False,
        description="CPU int8 dynamic quantisation: 1.5x (AVX2) to 2.5x (VNNI) faster; "
        "outputs depend on the batch.",
    )
    cpu_workers: int | None = Field(
        default=None,
        ge=1,
        description="CPU: buckets classified at once, each on cores/workers threads. "
        "Unset: one per core (faster than all cores on one bucket, docs/benchmarks.md).",
    )

    # --- observability ------------------------------------------------------------------------
    log_level: str = Field(default="INFO", description="Python logging level.")
    log_json: bool = Field(default=False, description="Log one JSON object per line.")

    # --- per-stage sections (each package owns its own) ---------------------------------------
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    classify: ClassifyConfig = Field(default_factory=ClassifyConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    supervisor: SupervisorConfig = Field(default_factory=SupervisorConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    entities: EntitiesConfig = Field(default_factory=EntitiesConfig)

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def resolved_kafka_bootstrap(self) -> str:
        """The configured brokers, or the local broker that `tapewatch up` runs."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    def resolved_database_url(self) -> str:
        """The configured database, or the local cluster that `tapewatch up` runs."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"postgresql+psycopg2://tapewatch@127.0.0.1:{self.postgres_port}/tapewatch"

    @property
    def kafka_runtime_dir(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def postgres_runtime_dir(self) -> Path:
        return self.state_dir / "postgres"


def settings_markdown() -> str:
    """The README's configuration table."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{env}` | `{default}` | {doc} |" for env, default, doc in settings_table()]
    return "\n".join(lines)


def settings_table() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every setting: the README's table."""
    return _rows(Settings, "TAPEWATCH_")


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            rows += _rows(field.annotation, f"{prefix}{name.upper()}__")
            continue
        default = field.default
        if isinstance(default, Path):
            default = (
                str(default)
                .replace(str(REPO_ROOT), "<repo>")
                .replace(str(REPO_ROOT.parent), "<repo>/..")
                .replace(str(Path.home()), "~")
            )
        rows.append(
            (
                f"{prefix}{name.upper()}",
                "unset" if default is None else str(default),
                field.description or "",
            )
        )
    return rows
