// Headlines: newest first; live polls add what was published since the newest shown; copies
// of the same story (same cluster) are folded under one row.
"use strict";

(() => {
  const { el, pct, time } = TW;
  const MAX_ROWS = 1000;
  const form = document.getElementById("filters");
  TW.fillForm(form);
  const query = TW.formQuery(form);
  for (const key of ["since", "until"]) {
    // datetime-local gives local time without a zone; the API wants an instant.
    if (query.has(key)) query.set(key, new Date(query.get(key)).toISOString());
  }
  const tbody = document.querySelector("#headlines tbody");
  const shown = new Map(); // cluster (or id) -> its row
  let newest = null;
  let oldest = null;
  const analyst = Feedback.analystField(document.getElementById("analyst"));
  const TOPICS = JSON.parse(document.body.dataset.topics || "[]");
  const SENTIMENTS = ["negative", "neutral", "positive"];

  // "sentiment is really …" / "topic is really …": a select and a button each; the body names
  // what the row showed and the model version that showed it.
  function correction(h, head, prompt, choices) {
    const select = el(
      "select",
      { class: `fix-${head}`, "aria-label": prompt },
      el("option", { value: "" }, prompt),
      ...choices.filter((c) => c !== h[head]).map((c) => el("option", { value: c }, c)),
    );
    const button = el("button", { type: "button", class: `send-${head}` }, "Send");
    const line = el("div", { class: "fix" }, select, button);
    button.addEventListener("click", async () => {
      const status = line.closest("td").querySelector(".feedback-status");
      if (!select.value) {
        Feedback.show(status, false, `choose what the ${head} really is`);
        return;
      }
      const body = {
        headline_id: h.id,
        analyst: analyst(),
        model_version: h.model_version,
        shown_topic: h.topic,
        shown_sentiment: h.sentiment,
        [head]: select.value,
      };
      await Feedback.send("headline", body, status, [button], `recorded: ${head} is ${select.value}`);
    });
    return line;
  }

  function feedbackCell(h) {
    return el(
      "td",
      { class: "feedback" },
      correction(h, "sentiment", "sentiment is really…", SENTIMENTS),
      correction(h, "topic", "topic is really…", TOPICS),
      el("span", { class: "feedback-status", role: "status" }),
    );
  }

  function sentimentCell(h) {
    if (!h.sentiment) return el("td", { class: "muted" }, "not classified yet");
    return el(
      "td",
      { class: `sentiment ${h.sentiment}` },
      `${h.sentiment} ${pct(h.sentiment_confidence)}`,
    );
  }

  // The watchlist entities the headline names, each with the sentiment towards it (which can
  // differ from the headline's: "Tata Steel gains as JSW slips"), linking to its page.
  function entityChips(h) {
    if (!h.entities || !h.entities.length) return null;
    return el(
      "div",
      { class: "entities" },
      ...h.entities.map((e) =>
        el(
          "a",
          {
            class: `entity-chip ${e.sentiment}`,
            href: `/entities/${encodeURIComponent(e.id)}`,
            title: `matched "${e.matched_text}" · ${e.method === "entity_model" ? "entity model" : "the headline's sentiment"}`,
          },
          `${e.name}: ${e.sentiment} ${pct(e.sentiment_confidence)}`,
        ),
      ),
    );
  }

  function row(h) {
    const copies = h.copies.length
      ? el(
          "details",
          { class: "copies" },
          el("summary", {}, `+${h.copies.length} syndicated ${h.copies.length === 1 ? "copy" : "copies"}`),
          el("ul", {}, ...h.copies.map((c) => el("li", {}, TW.link(c.title, c.url), el("span", { class: "muted" }, ` · ${c.source} · ${time(c.published_at)}`)))),
        )
      : null;
    return el(
      "tr",
      { "data-id": h.id },
      el("td", { class: "when" }, time(h.published_at)),
      el("td", {}, TW.link(h.title, h.url, { class: "title" }), entityChips(h), copies),
      el("td", {}, h.topic ? `${h.topic} ${pct(h.topic_confidence)}` : "–"),
      sentimentCell(h),
      el("td", {}, h.source),
      el("td", {}, h.tickers.join(" ")),
      el("td", { class: "muted nowrap" }, h.model_version || "–"),
      feedbackCell(h),
    );
  }

  function add(items, atTop) {
    const rows = [];
    for (const h of items) {
      const key = h.cluster_id || h.id;
      if (shown.has(key)) continue; // a copy of a story already on the page
      const r = row(h);
      shown.set(key, r);
      rows.push(r);
    }
    if (atTop) tbody.prepend(...rows);
    else tbody.append(...rows);
    while (tbody.rows.length > MAX_ROWS) tbody.lastElementChild.remove();
    document.getElementById("shown").textContent = String(tbody.rows.length);
  }

  async function update() {
    const q = new URLSearchParams(query);
    if (newest) {
      if (q.has("until")) return undefined; // a window in the past does not grow
      q.set("after", newest);
      q.set("limit", "200");
    }
    const data = await TW.getJSON(`/api/v1/headlines?${q}`);
    if (data.newest && (!newest || data.newest > newest)) newest = data.newest;
    if (!oldest && data.oldest) oldest = data.oldest;
    add(data.items, true);
    return data.query_ms;
  }

  document.getElementById("older").addEventListener("click", async () => {
    if (!oldest) return;
    const q = new URLSearchParams(query);
    q.set("until", oldest);
    const data = await TW.getJSON(`/api/v1/headlines?${q}`);
    if (data.oldest) oldest = data.oldest;
    add(data.items, false);
  });

  TW.poll(update);
})();
