// Pipeline: stage rates, consumer lag, workers, classification per minute, dead letters, feeds.
"use strict";

(() => {
  const { el, num, time, duration } = TW;
  const STAGES = [
    ["ingest_fetched", "ingest: fetched"],
    ["ingest_published", "ingest → Kafka: published"],
    ["ingest_duplicates", "ingest: duplicates dropped"],
    ["classified", "classify: classified"],
    ["stored", "classify → PostgreSQL: rows stored"],
    ["dead_lettered", "classify: dead-lettered"],
    ["alert_evaluations", "alerts: evaluations"],
    ["alert_deliveries", "alerts: webhook attempts"],
  ];

  async function update() {
    const data = await TW.getJSON("/api/v1/pipeline");
    const stageRows = STAGES.map(([key, label]) =>
      el("tr", {}, el("th", {}, label), el("td", { class: "num" }, num(data.rates[key], 2)), el("td", { class: "num muted" }, `total ${num(data.totals[key], 0)}`)),
    );
    stageRows.push(el("tr", {}, el("th", {}, "classify: consumer lag (messages)"), el("td", { class: "num" }, num(data.consumer_lag, 0)), el("td", {}, "")));
    TW.replaceRows(document.querySelector("#stages tbody"), stageRows);
    TW.replaceRows(
      document.querySelector("#workers tbody"),
      data.workers.map((w) =>
        // Supervised (tapewatch up): the supervisor's state, its words as a tooltip, restart
        // count; the metrics column says whether the worker's endpoint answers.
        el(
          "tr",
          {},
          el("td", {}, w.name),
          el("td", {}, el("span", { class: `state ${w.state}`, title: w.detail || "" }, w.state)),
          el("td", { class: "num" }, w.restarts === null || w.restarts === undefined ? "–" : String(w.restarts)),
          el("td", {}, duration(w.uptime_s)),
          el("td", { class: "muted" }, w.metrics_url ? `${w.metrics_url}${w.metrics ? ` (${w.metrics})` : ""}` : "none"),
        ),
      ),
    );
    const perMinute = new Map();
    for (const m of data.classified_per_minute) {
      const entry = perMinute.get(m.minute) || { classified: 0, p50: null };
      entry.classified += m.classified;
      entry.p50 = entry.p50 === null ? m.latency_p50_s : Math.max(entry.p50, m.latency_p50_s);
      perMinute.set(m.minute, entry);
    }
    const minutes = [...perMinute.keys()].sort();
    Charts.line(
      document.getElementById("classify-chart"),
      Charts.seconds(minutes),
      [
        { label: "classified per minute", values: minutes.map((k) => perMinute.get(k).classified), colour: "#1f77b4" },
        { label: "latency p50 (s)", values: minutes.map((k) => perMinute.get(k).p50), colour: "#ff7f0e" },
      ],
      { height: 220 },
    );
    TW.replaceRows(
      document.querySelector("#models tbody"),
      data.models.map((m) => el("tr", {}, el("td", {}, m.model_version), el("td", { class: "num" }, num(m.classified_last_hour, 0)), el("td", {}, time(m.last_minute)))),
    );
    const dl = data.dead_letters;
    document.getElementById("dlq-count").textContent =
      dl.count === null ? `· Kafka not readable${dl.error ? ` (${dl.error})` : ""}` : `· ${num(dl.count, 0)} in the topic`;
    TW.replaceRows(
      document.querySelector("#dlq tbody"),
      dl.latest.map((d) => el("tr", {}, el("td", {}, time(d.failed_at)), el("td", {}, d.stage || "–"), el("td", {}, d.reason || "–"), el("td", { class: "mono" }, d.original))),
      dl.count === 0 ? "No dead letters: every message so far could be read." : null,
    );
    TW.replaceRows(
      document.querySelector("#feeds tbody"),
      data.feeds.map((f) =>
        el(
          "tr",
          { class: f.consecutive_failures ? "row-firing" : null },
          el("td", {}, f.source),
          el("td", {}, time(f.last_polled_at)),
          el("td", {}, f.last_status || "–"),
          el("td", {}, time(f.last_success_at)),
          el("td", { class: "num" }, num(f.consecutive_failures, 0)),
          el("td", {}, time(f.next_poll_after)),
          el("td", { class: "muted" }, f.last_error || ""),
        ),
      ),
      "No feed polled yet. Feeds come from TAPEWATCH_INGEST__FEEDS (unset: the public feeds in the README); 'tapewatch up --no-feeds' polls none.",
    );
    return data.query_ms;
  }

  TW.poll(update);
})();
