// Entities: every watchlist entity seen, its negative share now against its baseline, volume
// and alert state, refreshed live. Names come from the watchlist and ids from the database:
// both are set as text, and ids are URL-encoded into links.
"use strict";

(() => {
  const { el, pct, num, time, duration } = TW;
  const range = TW.params().get("range") || "7d";
  for (const a of document.querySelectorAll("#ranges a")) {
    if (a.dataset.range === range) a.classList.add("active");
  }

  function change(r) {
    if (r.now_share === null || r.baseline_share === null) return null;
    return r.now_share - r.baseline_share;
  }

  async function update() {
    const data = await TW.getJSON(`/api/v1/entities?range=${encodeURIComponent(range)}`);
    document.getElementById("windows").textContent =
      `· now: last ${duration(data.now_window_s)}, baseline: the ${duration(data.baseline_s)} before`;
    const rows = data.rows.map((r) => {
      const d = change(r);
      const page = `/entities/${encodeURIComponent(r.entity_id)}`;
      const alert = r.alert
        ? el("a", { href: `/alerts/${r.alert.id}`, class: `state ${r.alert.state}` }, r.alert.state)
        : el("span", { class: "muted" }, "–");
      return el(
        "tr",
        { class: r.alert ? `row-${r.alert.state}` : null, "data-entity": r.entity_id },
        el("td", {}, el("a", { href: page, class: "entity-link" }, r.entity_name)),
        el("td", { class: "muted" }, r.entity_id),
        el("td", { class: "num" }, pct(r.now_share)),
        el("td", { class: "num" }, num(r.now_total, 0)),
        el("td", { class: "num" }, `${pct(r.baseline_share)} of ${num(r.baseline_total, 0)}`),
        el("td", { class: `num ${d > 0.1 ? "up" : ""}` }, d === null ? "–" : `${d >= 0 ? "+" : ""}${(d * 100).toFixed(1)} pt`),
        el("td", { class: "num" }, el("a", { href: `/headlines?entity=${encodeURIComponent(r.entity_id)}` }, num(r.volume, 0))),
        el("td", { class: "when" }, time(r.last_seen)),
        el("td", {}, alert),
      );
    });
    TW.replaceRows(document.querySelector("#entities tbody"), rows);
    document.getElementById("empty").hidden = rows.length > 0;
    return data.query_ms;
  }

  TW.poll(update);
})();
