// Analyst feedback: corrections of a headline's topic or sentiment and verdicts on an alert,
// posted to /api/v1/feedback/…. The analyst's name is kept in this browser (localStorage).
"use strict";

const Feedback = (() => {
  const KEY = "tapewatch.analyst";

  // The page's analyst field: filled from the last name used, remembered as it changes.
  function analystField(input) {
    try {
      input.value = window.localStorage.getItem(KEY) || "";
    } catch (_err) {
      // storage may be disabled; the field then starts empty
    }
    input.addEventListener("input", () => {
      try {
        window.localStorage.setItem(KEY, input.value.trim());
      } catch (_err) {
        // nothing to remember it in
      }
    });
    return () => input.value.trim();
  }

  // The reason a refused request gives: FastAPI's `detail`, a string or a list of errors.
  function reason(status, body) {
    const detail = body && body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail.map((d) => String(d.msg || d).replace(/^Value error, /, "")).join("; ");
    }
    return `HTTP ${status}`;
  }

  async function post(kind, body) {
    let response;
    try {
      response = await fetch(`/api/v1/feedback/${kind}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw new Error(`not sent: ${err.message}`);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_err) {
      data = null;
    }
    if (!response.ok) throw new Error(reason(response.status, data));
    return data;
  }

  // Show the outcome in `node`: a confirmation, or the error text.
  function show(node, ok, text) {
    node.textContent = text;
    node.classList.toggle("ok", ok);
    node.classList.toggle("bad", !ok);
  }

  // Post, showing the outcome; buttons are disabled while it is in flight.
  async function send(kind, body, status, buttons, confirmation) {
    if (!body.analyst) {
      show(status, false, "enter your name as analyst first");
      return false;
    }
    for (const b of buttons) b.disabled = true;
    show(status, true, "sending…");
    try {
      await post(kind, body);
      show(status, true, confirmation);
      return true;
    } catch (err) {
      show(status, false, `not recorded: ${err.message}`);
      return false;
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  return { analystField, post, send, show };
})();
