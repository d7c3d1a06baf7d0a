// Alerts: the filterable list, refreshed live.
"use strict";

(() => {
  const form = document.getElementById("filters");
  TW.fillForm(form);
  const query = TW.formQuery(form);

  async function update() {
    const data = await TW.getJSON(`/api/v1/alerts?${query}`);
    const rows = data.items.map((a) => TW.alertRow(a));
    TW.replaceRows(document.querySelector("#alerts tbody"), rows);
    document.getElementById("empty").hidden = rows.length > 0;
    return data.query_ms;
  }

  TW.poll(update);
})();
