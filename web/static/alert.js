// One alert: summary, the topic's negative share with start / fire / end marked, the evidence
// and every webhook delivery attempt.
"use strict";

(() => {
  const { el, pct, num, time } = TW;
  const id = document.body.dataset.alertId;
  const analyst = Feedback.analystField(document.getElementById("analyst"));
  let shownVersion = null; // the model version the alert's evidence names

  // "Useful" / "false alarm", with an optional comment.
  const buttons = {
    useful: document.getElementById("verdict-useful"),
    false_alarm: document.getElementById("verdict-false-alarm"),
  };
  for (const [verdict, button] of Object.entries(buttons)) {
    button.addEventListener("click", async () => {
      const comment = document.getElementById("verdict-comment");
      const body = {
        alert_id: Number(id),
        analyst: analyst(),
        verdict,
        model_version: shownVersion,
        comment: comment.value.trim() || null,
      };
      const label = verdict === "useful" ? "useful" : "a false alarm";
      const sent = await Feedback.send(
        "alert",
        body,
        document.getElementById("verdict-status"),
        Object.values(buttons),
        `recorded: ${label}${body.comment ? " (with your comment)" : ""}, thank you`,
      );
      if (sent) comment.value = "";
    });
  }

  function at(iso) {
    return iso ? Date.parse(iso) / 1000 : null;
  }

  function windowRow(name, w, seconds) {
    if (!w) return null;
    return el(
      "tr",
      {},
      el("td", {}, name),
      el("td", { class: "num" }, num(seconds, 0)),
      el("td", { class: "num" }, num(w.total, 0)),
      el("td", { class: "num" }, num(w.negative, 0)),
      el("td", { class: "num" }, pct(w.rate)),
      el("td", { class: "num" }, w.p_value === undefined ? "–" : Number(w.p_value).toExponential(2)),
      el("td", {}, w.breached === undefined ? "–" : w.breached ? "yes" : "no"),
    );
  }

  async function update() {
    const data = await TW.getJSON(`/api/v1/alerts/${encodeURIComponent(id)}`);
    const a = data.alert;
    const ev = a.evidence || {};
    shownVersion = typeof ev.model_version === "string" ? ev.model_version : null;
    // An entity alert links its entity's page; its chart is the entity's negative share.
    const entity = ev.entity && typeof ev.entity.id === "string" ? ev.entity : null;
    document.getElementById("summary").replaceChildren(
      el("span", { class: `state ${a.state}` }, a.state),
      ` ${a.topic} · started ${time(a.started_at)} · fired ${time(a.fired_at)} · ended ${time(a.ended_at)}`,
      entity ? " · " : null,
      entity ? el("a", { href: `/entities/${encodeURIComponent(entity.id)}`, class: "entity-link" }, `${entity.name || entity.id}: entity page`) : null,
    );
    if (entity) document.querySelector("#alert-chart").previousElementSibling.textContent = "Negative share towards the entity around the alert";
    const x = Charts.seconds(data.chart.buckets);
    const marks = [
      { at: at(a.started_at), colour: "#e6a700" },
      { at: at(a.fired_at), colour: "#d62728" },
      { at: at(a.ended_at), colour: "#2ca02c" },
    ];
    Charts.line(
      document.getElementById("alert-chart"),
      x,
      [{ label: `${a.topic}: negative share`, values: data.chart.share, colour: "#d62728", width: 2 }],
      { percent: true, yRange: [0, 1], hooks: Charts.marks(marks) },
    );
    const secs = ev.windows_seconds || {};
    TW.replaceRows(
      document.querySelector("#windows tbody"),
      [windowRow("short", ev.short, secs.short), windowRow("long", ev.long, secs.long)].filter(Boolean),
    );
    const b = ev.baseline || {};
    document.getElementById("baseline").textContent =
      `Baseline (${num(secs.baseline, 0)} s): ${num(b.total, 0)} headlines, ${pct(b.rate)} negative; reference rate ${pct(b.reference_rate)}.`;
    const items = (ev.headlines || []).map((h) =>
      el(
        "li",
        {},
        TW.link(h.title, h.url),
        el("span", { class: "muted" }, ` · ${h.source} · ${time(h.published_at)} · P(negative) ${pct(h.negative_probability)}${h.matched_text ? ` · matched "${h.matched_text}"` : ""}`),
      ),
    );
    document.getElementById("evidence-headlines").replaceChildren(...items);
    const rows = [];
    for (const n of data.notifications) {
      const history = n.history.length ? n.history : [null];
      for (const attempt of history) {
        rows.push(
          el(
            "tr",
            {},
            el("td", {}, n.event),
            el("td", {}, n.receiver),
            el("td", {}, n.format),
            el("td", {}, el("span", { class: `state ${n.status}` }, n.status)),
            el("td", { class: "num" }, attempt ? attempt.attempt : "–"),
            el("td", {}, attempt ? time(attempt.attempted_at) : `due ${time(n.next_attempt_at)}`),
            el("td", {}, attempt ? attempt.outcome : "not sent yet"),
            el("td", { class: "num" }, attempt && attempt.status_code !== null ? attempt.status_code : "–"),
            el("td", {}, attempt && attempt.error ? attempt.error : ""),
            el("td", { class: "num" }, attempt ? num(attempt.duration_ms, 0) : "–"),
          ),
        );
      }
    }
    TW.replaceRows(document.querySelector("#deliveries tbody"), rows);
    document.getElementById("no-deliveries").hidden = rows.length > 0;
    return data.query_ms;
  }

  TW.poll(update);
})();
