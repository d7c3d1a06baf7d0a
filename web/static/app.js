// Shared helpers of every page. Text from the database is only ever set as text (textContent),
// never as markup, and a link is only made of an http(s) URL.
"use strict";

const TW = (() => {
  const refreshMs = Number(document.body.dataset.refreshMs) || 3000;
  const statusEl = document.getElementById("status");

  function safeHref(url) {
    if (typeof url !== "string") return null;
    try {
      const parsed = new URL(url, window.location.origin);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (_err) {
      return null;
    }
  }

  // el("td", {class: "num"}, "text", childNode, ...): strings become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "href") {
        const href = safeHref(value);
        if (href) node.setAttribute("href", href);
      } else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // A headline's title as a link when its URL is a web address, as plain text otherwise.
  function link(text, url, attrs) {
    const href = safeHref(url);
    return href
      ? el("a", { ...(attrs || {}), href, rel: "noopener noreferrer nofollow", target: "_blank" }, text)
      : el("span", attrs || {}, text);
  }

  // With no rows and an `empty` text, one muted row across the table says why it is empty.
  function replaceRows(tbody, rows, empty) {
    if (rows.length === 0 && empty) {
      const columns = tbody.closest("table").querySelectorAll("thead th").length || 1;
      rows = [el("tr", { class: "empty" }, el("td", { class: "muted", colspan: String(columns) }, empty))];
    }
    tbody.replaceChildren(...rows);
  }

  function pct(value) {
    return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
  }

  function num(value, digits) {
    if (value === null || value === undefined) return "–";
    return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits ?? 1 });
  }

  function time(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    const today = new Date().toDateString() === d.toDateString();
    return today ? d.toLocaleTimeString() : d.toLocaleString();
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
    return `${(seconds / 86400).toFixed(1)} d`;
  }

  function params() {
    return new URLSearchParams(window.location.search);
  }

  // Fill a filter form from the query string, so a bookmarked URL shows its filters.
  function fillForm(form) {
    const p = params();
    for (const input of form.elements) {
      if (input.name && p.has(input.name)) input.value = p.get(input.name);
    }
  }

  // The query string of a form, without empty fields.
  function formQuery(form) {
    const out = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value !== "") out.set(key, value);
    return out;
  }

  async function getJSON(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  function setStatus(text, bad) {
    statusEl.textContent = text;
    statusEl.classList.toggle("bad", Boolean(bad));
  }

  // Run `update` now and every refresh interval; a failed update says so and tries again.
  function poll(update) {
    let timer = null;
    async function tick() {
      try {
        const ms = await update();
        setStatus(`live · updated ${new Date().toLocaleTimeString()}${ms !== undefined ? ` · ${ms} ms` : ""}`);
      } catch (err) {
        setStatus(`not updating: ${err.message}`, true);
      }
      timer = window.setTimeout(tick, refreshMs);
    }
    tick();
    return () => window.clearTimeout(timer);
  }

  // One alert as a table row (the Alerts list, an entity's alerts); ``topic``: show its column.
  function alertRow(a, { topic = true } = {}) {
    return el(
      "tr",
      { class: `row-${a.state}` },
      el("td", {}, el("a", { href: `/alerts/${a.id}` }, `#${a.id}`)),
      topic ? el("td", {}, a.topic) : null,
      el("td", {}, el("span", { class: `state ${a.state}` }, a.state === "resolved" && !a.fired ? "ended (never fired)" : a.state)),
      el("td", {}, time(a.started_at)),
      el("td", {}, time(a.fired_at)),
      el("td", {}, time(a.ended_at)),
      el("td", { class: "num" }, pct(a.short_rate)),
      el("td", { class: "num" }, pct(a.reference_rate)),
      el("td", { class: "num" }, a.p_value === null ? "–" : a.p_value.toExponential(1)),
    );
  }

  return { el, link, safeHref, replaceRows, pct, num, time, duration, params, fillForm, formQuery, getJSON, poll, alertRow };
})();
