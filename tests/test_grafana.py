"""The provisioned Grafana dashboard: every panel, annotation and variable query, with
Grafana's macros and variables expanded, runs against the real PostgreSQL with seeded data as
the read-only login role the data source uses, and returns rows."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.grafana_macros import Expansion, MacroError
from tests.web_seed import Seeded, seed
from web.config import WebConfig
from web.db import readonly_url

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "grafana" / "dashboards" / "tapewatch.json"
DATASOURCE = ROOT / "grafana" / "provisioning" / "datasources" / "tapewatch.yaml"


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def queries(dash: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, SQL) of every query the dashboard runs."""
    out = []
    for panel in dash["panels"]:
        for target in panel["targets"]:
            out.append((f"panel {panel['title']!r}", target["rawSql"]))
    for anno in dash["annotations"]["list"]:
        if "target" in anno:
            out.append((f"annotation {anno['name']!r}", anno["target"]["rawSql"]))
    return out


@pytest.fixture
def seeded(database_url: str) -> Seeded:
    return seed(database_url)


@pytest.fixture
def readonly(database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(readonly_url(WebConfig(), database_url))
    yield engine
    engine.dispose()


def test_the_data_source_is_the_read_only_role_and_every_query_uses_it(database_url: str) -> None:
    source = yaml.safe_load(DATASOURCE.read_text())["datasources"][0]
    assert source["user"] == WebConfig().readonly_user
    # The password is read from the environment, never written in the file.
    assert source["secureJsonData"]["password"].startswith("$")
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            member = conn.execute(
                text("SELECT pg_has_role(:u, 'tapewatch_readonly', 'member')"),
                {"u": source["user"]},
            ).scalar()
    finally:
        engine.dispose()
    assert member
    dash = dashboard()
    refs = [p["datasource"] for p in dash["panels"]]
    refs += [v["datasource"] for v in dash["templating"]["list"]]
    refs += [a["datasource"] for a in dash["annotations"]["list"] if "target" in a]
    assert {r["uid"] for r in refs} == {source["uid"]}


@pytest.mark.parametrize("span", [timedelta(hours=6), timedelta(days=2, hours=1)])
def test_every_panel_and_annotation_query_returns_rows(
    seeded: Seeded, readonly, span: timedelta
) -> None:  # type: ignore[no-untyped-def]
    dash = dashboard()
    (variable,) = dash["templating"]["list"]
    with readonly.connect() as conn:
        topics = [r[0] for r in conn.execute(text(variable["query"]))]
        assert set(topics) == set(seeded.per_topic)
        # "All" (every value), one topic, and a multi-value pick including the alerting one.
        for picked in (topics, ["Energy | Oil"], ["Energy | Oil", "Macro"]):
            run = Expansion(
                time_from=seeded.now - span,
                time_to=seeded.now + timedelta(minutes=1),
                interval="5m" if span < timedelta(days=1) else "1h",
                variables={variable["name"]: picked},
            )
            for where, sql in queries(dash):
                rows = conn.execute(text(run.sql(sql))).mappings().all()
                assert rows, f"{where} returned nothing for {picked} over {span}"
                if "topic" in rows[0]:
                    assert {r["topic"] for r in rows} <= set(picked), where
                if "metric" in rows[0]:
                    assert {r["metric"] for r in rows} == set(picked), where


def test_the_share_panel_matches_the_rollup_arithmetic(seeded: Seeded, readonly) -> None:  # type: ignore[no-untyped-def]
    dash = dashboard()
    share_sql = next(sql for where, sql in queries(dash) if "Negative share per topic" in where)
    volume_sql = next(sql for where, sql in queries(dash) if "Volume per topic" in where)
    run = Expansion(
        time_from=seeded.now - timedelta(minutes=30),
        time_to=seeded.now,
        interval="30m",
        variables={"topic": ["Energy | Oil", "Macro"]},
    )
    with readonly.connect() as conn:
        shares = conn.execute(text(run.sql(share_sql))).mappings().all()
        volumes = conn.execute(text(run.sql(volume_sql))).mappings().all()
    # The half hour usually spans two of the panel's 30-minute groups (aligned to :00 and :30),
    # the second a sliver of a few minutes: weigh each group's share by its volume.
    volume = {(r["time"], r["metric"]): float(r["headlines"]) for r in volumes}
    negative: dict[str, float] = {}
    total: dict[str, float] = {}
    for r in shares:
        n = volume[(r["time"], r["metric"])]
        negative[r["metric"]] = negative.get(r["metric"], 0.0) + r["negative_share"] * n
        total[r["metric"]] = total.get(r["metric"], 0.0) + n
    by_topic = {topic: negative[topic] / total[topic] for topic in total}
    # The seeded burst: Energy | Oil runs about 80% negative in the last half hour, Macro 20%.
    assert by_topic["Energy | Oil"] > 0.5 > by_topic["Macro"]


def test_the_expander_refuses_what_it_does_not_know() -> None:
    from datetime import UTC, datetime

    run = Expansion(time_from=datetime(2026, 1, 1, tzinfo=UTC), time_to=datetime.now(UTC))
    with pytest.raises(MacroError):
        run.sql("SELECT $__unixEpochFilter(t)")
    with pytest.raises(MacroError):
        run.sql("SELECT * FROM v WHERE topic IN ($nope)")
    quoted = Expansion(run.time_from, run.time_to, variables={"t": ["O'Brien", "a,b"]})
    assert quoted.sql("x IN ($t)") == "x IN ('O''Brien','a,b')"
