// Overview: negative share and volume per topic, the heatmap, and a row per topic.
"use strict";

(() => {
  const { el, pct, num, duration } = TW;
  const range = TW.params().get("range") || "24h";
  for (const a of document.querySelectorAll("#ranges a")) {
    if (a.dataset.range === range) a.classList.add("active");
  }
  const TOP = 8; // topics drawn in the line charts; the heatmap and the table have all

  async function update() {
    const data = await TW.getJSON(`/api/v1/overview?range=${encodeURIComponent(range)}`);
    const x = Charts.seconds(data.buckets);
    const top = data.topics.slice(0, TOP);
    Charts.line(
      document.getElementById("share-chart"),
      x,
      top.map((t) => ({ label: t.topic, values: t.share })),
      { percent: true, yRange: [0, 1] },
    );
    Charts.line(
      document.getElementById("volume-chart"),
      x,
      top.map((t) => ({ label: t.topic, values: t.headlines })),
    );
    Charts.heatmap(document.getElementById("heatmap"), x, data.topics);
    document.getElementById("windows").textContent =
      `· now: last ${duration(data.now_window_s)}, baseline: the ${duration(data.baseline_s)} before`;
    const rows = data.rows.map((r) => {
      const change =
        r.now_share !== null && r.baseline_share !== null ? r.now_share - r.baseline_share : null;
      const alert = r.alert
        ? el("a", { href: `/alerts/${r.alert.id}`, class: `state ${r.alert.state}` }, r.alert.state)
        : el("span", { class: "muted" }, "–");
      return el(
        "tr",
        { class: r.alert ? `row-${r.alert.state}` : null },
        el("td", {}, el("a", { href: `/headlines?topic=${encodeURIComponent(r.topic)}` }, r.topic)),
        el("td", { class: "num" }, pct(r.now_share)),
        el("td", { class: "num" }, num(r.now_total, 0)),
        el("td", { class: "num" }, pct(r.baseline_share)),
        el("td", { class: `num ${change > 0.1 ? "up" : ""}` }, change === null ? "–" : `${change >= 0 ? "+" : ""}${(change * 100).toFixed(1)} pt`),
        el("td", { class: "num" }, num(r.volume, 0)),
        el("td", {}, alert),
      );
    });
    TW.replaceRows(document.querySelector("#topics tbody"), rows);
    return data.query_ms;
  }

  TW.poll(update);
})();
