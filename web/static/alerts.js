// Alerts: the filterable list, refreshed live.
"use strict";

(() => {
  const { el, pct, time } = TW;
  const form = document.getElementById("filters");
  TW.fillForm(form);
  const query = TW.formQuery(form);

  async function update() {
    const data = await TW.getJSON(`/api/v1/alerts?${query}`);
    const rows = data.items.map((a) =>
      el(
        "tr",
        { class: `row-${a.state}` },
        el("td", {}, el("a", { href: `/alerts/${a.id}` }, `#${a.id}`)),
        el("td", {}, a.topic),
        el("td", {}, el("span", { class: `state ${a.state}` }, a.state === "resolved" && !a.fired ? "ended (never fired)" : a.state)),
        el("td", {}, time(a.started_at)),
        el("td", {}, time(a.fired_at)),
        el("td", {}, time(a.ended_at)),
        el("td", { class: "num" }, pct(a.short_rate)),
        el("td", { class: "num" }, pct(a.reference_rate)),
        el("td", { class: "num" }, a.p_value === null ? "–" : a.p_value.toExponential(1)),
      ),
    );
    TW.replaceRows(document.querySelector("#alerts tbody"), rows);
    document.getElementById("empty").hidden = rows.length > 0;
    return data.query_ms;
  }

  TW.poll(update);
})();
