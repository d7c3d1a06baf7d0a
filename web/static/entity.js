// One entity: its negative share over time (the overview's uPlot setup), its recent headlines
// with the sentiment towards it beside the headline's own, and its alerts; refreshed live.
"use strict";

(() => {
  const { el, pct, num, time, duration } = TW;
  const id = document.body.dataset.entityId;
  const range = TW.params().get("range") || "7d";
  for (const a of document.querySelectorAll("#ranges a")) {
    if (a.dataset.range === range) a.classList.add("active");
  }
  document.getElementById("all-headlines").setAttribute("href", `/headlines?entity=${encodeURIComponent(id)}`);

  function verdict(sentiment, confidence, extra) {
    if (!sentiment) return el("td", { class: "muted" }, "not classified yet");
    return el("td", { class: `sentiment ${sentiment} nowrap` }, `${sentiment} ${pct(confidence)}`, extra || null);
  }

  function headlineRow(h) {
    // Where the entity's verdict differs from the headline's, the row says so.
    const differs = h.headline_sentiment && h.sentiment !== h.headline_sentiment;
    const how = el("span", { class: "muted method" }, h.method === "entity_model" ? " · entity model" : " · headline's");
    return el(
      "tr",
      { "data-id": h.id, class: differs ? "differs" : null },
      el("td", { class: "when" }, time(h.published_at)),
      el("td", {}, TW.link(h.title, h.url, { class: "title" })),
      el("td", {}, h.matched_text),
      verdict(h.sentiment, h.sentiment_confidence, how),
      verdict(h.headline_sentiment, h.headline_confidence),
      el("td", {}, h.topic || "–"),
      el("td", {}, h.source),
    );
  }

  async function update() {
    const data = await TW.getJSON(`/api/v1/entities/${encodeURIComponent(id)}?range=${encodeURIComponent(range)}`);
    const e = data.entity;
    document.querySelector("main h1").textContent = e.name;
    document.title = `${e.name} · Tapewatch`;
    const active = data.alerts.find((a) => a.state === "pending" || a.state === "firing");
    document.getElementById("summary").replaceChildren(
      active ? el("a", { href: `/alerts/${active.id}`, class: `state ${active.state}` }, active.state) : el("span", { class: "state" }, "no active alert"),
      ` ${e.id} · ${num(e.headlines, 0)} headlines since ${time(e.first_seen)} · last ${time(e.last_seen)}`,
    );
    document.getElementById("grain").textContent = `· per ${duration(data.chart.grain_s)}`;
    const x = Charts.seconds(data.chart.buckets);
    Charts.line(
      document.getElementById("entity-share-chart"),
      x,
      [{ label: `${e.name}: negative share`, values: data.chart.share, colour: "#d62728", width: 2 }],
      { percent: true, yRange: [0, 1] },
    );
    Charts.line(
      document.getElementById("entity-volume-chart"),
      x,
      [{ label: `${e.name}: headlines`, values: data.chart.headlines, colour: "#1f77b4" }],
      // From zero: a quiet entity's counts are small, and an axis from 2 reads as a jump.
      { yRange: (_u, _min, max) => [0, Math.max(1, max)] },
    );
    TW.replaceRows(document.querySelector("#entity-headlines tbody"), data.headlines.map(headlineRow));
    const alerts = data.alerts.map((a) => TW.alertRow(a, { topic: false }));
    TW.replaceRows(document.querySelector("#entity-alerts tbody"), alerts);
    document.getElementById("no-alerts").hidden = alerts.length > 0;
    return data.query_ms;
  }

  TW.poll(update);
})();
